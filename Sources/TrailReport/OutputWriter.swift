internal import Glibc
internal import Synchronization

/// Writes whole pieces of output to a file descriptor, one piece at a time, so that the output of two
/// workers never interleaves (ripgrep's buffer-per-file model). Remembers when the reader has gone
/// away (`EPIPE`), so that `trailscan scan … | head` ends quietly.
public final class OutputWriter: Sendable {
    private let fd: Int32
    private let closed = Mutex(false)

    public init(fd: Int32) {
        self.fd = fd
    }

    public static let standardOutput = OutputWriter(fd: STDOUT_FILENO)
    public static let standardError = OutputWriter(fd: STDERR_FILENO)

    /// Whether a write found the reader gone.
    public var isClosed: Bool { closed.withLock { $0 } }

    /// Writes all of `bytes` as one piece. Returns `false` when the reader has gone away.
    @discardableResult
    public func write(_ bytes: [UInt8]) -> Bool {
        closed.withLock { closed in
            guard !closed else { return false }
            var offset = 0
            bytes.withUnsafeBytes { buffer in
                while offset < buffer.count {
                    let written = Glibc.write(fd, buffer.baseAddress! + offset, buffer.count - offset)
                    if written < 0 {
                        if errno == EINTR || errno == EAGAIN { continue }
                        // EPIPE when the reader is gone; any other error also means nobody reads this.
                        closed = true
                        return
                    }
                    offset += written
                }
            }
            return !closed
        }
    }

    @discardableResult
    public func write(_ text: String) -> Bool { write(Array(text.utf8)) }
}
