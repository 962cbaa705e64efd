/// The kind of a JSON value on the tape.
public enum JSONKind: UInt8, Sendable {
    case object, array, string, number, `true`, `false`, null
}

/// One entry of the tape: a value (or an object key) as offsets into the bytes it was parsed from.
///
/// Offsets are relative to the start of the parsed document. For a string, `start..<end` is its
/// content *between* the quotes, still escaped when `isEscaped`; for a container, `start..<end` runs
/// from its opening to just past its closing bracket; for numbers and literals, the token's bytes.
///
/// The tape lists values in document order. In an object, each key token is followed by its value's
/// tokens. `next` is the index of the first token after this value *and all its children*, so a reader
/// skips a whole subtree in one step.
public struct JSONToken: Sendable, Equatable {
    public var kind: JSONKind
    /// For strings: the content contains at least one backslash escape and must be decoded before use.
    public var isEscaped: Bool
    public var start: Int32
    public var end: Int32
    public var next: Int32

    @inlinable
    public init(kind: JSONKind, isEscaped: Bool, start: Int32, end: Int32, next: Int32) {
        self.kind = kind
        self.isEscaped = isEscaped
        self.start = start
        self.end = end
        self.next = next
    }

    /// The token's byte range (see the type's documentation for what it covers).
    @inlinable
    public var range: Range<Int> { Int(start)..<Int(end) }
}
