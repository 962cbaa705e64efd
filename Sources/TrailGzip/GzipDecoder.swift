internal import CZlib
public import TrailBytes

/// Streaming decoder for one object: gzip (one or more members) or, when the object does not start
/// with the gzip magic bytes `1f 8b`, plain bytes passed through as they are.
///
/// Feed compressed bytes with `decode(_:into:)` in chunks of any size (one byte works), then call
/// `finish()` when the input ends. The decoder writes into the caller's `ByteWindow` and never holds
/// more than zlib's 32 KiB history, so memory does not depend on the object's size.
///
/// What it checks, and the error it reports:
/// - the gzip header of every member (`GzipError.badHeader`);
/// - each member's CRC-32 and ISIZE trailer (`.crcMismatch`, `.lengthMismatch`), which zlib verifies;
/// - input that ends inside a member (`.truncated`), from `finish()`;
/// - bytes after a member that do not start another member (`.trailingGarbage`);
/// - more than `outputLimit` decoded bytes (`.limitExceeded`): a gzip bomb becomes an error, not an
///   out-of-memory kill.
///
/// One decoder is reused for many objects (`reset()`), by one worker: it is not `Sendable`.
public final class GzipDecoder {
    /// zlib keeps the address of this stream inside its own state, so the stream lives in separately
    /// allocated memory whose address never changes, from `init` to `deinit`.
    private let stream: UnsafeMutablePointer<z_stream>
    /// Filled in by zlib while it reads a member's header; `done == 1` once the header is complete.
    /// Same stable-address rule as `stream`.
    /// It tells a corrupt header of the first member from garbage after the last one.
    private let header: UnsafeMutablePointer<gz_header>
    private var isInitialized = false

    private enum Phase {
        /// Nothing seen yet: the first bytes decide between gzip and plain.
        case detecting
        /// The only byte seen so far is `1f`; the next one decides.
        case sawFirstMagicByte
        case member
        /// A member just ended; more input must be another member.
        case betweenMembers
        case plain
    }
    private var phase = Phase.detecting
    /// A data error found by an inflate call that also produced output: that output is handed over
    /// first (its complete records still count), and the error is thrown by the next `decode` or by
    /// `finish`. So a corrupt trailer costs the same records whether the error comes in the first call
    /// or the hundredth, i.e. whatever the object's size and the chunking.
    private var pendingError: GzipError?

    /// Decoded bytes allowed per object.
    public let outputLimit: Int
    /// Compressed (input) bytes consumed in this object.
    public private(set) var bytesIn = 0
    /// Decoded (output) bytes produced in this object.
    public private(set) var bytesOut = 0
    /// Number of gzip members that ended cleanly in this object.
    private(set) var membersCompleted = 0
    /// Whether the last `decode` call stopped because the window was full, so zlib may hold output
    /// that needs no further input. Call `decode` again (with the rest of the input, or none).
    public private(set) var mayHaveBufferedOutput = false

    public init(outputLimit: Int) {
        precondition(outputLimit > 0)
        self.outputLimit = outputLimit
        stream = .allocate(capacity: 1)
        stream.initialize(to: z_stream())
        header = .allocate(capacity: 1)
        header.initialize(to: gz_header())
    }

    deinit {
        if isInitialized { inflateEnd(stream) }
        stream.deinitialize(count: 1)
        stream.deallocate()
        header.deinitialize(count: 1)
        header.deallocate()
    }

    /// Prepares the decoder for the next object.
    public func reset() {
        phase = .detecting
        bytesIn = 0
        bytesOut = 0
        membersCompleted = 0
        mayHaveBufferedOutput = false
        pendingError = nil
    }

