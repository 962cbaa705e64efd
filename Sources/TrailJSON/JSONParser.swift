/// A strict, zero-copy JSON parser that writes a flat tape of `JSONToken`s.
///
/// The parser validates a whole value against RFC 8259 — literals, numbers (no leading zeros), string
/// escapes, raw control characters, UTF-8 (no overlongs, no encoded surrogates, nothing above
/// U+10FFFF), commas (no trailing ones) — and a nesting limit, in one forward pass over the bytes in
/// place. Nothing is copied or allocated per token: the tape and the container stack are buffers owned
/// by the parser and reused for every value it parses; they grow only when a value has more tokens than
/// any before it.
///
/// It is built for a stream cut into pieces: when the bytes end before the value does, `parseValue`
/// returns `.incomplete` (unless told the bytes are final), and the caller retries from the same start
/// once more bytes have arrived. There is no resumable mid-token state to get wrong.
///
/// `\u` escapes are checked for four hex digits; an unpaired surrogate escape is accepted (the grammar
/// allows it) and decodes to U+FFFD, so that a hostile string cannot make a whole log unreadable.
///
/// One parser serves one worker: it is not `Sendable`.
public final class JSONParser {
    public enum Outcome: Equatable, Sendable {
        /// The value ends at byte `end` (exclusive); the tape holds its tokens.
        case complete(end: Int)
        /// The bytes ended inside the value; nothing is known about it yet.
        case incomplete
    }

    public let maximumDepth: Int
    private var tokens: UnsafeMutablePointer<JSONToken>
    private var tokenCapacity: Int
    /// Number of tokens of the last complete value.
    private(set) var tokenCount = 0
    /// Token index of each open container, innermost last; `maximumDepth` entries.
    private let stack: UnsafeMutablePointer<Int32>

    public init(maximumDepth: Int = 512) {
        precondition(maximumDepth > 0)
        self.maximumDepth = maximumDepth
        tokenCapacity = 1024
        tokens = .allocate(capacity: tokenCapacity)
        stack = .allocate(capacity: maximumDepth)
    }

    deinit {
        tokens.deallocate()
        stack.deallocate()
    }

    /// Calls `body` with the tape of the last complete value.
    ///
    /// - warning: The tape is valid only inside `body`: the next parse overwrites it.
    @inlinable
    public func withTape<R, E: Error>(_ body: (JSONTape) throws(E) -> R) throws(E) -> R {
        try body(tape)
    }

    @usableFromInline
    var tape: JSONTape { JSONTape(UnsafeBufferPointer(start: tokens, count: tokenCount)) }

    /// Parses a complete document: one value, with only whitespace around it.
    func parseDocument(_ bytes: UnsafeRawBufferPointer) throws(JSONError) {
        let start = Self.skipWhitespace(bytes, from: 0)
        guard start < bytes.count else { throw JSONError(offset: bytes.count, reason: .unexpectedEnd) }
        let value = UnsafeRawBufferPointer(rebasing: bytes[start...])
        guard case .complete(let end) = try parseValue(value, isFinal: true) else {
            preconditionFailure("a final parse is never incomplete")
        }
        if Self.skipWhitespace(bytes, from: start + end) != bytes.count {
            throw JSONError(offset: Self.skipWhitespace(bytes, from: start + end), reason: .trailingData)
        }
        if start > 0 { rebase(by: Int32(start)) }
    }

    /// Shifts the offsets of the tape (after a document parsed past leading whitespace).
    private func rebase(by delta: Int32) {
        for index in 0..<tokenCount {
            tokens[index].start += delta
            tokens[index].end += delta
        }
    }

    /// Whitespace as RFC 8259 defines it: space, tab, line feed, carriage return.
    @inlinable
    public static func skipWhitespace(_ bytes: UnsafeRawBufferPointer, from start: Int) -> Int {
        var i = start
        while i < bytes.count {
            switch bytes[i] {
            case 0x20, 0x0A, 0x0D, 0x09: i += 1
            default: return i
            }
        }
        return i
    }

