/// A document is not valid JSON (RFC 8259), or exceeds a limit. `offset` is the byte at which the
/// problem was found, counted from the start of the bytes given to the parser (callers that parse a
/// part of a larger stream rebase it with `offset(by:)`).
public struct JSONError: Error, Equatable, Sendable, CustomStringConvertible {
    public enum Reason: Equatable, Sendable {
        case unexpectedByte(UInt8)
        case unexpectedEnd
        case unterminatedString
        case controlCharacterInString(UInt8)
        case invalidEscape
        case invalidUnicodeEscape
        case invalidUTF8
        case invalidNumber
        case leadingZero
        case invalidLiteral
        case trailingComma
        case expectedColon
        case expectedKey
        case expectedCommaOrEnd(close: UInt8)
        case tooDeep(limit: Int)
        case tooLarge(limit: Int)
        case trailingData
        /// The document starts with U+FEFF (EF BB BF), which JSON texts do not carry (RFC 8259, 8.1).
        case byteOrderMark
    }

    public var offset: Int
    public var reason: Reason

    public init(offset: Int, reason: Reason) {
        self.offset = offset
        self.reason = reason
    }

    /// The same error with its offset moved by `base` bytes.
    public func offset(by base: Int) -> JSONError {
        JSONError(offset: offset + base, reason: reason)
    }

    public var description: String { "invalid JSON at byte \(offset): \(reason.text)" }

    /// For a file people edit: the line and column (from 1; columns count characters) as well as the byte.
    public func description(in bytes: [UInt8]) -> String {
        let before = bytes.prefix(max(0, min(offset, bytes.count)))
        let line = before.reduce(1) { $1 == 0x0A ? $0 + 1 : $0 }
        let lineStart = before.lastIndex(of: 0x0A).map { $0 + 1 } ?? 0
        let column = String(decoding: before[lineStart...], as: UTF8.self).count + 1
        return "invalid JSON at line \(line), column \(column) (byte \(offset)): \(reason.text)"
    }
}

extension JSONError.Reason {
    /// A short phrase for messages; bytes are shown as hex or as a printable ASCII character.
    public var text: String {
        switch self {
        case .unexpectedByte(let byte): "unexpected \(describe(byte))"
        case .unexpectedEnd: "unexpected end of input"
        case .unterminatedString: "unterminated string"
        case .controlCharacterInString(let byte): "raw control character \(describe(byte)) in string"
        case .invalidEscape: "invalid escape sequence"
        case .invalidUnicodeEscape: "invalid \\u escape"
        case .invalidUTF8: "invalid UTF-8"
        case .invalidNumber: "invalid number"
        case .leadingZero: "number with a leading zero"
        case .invalidLiteral: "invalid literal"
        case .trailingComma: "trailing comma"
        case .expectedColon: "expected ':' after an object key"
        case .expectedKey: "expected a string key"
        case .expectedCommaOrEnd(let close): "expected ',' or '\(Character(Unicode.Scalar(close)))'"
        case .tooDeep(let limit): "nesting deeper than \(limit) levels"
        case .tooLarge(let limit): "value larger than \(limit) bytes"
        case .trailingData: "unexpected data after the end of the document"
        case .byteOrderMark: "a byte order mark, which JSON texts do not carry (RFC 8259, section 8.1)"
        }
    }

    private func describe(_ byte: UInt8) -> String {
        let hex = "0x" + String(byte, radix: 16, uppercase: true).leftPadded(to: 2)
        if byte >= 0x21 && byte < 0x7F { return "'\(Character(Unicode.Scalar(byte)))' (\(hex))" }
        return "byte \(hex)"
    }
}

extension String {
    fileprivate func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