    /// Decodes from `input` into `window`'s writable space until the input is used up or the window is
    /// full.
    ///
    /// - Returns: how many bytes of `input` were consumed; a call also returns at the end of each gzip
    ///   member. The caller drains the window and calls again with the rest (and, while
    ///   `mayHaveBufferedOutput`, even with no input left).
    public func decode(_ input: UnsafeRawBufferPointer, into window: ByteWindow) throws(GzipError) -> Int {
        if let pendingError { throw pendingError }
        var consumed = 0
        mayHaveBufferedOutput = false
        while true {
            switch phase {
            case .detecting:
                guard consumed < input.count else { return consumed }
                if input[consumed] != 0x1F {
                    phase = .plain
                } else if consumed + 1 < input.count {
                    phase = input[consumed + 1] == 0x8B ? .member : .plain
                    if phase == .member { try startMember() }
                } else {
                    // A lone `1f` at the end of this chunk: hold it back (uncounted) until the next byte.
                    phase = .sawFirstMagicByte
                    consumed += 1
                    return consumed
                }
            case .sawFirstMagicByte:
                guard consumed < input.count else { return consumed }
                if input[consumed] == 0x8B {
                    try startMember()
                    phase = .member
                    // Hand zlib the `1f` that was held back; it fits in any output space.
                    var magic: UInt8 = 0x1F
                    let used = try withUnsafeBytes(of: &magic) { (held) throws(GzipError) in
                        try inflateStep(held, into: window)
                    }
                    precondition(used == 1, "zlib did not take the first header byte")
                } else {
                    // Not gzip after all: the held-back byte is the object's first plain byte.
                    guard window.writableCount > 0 else { return consumed }
                    phase = .plain
                    try writePlainByte(0x1F, into: window)
                    bytesIn += 1
                }
            case .plain:
                let remaining = UnsafeRawBufferPointer(rebasing: input[consumed...])
                let copied = try copyPlain(remaining, window)
                consumed += copied
                bytesIn += copied
                return consumed
            case .betweenMembers:
                // A member's output is handed over before what follows it is judged: garbage after the
                // last member must not swallow the records of the members before it.
                guard consumed == 0, consumed < input.count else { return consumed }
                // Another member starts with `1f`; anything else is garbage, even a lone trailing byte.
                guard input[consumed] == 0x1F else { throw .trailingGarbage(atByte: bytesIn) }
                try startMember()
                phase = .member
            case .member:
                guard window.writableCount > 0 else {
                    mayHaveBufferedOutput = true
                    return consumed
                }
                let before = consumed
                consumed += try inflateStep(UnsafeRawBufferPointer(rebasing: input[consumed...]), into: window)
                if pendingError != nil { return consumed }  // hand over the output; the error comes next
                if phase == .member {
                    // inflate stops only when it needs more input or more output space.
                    if window.writableCount == 0 { mayHaveBufferedOutput = true }
                    if consumed == input.count || window.writableCount == 0 || consumed == before {
                        return consumed
                    }
                }
            }
        }
    }

    /// Declares the end of the input.
    ///
    /// - Throws: `.empty` for an object with no bytes, `.truncated` when the input ended inside a
    ///   gzip member.
    public func finish() throws(GzipError) {
        if let pendingError { throw pendingError }
        switch phase {
        case .detecting:
            if bytesIn == 0 { throw .empty }
        case .sawFirstMagicByte:
            throw .truncated(afterBytes: 1)
        case .member:
            throw .truncated(afterBytes: bytesIn)
        case .betweenMembers, .plain:
            break
        }
    }

    // MARK: - zlib

    private func startMember() throws(GzipError) {
        if !isInitialized {
            // 15 + 16: a 32 KiB window, gzip wrapper only (no zlib wrapper, no raw deflate).
            let rc = trailscan_inflateInit2(stream, 15 + 16)
            guard rc == Z_OK else { throw .zlib(code: rc) }
            isInitialized = true
        } else {
            let rc = inflateReset(stream)
            guard rc == Z_OK else { throw .zlib(code: rc) }
        }
        header.pointee = gz_header()
        let rc = inflateGetHeader(stream, header)
        guard rc == Z_OK else { throw .zlib(code: rc) }
        memberStart = bytesIn
    }

    /// Compressed offset at which the current member started.
    private var memberStart = 0

