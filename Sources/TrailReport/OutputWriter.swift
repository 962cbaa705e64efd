internal import Glibc
internal import Synchronization

/// Writes whole pieces of output to a file descriptor, one piece at a time, so that pieces never
/// interleave (ripgrep's buffer-per-file model).
///
/// The first write that fails ends all writing. `EPIPE` means the reader has gone away
/// (`trailscan scan … | head`), which ends a scan quietly; any other error (`ENOSPC` on a full disk, `EIO`,
/// `EBADF` on a closed descriptor) is a failure the command reports (`failure`).
public final class OutputWriter: Sendable {
    private let fd: Int32
    /// `nil` while writes succeed; then the `errno` of the write that failed.
    private let stopped = Mutex<Int32?>(nil)

    public init(fd: Int32) {
        self.fd = fd
    }

    public static let standardOutput = OutputWriter(fd: STDOUT_FILENO)
    public static let standardError = OutputWriter(fd: STDERR_FILENO)

    /// Whether writing has stopped: the reader went away, or a write failed.
    public var isClosed: Bool { stopped.withLock { $0 != nil } }

    /// Why writing stopped, when it was not the reader going away: the `errno` and its message.
    public var failure: (errno: Int32, message: String)? {
        guard let code = stopped.withLock({ $0 }), code != EPIPE else { return nil }
        return (code, String(cString: strerror(code)))
    }

    /// Writes all of `bytes` as one piece. Returns `false` when writing has stopped.
    @discardableResult
    public func write(_ bytes: [UInt8]) -> Bool {
        stopped.withLock { stopped in
            guard stopped == nil else { return false }
            var offset = 0
            bytes.withUnsafeBytes { buffer in
                while offset < buffer.count {
                    let written = Glibc.write(fd, buffer.baseAddress! + offset, buffer.count - offset)
                    if written < 0 {
                        if errno == EINTR || errno == EAGAIN { continue }
                        stopped = errno
                        return
                    }
                    offset += written
                }
            }
            return stopped == nil
        }
    }

    /// Writes `text` as one piece.
    @discardableResult
    public func write(_ text: String) -> Bool { write(Array(text.utf8)) }
}
