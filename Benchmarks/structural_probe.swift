// The cost floor of a simdjson-style structural index on this machine, in Swift with SSE2.
//
//   find /tmp/corpus1g/AWSLogs/111122223333/CloudTrail -name '*.json.gz' | sort | head -600 | xargs zcat > /tmp/probe.json
//   swiftc -O Benchmarks/structural_probe.swift -o /tmp/structural_probe && /tmp/structural_probe /tmp/probe.json
//
// Not part of trailscan: a measurement behind the performance analysis in BENCHMARKS.md. It times, over
// decoded CloudTrail JSON held in memory, one 256 KiB chunk at a time (an object's size, so the index
// and the tape stay in cache), best of 7 runs on one core:
//   1. stage 1 alone: each 64-byte block classified with SSE2 compares and pmovmskb into quote,
//      backslash, structural and whitespace masks; escapes from backslash runs; the in-string mask by
//      prefix XOR; the structural characters, string starts and scalar starts kept;
//   2. stage 1 and the flattening of those bits into an index of positions;
//   3. both, and a stage 2 that turns the index into a tape of tokens *without validating anything*
//      (no grammar, no numbers or literals, no UTF-8, no escapes).
// (3) is a lower bound on a strict parser built this way, before record splitting, field lookup and
// rules. Its answers are counts, printed so that the work cannot be optimized away.
import Glibc
import _Builtin_intrinsics.intel

let chunkBlocks = 4096  // 256 KiB

struct Input {
    let bytes: UnsafeMutableRawPointer
    let count: Int
    var blocks: Int { count / 64 }

    init(path: String) {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { fatalError("cannot open \(path)") }
        var info = stat()
        fstat(fd, &info)
        count = Int(info.st_size)
        bytes = .allocate(byteCount: count + 64, alignment: 64)
        var done = 0
        while done < count {
            let n = read(fd, bytes + done, count - done)
            guard n > 0 else { fatalError("cannot read \(path)") }
            done += n
        }
        close(fd)
    }
}

/// The structural bits of consecutive 64-byte blocks (with the carries between them).
struct StageOne {
    private var escapeCarry: UInt64 = 0
    private var inStringCarry: UInt64 = 0
    private var scalarCarry: UInt64 = 0

    @inline(__always)
    private static func bits(_ vector: __m128i, _ byte: Int8) -> UInt64 {
        UInt64(truncatingIfNeeded: _mm_movemask_epi8(_mm_cmpeq_epi8(vector, _mm_set1_epi8(byte))))
    }

    /// Bit `k` set: byte `k` of the block is `{ } [ ] : ,` outside a string, a string's opening quote,
    /// or the first byte of a number or literal.
    @inline(__always)
    mutating func structurals(_ block: UnsafeRawPointer) -> UInt64 {
        var quotes: UInt64 = 0, backslashes: UInt64 = 0, operators: UInt64 = 0, spaces: UInt64 = 0
        for lane in 0..<4 {
            let v = _mm_loadu_si128((block + lane &* 16).assumingMemoryBound(to: __m128i.self))
            let shift = UInt64(lane &* 16)
            quotes |= Self.bits(v, 0x22) &<< shift
            backslashes |= Self.bits(v, 0x5C) &<< shift
            let folded = _mm_or_si128(v, _mm_set1_epi8(0x20))  // '[' -> '{', ']' -> '}'
            let brackets = _mm_or_si128(_mm_cmpeq_epi8(folded, _mm_set1_epi8(0x7B)), _mm_cmpeq_epi8(folded, _mm_set1_epi8(0x7D)))
            let separators = _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8(0x3A)), _mm_cmpeq_epi8(v, _mm_set1_epi8(0x2C)))
            operators |= UInt64(truncatingIfNeeded: _mm_movemask_epi8(_mm_or_si128(brackets, separators))) &<< shift
            let blank = _mm_or_si128(
                _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8(0x20)), _mm_cmpeq_epi8(v, _mm_set1_epi8(0x0A))),
                _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8(0x0D)), _mm_cmpeq_epi8(v, _mm_set1_epi8(0x09))))
            spaces |= UInt64(truncatingIfNeeded: _mm_movemask_epi8(blank)) &<< shift
        }
        var escaped = escapeCarry
        if backslashes != 0 {
            let escaping = backslashes & ~escapeCarry
            let series = (((escaping &<< 1) | 0xAAAA_AAAA_AAAA_AAAA) &- escaping) ^ 0xAAAA_AAAA_AAAA_AAAA
            escaped = series ^ (backslashes | escapeCarry)
            escapeCarry = (series & backslashes) >> 63
        } else {
            escapeCarry = 0
        }
        let realQuotes = quotes & ~escaped
        var inString = realQuotes  // prefix XOR: set from an opening quote up to its closing quote
        inString ^= inString &<< 1; inString ^= inString &<< 2; inString ^= inString &<< 4
        inString ^= inString &<< 8; inString ^= inString &<< 16; inString ^= inString &<< 32
        inString ^= inStringCarry
        inStringCarry = UInt64(bitPattern: Int64(bitPattern: inString) >> 63)
        let scalars = ~(operators | spaces | realQuotes | inString)
        let scalarStarts = scalars & ~((scalars &<< 1) | scalarCarry)
        scalarCarry = scalars >> 63
        return (operators & ~inString) | (realQuotes & inString) | scalarStarts
    }
}

