/// Reading and writing JSON strings.
///
/// Values on the tape stay escaped in place; these functions decode them only when a value is actually
/// needed, and most comparisons never decode at all (`equals` compares raw bytes when the token has no
/// escapes).
public enum JSONString {
    /// Whether the string token equals `literal` (UTF-8), decoding escapes only when the token has any.
    @inlinable
    public static func equals(_ token: JSONToken, in bytes: UnsafeRawBufferPointer, to literal: UnsafeRawBufferPointer) -> Bool {
        guard token.kind == .string else { return false }
        let content = UnsafeRawBufferPointer(rebasing: bytes[token.range])
        if !token.isEscaped {
            guard content.count == literal.count else { return false }
            return content.elementsEqual(literal)
        }
        // An escaped string is never longer decoded than encoded; longer decoded content cannot match.
        guard literal.count <= content.count else { return false }
        var decoded: [UInt8] = []
        unescape(content, into: &decoded)
        return decoded.withUnsafeBytes { $0.elementsEqual(literal) }
    }

    /// The decoded bytes (UTF-8) of a string token.
    public static func bytes(of token: JSONToken, in bytes: UnsafeRawBufferPointer) -> [UInt8] {
        let content = UnsafeRawBufferPointer(rebasing: bytes[token.range])
        if !token.isEscaped { return Array(content) }
        var decoded: [UInt8] = []
        unescape(content, into: &decoded)
        return decoded
    }

    /// The decoded value of a string token.
    public static func string(of token: JSONToken, in bytes: UnsafeRawBufferPointer) -> String {
        let content = UnsafeRawBufferPointer(rebasing: bytes[token.range])
        if !token.isEscaped { return String(decoding: content, as: UTF8.self) }
        var decoded: [UInt8] = []
        unescape(content, into: &decoded)
        return String(decoding: decoded, as: UTF8.self)
    }

    /// Appends the decoded form of validated string content (without its quotes) to `output`.
    ///
    /// - Precondition: `content` was validated by `JSONParser` (escapes are well formed).
    ///   An unpaired surrogate escape decodes to U+FFFD.
    @usableFromInline
    static func unescape(_ content: UnsafeRawBufferPointer, into output: inout [UInt8]) {
        output.reserveCapacity(output.count + content.count)
        var i = 0
        let n = content.count
        while i < n {
            let c = content[i]
            guard c == Byte.backslash else {
                output.append(c)
                i += 1
                continue
            }
            let e = content[i + 1]
            i += 2
            switch e {
            case Byte.b: output.append(0x08)
            case Byte.f: output.append(0x0C)
            case Byte.n: output.append(0x0A)
            case Byte.r: output.append(0x0D)
            case Byte.t: output.append(0x09)
            case Byte.u:
                var scalar = hex4(content, at: i)
                i += 4
                if (0xD800...0xDBFF).contains(scalar) {
                    // A high surrogate must be followed by an escaped low surrogate.
                    if i + 6 <= n, content[i] == Byte.backslash, content[i + 1] == Byte.u {
                        let low = hex4(content, at: i + 2)
                        if (0xDC00...0xDFFF).contains(low) {
                            scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                            i += 6
                        } else {
                            scalar = 0xFFFD
                        }
                    } else {
                        scalar = 0xFFFD
                    }
                } else if (0xDC00...0xDFFF).contains(scalar) {
                    scalar = 0xFFFD
                }
                appendUTF8(Unicode.Scalar(scalar)!, to: &output)
            default: output.append(e)  // " \ /
            }
        }
    }

    private static func hex4(_ content: UnsafeRawBufferPointer, at i: Int) -> UInt32 {
        var value: UInt32 = 0
        for k in i..<(i + 4) { value = value << 4 | UInt32(hexValue(content[k]) ?? 0) }
        return value
    }

    private static func appendUTF8(_ scalar: Unicode.Scalar, to output: inout [UInt8]) {
        output.append(contentsOf: UTF8.encode(scalar)!)
    }

    // MARK: - Writing

    /// Appends `value` as a JSON string literal: quotes, `\"`, `\\`, and `\uXXXX` (or the short forms)
    /// for every control character (U+007F and the C1 controls included) and every bidirectional or
    /// invisible formatting character (`DisplayHazard`), so the output is safe to print as it is.
    public static func appendQuoted(_ value: some StringProtocol, to output: inout [UInt8]) {
        var text = String(value)
        text.withUTF8 { appendQuoted(utf8: UnsafeRawBufferPointer($0), to: &output) }
    }

