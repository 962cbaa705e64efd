/// A read-only view of the tokens of one parsed value (see `JSONToken` for the layout), together with
/// navigation that skips whole subtrees through `next`.
///
/// - warning: A tape borrows the parser's buffer: use it only inside `JSONParser.withTape`.
public struct JSONTape {
    @usableFromInline
    let tokens: UnsafeBufferPointer<JSONToken>

    @inlinable
    init(_ tokens: UnsafeBufferPointer<JSONToken>) {
        self.tokens = tokens
    }

    @inlinable
    public var count: Int { tokens.count }

    @inlinable
    public subscript(index: Int) -> JSONToken { tokens[index] }

    /// Calls `body(keyIndex, valueIndex)` for each member of the object at `object`, in order, until
    /// `body` returns `false`.
    ///
    /// - Precondition: `tape[object].kind == .object`.
    @inlinable
    public func forEachMember(of object: Int, _ body: (Int, Int) throws -> Bool) rethrows {
        let end = Int(tokens[object].next)
        var key = object + 1
        while key < end {
            let value = key + 1
            guard try body(key, value) else { return }
            key = Int(tokens[value].next)
        }
    }

    /// Calls `body(valueIndex)` for each element of the array at `array`, until it returns `false`.
    @inlinable
    public func forEachElement(of array: Int, _ body: (Int) throws -> Bool) rethrows {
        let end = Int(tokens[array].next)
        var element = array + 1
        while element < end {
            guard try body(element) else { return }
            element = Int(tokens[element].next)
        }
    }

    /// The index of the value of the member named `key` in the object at `object`, if any: of repeated
    /// keys, the last (as `JSONValue`, the record's field view and EventBridge read them).
    ///
    /// - Parameter bytes: the bytes the tape was parsed from.
    public func member(_ key: [UInt8], in object: Int, of bytes: UnsafeRawBufferPointer) -> Int? {
        key.withUnsafeBytes { member($0, in: object, of: bytes) }
    }

    /// `member` with the key's UTF-8 bytes borrowed (a `String`'s, without copying them out).
    public func member(_ key: UnsafeRawBufferPointer, in object: Int, of bytes: UnsafeRawBufferPointer) -> Int? {
        guard tokens[object].kind == .object else { return nil }
        var found: Int?
        forEachMember(of: object) { keyIndex, valueIndex in
            if JSONString.equals(tokens[keyIndex], in: bytes, to: key) { found = valueIndex }
            return true
        }
        return found
    }
}
