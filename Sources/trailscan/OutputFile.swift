import ArgumentParser
import Glibc
import TrailReport

/// Where `--summary-out` and `--report` write: `-` is standard output; a regular file (or a new one) is
/// replaced atomically (a temporary file beside it, renamed over it), through a symbolic link to its
/// target; anything else — a device such as `/dev/stdout`, a FIFO — is written in place, never replaced.
struct OutputFile {
    let path: String
    /// The flag that named it, for messages.
    let flag: String

    /// Checks before the scan that the summary can be written, so an hour's scan does not end in an
    /// error about its last step.
    func check() throws {
        guard path != "-" else { return }
        let target = resolved
        var info = stat()
        if stat(target, &info) == 0 {
            let regular = info.st_mode & S_IFMT == S_IFREG
            guard access(regular ? directory(of: target) : target, W_OK) == 0 && (!regular || access(target, W_OK) == 0) else {
                throw ValidationError("\(flag): \(path): \(String(cString: strerror(errno)))")
            }
        } else if access(directory(of: target), W_OK) != 0 {
            throw ValidationError("\(flag): \(path): cannot create it: \(String(cString: strerror(errno)))")
        }
    }

    /// Writes `text`; returns the reason when it could not.
    func write(_ text: String) -> String? {
        let bytes = Array(text.utf8)
        guard path != "-" else { return OutputWriter.standardOutput.write(bytes) ? nil : "standard output could not be written" }
        let target = resolved
        var info = stat()
        if stat(target, &info) == 0 && info.st_mode & S_IFMT != S_IFREG {
            let fd = open(target, O_WRONLY | O_CLOEXEC)
            guard fd >= 0 else { return String(cString: strerror(errno)) }
            defer { close(fd) }
            return Self.writeAll(fd, bytes)
        }
        var template = Array((directory(of: target) + "/.trailscan-XXXXXX").utf8CString)
        let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard fd >= 0 else { return String(cString: strerror(errno)) }
        let temporary = template.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
        fchmod(fd, 0o644 & ~Self.umask)
        if let failure = Self.writeAll(fd, bytes) ?? (fsync(fd) == 0 ? nil : String(cString: strerror(errno))) {
            close(fd)
            unlink(temporary)
            return failure
        }
        close(fd)
        guard rename(temporary, target) == 0 else {
            let failure = String(cString: strerror(errno))
            unlink(temporary)
            return failure
        }
        return nil
    }

    /// The path, with symbolic links followed to what they name (which is then written, not the link),
    /// also when that does not exist yet.
    private var resolved: String {
        var current = path
        for _ in 0..<40 {
            var info = stat()
            guard lstat(current, &info) == 0, info.st_mode & S_IFMT == S_IFLNK else { return current }
            var buffer = [UInt8](repeating: 0, count: Int(PATH_MAX) + 1)
            let count = buffer.withUnsafeMutableBufferPointer { readlink(current, UnsafeMutableRawPointer($0.baseAddress!).assumingMemoryBound(to: CChar.self), $0.count - 1) }
            guard count > 0 else { return current }
            let target = String(decoding: buffer[..<count], as: UTF8.self)
            current = target.hasPrefix("/") ? target : directory(of: current) + "/" + target
        }
        return current
    }

    private func directory(of file: String) -> String {
        guard let slash = file.lastIndex(of: "/") else { return "." }
        return slash == file.startIndex ? "/" : String(file[..<slash])
    }

    private static var umask: mode_t {
        let current = Glibc.umask(0o022)
        Glibc.umask(current)
        return current
    }

    private static func writeAll(_ fd: Int32, _ bytes: [UInt8]) -> String? {
        var offset = 0
        while offset < bytes.count {
            let written = bytes[offset...].withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
            if written < 0 {
                if errno == EINTR { continue }
                return String(cString: strerror(errno))
            }
            offset += written
        }
        return nil
    }
}