    /// `appendQuoted` on UTF-8 bytes: runs that need no escape are copied whole (user agents and
    /// request parameters can be megabytes long).
    ///
    /// - Precondition: `bytes` is valid UTF-8.
    public static func appendQuoted(utf8 bytes: UnsafeRawBufferPointer, to output: inout [UInt8]) {
        output.reserveCapacity(output.count + bytes.count + 2)
        output.append(Byte.quote)
        var runStart = 0
        var index = 0
        while index < bytes.count {
            let byte = bytes[index]
            if byte >= 0x20 && byte != Byte.quote && byte != Byte.backslash && byte < 0x7F {
                index += 1
                continue
            }
            if byte > 0x7F {
                // Only lead bytes C2, D8, E2 and EF can start a hazard; decode just those.
                let width = byte < 0xE0 ? 2 : byte < 0xF0 ? 3 : 4
                guard byte == 0xC2 || byte == 0xD8 || byte == 0xE2 || byte == 0xEF, index + width <= bytes.count else {
                    index += width
                    continue
                }
                var scalar = UInt32(byte) & (width == 2 ? 0x1F : 0x0F)
                for k in 1..<width { scalar = scalar << 6 | UInt32(bytes[index + k] & 0x3F) }
                guard DisplayHazard.contains(scalar) else {
                    index += width
                    continue
                }
                output.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[runStart..<index]))
                appendUnicodeEscape(scalar, to: &output)
                index += width
                runStart = index
                continue
            }
            output.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[runStart..<index]))
            index += 1
            runStart = index
            switch byte {
            case Byte.quote: output.append(contentsOf: [Byte.backslash, Byte.quote])
            case Byte.backslash: output.append(contentsOf: [Byte.backslash, Byte.backslash])
            case 0x0A: output.append(contentsOf: [Byte.backslash, Byte.n])
            case 0x0D: output.append(contentsOf: [Byte.backslash, Byte.r])
            case 0x09: output.append(contentsOf: [Byte.backslash, Byte.t])
            default: appendUnicodeEscape(UInt32(byte), to: &output)
            }
        }
        output.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[runStart..<bytes.count]))
        output.append(Byte.quote)
    }

    /// `\uXXXX` for a scalar of the Basic Multilingual Plane.
    private static func appendUnicodeEscape(_ scalar: UInt32, to output: inout [UInt8]) {
        output.append(contentsOf: [Byte.backslash, Byte.u])
        for shift in stride(from: 12, through: 0, by: -4) { output.append(hexDigit(UInt8((scalar >> UInt32(shift)) & 0xF))) }
    }

    private static func hexDigit(_ value: UInt8) -> UInt8 {
        value < 10 ? Byte.zero + value : 0x61 + value - 10
    }
}

/// Writing validated JSON text compactly.
public enum JSONText {
    /// Appends `json` with the whitespace between tokens removed, so it fits on one line, and each
    /// unpaired surrogate escape (`\uD800` alone: accepted on input, see `JSONParser`) written as
    /// `\uFFFD`, so that strict readers of the output (Foundation, serde_json) take every line.
    ///
    /// - Precondition: `json` is valid JSON (validated by `JSONParser`); string contents are copied as
    ///   they are, so no newline from inside a value can appear (raw control characters are invalid).
    public static func appendMinified(_ json: UnsafeRawBufferPointer, to output: inout [UInt8]) {
        // CloudTrail writes compact JSON without surrogate escapes: copy it in one piece when there is
        // nothing to change.
        guard json.indices.contains(where: { isWhitespace(json[$0]) || isSurrogateEscape(json, at: $0) }) else {
            output.append(contentsOf: json)
            return
        }
        // Whitespace outside strings is dropped; everything between is copied in runs.
        var inString = false
        var runStart = 0
        var index = 0
        while index < json.count {
            let byte = json[index]
            if inString {
                if byte == Byte.quote {
                    inString = false
                } else if byte == Byte.backslash {
                    // Valid JSON: an escape is `\x`, or `\u` and four hex digits.
                    guard json[index + 1] == Byte.u, let unit = hexValue(json, at: index + 2), (0xD800...0xDFFF).contains(unit) else {
                        index += 2
                        continue
                    }
                    let paired = unit < 0xDC00 && index + 11 < json.count && json[index + 6] == Byte.backslash && json[index + 7] == Byte.u
                        && hexValue(json, at: index + 8).map { (0xDC00...0xDFFF).contains($0) } == true
                    if paired {
                        index += 12
                        continue
                    }
                    output.append(contentsOf: UnsafeRawBufferPointer(rebasing: json[runStart..<index]))
                    output.append(contentsOf: #"\uFFFD"#.utf8)
                    index += 6
                    runStart = index
                    continue
                }
            } else if isWhitespace(byte) {
                output.append(contentsOf: UnsafeRawBufferPointer(rebasing: json[runStart..<index]))
                runStart = index + 1
            } else if byte == Byte.quote {
                inString = true
            }
            index += 1
        }
        output.append(contentsOf: UnsafeRawBufferPointer(rebasing: json[runStart..<json.count]))
    }

    @inline(__always)
    private static func isWhitespace(_ byte: UInt8) -> Bool {
        byte == 0x20 || byte == 0x0A || byte == 0x0D || byte == 0x09
    }

    /// Whether `\uD` or `\ud` starts at `index` (possibly a surrogate escape; a cheap first test).
    @inline(__always)
    private static func isSurrogateEscape(_ json: UnsafeRawBufferPointer, at index: Int) -> Bool {
        json[index] == Byte.backslash && index + 2 < json.count && json[index + 1] == Byte.u && json[index + 2] | 0x20 == 0x64
    }

    /// The four hex digits at `index` as a number, or `nil`.
    private static func hexValue(_ json: UnsafeRawBufferPointer, at index: Int) -> UInt32? {
        guard index + 4 <= json.count else { return nil }
        var value: UInt32 = 0
        for byte in json[index..<(index + 4)] {
            guard let digit = Character(Unicode.Scalar(byte)).hexDigitValue else { return nil }
            value = value << 4 | UInt32(digit)
        }
        return value
    }
}

/// Writes one JSON object, member by member, at the end of a byte buffer: the separators and the
/// quoting are done here once, for every object trailscan writes (alerts, findings, messages).
extension JSONString {
    /// A JSON array of strings.
    public static func array(_ strings: [String]) -> [UInt8] {
        var out: [UInt8] = [0x5B]
        for (index, text) in strings.enumerated() {
            if index > 0 { out.append(0x2C) }
            appendQuoted(text, to: &out)
        }
        out.append(0x5D)
        return out
    }
}

public struct JSONObjectWriter {
    private var bytes: [UInt8] = []
    private var first = true

