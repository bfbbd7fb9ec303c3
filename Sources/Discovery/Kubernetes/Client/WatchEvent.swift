import Foundation

/// One event of a watch stream. `ERROR` events are not events: the watch throws them
/// (``KubernetesClientError/gone(message:)`` for 410).
public enum WatchEvent<Object: KubernetesResource>: Sendable {
    case added(Object)
    case modified(Object)
    case deleted(Object)
    /// The server's progress marker: everything up to this version was delivered. Carries no
    /// object (a bookmark's object has only `metadata.resourceVersion`).
    case bookmark(resourceVersion: String)

    /// The resource version to resume a watch from after this event.
    public var resourceVersion: String? {
        switch self {
        case .added(let object), .modified(let object), .deleted(let object): object.metadata.resourceVersion
        case .bookmark(let version): version
        }
    }

    /// The object, for the three object events.
    public var object: Object? {
        switch self {
        case .added(let object), .modified(let object), .deleted(let object): object
        case .bookmark: nil
        }
    }
}

/// Splits a watch body into lines and decodes each into a ``WatchEvent``.
///
/// The API server sends one JSON object per line (`{"type":…,"object":…}\n`); a line may be
/// split across reads, and one read may hold many lines.
struct WatchStreamDecoder<Object: KubernetesResource> {
    /// A line longer than this (an absurd object) fails the watch instead of growing forever.
    static var maxLineBytes: Int { 64 << 20 }

    private var pending: [UInt8] = []
    private let decoder = JSONDecoder()

    /// Decodes every complete line in `bytes` (after what was left over from earlier calls).
    ///
    /// - Returns: The events decoded, and the failure that ends the stream, if any: an `ERROR`
    ///   event (410 → `.gone`), an undecodable line, or a line over ``maxLineBytes``. The
    ///   events are those before the failing line; nothing after it is decoded.
    mutating func decode(_ bytes: UnsafeRawBufferPointer) -> (events: [WatchEvent<Object>], failure: KubernetesClientError?) {
        var events: [WatchEvent<Object>] = []
        var start = bytes.startIndex
        do throws(KubernetesClientError) {
            while let newline = bytes[start...].firstIndex(of: UInt8(ascii: "\n")) {
                if pending.isEmpty {
                    try decodeLine(UnsafeRawBufferPointer(rebasing: bytes[start..<newline]), into: &events)
                } else {
                    pending.append(contentsOf: bytes[start..<newline])
                    let line = pending
                    pending.removeAll(keepingCapacity: true)
                    var decoded: [WatchEvent<Object>] = []
                    let result = line.withUnsafeBytes { line in
                        Result { () throws(KubernetesClientError) in try decodeLine(line, into: &decoded) }
                    }
                    events += decoded
                    try result.get()
                }
                start = newline + 1
            }
            pending.append(contentsOf: bytes[start...])
            if pending.count > Self.maxLineBytes {
                throw .decoding("watch event longer than \(Self.maxLineBytes) bytes")
            }
        } catch {
            return (events, error)
        }
        return (events, nil)
    }

    private func decodeLine(_ line: UnsafeRawBufferPointer, into events: inout [WatchEvent<Object>]) throws(KubernetesClientError) {
        guard line.contains(where: { $0 != 0x20 && $0 != 0x0D && $0 != 0x09 }) else { return }
        let raw: RawWatchEvent<Object>
        do {
            raw = try decoder.decode(RawWatchEvent<Object>.self, from: Data(line))
        } catch {
            throw .decoding("watch event: \(error)")
        }
        switch raw.decoded {
        case .event(let event): events.append(event)
        case .error(let status): throw status.error(fallbackCode: 500)
        case .unknown: break  // a type this client does not know: skip it, as client-go does
        }
    }
}

/// `{"type": …, "object": …}`, the object decoded according to the type.
private struct RawWatchEvent<Object: KubernetesResource>: Decodable {
    enum Decoded {
        case event(WatchEvent<Object>)
        case error(KubernetesStatus)
        case unknown(String)
    }

    private struct Bookmark: Decodable {
        struct Metadata: Decodable { var resourceVersion: String? }
        var metadata: Metadata?
    }

    private enum CodingKeys: String, CodingKey { case type, object }

    let decoded: Decoded

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let type = try container.decode(String.self, forKey: .type)
        switch type {
        case "ADDED": decoded = .event(.added(try container.decode(Object.self, forKey: .object)))
        case "MODIFIED": decoded = .event(.modified(try container.decode(Object.self, forKey: .object)))
        case "DELETED": decoded = .event(.deleted(try container.decode(Object.self, forKey: .object)))
        case "BOOKMARK":
            let bookmark = try container.decode(Bookmark.self, forKey: .object)
            guard let version = bookmark.metadata?.resourceVersion else {
                throw DecodingError.dataCorruptedError(
                    forKey: .object, in: container, debugDescription: "bookmark without metadata.resourceVersion")
            }
            decoded = .event(.bookmark(resourceVersion: version))
        case "ERROR": decoded = .error(try container.decode(KubernetesStatus.self, forKey: .object))
        default: decoded = .unknown(type)
        }
    }
}
