import CZlib
import Testing
import TrailBytes
@testable import TrailGzip

/// Compresses `data` into one gzip member with zlib's deflate (the reference encoder).
func gzip(_ data: [UInt8], level: Int32 = 6) -> [UInt8] {
    var stream = z_stream()
    precondition(trailscan_deflateInit2(&stream, level, 15 + 16) == Z_OK)
    defer { deflateEnd(&stream) }
    var output = [UInt8](repeating: 0, count: Int(deflateBound(&stream, UInt(data.count))) + 64)
    var input = data
    let rc = input.withUnsafeMutableBufferPointer { inBuffer in
        output.withUnsafeMutableBufferPointer { outBuffer in
            stream.next_in = inBuffer.baseAddress
            stream.avail_in = UInt32(inBuffer.count)
            stream.next_out = outBuffer.baseAddress
            stream.avail_out = UInt32(outBuffer.count)
            return deflate(&stream, Z_FINISH)
        }
    }
    precondition(rc == Z_STREAM_END)
    return Array(output[..<Int(stream.total_out)])
}

/// Decodes `input` fed in chunks of `chunkSize` through a window of `windowCapacity`, draining the
/// window as a consumer would. Returns the decoded bytes.
func decode(
    _ input: [UInt8], chunkSize: Int, windowCapacity: Int = 1 << 16, limit: Int = 1 << 30
) throws -> [UInt8] {
    var output: [UInt8] = []
    try decode(input, chunkSize: chunkSize, windowCapacity: windowCapacity, limit: limit, into: &output)
    return output
}

/// `decode`, keeping in `output` what was handed over before an error.
func decode(
    _ input: [UInt8], chunkSize: Int, windowCapacity: Int = 1 << 16, limit: Int = 1 << 30, into output: inout [UInt8]
) throws {
    let decoder = GzipDecoder(outputLimit: limit)
    let window = ByteWindow(initialCapacity: windowCapacity, maximumCapacity: windowCapacity)
    func drain() {
        window.withReadableBytes { output.append(contentsOf: $0) }
        window.moveReaderIndex(forwardBy: window.readableCount)
    }
    var offset = 0
    try input.withUnsafeBytes { bytes in
        repeat {
            let end = min(offset + chunkSize, bytes.count)
            var chunk = UnsafeRawBufferPointer(rebasing: bytes[offset..<end])
            repeat {
                let used = try decoder.decode(chunk, into: window)
                chunk = UnsafeRawBufferPointer(rebasing: chunk[used...])
                drain()
            } while !chunk.isEmpty || decoder.mayHaveBufferedOutput
            offset = end
        } while offset < bytes.count
    }
    try decoder.finish()
}

/// Deterministic, compressible but not trivial test data (looks like JSON).
func sampleText(_ count: Int, seed: UInt64 = 42) -> [UInt8] {
    var state = seed
    var out: [UInt8] = []
    out.reserveCapacity(count)
    let words = ["{\"eventName\":", "\"ConsoleLogin\"", ",", "\"us-east-1\"", "}", " ", "1234567890", "\"arn:aws:iam::"]
    while out.count < count {
        state = state &* 6364136223846793005 &+ 1442695040888963407
        out.append(contentsOf: words[Int(state >> 33) % words.count].utf8)
    }
    return Array(out.prefix(count))
}

@Suite struct GzipDecoderTests {
    let text = sampleText(40_000)

    @Test(arguments: Array(1...64) + [100, 511, 4096, 65_536, 1 << 20])
    func everyChunkSizeDecodesTheSameBytes(chunkSize: Int) throws {
        let compressed = gzip(text)
        #expect(try decode(compressed, chunkSize: chunkSize) == text)
    }

    @Test(arguments: [1, 7, 4096])
    func aSmallWindowForcesBufferedOutputAndStillDecodesEverything(chunkSize: Int) throws {
        let compressed = gzip(text)
        #expect(try decode(compressed, chunkSize: chunkSize, windowCapacity: 97) == text)
    }

    @Test func multipleMembersDecodeToTheirConcatenation() throws {
        let parts = [sampleText(1000, seed: 1), sampleText(0), sampleText(5000, seed: 2), sampleText(3, seed: 3)]
        let compressed = parts.flatMap { gzip($0) }
        for chunkSize in [1, 2, 13, 1 << 20] {
            #expect(try decode(compressed, chunkSize: chunkSize) == parts.flatMap { $0 })
        }
    }