    /// Parses the one value that starts at `bytes[0]` and fills the tape with its tokens.
    ///
    /// - Parameter isFinal: the bytes are all there is. Then an unfinished value is an error, and a number
    ///   may end at the end of the bytes.
    /// - Returns: `.complete(end:)` with the offset just past the value, or `.incomplete`.
    /// - Throws: `JSONError` with the offset (in `bytes`) of the first invalid byte.
    public func parseValue(_ bytes: UnsafeRawBufferPointer, isFinal: Bool = false) throws(JSONError) -> Outcome {
        let n = bytes.count
        guard let base = bytes.baseAddress, n > 0 else {
            if isFinal { throw JSONError(offset: 0, reason: .unexpectedEnd) }
            return .incomplete
        }
        guard n <= Int(Int32.max) else { throw JSONError(offset: 0, reason: .tooLarge(limit: Int(Int32.max))) }
        // From here on every offset and token count fits in an Int32: conversions truncate unchecked.
        let incomplete = isFinal ? JSONError(offset: n, reason: .unexpectedEnd) : nil
        var strings = StringBlocks(base, count: n)

        var count = 0
        var depth = 0
        var i = 0
        /// The innermost open container is an object (its members start with keys).
        var inObject = false
        /// A member's key starts at `i`, not a value.
        var atKey = false

        valueLoop: while true {
            // Invariant: i < n and base[i] is not whitespace; it starts a key when `atKey`, else a value.
            if atKey {
                guard bytes[i] == Byte.quote else { throw JSONError(offset: i, reason: .expectedKey) }
                guard let (end, escaped) = try Self.scanString(base, n, quoteAt: i, isFinal: isFinal, strings: &strings) else {
                    return .incomplete
                }
                append(&count, .string, isEscaped: escaped, start: i &+ 1, end: end)
                i = Self.skipWhitespace(bytes, from: end &+ 1)
                guard i < n else { if let incomplete { throw incomplete }; return .incomplete }
                guard bytes[i] == Byte.colon else { throw JSONError(offset: i, reason: .expectedColon) }
                i = Self.skipWhitespace(bytes, from: i &+ 1)
                guard i < n else { if let incomplete { throw incomplete }; return .incomplete }
                atKey = false
            }
            let c = bytes[i]
            switch c {
            case Byte.quote:
                guard let (end, escaped) = try Self.scanString(base, n, quoteAt: i, isFinal: isFinal, strings: &strings) else {
                    return .incomplete
                }
                append(&count, .string, isEscaped: escaped, start: i &+ 1, end: end)
                i = end &+ 1
            case Byte.openBrace, Byte.openBracket:
                guard depth < maximumDepth else { throw JSONError(offset: i, reason: .tooDeep(limit: maximumDepth)) }
                stack[depth] = Int32(truncatingIfNeeded: count)
                depth &+= 1
                inObject = c == Byte.openBrace
                appendContainer(&count, inObject ? .object : .array, start: i)
                i = Self.skipWhitespace(bytes, from: i &+ 1)
                guard i < n else { if let incomplete { throw incomplete }; return .incomplete }
                if bytes[i] == c &+ 2 {  // '}' is '{' + 2, ']' is '[' + 2
                    close(&depth, count: count, at: i, inObject: &inObject)
                    i &+= 1
                } else {
                    atKey = inObject
                    continue valueLoop
                }
            case Byte.minus, Byte.zero...Byte.nine:
                guard let end = try Self.scanNumber(base, n, at: i, isFinal: isFinal) else { return .incomplete }
                append(&count, .number, isEscaped: false, start: i, end: end)
                i = end
            case Byte.t, Byte.f, Byte.n:
                let (kind, literal): (JSONKind, StaticString) =
                    c == Byte.t ? (.true, "true") : c == Byte.f ? (.false, "false") : (.null, "null")
                guard let end = try Self.scanLiteral(base, n, at: i, literal, isFinal: isFinal) else { return .incomplete }
                append(&count, kind, isEscaped: false, start: i, end: end)
                i = end
            default:
                throw JSONError(offset: i, reason: i == 0 && c == 0xEF ? .byteOrderMark : .unexpectedByte(c))
            }

            // After a value: close containers, or move to the next element or member.
            while true {
                if depth == 0 {
                    tokenCount = count
                    return .complete(end: i)
                }
                i = Self.skipWhitespace(bytes, from: i)
                guard i < n else { if let incomplete { throw incomplete }; return .incomplete }
                let close = inObject ? Byte.closeBrace : Byte.closeBracket
                let d = bytes[i]
                if d == Byte.comma {
                    i = Self.skipWhitespace(bytes, from: i &+ 1)
                    guard i < n else { if let incomplete { throw incomplete }; return .incomplete }
                    if bytes[i] == close { throw JSONError(offset: i, reason: .trailingComma) }
                    atKey = inObject
                    continue valueLoop
                } else if d == close {
                    self.close(&depth, count: count, at: i, inObject: &inObject)
                    i &+= 1
                } else {
                    throw JSONError(offset: i, reason: .expectedCommaOrEnd(close: close))
                }
            }
        }
    }

