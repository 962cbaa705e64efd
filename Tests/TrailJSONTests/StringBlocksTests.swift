import Testing
import TrailTestSupport
@testable import TrailJSON

/// The bitmask string scan against the scalar scan: wherever the bitmask scan answers, it must give
/// the scalar scan's answer, and it must not answer for a string the scalar scan rejects.
@Suite struct StringBlocksTests {
    /// Bytes that matter to a string scan, weighted towards quotes and backslashes so that runs of
    /// backslashes of every length meet quotes at every position of a 64-byte block.
    static let alphabet: [UInt8] = Array(#"""\\\\\abnu/"#.utf8) + [0x22, 0x5C, 0x5C, 0x30, 0x46, 0x20, 0x01, 0x1F, 0x7F, 0xC3, 0xA9, 0xFF, 0xE2, 0x82, 0xAC]

    /// Walks a buffer of strings separated by commas, as the parser would, asking both scans for each.
    func compareScans(_ bytes: [UInt8], isFinal: Bool) -> (answered: Int, strings: Int) {
        bytes.withUnsafeBytes { buffer in
            let base = buffer.baseAddress!
            var blocks = StringBlocks(base, count: buffer.count)
            var open = 0
            var answered = 0
            var strings = 0
            while open < buffer.count, buffer[open] == 0x22 {
                let fast = blocks.closingQuote(after: open)
                let scalar: (Int, Bool)?? = try? JSONParser.scanString(base, buffer.count, quoteAt: open, isFinal: isFinal)
                strings += 1
                guard case .some(.some(let expected)) = scalar else {
                    #expect(fast == nil, "bitmask answered \(String(describing: fast)) where the scalar scan did not, at \(open) in \(bytes)")
                    break
                }
                if let fast {
                    answered += 1
                    #expect(fast.end == expected.0 && fast.isEscaped == expected.1, "at \(open) in \(bytes)")
                }
                open = expected.0 + 2  // past the closing quote and the comma
            }
            return (answered, strings)
        }
    }

    @Test func agreesWithTheScalarScanOnRandomStrings() {
        var random = SplitMix(state: 0x7472_6169_6C73)
        var answered = 0
        var strings = 0
        for round in 0..<20_000 {
            // Half the buffers hold any bytes; half only what the bitmasks judge alone: letters and
            // two-byte escapes (runs of `\\` included), so that backslash runs meet quotes everywhere.
            let isClean = round % 2 == 1
            var bytes: [UInt8] = []
            for _ in 0..<Int.random(in: 1...6, using: &random) {
                bytes.append(0x22)
                for _ in 0..<Int.random(in: 0...90, using: &random) {
                    if Int.random(in: 0..<4, using: &random) != 0 {
                        bytes.append(UInt8.random(in: 0x61...0x7A, using: &random))
                    } else if isClean {
                        bytes += [0x5C, Array(#""\/bfnrt"#.utf8).randomElement(using: &random)!]
                    } else {
                        bytes.append(Self.alphabet.randomElement(using: &random)!)
                    }
                }
                bytes += [0x22, 0x2C]
            }
            // Sometimes cut the buffer short, anywhere.
            let cut = Int.random(in: 0..<3, using: &random) == 0 ? Int.random(in: 0...bytes.count, using: &random) : bytes.count
            let (a, s) = compareScans(Array(bytes[..<cut]), isFinal: Bool.random(using: &random))
            answered += a
            strings += s
        }
        #expect(answered > strings / 4)  // the comparison exercised the bitmask path
    }

    @Test func escapesAreFoundAcrossBlockBoundaries() {
        // A run of n backslashes ending at every position around the 64-byte boundaries, then a quote.
        for n in 0...70 {
            for prefix in 0...130 {
                let bytes: [UInt8] = [0x22] + [UInt8](repeating: 0x61, count: prefix) + [UInt8](repeating: 0x5C, count: n) + [0x22, 0x61, 0x22, 0x2C]
                _ = compareScans(bytes, isFinal: true)
            }
        }
    }

    @Test func cleanStringsAreAnsweredByTheBitmasks() {
        // The second block (from byte 64) holds a non-ASCII byte: strings there go to the scalar scan.
        let first = #""plain","with \"quotes\" and \\ and \/ \n","#
        let text = first + String(repeating: " ", count: 64 - first.utf8.count) + #""é","\u0041""#
        let bytes = Array(text.utf8)
        bytes.withUnsafeBytes { buffer in
            var blocks = StringBlocks(buffer.baseAddress!, count: buffer.count)
            #expect(blocks.closingQuote(after: 0)! == (6, false))
            #expect(blocks.closingQuote(after: 8)! == (41, true))
            #expect(blocks.closingQuote(after: 64) == nil)
        }
        let unicodeEscape = Array(#""\u0041""#.utf8)
        unicodeEscape.withUnsafeBytes { buffer in
            var blocks = StringBlocks(buffer.baseAddress!, count: buffer.count)
            #expect(blocks.closingQuote(after: 0) == nil)  // \u: the scalar scan checks the digits
        }
    }

    /// The block kernel in use (SSE2 on x86-64) against the portable one, which is the reference and
    /// arm64's kernel: the same masks for every byte value at every position, and for random blocks.
    @Test func blockKernelsAgree() {
        func check(_ block: [UInt8]) {
            block.withUnsafeBytes { bytes in
                let portable = BlockClasses(portable: bytes.baseAddress!)
                #expect(BlockClasses(bytes.baseAddress!) == portable, "\(block)")
            }
        }
        for value in 0...255 {
            for position in [0, 1, 15, 16, 31, 32, 47, 48, 63] {
                var block = [UInt8](repeating: 0x61, count: 64)
                block[position] = UInt8(value)
                check(block)
            }
        }
        var random = SplitMix(state: 0x626C_6F63_6B73)
        for _ in 0..<5_000 {
            check((0..<64).map { _ in
                Int.random(in: 0..<3, using: &random) == 0 ? UInt8.random(in: 0...255, using: &random) : Self.alphabet.randomElement(using: &random)!
            })
        }
        let known = Array(#"a"b\\"c\\\\"#.utf8) + [UInt8](repeating: 0x20, count: 53)
        precondition(known.count == 64)
        known.withUnsafeBytes { bytes in
            let classes = BlockClasses(bytes.baseAddress!)
            #expect(classes.quotes == 0b10_0010)
            #expect(classes.backslashes == 0b111_1001_1000)
            #expect(!classes.hasSpecialByte)
        }
    }
}
