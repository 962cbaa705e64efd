#if arch(x86_64)
import _Builtin_intrinsics.intel
#endif

/// Finds where strings end, 64 bytes at a time, for the parser's fast path.
///
/// Each 64-byte block of the value is classified once with 16-byte SIMD compares into bitmasks: its
/// quotes, its backslashes, and whether it holds anything a string scan must look at byte by byte (a
/// control character, a non-ASCII byte, or an escape other than `\"` `\\` `\/` `\b` `\f` `\n` `\r`
/// `\t`). Escaped characters are found from runs of backslashes with the carry of the previous block,
/// so a quote is a *real* quote exactly when an even number of backslashes precedes it. The closing
/// quote of a string is then the next real quote bit: a string costs a shift and a trailing-zero
/// count instead of a walk over its bytes.
///
/// Invariant: the answer is the scalar scan's answer. `closingQuote(after:)` answers only for a
/// string whose blocks are all *clean* — nothing in them that the scalar scan (`JSONParser.scanString`)
/// would reject or decode specially — and returns `nil` otherwise, or when the bytes end first; the
/// caller then scans that string with the scalar scan, which validates it and reports the exact error.
/// In a clean block the scalar scan's rules reduce to the bitmask rules: every backslash starts or
/// completes a two-byte escape, and the first quote not escaped ends the string.
///
/// Blocks are visited in order from the start of the value (the carries need every block) and only
/// when a string reaches into them; the caller asks for strings in increasing order of position.
@usableFromInline
struct StringBlocks {
    private let base: UnsafeRawPointer
    private let count: Int
    /// Offset of the current block; `-64` before the first.
    private var blockStart = -64
    /// The real (unescaped) quotes of the current block, bit `k` for byte `blockStart + k`.
    private var quotes: UInt64 = 0
    private var backslashes: UInt64 = 0
    /// The current block holds a byte that only the scalar scan may judge.
    private var isDirty = false
    /// 1 when the previous block ended in a backslash that escapes the next block's first byte.
    private var escapeCarry: UInt64 = 0

    @usableFromInline
    init(_ base: UnsafeRawPointer, count: Int) {
        self.base = base
        self.count = count
    }

    /// The offset of the quote that closes the string opened by the quote at `open`, and whether the
    /// string has escapes; or `nil` when the scalar scan must decide.
    ///
    /// - Precondition: `open` is at or after every position asked about before.
    @usableFromInline
    @inline(__always)
    mutating func closingQuote(after open: Int) -> (end: Int, isEscaped: Bool)? {
        var position = open + 1
        var isEscaped = false
        while position >= blockStart &+ 64 {
            guard advance() else { return nil }
        }
        while true {
            if isDirty { return nil }
            let from = ~0 &<< UInt64(position &- blockStart)
            let candidates = quotes & from
            if candidates != 0 {
                let close = UInt64(candidates.trailingZeroBitCount)
                let inside = backslashes & from & ((1 &<< close) &- 1)
                return (blockStart &+ Int(close), isEscaped || inside != 0)
            }
            isEscaped = isEscaped || backslashes & from != 0
            guard advance() else { return nil }
            position = blockStart
        }
    }

    /// Moves to the next block and classifies it. Returns `false` when the bytes end before it.
    @inline(never)
    private mutating func advance() -> Bool {
        blockStart &+= 64
        guard blockStart < count else { return false }
        let classes: BlockClasses
        if blockStart &+ 64 <= count {
            classes = BlockClasses(base + blockStart)
        } else {
            // The last, partial block: padded with spaces, which are neither quotes, backslashes nor
            // special, and the scalar scan takes over for any string that reaches the padding.
            let tail = count &- blockStart
            classes = withUnsafeTemporaryAllocation(byteCount: 64, alignment: 16) { padded in
                padded.initializeMemory(as: UInt8.self, repeating: 0x20)
                padded.baseAddress!.copyMemory(from: base + blockStart, byteCount: tail)
                return BlockClasses(UnsafeRawPointer(padded.baseAddress!))
            }
        }
        let escaped = escapedBytes(backslashes: classes.backslashes)
        quotes = classes.quotes & ~escaped
        backslashes = classes.backslashes
        isDirty = classes.hasSpecialByte || hasUnusualEscape(escaped & ~classes.backslashes)
        return true
    }

    /// The bytes of the block escaped by a backslash (the second byte of each two-byte escape), from
    /// the block's backslashes and the carry from the block before; updates the carry.
    ///
    /// A run of backslashes escapes alternately: in a run starting at an even position, the odd
    /// positions are escaped, and the byte after a run of odd length. Adding the run's start bit to the
    /// run carries one bit past its end; XOR with the alternating pattern picks the escaped positions.
    @inline(__always)
    private mutating func escapedBytes(backslashes: UInt64) -> UInt64 {
        let carry = escapeCarry
        if backslashes == 0 {
            escapeCarry = 0
            return carry
        }
        // A backslash escaped by the carry starts no escape of its own.
        let escaping = backslashes & ~carry
        let startsAndOdd = (escaping &<< 1) | 0xAAAA_AAAA_AAAA_AAAA
        let series = (startsAndOdd &- escaping) ^ 0xAAAA_AAAA_AAAA_AAAA
        let escaped = series ^ (backslashes | carry)
        // The block's last backslash escapes the next block's first byte when it escapes at all.
        escapeCarry = (series & backslashes) >> 63
        return escaped
    }

