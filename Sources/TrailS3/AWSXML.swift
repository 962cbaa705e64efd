/// A strict reader of the XML that S3, STS and SNS answer with, into a small tree.
///
/// The documents AWS writes use a small part of XML 1.0: UTF-8, an optional declaration, elements with
/// attributes (only `xmlns` in practice), character data and the five predefined entity and character
/// references. That part is read exactly as XML 1.0 reads it (end tags match, attributes are quoted and
/// unique, line ends become LF, references are resolved, control characters are refused); everything
/// else — a processing instruction, DOCTYPE (where entity expansion lives), comment, CDATA, an
/// undefined entity, content after the root, a document cut short — makes the whole body invalid, so a
/// hostile or broken endpoint cannot pass off part of a document as all of it. Depth is bounded, so no
/// body costs more than a few times its size.
enum AWSXML {
    /// An element: its name as written (a prefix stays part of it), its own character data (the
    /// whitespace between child elements included), and its child elements in document order.
    struct Element: Equatable, Sendable {
        var name: String
        var text: String
        var children: [Element]

        /// The first child element called `name`.
        func child(_ name: String) -> Element? { children.first { $0.name == name } }
    }

    /// Why a body is not such a document, and the byte offset where that was seen.
    struct Invalid: Error, Equatable, CustomStringConvertible {
        var reason: String
        var offset: Int

        var description: String { "\(reason) at byte \(offset)" }
    }

    /// The deepest nesting read; S3's documents nest four deep.
    static let maximumDepth = 32

    /// The root element of `body`.
    static func parse(_ body: [UInt8]) throws(Invalid) -> Element {
        var reader = Reader(body)
        return try reader.document()
    }

    private struct Open {
        var name: String
        var text: [UInt8] = []
        var children: [Element] = []
    }

    private struct Reader {
        let bytes: [UInt8]
        var at = 0

        init(_ bytes: [UInt8]) { self.bytes = bytes }

        mutating func document() throws(Invalid) -> Element {
            if let bad = Self.firstInvalidUTF8(in: bytes) { throw Invalid(reason: "the body is not UTF-8", offset: bad) }
            if bytes.starts(with: Array("<?xml".utf8)), bytes.count > 5, Self.isSpace(bytes[5]) { try declaration() }
            var open: [Open] = []
            while at < bytes.count {
                if bytes[at] != UInt8(ascii: "<") {
                    try characterData(into: &open)
                    continue
                }
                let start = at
                guard at + 1 < bytes.count else { throw Invalid(reason: "the document ends inside a tag", offset: at) }
                switch bytes[at + 1] {
                case UInt8(ascii: "?"): throw Invalid(reason: "a processing instruction", offset: start)
                case UInt8(ascii: "!"): throw Invalid(reason: "a DOCTYPE, comment or CDATA section", offset: start)
                case UInt8(ascii: "/"):
                    at += 2
                    let name = try self.name()
                    skipSpace()
                    try expect(">", "the end tag </\(name)> is not closed")
                    guard let innermost = open.last?.name, innermost == name else {
                        throw Invalid(reason: open.last.map { "the end tag </\(name)> closes <\($0.name)>" }
                                      ?? "an end tag </\(name)> with no element open", offset: start)
                    }
                    let element = open.removeLast()
                    let closed = Element(name: name, text: String(decoding: element.text, as: UTF8.self), children: element.children)
                    if open.isEmpty { return try rootEnded(closed) }
                    open[open.count - 1].children.append(closed)
                default:
                    guard open.count < AWSXML.maximumDepth else {
                        throw Invalid(reason: "elements nested deeper than \(AWSXML.maximumDepth)", offset: start)
                    }
                    at += 1
                    let name = try self.name()
                    let empty = try attributes(of: name)
                    if !empty {
                        open.append(Open(name: name))
                    } else if open.isEmpty {
                        return try rootEnded(Element(name: name, text: "", children: []))
                    } else {
                        open[open.count - 1].children.append(Element(name: name, text: "", children: []))
                    }
                }
            }
            if let innermost = open.last { throw Invalid(reason: "the document ends inside <\(innermost.name)>", offset: at) }
            throw Invalid(reason: "no root element", offset: at)
        }