    /// Appends a scalar or string token, which ends where it is.
    @inline(__always)
    private func append(_ count: inout Int, _ kind: JSONKind, isEscaped: Bool, start: Int, end: Int) {
        append(&count, JSONToken(
            kind: kind, isEscaped: isEscaped, start: Int32(truncatingIfNeeded: start),
            end: Int32(truncatingIfNeeded: end), next: Int32(truncatingIfNeeded: count &+ 1)))
    }

    /// Appends a container's token; `close` fills in its end and its `next`.
    @inline(__always)
    private func appendContainer(_ count: inout Int, _ kind: JSONKind, start: Int) {
        append(&count, JSONToken(kind: kind, isEscaped: false, start: Int32(truncatingIfNeeded: start), end: 0, next: 0))
    }

    @inline(__always)
    private func append(_ count: inout Int, _ token: JSONToken) {
        if count == tokenCapacity { growTokens() }
        tokens[count] = token
        count &+= 1
    }

    /// Closes the innermost container at `i`; `inObject` becomes whether its parent is an object.
    @inline(__always)
    private func close(_ depth: inout Int, count: Int, at i: Int, inObject: inout Bool) {
        depth &-= 1
        let index = Int(stack[depth])
        tokens[index].end = Int32(truncatingIfNeeded: i &+ 1)
        tokens[index].next = Int32(truncatingIfNeeded: count)
        inObject = depth > 0 && tokens[Int(stack[depth &- 1])].kind == .object
    }

    private func growTokens() {
        let newCapacity = tokenCapacity * 2
        let newTokens = UnsafeMutablePointer<JSONToken>.allocate(capacity: newCapacity)
        newTokens.moveInitialize(from: tokens, count: tokenCapacity)
        tokens.deallocate()
        tokens = newTokens
        tokenCapacity = newCapacity
    }
}

@available(*, unavailable)
extension JSONParser: Sendable {}

// MARK: - Scalars

extension JSONParser {
    /// Finds the end of the string whose opening quote is at `quoteAt` from the bitmasks of `strings`,
    /// or, where those cannot tell, with the scalar scan below.
    @inline(__always)
    static func scanString(
        _ base: UnsafeRawPointer, _ n: Int, quoteAt start: Int, isFinal: Bool, strings: inout StringBlocks
    ) throws(JSONError) -> (Int, Bool)? {
        if let (end, escaped) = strings.closingQuote(after: start) { return (end, escaped) }
        return try scanString(base, n, quoteAt: start, isFinal: isFinal)
    }

