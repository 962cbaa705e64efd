/// A JSON document as a value tree, for the places where convenience matters more than speed: rule
/// files, event patterns, input transformers, `rules test` events. Built from the strict parser's tape,
/// so it accepts exactly what the scanner accepts.
///
/// Objects keep their members in document order; `subscript(key)` returns the last duplicate, as most
/// JSON readers do. Numbers keep their source text (so output is byte-exact) and their `Double` value.
public indirect enum JSONValue: Equatable, Sendable {
    case object([(key: String, value: JSONValue)])
    case array([JSONValue])
    case string(String)
    case number(text: String, value: Double)
    case bool(Bool)
    case null

    public static func == (lhs: JSONValue, rhs: JSONValue) -> Bool {
        switch (lhs, rhs) {
        case (.object(let a), .object(let b)):
            a.count == b.count && zip(a, b).allSatisfy { $0.key == $1.key && $0.value == $1.value }
        case (.array(let a), .array(let b)): a == b
        case (.string(let a), .string(let b)): a == b
        case (.number(_, let a), .number(_, let b)): a == b
        case (.bool(let a), .bool(let b)): a == b
        case (.null, .null): true
        default: false
        }
    }

    /// Parses a whole document.
    public init(parsing bytes: [UInt8]) throws(JSONError) {
        let parser = JSONParser()
        let result: Result<JSONValue, JSONError> = bytes.withUnsafeBytes { buffer in
            do throws(JSONError) {
                try parser.parseDocument(buffer)
            } catch {
                return .failure(error)
            }
            return .success(parser.withTape { tape in JSONValue(tape: tape, at: 0, bytes: buffer) })
        }
        self = try result.get()
    }

    public init(parsing text: String) throws(JSONError) {
        try self.init(parsing: Array(text.utf8))
    }

    /// The value of the token at `index` on a tape parsed from `bytes`.
    public init(tape: JSONTape, at index: Int, bytes: UnsafeRawBufferPointer) {
        let token = tape[index]
        switch token.kind {
        case .object:
            var members: [(key: String, value: JSONValue)] = []
            tape.forEachMember(of: index) { key, value in
                members.append((JSONString.string(of: tape[key], in: bytes), JSONValue(tape: tape, at: value, bytes: bytes)))
                return true
            }
            self = .object(members)
        case .array:
            var elements: [JSONValue] = []
            tape.forEachElement(of: index) { element in
                elements.append(JSONValue(tape: tape, at: element, bytes: bytes))
                return true
            }
            self = .array(elements)
        case .string:
            self = .string(JSONString.string(of: token, in: bytes))
        case .number:
            let text = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[token.range]), as: UTF8.self)
            self = .number(text: text, value: Double(text) ?? .nan)
        case .true: self = .bool(true)
        case .false: self = .bool(false)
        case .null: self = .null
        }
    }

    /// The value of the last member named `key`, when this is an object.
    public subscript(key: String) -> JSONValue? {
        guard case .object(let members) = self else { return nil }
        return members.last { $0.key == key }?.value
    }

    /// The document as compact JSON text.
    public var serialized: String {
        var output: [UInt8] = []
        append(to: &output)
        return String(decoding: output, as: UTF8.self)
    }

    /// The document indented by two spaces per level, for people to read.
    public var prettyPrinted: String {
        var output: [UInt8] = []
        appendPretty(to: &output, depth: 0)
        return String(decoding: output, as: UTF8.self)
    }

    private func appendPretty(to output: inout [UInt8], depth: Int) {
        func newline(_ level: Int) {
            output.append(0x0A)
            output.append(contentsOf: repeatElement(0x20, count: level * 2))
        }
        switch self {
        case .object(let members) where !members.isEmpty:
            output.append(Byte.openBrace)
            for (index, member) in members.enumerated() {
                if index > 0 { output.append(Byte.comma) }
                newline(depth + 1)
                JSONString.appendQuoted(member.key, to: &output)
                output.append(contentsOf: [Byte.colon, 0x20])
                member.value.appendPretty(to: &output, depth: depth + 1)
            }
            newline(depth)
            output.append(Byte.closeBrace)
        case .array(let elements) where elements.contains(where: { if case .object = $0 { true } else { false } }):
            output.append(Byte.openBracket)
            for (index, element) in elements.enumerated() {
                if index > 0 { output.append(Byte.comma) }
                newline(depth + 1)
                element.appendPretty(to: &output, depth: depth + 1)
            }
            newline(depth)
            output.append(Byte.closeBracket)
        default:
            append(to: &output)  // scalars and flat arrays stay on one line
        }
    }

    public func append(to output: inout [UInt8]) {
        switch self {
        case .object(let members):
            output.append(Byte.openBrace)
            for (index, member) in members.enumerated() {
                if index > 0 { output.append(Byte.comma) }
                JSONString.appendQuoted(member.key, to: &output)
                output.append(Byte.colon)
                member.value.append(to: &output)
            }
            output.append(Byte.closeBrace)
        case .array(let elements):
            output.append(Byte.openBracket)
            for (index, element) in elements.enumerated() {
                if index > 0 { output.append(Byte.comma) }
                element.append(to: &output)
            }
            output.append(Byte.closeBracket)
        case .string(let text): JSONString.appendQuoted(text, to: &output)
        case .number(let text, _): output.append(contentsOf: text.utf8)
        case .bool(let value): output.append(contentsOf: (value ? "true" : "false").utf8)
        case .null: output.append(contentsOf: "null".utf8)
        }
    }
}