    /// Runs `inflate` once over `input` into the window. Returns the input bytes consumed.
    private func inflateStep(_ input: UnsafeRawBufferPointer, into window: ByteWindow) throws(GzipError) -> Int {
        var rc: Int32 = Z_OK
        var consumed = 0
        var producedHere = 0
        try window.withWritableBytes { (output) throws(GzipError) -> Int in
            // Never let zlib write more than one byte past the limit: that byte proves the overrun.
            let allowed = min(output.count, outputLimit - bytesOut + 1)
            let inCount = UInt32(truncatingIfNeeded: min(input.count, Int(UInt32.max)))
            // zlib's `next_in` is not const-qualified in this build, but inflate never writes through it.
            stream.pointee.next_in = UnsafeMutablePointer(mutating: input.baseAddress?.assumingMemoryBound(to: Bytef.self))
            stream.pointee.avail_in = inCount
            stream.pointee.next_out = output.baseAddress?.assumingMemoryBound(to: Bytef.self)
            stream.pointee.avail_out = UInt32(truncatingIfNeeded: allowed)
            defer {
                // Pointers handed to C are cleared as soon as the call returns.
                stream.pointee.next_in = nil
                stream.pointee.avail_in = 0
                stream.pointee.next_out = nil
                stream.pointee.avail_out = 0
            }
            rc = inflate(stream, Z_NO_FLUSH)
            consumed = Int(inCount - stream.pointee.avail_in)
            let produced = allowed - Int(stream.pointee.avail_out)
            bytesIn += consumed
            bytesOut += produced
            producedHere = produced
            return produced
        }
        switch rc {
        case Z_OK, Z_BUF_ERROR:
            // Z_BUF_ERROR: no progress possible without more input or output space; not an error.
            break
        case Z_STREAM_END:
            membersCompleted += 1
            phase = .betweenMembers
        case Z_DATA_ERROR, Z_NEED_DICT:
            guard producedHere > 0 else { throw dataError() }
            pendingError = dataError()
            return consumed
        default:  // Z_MEM_ERROR, Z_STREAM_ERROR
            throw .zlib(code: rc)
        }
        if bytesOut > outputLimit { throw .limitExceeded(limit: outputLimit) }
        return consumed
    }

    /// Classifies a Z_DATA_ERROR from zlib's message and the member's header state.
    private func dataError() -> GzipError {
        let message = stream.pointee.msg.map { String(cString: $0) } ?? "invalid data"
        if header.pointee.done != 1 {
            // The header was not complete (`done` is 0 while zlib reads it, -1 when the magic bytes are
            // wrong): in the first member that is a bad header, after a complete member it means the
            // bytes that follow are not another member.
            return membersCompleted == 0
                ? .badHeader(reason: message)
                : .trailingGarbage(atByte: memberStart)
        }
        switch message {
        case "incorrect data check": return .crcMismatch(member: membersCompleted + 1)
        case "incorrect length check": return .lengthMismatch(member: membersCompleted + 1)
        default: return .corruptData(reason: message, atByte: bytesIn)
        }
    }

    // MARK: - Plain objects

    /// Copies as much of `input` as fits. Returns the count copied.
    private func copyPlain(_ input: UnsafeRawBufferPointer, _ window: ByteWindow) throws(GzipError) -> Int {
        var copied = 0
        window.withWritableBytes { output in
            copied = min(input.count, output.count)
            if copied > 0 { output.baseAddress!.copyMemory(from: input.baseAddress!, byteCount: copied) }
            return copied
        }
        bytesOut += copied
        if bytesOut > outputLimit { throw .plainLimitExceeded(limit: outputLimit) }
        return copied
    }

    private func writePlainByte(_ byte: UInt8, into window: ByteWindow) throws(GzipError) {
        var byte = byte
        let copied = try withUnsafeBytes(of: &byte) { (bytes) throws(GzipError) in try copyPlain(bytes, window) }
        precondition(copied == 1, "no room for one byte")
    }
}

@available(*, unavailable)
extension GzipDecoder: Sendable {}