    @Test func inputEndingInsideAMemberIsTruncatedAfterExactlyThatManyBytes() throws {
        let compressed = gzip(sampleText(3000))
        for cut in 1..<compressed.count {
            let error = #expect(throws: GzipError.self) {
                _ = try decode(Array(compressed[..<cut]), chunkSize: 64)
            }
            #expect(error == .truncated(afterBytes: cut), "cut at \(cut)")
        }
    }

    @Test func truncatedSecondMemberIsTruncatedToo() throws {
        let compressed = gzip(sampleText(100)) + gzip(sampleText(100, seed: 9))
        let error = #expect(throws: GzipError.self) { _ = try decode(Array(compressed.dropLast(3)), chunkSize: 10) }
        #expect(error == .truncated(afterBytes: compressed.count - 3))
    }

    @Test func corruptCRCIsReported() throws {
        var compressed = gzip(text)
        compressed[compressed.count - 8] ^= 0xFF  // first byte of the CRC-32 trailer
        let error = #expect(throws: GzipError.self) { _ = try decode(compressed, chunkSize: 1000) }
        #expect(error == .crcMismatch(member: 1))
        #expect(error?.description == "gzip CRC-32 mismatch in member 1: the data is corrupt")
    }

    /// The data before a corrupt trailer is handed over before the error, whatever the chunking: the
    /// records it holds are not lost with the trailer.
    @Test(arguments: [1, 7, 1000, 1 << 20])
    func aCorruptTrailerComesAfterAllTheData(chunkSize: Int) throws {
        for trailerByte in [8, 1] {  // the CRC-32, then ISIZE
            var compressed = gzip(text)
            compressed[compressed.count - trailerByte] ^= 0xFF
            var output: [UInt8] = []
            let error = #expect(throws: GzipError.self) { try decode(compressed, chunkSize: chunkSize, into: &output) }
            #expect(error == (trailerByte == 8 ? .crcMismatch(member: 1) : .lengthMismatch(member: 1)))
            #expect(output.count == text.count && output == text, "chunk size \(chunkSize), trailer byte \(trailerByte): \(output.count) of \(text.count) bytes")
        }
    }

    @Test func wrongLengthTrailerIsReported() throws {
        var compressed = gzip(text)
        compressed[compressed.count - 4] ^= 0x01  // ISIZE
        let error = #expect(throws: GzipError.self) { _ = try decode(compressed, chunkSize: 1000) }
        #expect(error == .lengthMismatch(member: 1))
    }

    @Test func badHeaderIsReported() throws {
        var compressed = gzip(text)
        compressed[2] = 7  // compression method must be 8 (deflate)
        let error = #expect(throws: GzipError.self) { _ = try decode(compressed, chunkSize: 1000) }
        #expect(error == .badHeader(reason: "unknown compression method"))
    }

    @Test func corruptDeflateDataIsReported() throws {
        var compressed = gzip(text)
        for index in 12..<40 { compressed[index] = 0xFF }
        #expect(throws: GzipError.self) { _ = try decode(compressed, chunkSize: 1000) }
    }

    @Test(arguments: [[0x00], [0x78, 0x9C], Array("garbage".utf8), [0x1F]])
    func trailingGarbageAfterAMemberIsReportedWhereItStarts(garbage: [UInt8]) throws {
        let member = gzip(sampleText(500))
        for chunkSize in [1, 3, 4096] {
            let error = #expect(throws: GzipError.self) {
                _ = try decode(member + garbage + Array(repeating: 0, count: 20), chunkSize: chunkSize)
            }
            #expect(error == .trailingGarbage(atByte: member.count), "chunk size \(chunkSize)")
        }
    }

    /// A newline appended by some tool is garbage, not a truncated second member; a lone `1f` could be
    /// the start of one, cut off.
    @Test func aSingleByteAfterTheLastMember() throws {
        let member = gzip(sampleText(500))
        for chunkSize in [1, 3, 4096] {
            let newline = #expect(throws: GzipError.self) { _ = try decode(member + [0x0A], chunkSize: chunkSize) }
            #expect(newline == .trailingGarbage(atByte: member.count), "chunk size \(chunkSize)")
            let magic = #expect(throws: GzipError.self) { _ = try decode(member + [0x1F], chunkSize: chunkSize) }
            #expect(magic == .truncated(afterBytes: member.count + 1), "chunk size \(chunkSize)")
        }
    }

    @Test func aGzipBombStopsAtTheLimit() throws {
        let bomb = gzip([UInt8](repeating: 0x20, count: 20 << 20), level: 9)  // 20 MiB of spaces, ~20 KiB
        #expect(bomb.count < 40_000)
        let error = #expect(throws: GzipError.self) { _ = try decode(bomb, chunkSize: 4096, limit: 1 << 20) }
        #expect(error == .limitExceeded(limit: 1 << 20))
        // Exactly at the limit is fine.
        #expect(try decode(bomb, chunkSize: 4096, limit: 20 << 20).count == 20 << 20)
    }

    @Test(arguments: [1, 2, 5, 1000])
    func plainJSONPassesThrough(chunkSize: Int) throws {
        let plain = Array("{\"Records\":[]}".utf8)
        #expect(try decode(plain, chunkSize: chunkSize) == plain)
    }

    @Test func plainInputStartingWith1FIsPassedThroughNotMistakenForGzip() throws {
        let odd: [UInt8] = [0x1F, 0x20, 0x7B]
        #expect(try decode(odd, chunkSize: 1) == odd)
        #expect(try decode(odd, chunkSize: 3) == odd)
    }

    @Test func plainInputIsLimitedToo() throws {
        let error = #expect(throws: GzipError.self) { _ = try decode(sampleText(5000), chunkSize: 100, limit: 1000) }
        #expect(error == .plainLimitExceeded(limit: 1000))
    }

    @Test func emptyInputIsAnError() throws {
        #expect(throws: GzipError.empty) { _ = try decode([], chunkSize: 1) }
        #expect(throws: GzipError.truncated(afterBytes: 1)) { _ = try decode([0x1F], chunkSize: 1) }
    }

    @Test func oneDecoderIsReusedAcrossObjects() throws {
        let decoder = GzipDecoder(outputLimit: 1 << 20)
        let window = ByteWindow(initialCapacity: 1 << 16, maximumCapacity: 1 << 16)
        for (index, data) in [sampleText(100), sampleText(2000, seed: 5)].enumerated() {
            decoder.reset()
            let compressed = gzip(data)
            if index == 0 {
                // Leave the first object unfinished: reset must recover.
                _ = try compressed.withUnsafeBytes { try decoder.decode(UnsafeRawBufferPointer(rebasing: $0[..<10]), into: window) }
                window.moveReaderIndex(forwardBy: window.readableCount)
                continue
            }
            let used = try compressed.withUnsafeBytes { try decoder.decode($0, into: window) }
            try decoder.finish()
            #expect(used == compressed.count)
            #expect(window.withReadableBytes { Array($0) } == data)
            #expect(decoder.bytesIn == compressed.count && decoder.bytesOut == data.count)
        }
    }
}
