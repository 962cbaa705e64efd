internal import CDeflate
public import TrailBytes

/// The fast path for small gzip objects held whole in memory: libdeflate, about twice as fast as zlib,
/// inflates each member straight into the decode window.
///
/// It only ever *succeeds or declines*. Anything unusual — not gzip, invalid or truncated data, a CRC or
/// length mismatch, trailing bytes, an ISIZE trailer that lies (it is attacker-controlled and only the
/// size modulo 2^32), output larger than `outputLimit` or than the window can hold — makes it return
/// `nil`, and the caller decodes the same bytes with the streaming `GzipDecoder`, which reports the exact
/// error. So both paths give the same records, the same errors and the same limits. A member whose header
/// carries a CRC (FHCRC) is declined too: libdeflate skips that CRC, zlib checks it.
///
/// One per worker: not `Sendable`.
public final class WholeGzipInflater {
    private let decompressor: OpaquePointer

    public init?() {
        guard let decompressor = libdeflate_alloc_decompressor() else { return nil }
        self.decompressor = decompressor
    }

    deinit {
        libdeflate_free_decompressor(decompressor)
    }

    /// The room `inflate` reserves for `input`'s output: the last member's ISIZE trailer (attacker-
    /// controlled and only the size modulo 2^32 of one member: a first guess, checked by inflating) or
    /// four times the input if that is more, plus one byte, at most `outputLimit`.
    public static func outputRoom(for input: UnsafeRawBufferPointer, outputLimit: Int) -> Int {
        guard input.count >= 4 else { return min(outputLimit, 1) }
        let tail = input.count - 4
        let isize = Int(input[tail]) | Int(input[tail + 1]) << 8 | Int(input[tail + 2]) << 16 | Int(input[tail + 3]) << 24
        return min(outputLimit, max(isize, input.count * 4) + 1)
    }

    /// Inflates every member of `input` into `window`.
    ///
    /// - Returns: the number of bytes written, or `nil` to decline (the window may then hold partial
    ///   output: the caller resets it before falling back).
    public func inflate(_ input: UnsafeRawBufferPointer, into window: ByteWindow, outputLimit: Int) -> Int? {
        guard input.count >= 18, input[0] == 0x1F, input[1] == 0x8B else { return nil }
        let room = min(Self.outputRoom(for: input, outputLimit: outputLimit), window.maximumCapacity - window.readableCount)
        guard room > 0, (try? window.reserveWritable(room)) != nil else { return nil }
        var offset = 0
        var total = 0
        while offset < input.count {
            guard input.count - offset >= 18, input[offset] == 0x1F, input[offset + 1] == 0x8B,
                  input[offset + 3] & 0x02 == 0  // FHCRC
            else { return nil }
            var consumed = 0
            var produced = 0
            var result = LIBDEFLATE_BAD_DATA
            window.withWritableBytes { output in
                let space = min(output.count, outputLimit - total)
                result = libdeflate_gzip_decompress_ex(
                    decompressor, input.baseAddress! + offset, input.count - offset,
                    output.baseAddress, space, &consumed, &produced)
                return result == LIBDEFLATE_SUCCESS ? produced : 0
            }
            guard result == LIBDEFLATE_SUCCESS else { return nil }
            offset += consumed
            total += produced
        }
        return total
    }
}

@available(*, unavailable)
extension WholeGzipInflater: Sendable {}
