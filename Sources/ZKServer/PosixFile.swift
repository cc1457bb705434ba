// Linux only, as the server is: Glibc names are used directly.
import Glibc

/// A failed file-system call, with the path and the system's reason.
struct FileError: Error, CustomStringConvertible {
    var operation: String
    var path: String
    var errno: Int32

    var description: String { "\(operation) \(path): \(String(cString: strerror(errno))) (errno \(errno))" }
}

/// The few POSIX file calls the log and snapshots need, retried on EINTR, with errors thrown.
/// Not thread-safe: each file has one owner.
struct PosixFile {
    let path: String
    let descriptor: Int32

    static func open(_ path: String, flags: Int32, mode: mode_t = 0o644) throws -> PosixFile {
        while true {
            let descriptor = Glibc.open(path, flags | O_CLOEXEC, mode)
            if descriptor >= 0 { return PosixFile(path: path, descriptor: descriptor) }
            if errno != EINTR { throw FileError(operation: "open", path: path, errno: errno) }
        }
    }

    func write(_ bytes: UnsafeRawBufferPointer, at offset: Int) throws {
        var done = 0
        while done < bytes.count {
            let result = pwrite(descriptor, bytes.baseAddress! + done, bytes.count - done, off_t(offset + done))
            if result < 0 {
                if errno == EINTR { continue }
                throw FileError(operation: "write", path: path, errno: errno)
            }
            done += result
        }
    }

    /// `fdatasync`: the data and the size reach the disk (the log preallocates, so the size
    /// rarely changes and the cheaper call suffices).
    func syncData() throws {
        while fdatasync(descriptor) != 0 {
            if errno != EINTR { throw FileError(operation: "fdatasync", path: path, errno: errno) }
        }
    }

    func sync() throws {
        while fsync(descriptor) != 0 {
            if errno != EINTR { throw FileError(operation: "fsync", path: path, errno: errno) }
        }
    }

    func truncate(to size: Int) throws {
        while ftruncate(descriptor, off_t(size)) != 0 {
            if errno != EINTR { throw FileError(operation: "truncate", path: path, errno: errno) }
        }
    }

    func size() throws -> Int {
        var info = stat()
        guard fstat(descriptor, &info) == 0 else { throw FileError(operation: "stat", path: path, errno: errno) }
        return Int(info.st_size)
    }

    func close() { _ = Glibc.close(descriptor) }

    /// Makes a new or renamed entry in `directory` durable.
    static func syncDirectory(_ directory: String) throws {
        let file = try open(directory, flags: O_RDONLY | O_DIRECTORY)
        defer { file.close() }
        try file.sync()
    }

    static func rename(_ from: String, to: String) throws {
        guard Glibc.rename(from, to) == 0 else { throw FileError(operation: "rename", path: from, errno: errno) }
    }

    /// Reads a whole file.
    static func readAll(_ path: String) throws -> [UInt8] {
        let file = try open(path, flags: O_RDONLY)
        defer { file.close() }
        let size = try file.size()
        var bytes = [UInt8](repeating: 0, count: size)
        var done = 0
        while done < size {
            let result = bytes.withUnsafeMutableBytes { buffer in
                pread(file.descriptor, buffer.baseAddress! + done, size - done, off_t(done))
            }
            if result < 0 {
                if errno == EINTR { continue }
                throw FileError(operation: "read", path: path, errno: errno)
            }
            if result == 0 { break }
            done += result
        }
        return done == size ? bytes : Array(bytes[0..<done])
    }
}