        /// `<?xml version="1.n" [encoding="UTF-8"] [standalone="yes|no"]?>`, in that order: only UTF-8 is read.
        private mutating func declaration() throws(Invalid) {
            let start = at
            at += 5
            var expected = ["version", "encoding", "standalone"][...]
            while true {
                let spaced = skipSpace()
                if bytes[at...].starts(with: Array("?>".utf8)) { break }
                guard spaced else { throw Invalid(reason: "a malformed XML declaration", offset: start) }
                let name = try self.name()
                guard let position = expected.firstIndex(of: name), position == expected.startIndex || name != "version" else {
                    throw Invalid(reason: "a malformed XML declaration", offset: start)
                }
                expected = expected[(position + 1)...]
                let value = try attributeValue()
                let valid = switch name {
                case "version": value.hasPrefix("1.") && value.count > 2 && value.dropFirst(2).allSatisfy { ("0"..."9").contains($0) }
                case "encoding": true
                default: value == "yes" || value == "no"
                }
                guard valid else { throw Invalid(reason: "a malformed XML declaration", offset: start) }
                if name == "encoding" && value.lowercased() != "utf-8" {
                    throw Invalid(reason: "an encoding other than UTF-8 (\(value))", offset: start)
                }
            }
            guard !expected.contains("version") else { throw Invalid(reason: "a malformed XML declaration", offset: start) }
            at += 2
        }

        /// The attributes after a start tag's name, up to and including `>` or `/>`; whether it was `/>`.
        private mutating func attributes(of element: String) throws(Invalid) -> Bool {
            var seen: Set<String> = []
            while true {
                let spaced = skipSpace()
                guard at < bytes.count else { throw Invalid(reason: "the document ends inside <\(element)>", offset: at) }
                if bytes[at] == UInt8(ascii: ">") {
                    at += 1
                    return false
                }
                if bytes[at] == UInt8(ascii: "/") {
                    at += 1
                    try expect(">", "a '/' inside <\(element)>")
                    return true
                }
                guard spaced else { throw Invalid(reason: "no space before an attribute of <\(element)>", offset: at) }
                let position = at
                let name = try self.name()
                guard seen.insert(name).inserted else { throw Invalid(reason: "<\(element)> repeats the attribute \(name)", offset: position) }
                _ = try attributeValue()
            }
        }

        /// `= "value"` or `= 'value'`, references resolved.
        private mutating func attributeValue() throws(Invalid) -> String {
            skipSpace()
            try expect("=", "an attribute without '='")
            skipSpace()
            guard at < bytes.count, bytes[at] == UInt8(ascii: "\"") || bytes[at] == UInt8(ascii: "'") else {
                throw Invalid(reason: "an attribute value that is not quoted", offset: at)
            }
            let quote = bytes[at]
            at += 1
            var value: [UInt8] = []
            while at < bytes.count, bytes[at] != quote {
                guard bytes[at] != UInt8(ascii: "<") else { throw Invalid(reason: "a '<' in an attribute value", offset: at) }
                try character(into: &value)
            }
            guard at < bytes.count else { throw Invalid(reason: "the document ends inside an attribute value", offset: at) }
            at += 1
            return String(decoding: value, as: UTF8.self)
        }

        /// Character data up to the next `<`: the innermost open element's, or whitespace around the root.
        private mutating func characterData(into open: inout [Open]) throws(Invalid) {
            guard !open.isEmpty else {
                guard skipSpace() else { throw Invalid(reason: "text outside the root element", offset: at) }
                return
            }
            var text = open[open.count - 1].text
            open[open.count - 1].text = []  // one owner while it grows
            while at < bytes.count, bytes[at] != UInt8(ascii: "<") {
                if bytes[at] == UInt8(ascii: ">") && at >= 2 && bytes[at - 1] == UInt8(ascii: "]") && bytes[at - 2] == UInt8(ascii: "]") {
                    throw Invalid(reason: "']]>' in text", offset: at - 2)
                }
                try character(into: &text)
            }
            open[open.count - 1].text = text
        }

        /// One character of text or of an attribute value: a reference resolved, a line end made LF.
        private mutating func character(into text: inout [UInt8]) throws(Invalid) {
            let byte = bytes[at]
            switch byte {
            case UInt8(ascii: "&"):
                try reference(into: &text)
            case UInt8(ascii: "\r"):
                text.append(UInt8(ascii: "\n"))
                at += at + 1 < bytes.count && bytes[at + 1] == UInt8(ascii: "\n") ? 2 : 1
            case 0x09, 0x0A:
                text.append(byte)
                at += 1
            case ..<0x20:
                throw Invalid(reason: "a control character (0x\(String(byte, radix: 16)))", offset: at)
            default:
                text.append(byte)
                at += 1
            }
        }