    /// Scans a string whose opening quote is at `quoteAt`. Returns the offset of the closing quote and
    /// whether the content has escapes, or `nil` when the bytes end first.
    ///
    /// The body is skipped eight bytes at a time: a word with no quote, backslash, control character
    /// or non-ASCII byte needs no further look (`specialBytes`). Only those bytes take the scalar path,
    /// which validates escapes and UTF-8 sequences. Kept out of line: the bitmasks answer for most
    /// strings, and the parser's loop stays small.
    @inline(never)
    static func scanString(
        _ base: UnsafeRawPointer, _ n: Int, quoteAt start: Int, isFinal: Bool
    ) throws(JSONError) -> (Int, Bool)? {
        var j = start + 1
        var escaped = false
        while true {
            // Word loads only where 8 bytes remain inside the buffer.
            while j + 8 <= n {
                let special = specialBytes(base.loadUnaligned(fromByteOffset: j, as: UInt64.self).littleEndian)
                if special == 0 {
                    j += 8
                    continue
                }
                j += special.trailingZeroBitCount >> 3
                break
            }
            guard j < n else {
                if isFinal { throw JSONError(offset: start, reason: .unterminatedString) }
                return nil
            }
            let c = base.load(fromByteOffset: j, as: UInt8.self)
            if c == Byte.quote {
                return (j, escaped)
            } else if c == Byte.backslash {
                escaped = true
                guard j + 1 < n else {
                    if isFinal { throw JSONError(offset: start, reason: .unterminatedString) }
                    return nil
                }
                switch base.load(fromByteOffset: j + 1, as: UInt8.self) {
                case Byte.quote, Byte.backslash, Byte.slash, Byte.b, Byte.f, Byte.n, Byte.r, Byte.t:
                    j += 2
                case Byte.u:
                    guard j + 6 <= n else {
                        // Validate what is there so a bad digit is reported even at the end of a chunk.
                        for k in (j + 2)..<n where hexValue(base.load(fromByteOffset: k, as: UInt8.self)) == nil {
                            throw JSONError(offset: j, reason: .invalidUnicodeEscape)
                        }
                        if isFinal { throw JSONError(offset: start, reason: .unterminatedString) }
                        return nil
                    }
                    for k in (j + 2)..<(j + 6) where hexValue(base.load(fromByteOffset: k, as: UInt8.self)) == nil {
                        throw JSONError(offset: j, reason: .invalidUnicodeEscape)
                    }
                    j += 6
                default:
                    throw JSONError(offset: j, reason: .invalidEscape)
                }
            } else if c < 0x20 {
                throw JSONError(offset: j, reason: .controlCharacterInString(c))
            } else if c >= 0x80 {
                guard let length = try utf8SequenceLength(base, n, at: j) else {
                    if isFinal { throw JSONError(offset: j, reason: .invalidUTF8) }
                    return nil
                }
                j += length
            } else {
                j += 1
            }
        }
    }

    /// Flags, in the high bit of each byte lane, the bytes of `word` (little-endian: byte 0 lowest) that
    /// a string scan must stop at: `"`, `\`, a control character (< 0x20) or a non-ASCII byte (≥ 0x80).
    ///
    /// The classic SWAR tests (`(x - 0x01…) & ~x & 0x80…` finds a zero byte) can flag a lane *above* a
    /// true one through a borrow, but never below it: so the lowest flagged lane, the only one callers
    /// use, is always exact.
    @inline(__always)
    static func specialBytes(_ word: UInt64) -> UInt64 {
        let ones: UInt64 = 0x0101_0101_0101_0101
        let highs: UInt64 = 0x8080_8080_8080_8080
        let quotes = word ^ (ones &* UInt64(Byte.quote))
        let backslashes = word ^ (ones &* UInt64(Byte.backslash))
        let isQuote = (quotes &- ones) & ~quotes
        let isBackslash = (backslashes &- ones) & ~backslashes
        let isControl = (word &- ones &* 0x20) & ~word
        return (isQuote | isBackslash | isControl | word) & highs
    }