struct Token {
    var kind: UInt8
    var start: Int32
    var end: Int32
    var next: Int32
}

let input = Input(path: CommandLine.arguments.count > 1 ? CommandLine.arguments[1] : "/tmp/probe.json")
let index = UnsafeMutablePointer<UInt32>.allocate(capacity: chunkBlocks * 64 + 64)
let tape = UnsafeMutablePointer<Token>.allocate(capacity: chunkBlocks * 64 + 64)
let stack = UnsafeMutablePointer<Int32>.allocate(capacity: 1024)

/// Stage 1 over blocks `first..<last`; with `flatten`, their positions go to `index`. Returns the count.
func stageOne(_ stage: inout StageOne, _ first: Int, _ last: Int, flatten: Bool) -> Int {
    var count = 0
    for block in first..<last {
        var bits = stage.structurals(input.bytes + block &* 64)
        if flatten {
            let base = UInt32(truncatingIfNeeded: (block &- first) &* 64)
            while bits != 0 {
                index[count] = base &+ UInt32(truncatingIfNeeded: bits.trailingZeroBitCount)
                count &+= 1
                bits &= bits &- 1
            }
        } else {
            count &+= bits.nonzeroBitCount
        }
    }
    return count
}

/// A tape from the index of one chunk, trusting the bytes completely. Returns the tokens written.
func stageTwo(_ chunk: UnsafeRawPointer, _ count: Int) -> Int {
    var tokens = 0
    var depth = 0
    for i in 0..<count {
        let position = Int32(truncatingIfNeeded: index[i])
        switch chunk.load(fromByteOffset: Int(position), as: UInt8.self) {
        case 0x22:
            let end = i &+ 1 < count ? Int32(truncatingIfNeeded: index[i &+ 1]) : position
            tape[tokens] = Token(kind: 2, start: position &+ 1, end: end, next: Int32(truncatingIfNeeded: tokens &+ 1))
            tokens &+= 1
        case 0x7B, 0x5B:
            stack[depth & 1023] = Int32(truncatingIfNeeded: tokens)
            depth &+= 1
            tape[tokens] = Token(kind: 0, start: position, end: 0, next: 0)
            tokens &+= 1
        case 0x7D, 0x5D:
            depth &-= 1
            let open = Int(stack[depth & 1023])
            tape[open].end = position &+ 1
            tape[open].next = Int32(truncatingIfNeeded: tokens)
        case 0x3A, 0x2C:
            break
        default:
            tape[tokens] = Token(kind: 3, start: position, end: position &+ 1, next: Int32(truncatingIfNeeded: tokens &+ 1))
            tokens &+= 1
        }
    }
    return tokens
}

func seconds() -> Double {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    return Double(now.tv_sec) + Double(now.tv_nsec) / 1e9
}

func best(_ name: String, _ pass: () -> Int) {
    var fastest = Double.infinity
    var answer = 0
    for _ in 0..<7 {
        let start = seconds()
        answer = pass()
        fastest = min(fastest, seconds() - start)
    }
    let rate = Double(input.blocks * 64) / fastest / 1e9
    print("\(name): \((rate * 100).rounded() / 100) GB/s (\((fastest * 1000).rounded()) ms, count \(answer))")
}

print("\(input.blocks * 64) bytes, best of 7, one core")
for (name, flatten, tape) in [("stage 1", false, false), ("stage 1 + index", true, false), ("stage 1 + index + unvalidated tape", true, true)] {
    best(name) {
        var stage = StageOne()
        var total = 0
        var first = 0
        while first < input.blocks {
            let last = min(input.blocks, first + chunkBlocks)
            let count = stageOne(&stage, first, last, flatten: flatten)
            total &+= tape ? stageTwo(input.bytes + first * 64, count) : count
            first = last
        }
        return total
    }
}
