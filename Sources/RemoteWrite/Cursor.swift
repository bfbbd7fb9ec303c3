import Foundation
import WAL

/// How far an endpoint has been acknowledged: every record before `position`, and the first
/// `samplesDone` samples of the record at `position`.
public struct Cursor: Sendable, Codable, Equatable, Comparable {
    public var position: WALPosition
    public var samplesDone: Int

    public init(position: WALPosition, samplesDone: Int = 0) {
        self.position = position
        self.samplesDone = samplesDone
    }

    public static func < (lhs: Cursor, rhs: Cursor) -> Bool {
        (lhs.position, lhs.samplesDone) < (rhs.position, rhs.samplesDone)
    }
}

/// Keeps one endpoint's cursor in a small JSON file, replaced atomically (write, fsync, rename).
struct CursorFile: Sendable {
    let path: String

    init(directory: String, endpointName: String) {
        let safe = String(endpointName.map { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" ? $0 : "_" })
        path = "\(directory)/\(safe).json"
    }

    func load() -> Cursor? {
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        return try? JSONDecoder().decode(Cursor.self, from: data)
    }

    func store(_ cursor: Cursor) throws {
        let data = try JSONEncoder().encode(cursor)
        let temporary = path + ".tmp"
        let url = URL(fileURLWithPath: temporary)
        try data.write(to: url)
        let handle = try FileHandle(forWritingTo: url)
        try handle.synchronize()
        try handle.close()
        if rename(temporary, path) != 0 {
            throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: path])
        }
    }
}
