import Foundation
import Testing
@testable import TrailJSON

func parse(_ text: String, parser: JSONParser = JSONParser()) throws -> Int {
    let bytes = Array(text.utf8)
    try bytes.withUnsafeBytes { try parser.parseDocument($0) }
    return parser.tokenCount
}

func parseBytes(_ bytes: [UInt8]) throws {
    try bytes.withUnsafeBytes { try JSONParser().parseDocument($0) }
}

func error(of text: String) -> JSONError? {
    do {
        _ = try parse(text)
        return nil
    } catch {
        return error as? JSONError
    }
}

/// Valid documents, in the spirit of JSONTestSuite's `y_` cases.
let accepted: [String] = [
    "{}", "[]", "[[]]", "{\"a\":{}}", " \t\r\n[1] \n", "0", "-0", "1", "-1", "123456789012345678901234567890",
    "1.5", "-0.5", "1e10", "1E+10", "1e-10", "0.1e1", "1.0E-0", "true", "false", "null", "\"\"",
    "\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"", "\"\\u0000\"", "\"\\u00e9\\uD834\\uDD1E\"", "\"\\uD800\"", "\"\\uDC00x\"",
    "\"é\"", "\"日本語\"", "\"𝄞\"", "\"\u{7F}\"", "[1,2,3]", "{\"a\":1,\"b\":[true,false,null],\"c\":\"x\"}",
    "{\"a\":1,\"a\":2}", "[\"a\" , \"b\" ]", "{ \"k\" : \"v\" }", "[-1e+9999]", "\"" + String(repeating: "x", count: 100) + "\"",
]

/// Invalid documents (JSONTestSuite's `n_` cases), with the reason and offset we report.
let rejected: [(String, JSONError.Reason, Int)] = [
    ("", .unexpectedEnd, 0),
    ("[1,]", .trailingComma, 3),
    ("{\"a\":1,}", .trailingComma, 7),
    ("[1 2]", .expectedCommaOrEnd(close: 0x5D), 3),
    ("{\"a\" 1}", .expectedColon, 5),
    ("{1:1}", .expectedKey, 1),
    ("{\"a\":1 \"b\":2}", .expectedCommaOrEnd(close: 0x7D), 7),
    ("[01]", .leadingZero, 1),
    ("-01", .leadingZero, 0),
    ("[1.]", .invalidNumber, 3),
    ("[.5]", .unexpectedByte(0x2E), 1),
    ("[1e]", .invalidNumber, 3),
    ("[-]", .invalidNumber, 2),
    ("[+1]", .unexpectedByte(0x2B), 1),
    ("[NaN]", .unexpectedByte(0x4E), 1),
    ("[Infinity]", .unexpectedByte(0x49), 1),
    ("[tru]", .invalidLiteral, 1),
    ("[nul", .invalidLiteral, 1),
    ("[True]", .unexpectedByte(0x54), 1),
    ("\"abc", .unterminatedString, 0),
    ("[\"a\tb\"]", .controlCharacterInString(0x09), 3),
    ("\"\u{1B}[31m\"", .controlCharacterInString(0x1B), 1),
    ("[\"\\x41\"]", .invalidEscape, 2),
    ("[\"\\u12G4\"]", .invalidUnicodeEscape, 2),
    ("[\"\\'\"]", .invalidEscape, 2),
    ("[1]x", .trailingData, 3),
    ("[1] [2]", .trailingData, 4),
    ("[", .unexpectedEnd, 1),
    ("{\"a\":", .unexpectedEnd, 5),
    ("[1,", .unexpectedEnd, 3),
    ("'a'", .unexpectedByte(0x27), 0),
    ("[1,,2]", .unexpectedByte(0x2C), 3),
    ("{\"a\":1]", .expectedCommaOrEnd(close: 0x7D), 6),
    ("[\u{A0}1]", .unexpectedByte(0xC2), 1),
]

/// Invalid UTF-8 inside strings: overlongs, encoded surrogates, code points past U+10FFFF, lone
/// continuation bytes, truncated sequences.
let invalidUTF8: [[UInt8]] = [
    [0xC0, 0xAF], [0xC1, 0xBF], [0xE0, 0x80, 0xAF], [0xED, 0xA0, 0x80], [0xF4, 0x90, 0x80, 0x80],
    [0xF5, 0x80, 0x80, 0x80], [0x80], [0xBF], [0xC3], [0xE6, 0x97], [0xFF], [0xFE],
]

@Suite struct JSONParserTests {
    @Test(arguments: accepted)
    func acceptsValidDocuments(_ text: String) throws {
        _ = try parse(text)
    }

