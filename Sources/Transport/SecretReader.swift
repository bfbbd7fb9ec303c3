#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import AgentConfig
import Foundation
import Synchronization

/// The current value of a configured secret. A file is re-read when it changed (its
/// modification time, size or inode differ from the last read; a Kubernetes secret update swaps
/// a symlink, which this sees too), at least once a minute, and at once when the caller says the
/// value was refused (a 401), so rotated tokens keep working without a restart. No file handle
/// is kept open.
public final class SecretReader: Sendable {
    public static let rereadInterval: Duration = .seconds(60)

    private struct Cached {
        var value: String
        var readAt: ContinuousClock.Instant
        var identity: FileIdentity?
    }

    /// What tells one version of a file from another without reading it.
    struct FileIdentity: Equatable {
        var modified: timespec
        var size: Int
        var inode: UInt64

        static func == (a: FileIdentity, b: FileIdentity) -> Bool {
            a.modified.tv_sec == b.modified.tv_sec && a.modified.tv_nsec == b.modified.tv_nsec && a.size == b.size
                && a.inode == b.inode
        }

        init?(path: String) {
            var st = stat()
            guard stat(path, &st) == 0 else { return nil }
            modified = st.st_mtim
            size = Int(st.st_size)
            inode = UInt64(st.st_ino)
        }
    }

    private let secret: Secret
    private let cache = Mutex<Cached?>(nil)

    public init(_ secret: Secret) {
        self.secret = secret
    }

    public var isFile: Bool {
        if case .file = secret { return true }
        return false
    }

    /// The secret; `refresh` forces a file to be read again.
    public func value(refresh: Bool = false) throws -> String {
        switch secret {
        case .inline(let value):
            return value
        case .file(let path):
            let now = ContinuousClock.now
            let identity = FileIdentity(path: path)
            if !refresh, let cached = cache.withLock({ $0 }), now - cached.readAt < Self.rereadInterval,
                cached.identity == identity
            {
                return cached.value
            }
            let value: String
            do {
                value = try String(contentsOfFile: path, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
            } catch {
                throw SecretError(description: "cannot read secret file \(path): \(error.localizedDescription)")
            }
            cache.withLock { $0 = Cached(value: value, readAt: now, identity: identity) }
            return value
        }
    }
}

/// A secret file that could not be read.
public struct SecretError: Error, CustomStringConvertible, Sendable {
    public var description: String
}
