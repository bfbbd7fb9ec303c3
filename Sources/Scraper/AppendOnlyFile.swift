#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A failed system call on an append-only file: which call, on which path, and `errno`.
struct AppendOnlyFileError: Error, CustomStringConvertible {
    var function: String
    var path: String
    var errno: CInt

    var description: String { "\(function)(\(path)) failed: \(String(cString: strerror(errno))) (errno \(errno))" }
}

/// A file opened for appending, created if missing, as Go's `os.OpenFile(path,
/// O_APPEND|O_CREATE|O_WRONLY, 0666)` opens Prometheus's log files. Each ``append(_:)`` is one
/// `write(2)` (looping over short writes), so lines from several writers do not interleave
/// within a line. The descriptor is closed when the last reference goes away.
///
/// Blocking: call it on a `BlockingIOPool` thread, never on the cooperative pool.
final class AppendOnlyFile: Sendable {
    let path: String
    private let descriptor: CInt

    init(path: String) throws(AppendOnlyFileError) {
        self.path = path
        var fd: CInt
        repeat { fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o666) } while fd < 0 && errno == EINTR
        guard fd >= 0 else { throw AppendOnlyFileError(function: "open", path: path, errno: errno) }
        descriptor = fd
    }

    deinit {
        // Never retried on Linux: the descriptor is released even on EINTR.
        close(descriptor)
    }

    func append(_ bytes: [UInt8]) throws(AppendOnlyFileError) {
        var done = 0
        while done < bytes.count {
            let n = bytes.withUnsafeBytes { write(descriptor, $0.baseAddress! + done, $0.count - done) }
            if n < 0 {
                if errno == EINTR { continue }
                throw AppendOnlyFileError(function: "write", path: path, errno: errno)
            }
            done += n
        }
    }
}