    /// Starts an object at the end of `output`, whose bytes the writer holds until `finish`.
    public init(appendingTo output: inout [UInt8]) {
        swap(&bytes, &output)
        bytes.append(0x7B)
    }

    /// Ends the object and hands the bytes back to `output`.
    public mutating func finish(into output: inout [UInt8]) {
        bytes.append(0x7D)
        swap(&bytes, &output)
    }

    /// `"name":`, after a comma when a member came before.
    private mutating func key(_ name: String) {
        if !first { bytes.append(0x2C) }
        first = false
        JSONString.appendQuoted(name, to: &bytes)
        bytes.append(0x3A)
    }

    /// A string member; `null` for `nil`.
    public mutating func string(_ name: String, _ value: String?) {
        key(name)
        if let value { JSONString.appendQuoted(value, to: &bytes) } else { bytes.append(contentsOf: "null".utf8) }
    }

    /// A member whose value is JSON text already (a number, `true`, a record).
    public mutating func raw(_ name: String, _ json: some Sequence<UInt8>) {
        key(name)
        bytes.append(contentsOf: json)
    }

    /// A member whose value is JSON text to minify (a record as the log wrote it).
    public mutating func minified(_ name: String, _ json: [UInt8]) {
        key(name)
        json.withUnsafeBytes { JSONText.appendMinified($0, to: &bytes) }
    }

    /// A member whose value is an object, written by `body`.
    public mutating func object(_ name: String, _ body: (inout JSONObjectWriter) -> Void) {
        key(name)
        var inner = JSONObjectWriter(appendingTo: &bytes)
        body(&inner)
        inner.finish(into: &bytes)
    }

    /// A member whose value is an array of objects, each written by `body`.
    public mutating func objects<Element>(_ name: String, _ elements: some Sequence<Element>, _ body: (inout JSONObjectWriter, Element) -> Void) {
        key(name)
        bytes.append(0x5B)
        for (index, element) in elements.enumerated() {
            if index > 0 { bytes.append(0x2C) }
            var inner = JSONObjectWriter(appendingTo: &bytes)
            body(&inner, element)
            inner.finish(into: &bytes)
        }
        bytes.append(0x5D)
    }
}

/// Characters that change how text around them is shown rather than showing themselves: printed raw
/// from a log, they can rewrite a terminal (an ESC starts an ANSI sequence; C1 controls are 8-bit
/// escapes), reorder a line (bidirectional overrides) or hide text (zero-width characters). Every
/// place that shows log text escapes exactly these.
public enum DisplayHazard {
    /// Whether `scalar` is a C0 control, DEL, a C1 control (U+0080–U+009F), or a bidirectional or
    /// invisible formatting character (U+061C, U+200B–U+200F, U+2028–U+202E, U+2060–U+2069, U+FEFF).
    @inline(__always)
    public static func contains(_ scalar: UInt32) -> Bool {
        switch scalar {
        case 0x00..<0x20, 0x7F, 0x80...0x9F, 0x061C, 0x200B...0x200F, 0x2028...0x202E, 0x2060...0x2069, 0xFEFF: true
        default: false
        }
    }
}
