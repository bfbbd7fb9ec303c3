import AgentConfig
import Foundation
import Synchronization

/// The current value of a configured secret. A file is re-read at most a minute after its last
/// read, or at once when the caller says the value was refused (a 401), so rotated tokens keep
/// working without a restart. No file handle is kept open.
public final class SecretReader: Sendable {
    public static let rereadInterval: Duration = .seconds(60)

    private let secret: Secret
    private let cache = Mutex<(value: String, readAt: ContinuousClock.Instant)?>(nil)

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
            if !refresh, let cached = cache.withLock({ $0 }), now - cached.readAt < Self.rereadInterval {
                return cached.value
            }
            let value: String
            do {
                value = try String(contentsOfFile: path, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
            } catch {
                throw SecretError(description: "cannot read secret file \(path): \(error.localizedDescription)")
            }
            cache.withLock { $0 = (value, now) }
            return value
        }
    }
}

/// A secret file that could not be read.
public struct SecretError: Error, CustomStringConvertible, Sendable {
    public var description: String
}
