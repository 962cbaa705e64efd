/// An EventBridge `wildcard`: `*` matches any run of characters (none included); `\*` is a literal `*`
/// and `\\` a literal `\`. Two `*` in a row, and any other escape, are errors.
public struct Wildcard: Sendable {
    /// The literal pieces between the stars, in order.
    let pieces: [[UInt8]]

    public init(_ text: String, at path: String) throws(PatternError) {
        var pieces: [[UInt8]] = [[]]
        var previousWasStar = false
        var bytes = Array(text.utf8)[...]
        while let byte = bytes.popFirst() {
            switch byte {
            case 0x2A:  // *
                if previousWasStar { throw PatternError(path: path, reason: "consecutive wildcard characters (**) are not allowed") }
                pieces.append([])
                previousWasStar = true
                continue
            case 0x5C:  // backslash
                guard let escaped = bytes.popFirst(), escaped == 0x2A || escaped == 0x5C else {
                    throw PatternError(path: path, reason: "invalid escape in wildcard: only \\* and \\\\ are allowed")
                }
                pieces[pieces.count - 1].append(escaped)
            default:
                pieces[pieces.count - 1].append(byte)
            }
            previousWasStar = false
        }
        self.pieces = pieces
    }

    /// Whether `text` matches: the first piece is a prefix, the last a suffix, the others appear in order
    /// in between (leftmost matches suffice: there is no backtracking to do with `*` alone).
    func matches(_ text: UnsafeRawBufferPointer) -> Bool {
        if pieces.count == 1 { return text.elementsEqual(pieces[0]) }
        let first = pieces[0], last = pieces[pieces.count - 1]
        guard text.count >= first.count + last.count,
              text.starts(with: first), text.suffix(last.count).elementsEqual(last)
        else { return false }
        var position = first.count
        let end = text.count - last.count
        for piece in pieces.dropFirst().dropLast() where !piece.isEmpty {
            guard let found = Self.find(piece, in: text, from: position, to: end) else { return false }
            position = found + piece.count
        }
        return true
    }

    /// Whether `text` matches (rule-id globs of the configuration: `signin.*`).
    public func matches(_ text: String) -> Bool {
        var text = text
        return text.withUTF8 { matches(UnsafeRawBufferPointer($0)) }
    }

    private static func find(_ needle: [UInt8], in text: UnsafeRawBufferPointer, from start: Int, to end: Int) -> Int? {
        guard end - start >= needle.count else { return nil }
        for offset in start...(end - needle.count)
        where UnsafeRawBufferPointer(rebasing: text[offset..<(offset + needle.count)]).elementsEqual(needle) {
            return offset
        }
        return nil
    }
}

/// An IPv4 or IPv6 network for `cidr` matching.
struct CIDR: Sendable {
    let network: [UInt8]  // 4 or 16 bytes
    let prefixLength: Int

    init(_ text: String, at path: String) throws(PatternError) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let address = IPAddress.parse(parts[0]), let length = Int(parts[1]),
              length >= 0, length <= address.count * 8
        else { throw PatternError(path: path, reason: "'\(text)' is not a CIDR block such as 10.0.0.0/24 or 2001:db8::/32") }
        network = address
        prefixLength = length
    }

    func contains(_ text: UnsafeRawBufferPointer) -> Bool {
        network.withUnsafeBytes { Self.contains(text, network: $0, prefixLength: prefixLength) }
    }

    /// Whether `text` is an address (of the network's family) whose first `prefixLength` bits are the
    /// network's. Text that is not an address (e.g. `cloudformation.amazonaws.com`) is not contained.
    static func contains(_ text: UnsafeRawBufferPointer, network: UnsafeRawBufferPointer, prefixLength: Int) -> Bool {
        guard let address = IPAddress.parse(Substring(decoding: text, as: UTF8.self)), address.count == network.count else {
            return false
        }
        var remaining = prefixLength
        for index in 0..<network.count where remaining > 0 {
            let bits = min(8, remaining)
            let mask: UInt8 = bits == 8 ? 0xFF : ~(0xFF >> UInt8(bits))
            if address[index] & mask != network[index] & mask { return false }
            remaining -= bits
        }
        return true
    }
}

/// Textual IP addresses to bytes.
enum IPAddress {
    /// `a.b.c.d` (4 bytes) or an IPv6 address with optional `::` and a trailing dotted IPv4 (16 bytes).
    static func parse(_ text: Substring) -> [UInt8]? {
        if !text.contains(":") { return ipv4(text) }
        let halves = text.split(separator: "::", omittingEmptySubsequences: false)
        guard halves.count <= 2 else { return nil }
        func groups(_ part: Substring) -> [UInt8]? {
            if part.isEmpty { return [] }
            var bytes: [UInt8] = []
            let fields = part.split(separator: ":", omittingEmptySubsequences: false)
            for (index, field) in fields.enumerated() {
                if index == fields.count - 1, field.contains(".") {
                    guard let v4 = ipv4(field) else { return nil }
                    bytes += v4
                } else {
                    guard (1...4).contains(field.count), let value = UInt16(field, radix: 16) else { return nil }
                    bytes += [UInt8(value >> 8), UInt8(value & 0xFF)]
                }
            }
            return bytes
        }
        guard let head = groups(halves[0]) else { return nil }
        if halves.count == 1 { return head.count == 16 ? head : nil }
        guard let tail = groups(halves[1]), head.count + tail.count <= 14 else { return nil }
        return head + [UInt8](repeating: 0, count: 16 - head.count - tail.count) + tail
    }