    /// Validates the UTF-8 sequence that starts with the byte ≥ 0x80 at `i` (Unicode 15, table 3-7).
    /// Returns its length, or `nil` when the bytes end inside a sequence that is valid so far.
    @inline(__always)
    static func utf8SequenceLength(_ base: UnsafeRawPointer, _ n: Int, at i: Int) throws(JSONError) -> Int? {
        let lead = base.load(fromByteOffset: i, as: UInt8.self)
        let length: Int
        var low: UInt8 = 0x80
        var high: UInt8 = 0xBF
        switch lead {
        case 0xC2...0xDF: length = 2
        case 0xE0: length = 3; low = 0xA0
        case 0xE1...0xEC, 0xEE...0xEF: length = 3
        case 0xED: length = 3; high = 0x9F  // excludes encoded surrogates
        case 0xF0: length = 4; low = 0x90
        case 0xF1...0xF3: length = 4
        case 0xF4: length = 4; high = 0x8F  // nothing above U+10FFFF
        default: throw JSONError(offset: i, reason: .invalidUTF8)
        }
        for k in 1..<length {
            guard i + k < n else { return nil }
            let byte = base.load(fromByteOffset: i + k, as: UInt8.self)
            let (min, max) = k == 1 ? (low, high) : (0x80, 0xBF)
            guard byte >= min && byte <= max else { throw JSONError(offset: i, reason: .invalidUTF8) }
        }
        return length
    }

    /// Scans `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?` at `i`. Returns the offset after
    /// it, or `nil` when the bytes end where the number could still go on.
    @inline(__always)
    static func scanNumber(_ base: UnsafeRawPointer, _ n: Int, at start: Int, isFinal: Bool) throws(JSONError) -> Int? {
        @inline(__always) func byte(_ k: Int) -> UInt8 { base.load(fromByteOffset: k, as: UInt8.self) }
        @inline(__always) func isDigit(_ b: UInt8) -> Bool { b &- Byte.zero < 10 }
        var k = start
        let ranOut = isFinal ? JSONError(offset: n, reason: .invalidNumber) : nil
        if byte(k) == Byte.minus {
            k += 1
            guard k < n else { if let ranOut { throw ranOut }; return nil }
        }
        if byte(k) == Byte.zero {
            k += 1
            if k < n && isDigit(byte(k)) { throw JSONError(offset: start, reason: .leadingZero) }
        } else if isDigit(byte(k)) {
            while k < n && isDigit(byte(k)) { k += 1 }
        } else {
            throw JSONError(offset: k, reason: .invalidNumber)
        }
        if k < n && byte(k) == Byte.dot {
            k += 1
            guard k < n else { if let ranOut { throw ranOut }; return nil }
            guard isDigit(byte(k)) else { throw JSONError(offset: k, reason: .invalidNumber) }
            while k < n && isDigit(byte(k)) { k += 1 }
        }
        if k < n && (byte(k) | 0x20) == Byte.e {
            k += 1
            guard k < n else { if let ranOut { throw ranOut }; return nil }
            if byte(k) == Byte.plus || byte(k) == Byte.minus {
                k += 1
                guard k < n else { if let ranOut { throw ranOut }; return nil }
            }
            guard isDigit(byte(k)) else { throw JSONError(offset: k, reason: .invalidNumber) }
            while k < n && isDigit(byte(k)) { k += 1 }
        }
        if k == n && !isFinal { return nil }  // more digits may follow in the next chunk
        return k
    }

    /// Matches the literal at `i`. Returns the offset after it, or `nil` when the bytes end inside a
    /// prefix of it.
    @inline(__always)
    static func scanLiteral(
        _ base: UnsafeRawPointer, _ n: Int, at start: Int, _ literal: StaticString, isFinal: Bool
    ) throws(JSONError) -> Int? {
        let length = literal.utf8CodeUnitCount
        for k in 0..<length {
            guard start + k < n else {
                if isFinal { throw JSONError(offset: start, reason: .invalidLiteral) }
                return nil
            }
            guard base.load(fromByteOffset: start + k, as: UInt8.self) == literal.utf8Start[k] else {
                throw JSONError(offset: start, reason: .invalidLiteral)
            }
        }
        return start + length
    }
}

@inline(__always)
func hexValue(_ byte: UInt8) -> UInt8? {
    switch byte {
    case Byte.zero...Byte.nine: byte - Byte.zero
    case 0x41...0x46: byte - 0x41 + 10
    case 0x61...0x66: byte - 0x61 + 10
    default: nil
    }
}
