internal import Glibc

/// A local path as the file system holds it: bytes, which need not be UTF-8 (a Linux file name is any
/// bytes but `/` and NUL). Folders are walked, sorted and opened by these bytes, so a name that is not
/// valid UTF-8 is scanned like any other.
///
/// For people, `name` is text in which each byte that is not part of valid UTF-8 stands as a
/// character of Unicode's last private-use plane, U+10FF00 + the byte (Python's "surrogateescape"
/// idea, in characters a Swift string can hold); `TerminalText` shows those as `\xHH`. Paths that are
/// valid UTF-8 — nearly all — read as themselves.
public struct LocalPath: Sendable, Hashable, ExpressibleByStringLiteral {
    public let bytes: [UInt8]

    public init(_ text: String) {
        bytes = Array(text.utf8)
    }

    public init(bytes: [UInt8]) {
        self.bytes = bytes
    }

    public init(stringLiteral text: String) {
        self.init(text)
    }

    /// The names in this folder, as bytes, sorted bytewise.
    public func entries() throws(SystemError) -> [[UInt8]] {
        guard let dir = withCString({ opendir($0) }) else { throw SystemError(errno: errno) }
        defer { closedir(dir) }
        var names: [[UInt8]] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in Array(raw.prefix(while: { $0 != 0 })) }
            if name != [0x2E] && name != [0x2E, 0x2E] { names.append(name) }
        }
        return names.sorted { $0.lexicographicallyPrecedes($1) }
    }

    /// `self/component`.
    public func appending(_ component: [UInt8]) -> LocalPath {
        LocalPath(bytes: bytes.last == 0x2F ? bytes + component : bytes + [0x2F] + component)
    }

    /// Calls `body` with the path as a C string.
    public func withCString<R>(_ body: (UnsafePointer<CChar>) -> R) -> R {
        (bytes + [0]).withUnsafeBufferPointer { buffer in
            buffer.withMemoryRebound(to: CChar.self) { body($0.baseAddress!) }
        }
    }

    /// The path as text (see the type's documentation for bytes that are not UTF-8).
    public var name: String {
        if let text = String(validating: bytes, as: UTF8.self) { return text }
        var text = ""
        var index = 0
        while index < bytes.count {
            let length = Self.validSequenceLength(bytes, at: index)
            if length > 0 {
                text += String(decoding: bytes[index..<(index + length)], as: UTF8.self)
                index += length
            } else {
                text.unicodeScalars.append(Unicode.Scalar(Self.escapedByteBase + UInt32(bytes[index]))!)
                index += 1
            }
        }
        return text
    }

    /// The path `name` stands for: its inverse, so a path written as text (JSON, the state store) reads
    /// back as the same bytes.
    public init(name: String) {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(name.utf8.count)
        for scalar in name.unicodeScalars {
            if scalar.value >= Self.escapedByteBase && scalar.value <= Self.escapedByteBase + 0xFF {
                bytes.append(UInt8(scalar.value - Self.escapedByteBase))
            } else {
                bytes.append(contentsOf: String(scalar).utf8)
            }
        }
        self.bytes = bytes
    }

    /// Where the characters standing for bytes that are not UTF-8 start: U+10FF00 + the byte.
    public static let escapedByteBase: UInt32 = 0x10FF00

    /// The length of the valid UTF-8 sequence starting at `index`, or 0 if none starts there.
    private static func validSequenceLength(_ bytes: [UInt8], at index: Int) -> Int {
        let lead = bytes[index]
        let length: Int
        switch lead {
        case 0x00..<0x80: return 1
        case 0xC2...0xDF: length = 2
        case 0xE0...0xEF: length = 3
        case 0xF0...0xF4: length = 4
        default: return 0
        }
        guard index + length <= bytes.count,
              String(validating: bytes[index..<(index + length)], as: UTF8.self) != nil
        else { return 0 }
        return length
    }
}