        /// `&lt;` `&gt;` `&amp;` `&quot;` `&apos;` `&#N;` `&#xH;`: anything else is refused.
        private mutating func reference(into text: inout [UInt8]) throws(Invalid) {
            let start = at
            guard let semicolon = bytes[at...].prefix(12).firstIndex(of: UInt8(ascii: ";")) else {
                throw Invalid(reason: "an '&' that starts no reference", offset: start)
            }
            let name = String(decoding: bytes[(at + 1)..<semicolon], as: UTF8.self)
            at = semicolon + 1
            switch name {
            case "lt": text.append(UInt8(ascii: "<"))
            case "gt": text.append(UInt8(ascii: ">"))
            case "amp": text.append(UInt8(ascii: "&"))
            case "quot": text.append(UInt8(ascii: "\""))
            case "apos": text.append(UInt8(ascii: "'"))
            default:
                guard name.first == "#" else { throw Invalid(reason: "an undefined entity &\(name);", offset: start) }
                let digits = name.dropFirst()
                let hex = digits.first == "x"
                let number = hex ? digits.dropFirst() : digits
                let value = !number.isEmpty && number.allSatisfy({ hex ? $0.isHexDigit && $0.isASCII : ("0"..."9").contains($0) })
                    ? UInt32(number, radix: hex ? 16 : 10) : nil
                guard let value, Self.isXMLCharacter(value), let scalar = Unicode.Scalar(value) else {
                    throw Invalid(reason: "an invalid character reference &\(name);", offset: start)
                }
                text.append(contentsOf: String(Character(scalar)).utf8)
            }
        }

        /// An element or attribute name: a letter, `_`, `:` or any non-ASCII character first, then also
        /// digits, `-` and `.`.
        private mutating func name() throws(Invalid) -> String {
            let start = at
            while at < bytes.count {
                let byte = bytes[at]
                let letter = (byte | 0x20) >= UInt8(ascii: "a") && (byte | 0x20) <= UInt8(ascii: "z")
                let first = letter || byte == UInt8(ascii: "_") || byte == UInt8(ascii: ":") || byte >= 0x80
                let later = (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")) || byte == UInt8(ascii: "-") || byte == UInt8(ascii: ".")
                guard first || (at > start && later) else { break }
                at += 1
            }
            guard at > start else {
                throw Invalid(reason: at < bytes.count ? "a name expected" : "the document ends inside a tag", offset: at)
            }
            return String(decoding: bytes[start..<at], as: UTF8.self)
        }

        /// The root has ended: only whitespace may follow.
        private mutating func rootEnded(_ root: Element) throws(Invalid) -> Element {
            skipSpace()
            guard at == bytes.count else { throw Invalid(reason: "content after </\(root.name)>", offset: at) }
            return root
        }

        private mutating func expect(_ character: Unicode.Scalar, _ reason: String) throws(Invalid) {
            guard at < bytes.count, bytes[at] == UInt8(ascii: character) else { throw Invalid(reason: reason, offset: at) }
            at += 1
        }

        /// Skips XML whitespace; whether there was any.
        @discardableResult
        private mutating func skipSpace() -> Bool {
            let start = at
            while at < bytes.count, Self.isSpace(bytes[at]) { at += 1 }
            return at > start
        }

        private static func isSpace(_ byte: UInt8) -> Bool {
            byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D
        }

        /// XML 1.0's `Char`.
        private static func isXMLCharacter(_ value: UInt32) -> Bool {
            value == 0x9 || value == 0xA || value == 0xD || (0x20...0xD7FF).contains(value)
                || (0xE000...0xFFFD).contains(value) || (0x10000...0x10FFFF).contains(value)
        }

        /// The offset of the first byte that is not part of well-formed UTF-8, or `nil`.
        private static func firstInvalidUTF8(in bytes: [UInt8]) -> Int? {
            var decoder = UTF8()
            var iterator = bytes.makeIterator()
            var offset = 0
            while true {
                switch decoder.decode(&iterator) {
                case .scalarValue(let scalar): offset += UTF8.width(scalar)
                case .emptyInput: return nil
                case .error: return offset
                }
            }
        }
    }
}