    /// Whether any escaped byte of `escaped` (bits of bytes that follow an escaping backslash and are
    /// not backslashes) is other than `"` `/` `b` `f` `n` `r` `t`: a `\u` escape needs its hex digits
    /// checked, and anything else is an error, so the scalar scan takes both.
    @inline(__always)
    private func hasUnusualEscape(_ escaped: UInt64) -> Bool {
        var bits = escaped
        while bits != 0 {
            let offset = blockStart &+ bits.trailingZeroBitCount
            // A byte escaped across the end of the bytes is padding: unusual.
            guard offset < count else { return true }
            switch base.load(fromByteOffset: offset, as: UInt8.self) {
            case Byte.quote, Byte.slash, Byte.b, Byte.f, Byte.n, Byte.r, Byte.t: break
            default: return true
            }
            bits &= bits &- 1
        }
        return false
    }
}

/// The bitmasks of one 64-byte block: bit `k` describes byte `k`.
///
/// Two kernels compute the same masks: on x86-64 SSE2's byte compares and `pmovmskb` (part of the
/// x86-64 baseline, so no CPU check is needed); elsewhere portable 16-byte SIMD whose lanes are
/// gathered into bits with multiplies. The tests hold the two equal on every kind of block.
@usableFromInline
struct BlockClasses: Equatable {
    var quotes: UInt64 = 0
    var backslashes: UInt64 = 0
    /// Some byte is a control character (< 0x20) or not ASCII (≥ 0x80).
    var hasSpecialByte = false

    @inline(__always)
    init(_ bytes: UnsafeRawPointer) {
        #if arch(x86_64)
        self.init(sse2: bytes)
        #else
        self.init(portable: bytes)
        #endif
    }

    #if arch(x86_64)
    /// Classifies the 64 bytes at `bytes` with SSE2. One signed compare finds the special bytes: as
    /// signed bytes, the non-ASCII ones are negative, so `byte < 0x20` holds for them and for the
    /// control characters, and for nothing else.
    @usableFromInline
    @inline(__always)
    init(sse2 bytes: UnsafeRawPointer) {
        let quote = _mm_set1_epi8(Int8(bitPattern: Byte.quote))
        let backslash = _mm_set1_epi8(Int8(bitPattern: Byte.backslash))
        let space = _mm_set1_epi8(0x20)
        var special: Int32 = 0
        for lane in 0..<4 {
            let vector = _mm_loadu_si128((bytes + lane &* 16).assumingMemoryBound(to: __m128i.self))
            let shift = UInt64(lane &* 16)
            quotes |= UInt64(truncatingIfNeeded: _mm_movemask_epi8(_mm_cmpeq_epi8(vector, quote))) &<< shift
            backslashes |= UInt64(truncatingIfNeeded: _mm_movemask_epi8(_mm_cmpeq_epi8(vector, backslash))) &<< shift
            special |= _mm_movemask_epi8(_mm_cmplt_epi8(vector, space))
        }
        hasSpecialByte = special != 0
    }
    #endif

    /// Classifies the 64 bytes at `bytes` with four portable 16-byte vectors. Only 16-lane byte vectors
    /// are used (wider byte vectors are scalarized by the compiler), and the lanes are gathered into
    /// bits with scalar multiplies (SSE2 has no 64-bit vector multiply). Backslashes are rare: their
    /// bits are gathered only when the block has one.
    @usableFromInline
    @inline(__always)
    init(portable bytes: UnsafeRawPointer) {
        let quote = SIMD16<UInt8>(repeating: Byte.quote)
        let backslash = SIMD16<UInt8>(repeating: Byte.backslash)
        let high = SIMD16<UInt8>(repeating: 0x80)
        let printable = SIMD16<UInt8>(repeating: 0x60)
        let zero = SIMD16<UInt8>(repeating: 0)
        var special = zero
        var anyBackslash = zero
        for lane in 0..<4 {
            let vector = bytes.loadUnaligned(fromByteOffset: lane &* 16, as: SIMD16<UInt8>.self)
            quotes |= bits(of: vector .== quote) &<< UInt64(lane &* 16)
            anyBackslash |= unsafeBitCast(vector .== backslash, to: SIMD16<UInt8>.self)
            // A byte is ASCII and not a control character when bit 7 is clear and bit 5 or 6 is set.
            special |= vector & high
            special |= unsafeBitCast(vector & printable .== zero, to: SIMD16<UInt8>.self)
        }
        hasSpecialByte = isNonZero(special)
        if isNonZero(anyBackslash) {
            for lane in 0..<4 {
                let vector = bytes.loadUnaligned(fromByteOffset: lane &* 16, as: SIMD16<UInt8>.self)
                backslashes |= bits(of: vector .== backslash) &<< UInt64(lane &* 16)
            }
        }
    }
}

@inline(__always)
private func isNonZero(_ vector: SIMD16<UInt8>) -> Bool {
    let halves = unsafeBitCast(vector, to: SIMD2<UInt64>.self)
    return halves[0] | halves[1] != 0
}

/// The 16 lanes of `mask` as bits, lane 0 lowest (what x86's `pmovmskb` does): in each 8-lane half,
/// one bit per lane is kept and a multiply gathers them into the top byte.
@inline(__always)
private func bits(of mask: SIMDMask<SIMD16<Int8>>) -> UInt64 {
    let lanes = unsafeBitCast(mask, to: SIMD2<UInt64>.self)  // a lane is all ones where true
    let low = ((lanes[0] & 0x8040_2010_0804_0201) &* 0x0101_0101_0101_0101) &>> 56
    let high = ((lanes[1] & 0x8040_2010_0804_0201) &* 0x0101_0101_0101_0101) &>> 56
    return low | high &<< 8
}
