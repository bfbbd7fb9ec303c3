#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A failed system call while replacing a progress file: which call, on which path, `errno`.
struct ProgressFileError: Error, CustomStringConvertible {
    var function: String
    var path: String
    var errno: CInt

    var description: String { "\(function)(\(path)) failed: \(String(cString: strerror(errno))) (errno \(errno))" }
}

/// Replaces one progress file atomically: writes `PATH.tmp`, optionally fsyncs it, renames it
/// over `PATH` (which survives the process being killed), and with `durable` fsyncs the
/// directory too (which survives a power loss). The same steps as
/// ``WAL/EndpointProgressFile/store(_:durable:)``, without converting paths for every call.
///
/// The only place in the module that calls libc for file I/O; every call retries `EINTR`.
/// Blocks: run it on a ``WAL/BlockingIOPool`` thread.
struct ProgressFileWriter: Sendable {
    let path: String
    private let temporary: String
    private let directory: String

    init(path: String) {
        self.path = path
        temporary = path + ".tmp"
        if let slash = path.lastIndex(of: "/") {
            directory = slash == path.startIndex ? "/" : String(path[..<slash])
        } else {
            directory = "."
        }
    }

    func replace(with bytes: [UInt8], durable: Bool) throws(ProgressFileError) {
        let fd = try Self.retrying("open", temporary) { open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644) }
        do throws(ProgressFileError) {
            var done = 0
            while done < bytes.count {
                done += try Self.retrying("write", temporary) {
                    bytes.withUnsafeBytes { write(fd, $0.baseAddress! + done, $0.count - done) }
                }
            }
            if durable { _ = try Self.retrying("fsync", temporary) { fsync(fd) } }
        } catch {
            close(fd)
            throw error
        }
        // Never retry close(2) on Linux: the descriptor is released even on EINTR.
        if close(fd) != 0, errno != EINTR { throw ProgressFileError(function: "close", path: temporary, errno: errno) }
        _ = try Self.retrying("rename", path) { rename(temporary, path) }
        if durable {
            let directoryFD = try Self.retrying("open", directory) { open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC) }
            defer { close(directoryFD) }
            _ = try Self.retrying("fsync", directory) { fsync(directoryFD) }
        }
    }

    @inline(__always)
    private static func retrying<T: BinaryInteger>(_ function: String, _ path: String, _ body: () -> T) throws(ProgressFileError) -> T {
        while true {
            let result = body()
            if result >= 0 { return result }
            let e = errno
            if e != EINTR { throw ProgressFileError(function: function, path: path, errno: e) }
        }
    }
}
