import Testing
import TrailBytes
@testable import TrailGzip

/// The libdeflate fast path against the zlib streaming decoder: same bytes when it succeeds, and it
/// declines everything the streaming decoder would reject, so errors always come from one place.
@Suite struct WholeGzipInflaterTests {
    func fast(_ input: [UInt8], limit: Int = 1 << 26, window capacity: Int = 1 << 26) -> [UInt8]? {
        let inflater = WholeGzipInflater()!
        let window = ByteWindow(initialCapacity: 1 << 16, maximumCapacity: capacity)
        let produced = input.withUnsafeBytes { inflater.inflate($0, into: window, outputLimit: limit) }
        guard let produced else { return nil }
        let bytes = window.withReadableBytes { Array($0) }
        #expect(bytes.count == produced)
        return bytes
    }

    @Test(arguments: [0, 1, 100, 65_536, 3_000_000])
    func validSingleMembersDecodeAsZlibDoes(size: Int) throws {
        let text = sampleText(size, seed: UInt64(size))
        let compressed = gzip(text)
        #expect(fast(compressed) == (try decode(compressed, chunkSize: 4096)))
    }

    @Test func multipleMembersToo() throws {
        // The room is guessed from the last member's ISIZE: enough here, so it must succeed.
        let lastIsLargest = gzip(sampleText(1000, seed: 1)) + gzip(sampleText(10, seed: 3)) + gzip(sampleText(200_000, seed: 2))
        #expect(fast(lastIsLargest) == (try decode(lastIsLargest, chunkSize: 4096)))
        // Too short a guess: it may decline (zlib then decodes), but never decode differently.
        let lastIsSmall = gzip(sampleText(1000, seed: 1)) + gzip(sampleText(200_000, seed: 2)) + gzip(sampleText(10, seed: 3))
        if let bytes = fast(lastIsSmall) { #expect(bytes == (try decode(lastIsSmall, chunkSize: 4096))) }
    }

    @Test func everythingInvalidOrTooLargeIsDeclined() throws {
        let good = gzip(sampleText(50_000))
        var crc = good
        crc[crc.count - 8] ^= 0xFF
        var length = good
        length[length.count - 4] ^= 0x01
        var lyingISIZE = good  // claims 1 byte: the guess is too small, never trusted
        lyingISIZE.replaceSubrange((good.count - 4)..., with: [1, 0, 0, 0])
        let cases: [(String, [UInt8])] = [
            ("plain JSON", Array("{\"Records\":[]}".utf8)),
            ("truncated", Array(good.prefix(good.count - 7))),
            ("bad CRC", crc),
            ("bad ISIZE", length),
            ("trailing garbage", good + Array("junk".utf8)),
            ("trailing zeros", good + [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]),
            ("empty", []),
        ]
        for (name, input) in cases {
            #expect(fast(input) == nil, "\(name)")
            #expect(throws: GzipError.self, "\(name) must fail in the streaming decoder too") {
                guard name != "plain JSON" else { throw GzipError.empty }  // plain passes through there
                _ = try decode(input, chunkSize: 4096)
            }
        }
        // A lying ISIZE does not break the fast path for valid data: it declines or decodes right.
        if let bytes = fast(lyingISIZE) { #expect(bytes == sampleText(50_000)) }
        // Limits: the output limit and the window's capacity both decline.
        let bomb = gzip([UInt8](repeating: 0x20, count: 4 << 20), level: 9)
        #expect(fast(bomb, limit: 1 << 20) == nil)
        #expect(fast(bomb, window: 1 << 20) == nil)
        #expect(fast(bomb)?.count == 4 << 20)
    }
}