    @Test(arguments: rejected.indices)
    func rejectsInvalidDocumentsAtTheRightByte(_ index: Int) {
        let (text, reason, offset) = rejected[index]
        #expect(error(of: text) == JSONError(offset: offset, reason: reason), "\(text.debugDescription)")
    }

    @Test(arguments: invalidUTF8)
    func rejectsInvalidUTF8(_ sequence: [UInt8]) {
        // Inside a long string too, so the vector path meets it.
        for padding in [0, 40] {
            let document = [0x22] + [UInt8](repeating: 0x61, count: padding) + sequence + [0x22]
            #expect(throws: JSONError(offset: 1 + padding, reason: .invalidUTF8)) { try parseBytes(document) }
        }
    }

    @Test func controlCharacterIsFoundAtEveryPositionOfAVectorBlock() {
        for position in 0..<40 {
            var bytes = [UInt8](repeating: 0x61, count: 40)
            bytes[position] = 0x01
            let document = [0x22] + bytes + [0x22]
            #expect(throws: JSONError(offset: 1 + position, reason: .controlCharacterInString(0x01))) { try parseBytes(document) }
        }
    }

    @Test func nestingDeeperThanTheLimitIsRejected() throws {
        let parser = JSONParser(maximumDepth: 8)
        _ = try parse(String(repeating: "[", count: 8) + String(repeating: "]", count: 8), parser: parser)
        #expect(throws: JSONError(offset: 8, reason: .tooDeep(limit: 8))) {
            _ = try parse(String(repeating: "[", count: 9) + String(repeating: "]", count: 9), parser: parser)
        }
        // The default limit stops a hostile document long before the stack would.
        #expect(throws: JSONError.self) { _ = try parse(String(repeating: "[", count: 100_000)) }
    }

    @Test func tapeRecordsKindsRangesAndSubtreeSkips() throws {
        let text = "{\"a\":[1,{\"b\":null}],\"c\":\"x\\ny\",\"d\":true}"
        let parser = JSONParser()
        #expect(try parse(text, parser: parser) == 11)
        parser.withTape { tape in
            #expect(tape[0] == JSONToken(kind: .object, isEscaped: false, start: 0, end: Int32(text.utf8.count), next: 11))
            #expect(tape[1] == JSONToken(kind: .string, isEscaped: false, start: 2, end: 3, next: 2))  // key a
            #expect(tape[2].kind == .array && tape[2].next == 7)
            #expect(tape[3] == JSONToken(kind: .number, isEscaped: false, start: 6, end: 7, next: 4))
            #expect(tape[4].kind == .object && tape[4].next == 7)
            #expect(tape[6].kind == .null)
            #expect(tape[8].kind == .string && tape[8].isEscaped)  // "x\ny"
            #expect(tape[10].kind == .true)
            var keys: [String] = []
            Array(text.utf8).withUnsafeBytes { bytes in
                tape.forEachMember(of: 0) { key, _ in
                    keys.append(JSONString.string(of: tape[key], in: bytes))
                    return true
                }
                #expect(JSONString.string(of: tape[8], in: bytes) == "x\ny")
                #expect(tape.member(Array("d".utf8), in: 0, of: bytes) == 10)
                #expect(tape.member(Array("zz".utf8), in: 0, of: bytes) == nil)
            }
            #expect(keys == ["a", "c", "d"])
        }
    }

    @Test func everyPrefixOfAValueIsIncompleteAndTheWholeIsComplete() throws {
        let text = Array("{\"k\":[1.5e3,\"é\\u00e9\\\"\",true,null,{\"n\":-0}],\"s\":\"\(String(repeating: "y", count: 40))\"}".utf8)
        let parser = JSONParser()
        for cut in 0..<text.count {
            let outcome = try text.withUnsafeBytes { try parser.parseValue(UnsafeRawBufferPointer(rebasing: $0[..<cut])) }
            #expect(outcome == .incomplete, "cut \(cut)")
        }
        let outcome = try text.withUnsafeBytes { try parser.parseValue($0) }
        #expect(outcome == .complete(end: text.count))
    }

    @Test func anErrorInAPrefixIsReportedBeforeTheValueIsComplete() {
        let text = Array("[1,2,\"\\q\"".utf8)
        #expect(throws: JSONError(offset: 6, reason: .invalidEscape)) {
            _ = try text.withUnsafeBytes { try JSONParser().parseValue($0) }
        }
    }

    @Test func aNumberAtTheEndOfNonFinalBytesMayContinue() throws {
        let parser = JSONParser()
        #expect(try Array("12".utf8).withUnsafeBytes { try parser.parseValue($0) } == .incomplete)
        #expect(try Array("12".utf8).withUnsafeBytes { try parser.parseValue($0, isFinal: true) } == .complete(end: 2))
        #expect(try Array("12,".utf8).withUnsafeBytes { try parser.parseValue($0) } == .complete(end: 2))
    }
}