    private static func ipv4(_ text: Substring) -> [UInt8]? {
        let octets = text.split(separator: ".", omittingEmptySubsequences: false)
        guard octets.count == 4 else { return nil }
        var bytes: [UInt8] = []
        for octet in octets {
            guard (1...3).contains(octet.count), octet.allSatisfy(\.isASCII), let value = UInt8(octet) else { return nil }
            bytes.append(value)
        }
        return bytes
    }
}

/// AWS refuses a field whose wildcard patterns are too non-deterministic: "Rule is too complex". The
/// measure is event-ruler's (`MachineComplexityEvaluator`): the most prefixes of the field's `wildcard`
/// and anything-but `wildcard` patterns that one input value can match at the same time. `*.png`
/// scores 2 (`*` and `*.png`); `*a*a*a*a*a*` scores 11 on `aaaaa`, because every prefix matches it.
/// Above `limit`, the pattern is rejected with AWS's message.
enum WildcardComplexity {
    static let limit = 10
    /// Subset states explored before giving up and calling the field too complex.
    static let explorationBudget = 20_000

    static func check(_ matchers: [ValueMatcher], at path: String) throws(PatternError) {
        var wildcards: [Wildcard] = []
        for matcher in matchers {
            switch matcher {
            case .wildcard(let wildcard): wildcards.append(wildcard)
            case .anythingBut(.wildcards(let list)): wildcards += list
            default: break
            }
        }
        guard !wildcards.isEmpty, complexity(wildcards) > limit else { return }
        throw PatternError(path: path, reason: "Rule is too complex - try using fewer wildcard characters or fewer repeating character sequences after a wildcard character")
    }

    /// The measure, capped just above `limit`.
    static func complexity(_ wildcards: [Wildcard]) -> Int {
        let star: UInt16 = 256
        // Each pattern as tokens; a state is (pattern, length of the prefix matched so far). Equal
        // prefixes of different patterns count once.
        let patterns: [[UInt16]] = wildcards.map { wildcard in
            var tokens: [UInt16] = []
            for (index, piece) in wildcard.pieces.enumerated() {
                if index > 0 { tokens.append(star) }
                tokens += piece.map(UInt16.init)
            }
            return tokens
        }
        var prefixID: [[UInt16]: Int] = [:]
        let ids: [[Int]] = patterns.map { tokens in
            (0...tokens.count).map { length in
                let prefix = Array(tokens[0..<length])
                if let id = prefixID[prefix] { return id }
                prefixID[prefix] = prefixID.count
                return prefixID.count - 1
            }
        }
        struct State: Hashable { var pattern: Int, length: Int }
        func closed(_ states: Set<State>) -> Set<State> {
            var result = states
            var pending = Array(states)
            while let state = pending.popLast() {
                let tokens = patterns[state.pattern]
                if state.length < tokens.count, tokens[state.length] == star {
                    let next = State(pattern: state.pattern, length: state.length + 1)
                    if result.insert(next).inserted { pending.append(next) }
                }
            }
            return result
        }
        func score(_ states: Set<State>) -> Int {
            Set(states.filter { $0.length > 0 }.map { ids[$0.pattern][$0.length] }).count
        }
        let alphabet = Set(patterns.joined().filter { $0 != star }).sorted() + [star]  // `star`: any other byte
        let start = closed(Set(patterns.indices.map { State(pattern: $0, length: 0) }))
        var seen: Set<Set<State>> = [start]
        var pending = [start]
        var highest = score(start)
        while let states = pending.popLast(), highest <= limit {
            guard seen.count <= explorationBudget else { return limit + 1 }
            for byte in alphabet {
                var next = Set<State>()
                for state in states {
                    let tokens = patterns[state.pattern]
                    if state.length > 0, tokens[state.length - 1] == star { next.insert(state) }
                    if state.length < tokens.count, tokens[state.length] == byte, byte != star {
                        next.insert(State(pattern: state.pattern, length: state.length + 1))
                    }
                }
                guard !next.isEmpty else { continue }
                let closure = closed(next)
                highest = max(highest, score(closure))
                if seen.insert(closure).inserted { pending.append(closure) }
            }
        }
        return min(highest, limit + 1)
    }
}
