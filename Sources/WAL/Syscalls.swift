#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import struct Foundation.Date

/// A failed system call: which call, on which path, and `errno`.
public struct WALIOError: Error, CustomStringConvertible, Equatable {
    public var function: String
    public var path: String
    public var errno: CInt

    public var description: String {
        "\(function)(\(path)) failed: \(String(cString: strerror(errno))) (errno \(errno))"
    }
}

/// Thin wrappers over the file system calls the WAL uses. Each retries on `EINTR` and turns a
/// failure into a ``WALIOError`` carrying `errno`; nothing else in the module calls libc for I/O.
enum Syscall {
    @inline(__always)
    private static func retrying<T: BinaryInteger>(
        _ function: String, _ path: String, _ body: () -> T
    ) throws(WALIOError) -> T {
        while true {
            let r = body()
            if r >= 0 { return r }
            let e = errno
            if e == EINTR { continue }
            throw WALIOError(function: function, path: path, errno: e)
        }
    }

    static func openFile(_ path: String, _ flags: CInt, _ mode: mode_t = 0o644) throws(WALIOError) -> CInt {
        try retrying("open", path) { open(path, flags | O_CLOEXEC, mode) }
    }

    static func closeFile(_ fd: CInt, path: String) throws(WALIOError) {
        // Never retry close(2) on Linux: the descriptor is released even on EINTR.
        if close(fd) != 0 {
            let e = errno
            if e != EINTR { throw WALIOError(function: "close", path: path, errno: e) }
        }
    }

    /// Writes all of `bytes` at `offset`, looping over short writes.
    static func pwriteAll(_ fd: CInt, _ bytes: UnsafeRawBufferPointer, at offset: Int, path: String) throws(WALIOError) {
        var done = 0
        while done < bytes.count {
            let n = try retrying("pwrite", path) {
                pwrite(fd, bytes.baseAddress! + done, bytes.count - done, off_t(offset + done))
            }
            done += n
        }
    }

    /// Reads up to `buffer.count` bytes at `offset`; returns the count read (0 at end of file).
    static func readAt(_ fd: CInt, _ buffer: UnsafeMutableRawBufferPointer, at offset: Int, path: String) throws(WALIOError) -> Int {
        var done = 0
        while done < buffer.count {
            let n = try retrying("pread", path) {
                pread(fd, buffer.baseAddress! + done, buffer.count - done, off_t(offset + done))
            }
            if n == 0 { break }
            done += n
        }
        return done
    }

    static func fsyncFile(_ fd: CInt, path: String) throws(WALIOError) {
        _ = try retrying("fsync", path) { fsync(fd) }
    }

    static func truncateFile(_ fd: CInt, _ size: Int, path: String) throws(WALIOError) {
        _ = try retrying("ftruncate", path) { ftruncate(fd, off_t(size)) }
    }

    static func unlinkFile(_ path: String) throws(WALIOError) {
        _ = try retrying("unlink", path) { unlink(path) }
    }

    /// unlink(2); false when the file did not exist.
    @discardableResult
    static func unlinkIfExists(_ path: String) throws(WALIOError) -> Bool {
        do {
            try unlinkFile(path)
            return true
        } catch {
            if error.errno == ENOENT { return false }
            throw error
        }
    }

    /// rename(2): atomically replaces `to` with `from`.
    static func renameFile(_ from: String, to: String) throws(WALIOError) {
        _ = try retrying("rename", to) { rename(from, to) }
    }

    /// The whole content of `path`, or nil when it does not exist.
    static func readFileIfExists(_ path: String) throws(WALIOError) -> [UInt8]? {
        let fd: CInt
        do {
            fd = try openFile(path, O_RDONLY)
        } catch {
            if error.errno == ENOENT { return nil }
            throw error
        }
        defer { try? closeFile(fd, path: path) }
        let chunk = UnsafeMutableRawBufferPointer.allocate(
            byteCount: max(4096, try fileSize(fd, path: path) + 1), alignment: 1)
        defer { chunk.deallocate() }
        var bytes: [UInt8] = []
        while true {
            // A short read is the end of the file (readAt loops until the buffer is full).
            let n = try readAt(fd, chunk, at: bytes.count, path: path)
            bytes.append(contentsOf: UnsafeRawBufferPointer(rebasing: chunk[0..<n]))
            if n < chunk.count { return bytes }
        }
    }

    static func makeDirectory(_ path: String, _ mode: mode_t = 0o755) throws(WALIOError) {
        if mkdir(path, mode) != 0 {
            let e = errno
            if e != EEXIST { throw WALIOError(function: "mkdir", path: path, errno: e) }
        }
    }

    static func fileSize(_ fd: CInt, path: String) throws(WALIOError) -> Int {
        var st = stat()
        _ = try retrying("fstat", path) { fstat(fd, &st) }
        return Int(st.st_size)
    }

    /// Size and modification time of `path`, or nil when it does not exist.
    static func statIfExists(_ path: String) throws(WALIOError) -> (size: Int, modified: Date)? {
        var st = stat()
        if stat(path, &st) != 0 {
            let e = errno
            if e == ENOENT { return nil }
            throw WALIOError(function: "stat", path: path, errno: e)
        }
        #if canImport(Darwin)
        let ts = st.st_mtimespec
        #else
        let ts = st.st_mtim
        #endif
        return (Int(st.st_size), Date(timeIntervalSince1970: Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9))
    }

    static func exists(_ path: String) -> Bool {
        access(path, F_OK) == 0
    }

    /// fsync of a directory, so that created, renamed or removed entries are durable.
    static func syncDirectory(_ path: String) throws(WALIOError) {
        let fd = try openFile(path, O_RDONLY | O_DIRECTORY)
        defer { try? closeFile(fd, path: path) }
        try fsyncFile(fd, path: path)
    }
}

/// A file opened read-only; closed when the last reference goes away.
final class ReadOnlyFile: Sendable {
    let fd: CInt
    let path: String

    init(path: String) throws(WALIOError) {
        self.path = path
        self.fd = try Syscall.openFile(path, O_RDONLY)
    }

    /// Opens `path`, or returns nil when it does not exist.
    static func openIfExists(path: String) throws(WALIOError) -> ReadOnlyFile? {
        do {
            return try ReadOnlyFile(path: path)
        } catch {
            if error.errno == ENOENT { return nil }
            throw error
        }
    }

    deinit { try? Syscall.closeFile(fd, path: path) }
}

/// The segment being written, opened write-only; closed when the last reference goes away.
///
/// The writer thread holds the current segment's file; ``WriteAheadLog/sync()`` takes a
/// reference (under the log's lock, briefly) and fsyncs it after letting the lock go. Since the
/// descriptor is closed only when the last reference goes, a rollover meanwhile cannot close it
/// under the sync, and its number cannot be reused for another file while the sync runs.
final class SegmentFile: Sendable {
    let fd: CInt
    let path: String

    /// Creates the file; fails if it exists (`O_EXCL`).
    init(creating path: String) throws(WALIOError) {
        self.path = path
        fd = try Syscall.openFile(path, O_WRONLY | O_CREAT | O_EXCL)
    }

    deinit { try? Syscall.closeFile(fd, path: path) }
}