@Suite struct JSONStringTests {
    func decoded(_ content: String) -> [UInt8] {
        var out: [UInt8] = []
        Array(content.utf8).withUnsafeBytes { JSONString.unescape($0, into: &out) }
        return out
    }

    @Test func unescapesEveryEscape() {
        #expect(decoded("a\\\"b\\\\c\\/d\\b\\f\\n\\r\\t") == Array("a\"b\\c/d\u{8}\u{C}\n\r\t".utf8))
        #expect(decoded("\\u00e9\\u65E5") == Array("é日".utf8))
        #expect(decoded("\\uD834\\uDD1E") == Array("𝄞".utf8))
        #expect(decoded("\\u001b[31m") == [0x1B] + Array("[31m".utf8))
    }

    @Test func unpairedSurrogatesBecomeReplacementCharacters() {
        #expect(decoded("\\uD800") == Array("\u{FFFD}".utf8))
        #expect(decoded("\\uD800x") == Array("\u{FFFD}x".utf8))
        #expect(decoded("\\uDC00\\uD800\\u0041") == Array("\u{FFFD}\u{FFFD}A".utf8))
    }

    @Test func equalsComparesInPlaceOrDecoded() throws {
        let text = Array("[\"ConsoleLogin\",\"Console\\u004cogin\",\"Consol\"]".utf8)
        let parser = JSONParser()
        try text.withUnsafeBytes { try parser.parseDocument($0) }
        parser.withTape { tape in
            text.withUnsafeBytes { bytes in
                Array("ConsoleLogin".utf8).withUnsafeBytes { literal in
                    #expect(JSONString.equals(tape[1], in: bytes, to: literal))
                    #expect(JSONString.equals(tape[2], in: bytes, to: literal))
                    #expect(!JSONString.equals(tape[3], in: bytes, to: literal))
                    #expect(!JSONString.equals(tape[0], in: bytes, to: literal))  // not a string
                }
            }
        }
    }

    @Test func quotedOutputEscapesControlCharacters() {
        var out: [UInt8] = []
        JSONString.appendQuoted("a\"\\\n\u{1B}[0m\u{7F}é", to: &out)
        #expect(String(decoding: out, as: UTF8.self) == "\"a\\\"\\\\\\n\\u001b[0m\\u007fé\"")
        // C1 controls and bidirectional or invisible formatting characters too; other text as it is.
        out = []
        JSONString.appendQuoted("\u{202E}x\u{85}\u{200B}\u{2069}\u{FEFF}é€\u{1F600}\u{2030}", to: &out)
        #expect(String(decoding: out, as: UTF8.self) == #""\u202ex\u0085\u200b\u2069\ufeffé€😀‰""#)
    }

    @Test func minifiedTextDropsOnlyWhitespaceOutsideStrings() {
        var out: [UInt8] = []
        Array("{ \"a b\" : [ 1 , \"x \\\" y\" ]\n}".utf8).withUnsafeBytes { JSONText.appendMinified($0, to: &out) }
        #expect(String(decoding: out, as: UTF8.self) == "{\"a b\":[1,\"x \\\" y\"]}")
    }

    /// Unpaired surrogate escapes, which the parser accepts, leave as U+FFFD: strict readers of the
    /// output take every line. Pairs, other escapes and an escaped backslash before `ud800` stay.
    @Test func minifiedTextWritesUnpairedSurrogatesAsReplacementCharacters() throws {
        let cases: [(String, String)] = [
            (#"["\uD800"]"#, #"["\uFFFD"]"#),
            (#"["a\udc00b", "\uD834\uDD1E"]"#, #"["a\uFFFDb","\uD834\uDD1E"]"#),
            (#"["\uD800\uD800\uDD1E"]"#, #"["\uFFFD\uD800\uDD1E"]"#),
            (#"["\\ud800", "\n\ud800"]"#, #"["\\ud800","\n\uFFFD"]"#),
            (#"{"k\uDBFF":1}"#, #"{"k\uFFFD":1}"#),
        ]
        for (input, expected) in cases {
            var out: [UInt8] = []
            Array(input.utf8).withUnsafeBytes { JSONText.appendMinified($0, to: &out) }
            #expect(String(decoding: out, as: UTF8.self) == expected)
            #expect(throws: Never.self) { try JSONSerialization.jsonObject(with: Data(out)) }
        }
    }
}
