internal import Crypto
internal import TrailBytes
public import TrailGzip
internal import TrailSigV4

/// The SHA-256 of a log file's *uncompressed* content — what a digest's `hashValue` records — computed
/// as the compressed bytes arrive, in any chunks. A plain `.json` (already inflated) hashes as itself.
///
/// One hasher serves many files (`reset()`), by one worker; memory does not depend on file size.
public final class ContentHasher {
    private let decoder: GzipDecoder
    private let window: ByteWindow
    private var hash = SHA256()
    private static let step = 1 << 18
    /// The fast path for a file held whole (libdeflate, as the scan's), and the window it inflates into.
    private let inflater = WholeGzipInflater()
    private let wholeWindow = ByteWindow(initialCapacity: 1 << 20, maximumCapacity: ContentHasher.wholeOutputLimit)
    private let outputLimit: Int
    /// Files up to this size are worth holding whole (their output up to `wholeOutputLimit`).
    public static let wholeInputLimit = 16 << 20
    private static let wholeOutputLimit = 256 << 20

    /// - Parameter outputLimit: uncompressed bytes allowed per file (a gzip bomb is an error).
    public init(outputLimit: Int) {
        self.outputLimit = outputLimit
        decoder = GzipDecoder(outputLimit: outputLimit)
        window = ByteWindow(initialCapacity: Self.step, maximumCapacity: Self.step)
    }

    /// The content hash of a whole file in memory: inflated in one piece by libdeflate, or — when that
    /// declines (not gzip, corrupt, larger than its window) — streamed, which reports the exact error.
    /// Either way the same hash, or the same error.
    public func hash(whole input: UnsafeRawBufferPointer) throws(GzipError) -> String {
        reset()
        if let inflater, let produced = inflater.inflate(input, into: wholeWindow, outputLimit: min(outputLimit, Self.wholeOutputLimit)) {
            defer { wholeWindow.reset() }
            precondition(produced == wholeWindow.readableCount)
            wholeWindow.withReadableBytes { hash.update(bufferPointer: $0) }
            return SigV4Signer.hex(hash.finalize())
        }
        wholeWindow.reset()
        try update(input)
        return try finish()
    }

    public func reset() {
        decoder.reset()
        window.reset(keepingCapacity: Self.step)
        hash = SHA256()
    }

    public func update(_ chunk: UnsafeRawBufferPointer) throws(GzipError) {
        var rest = chunk
        repeat {
            let used = try decoder.decode(rest, into: window)
            rest = UnsafeRawBufferPointer(rebasing: rest[used...])
            window.withReadableBytes { hash.update(bufferPointer: $0) }
            window.moveReaderIndex(forwardBy: window.readableCount)
        } while !rest.isEmpty || decoder.mayHaveBufferedOutput
    }

    /// Ends the file: its content's lowercase hex SHA-256.
    public func finish() throws(GzipError) -> String {
        try decoder.finish()
        return SigV4Signer.hex(hash.finalize())
    }
}
