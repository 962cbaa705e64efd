internal import Glibc
public import TrailEvents
internal import TrailJSON

/// A `RuleSet` compiled once for the whole scan: every pattern flattened into arrays of plain values
/// (nodes, leaves, matchers, and one pool of literal bytes they point into). Immutable, so every worker
/// matches with the same one: a rule file of millions of values costs its memory once, not once per job.
///
/// Matching a record walks those arrays through raw buffers taken once per record (`Program.withView`):
/// no reference counting, no allocation (except for the rare `equals-ignore-case` on non-ASCII text
/// and the envelope's `source` and `detail-type`, computed once per record that needs them). The tree in
/// `EventPattern` is the reference semantics, used for JSON events; tests check that both give the same
/// answer.
///
/// The flat program tests each leaf on its own. That is exact unless a leaf's path crosses an array of
/// objects, where EventBridge wants the fields matched together to come from one element: a rule that
/// matched after such a crossing (CloudTrail's own fields never cross one) is confirmed by the reference
/// evaluator on the record's envelope.
public final class RecordMatcher: Sendable {
    private let program: Program
    /// The patterns, for the reference check after an array crossing.
    private let patterns: [EventPattern]

    public init(_ ruleSet: RuleSet) {
        patterns = ruleSet.entries.map(\.pattern)
        var compiler = Compiler()
        var roots: [Int32] = []
        for pattern in patterns { roots.append(compiler.node(pattern.root)) }
        program = Program(compiler: compiler, roots: roots, indexes: ruleSet.indexes, unindexed: ruleSet.unindexed)
    }

    /// Appends to `matches` the index (in the rule set's `entries`) of every pattern the record satisfies, in order.
    public func evaluate(_ record: CloudTrailRecord, into matches: inout [Int]) {
        program.withView { evaluate(record, $0, into: &matches) }
    }

    private func evaluate(_ record: CloudTrailRecord, _ p: ProgramView, into matches: inout [Int]) {
        let start = matches.count
        var envelope = RecordScratch()
        // The indexes look rules up by the field view's values; a record that spells a known field
        // another way (see `CloudTrailFields.isExact`) could hide a candidate from them: try every rule.
        guard record.fields.isExact else {
            for rule in 0..<p.roots.count where ruleMatches(rule, record, p, &envelope) { matches.append(rule) }
            return
        }
        for index in p.indexes {
            guard let at = record.fields[index.field] else { continue }
            let token = record.tape[at]
            if token.kind == .array {
                // A pattern matches an array when it matches one of its elements: the candidates are
                // those of every string element (rare: CloudTrail writes these fields as strings).
                var rules: [Int] = []
                record.tape.forEachElement(of: at) { element in
                    let value = record.tape[element]
                    if value.kind == .string {
                        for slot in Self.candidates(of: value, in: record, index, p) { rules.append(p.values[slot]) }
                    }
                    return true
                }
                for rule in Set(rules).sorted() where ruleMatches(rule, record, p, &envelope) {
                    matches.append(rule)
                }
                continue
            }
            guard token.kind == .string else { continue }
            for slot in Self.candidates(of: token, in: record, index, p) {
                let rule = p.values[slot]
                if ruleMatches(rule, record, p, &envelope) { matches.append(rule) }
            }
        }
        for rule in p.unindexed where ruleMatches(rule, record, p, &envelope) {
            matches.append(rule)
        }
        if matches.count - start > 1 { matches[start...].sort() }
    }

    /// The positions in `values` of the rules `index` keys by the string `token`.
    @inline(__always)
    private static func candidates(of token: JSONToken, in record: CloudTrailRecord, _ index: ProgramIndex, _ p: ProgramView) -> Range<Int> {
        if token.isEscaped {
            return JSONString.bytes(of: token, in: record.bytes).withUnsafeBytes { p.lookup($0, in: index) }
        }
        return p.lookup(UnsafeRawBufferPointer(rebasing: record.bytes[token.range]), in: index)
    }

    /// Whether rule `rule` matches: by the flat program, confirmed by the reference evaluator when a path
    /// crossed an array of objects on the way.
    @inline(__always)
    private func ruleMatches(_ rule: Int, _ record: CloudTrailRecord, _ p: ProgramView, _ scratch: inout RecordScratch) -> Bool {
        scratch.crossedArray = false
        guard p.matches(node: Int(p.roots[rule]), record, &scratch) else { return false }
        if !scratch.crossedArray { return true }
        if scratch.event == nil { scratch.event = Envelope.event(for: record) }
        return patterns[rule].matches(event: scratch.event!)
    }

    /// Whether one rule's pattern matches (for tests that compare with the tree evaluator).
    func matches(rule: Int, _ record: CloudTrailRecord) -> Bool {
        var scratch = RecordScratch()
        return program.withView { ruleMatches(rule, record, $0, &scratch) }
    }
}


// MARK: - The flat program

/// A conjunction of leaves and `$or` groups (ranges into `leaves` and `groups`).
struct FlatNode {
    var leafStart: Int32, leafCount: Int32, groupStart: Int32, groupCount: Int32
}

/// A range of a pool.
struct FlatRange {
    var start: Int32, count: Int32
    var range: Range<Int> { Int(start)..<Int(start + count) }
}

struct FlatLeaf {
    enum Location { case known(CloudTrailField), detail, envelope(Envelope.Field), nowhere }
    var location: Location
    /// The path below `detail` (known and detail locations), a range of `ranges`: one entry per segment,
    /// all inside one run of the byte pool that spells the dotted path, so a key `"a.b"` is compared with
    /// two segments at once.
    var path: FlatRange
    var matchers: FlatRange
    var existsFalse: Bool
}

/// One alternative. `bytes` is a range of the byte pool, or of another pool for list kinds.
struct FlatMatcher {
    enum Kind: UInt8 {
        case string, number, `true`, `false`, null, prefix, suffix, prefixIgnoringCase, suffixIgnoringCase
        case equalsIgnoringCase, wildcard, numeric, existsTrue, existsFalse, cidr
        case notStrings, notNumbers, notPrefixes, notSuffixes, notIgnoringCase, notWildcards
    }
    var kind: Kind
    /// Bytes (string kinds, cidr network), or a range of `ranges` (lists of strings, wildcard pieces),
    /// of `wildcards` (notWildcards) or of `numbers` (notNumbers).
    var operand: FlatRange = FlatRange(start: 0, count: 0)
    var number: Double = 0
    var upper: Double = 0
    /// numeric: 1 has lower, 2 lower inclusive, 4 has upper, 8 upper inclusive. cidr: prefix length.
    var flags: Int32 = 0
}

/// Builds the flat arrays from pattern trees.
struct Compiler {
    var nodes: [FlatNode] = []
    var groups: [FlatRange] = []  // ranges of `branches`
    var branches: [Int32] = []
    var leaves: [FlatLeaf] = []
    var matchers: [FlatMatcher] = []
    var bytes: [UInt8] = []
    var ranges: [FlatRange] = []  // ranges of `bytes`
    var wildcards: [FlatRange] = []  // ranges of `ranges` (the pieces); a piece list with one entry has no star
    var numbers: [Double] = []

    mutating func node(_ tree: PatternNode) -> Int32 {
        // Children first, so every index is final when the node is written.
        var leafList: [FlatLeaf] = []
        for leaf in tree.leaves { leafList.append(self.leaf(leaf)) }
        var groupList: [FlatRange] = []
        for group in tree.alternatives {
            let branchIndices = group.map { node($0) }
            groupList.append(FlatRange(start: Int32(branches.count), count: Int32(branchIndices.count)))
            branches += branchIndices
        }
        let leafStart = Int32(leaves.count)
        // Leaves on known fields with plain values first: the cheapest tests reject soonest.
        leaves += leafList.sorted { ($0.isCheap ? 0 : 1) < ($1.isCheap ? 0 : 1) }
        let groupStart = Int32(groups.count)
        groups += groupList
        nodes.append(FlatNode(leafStart: leafStart, leafCount: Int32(leafList.count), groupStart: groupStart, groupCount: Int32(groupList.count)))
        return Int32(nodes.count - 1)
    }

    private mutating func leaf(_ leaf: PatternLeaf) -> FlatLeaf {
        let location: FlatLeaf.Location
        var path = FlatRange(start: 0, count: 0)
        switch leaf.location {
        case .knownField(let field):
            location = .known(field)
            path = dottedPath(field.path)
        case .detail(let keys):
            location = .detail
            path = dottedPath(keys.map { String(decoding: $0, as: UTF8.self) })
        case .envelope(let field): location = .envelope(field)
        case .nowhere: location = .nowhere
        }
        let start = Int32(matchers.count)
        var existsFalse = false
        for matcher in leaf.matchers {
            if case .exists(false) = matcher { existsFalse = true }
            matchers.append(flat(matcher))
        }
        return FlatLeaf(location: location, path: path, matchers: FlatRange(start: start, count: Int32(leaf.matchers.count)), existsFalse: existsFalse)
    }

    /// `segments` pooled as one dotted run, with one `ranges` entry per segment inside it.
    private mutating func dottedPath(_ segments: [String]) -> FlatRange {
        let joined = pool(Array(segments.joined(separator: ".").utf8))
        var offset = joined.start
        let first = Int32(ranges.count)
        for segment in segments {
            let count = Int32(segment.utf8.count)
            ranges.append(FlatRange(start: offset, count: count))
            offset += count + 1
        }
        return FlatRange(start: first, count: Int32(segments.count))
    }

    private mutating func pool(_ value: [UInt8]) -> FlatRange {
        defer { bytes += value }
        return FlatRange(start: Int32(bytes.count), count: Int32(value.count))
    }

    private mutating func list(_ values: [[UInt8]]) -> FlatRange {
        let items = values.map { pool($0) }
        defer { ranges += items }
        return FlatRange(start: Int32(ranges.count), count: Int32(items.count))
    }

    private mutating func wildcard(_ wildcard: Wildcard) -> FlatRange {
        list(wildcard.pieces)
    }

    private mutating func flat(_ matcher: ValueMatcher) -> FlatMatcher {
        switch matcher {
        case .string(let value): return FlatMatcher(kind: .string, operand: pool(value))
        case .number(let value): return FlatMatcher(kind: .number, number: value)
        case .bool(let value): return FlatMatcher(kind: value ? .true : .false)
        case .null: return FlatMatcher(kind: .null)
        case .prefix(let value): return FlatMatcher(kind: .prefix, operand: pool(value))
        case .suffix(let value): return FlatMatcher(kind: .suffix, operand: pool(value))
        case .prefixIgnoringCase(let value): return FlatMatcher(kind: .prefixIgnoringCase, operand: pool(Array(value.utf8)))
        case .suffixIgnoringCase(let value): return FlatMatcher(kind: .suffixIgnoringCase, operand: pool(Array(value.utf8)))
        case .equalsIgnoringCase(let value): return FlatMatcher(kind: .equalsIgnoringCase, operand: pool(Array(value.utf8)))
        case .wildcard(let value): return FlatMatcher(kind: .wildcard, operand: wildcard(value))
        case .numeric(let range):
            var flags: Int32 = 0
            if let lower = range.lower { flags |= 1 | (lower.inclusive ? 2 : 0) }
            if let upper = range.upper { flags |= 4 | (upper.inclusive ? 8 : 0) }
            return FlatMatcher(kind: .numeric, number: range.lower?.value ?? 0, upper: range.upper?.value ?? 0, flags: flags)
        case .exists(let exists): return FlatMatcher(kind: exists ? .existsTrue : .existsFalse)
        case .cidr(let network): return FlatMatcher(kind: .cidr, operand: pool(network.network), flags: Int32(network.prefixLength))
        case .anythingBut(let excluded):
            switch excluded {
            case .strings(let values): return FlatMatcher(kind: .notStrings, operand: list(values))
            case .numbers(let values):
                defer { numbers += values }
                return FlatMatcher(kind: .notNumbers, operand: FlatRange(start: Int32(numbers.count), count: Int32(values.count)))
            case .prefixes(let values): return FlatMatcher(kind: .notPrefixes, operand: list(values))
            case .suffixes(let values): return FlatMatcher(kind: .notSuffixes, operand: list(values))
            case .ignoringCase(let values): return FlatMatcher(kind: .notIgnoringCase, operand: list(values.map { Array($0.utf8) }))
            case .wildcards(let values):
                let items = values.map { wildcard($0) }
                defer { wildcards += items }
                return FlatMatcher(kind: .notWildcards, operand: FlatRange(start: Int32(wildcards.count), count: Int32(items.count)))
            }
        }
    }
}

extension FlatLeaf {
    /// A leaf on a field read in place, worth testing before the others.
    var isCheap: Bool {
        if case .known = location { return true }
        return false
    }
}

/// One field's `ByteKeyIndex`, pooled with the others in `Program`: where its slots, keys and values start.
struct ProgramIndex {
    var field: CloudTrailField
    var slotBase: Int
    var keyBase: Int
    var valueBase: Int
    var mask: Int
}

/// What matching one record computes once and shares between rules: the envelope's derived strings,
/// the record as a JSON event (for the reference check), and whether the rule being tested crossed an
/// array of objects.
struct RecordScratch {
    var source: [UInt8]?
    var detailType: [UInt8]?
    var event: JSONValue?
    var crossedArray = false
}

/// The compiled program: the compiler's arrays and the rule set's indexes, pooled. Invariant: every
/// range stored in any array lies within the pool it indexes, and every node, leaf, matcher or branch
/// index is valid (the `Compiler` writes only indices of elements it has appended); every index's
/// slots, keys and values lie at its bases in the pools (`init` appends each index whole).
struct Program: Sendable {
    let nodes: [FlatNode]
    let groups: [FlatRange]
    let branches: [Int32]
    let leaves: [FlatLeaf]
    let matchers: [FlatMatcher]
    let bytes: [UInt8]
    let ranges: [FlatRange]
    let wildcards: [FlatRange]
    let numbers: [Double]
    let roots: [Int32]
    let indexes: [ProgramIndex]
    let slots: [ByteKeyIndex.Slot?]
    let keyBytes: [UInt8]
    let values: [Int]
    let unindexed: [Int]

    init(compiler c: Compiler, roots: [Int32], indexes: [RuleSet.FieldIndex], unindexed: [Int]) {
        (nodes, groups, branches, leaves, matchers) = (c.nodes, c.groups, c.branches, c.leaves, c.matchers)
        (bytes, ranges, wildcards, numbers) = (c.bytes, c.ranges, c.wildcards, c.numbers)
        self.roots = roots
        self.unindexed = unindexed
        var pooled: [ProgramIndex] = []
        var slots: [ByteKeyIndex.Slot?] = [], keyBytes: [UInt8] = [], values: [Int] = []
        for index in indexes {
            pooled.append(ProgramIndex(field: index.field, slotBase: slots.count, keyBase: keyBytes.count, valueBase: values.count,
                                       mask: index.rules.maskForCompilation))
            slots += index.rules.slotsForCompilation
            keyBytes += index.rules.keyBytesForCompilation
            values += index.rules.valuesForCompilation
        }
        (self.indexes, self.slots, self.keyBytes, self.values) = (pooled, slots, keyBytes, values)
    }

    /// Calls `body` with the arrays as buffers, valid for the call.
    @inline(__always)
    func withView<R>(_ body: (ProgramView) -> R) -> R {
        nodes.withUnsafeBufferPointer { nodes in
        groups.withUnsafeBufferPointer { groups in
        branches.withUnsafeBufferPointer { branches in
        leaves.withUnsafeBufferPointer { leaves in
        matchers.withUnsafeBufferPointer { matchers in
        bytes.withUnsafeBytes { bytes in
        ranges.withUnsafeBufferPointer { ranges in
        wildcards.withUnsafeBufferPointer { wildcards in
        numbers.withUnsafeBufferPointer { numbers in
        roots.withUnsafeBufferPointer { roots in
        indexes.withUnsafeBufferPointer { indexes in
        slots.withUnsafeBufferPointer { slots in
        keyBytes.withUnsafeBytes { keyBytes in
        values.withUnsafeBufferPointer { values in
        unindexed.withUnsafeBufferPointer { unindexed in
            body(ProgramView(nodes: nodes, groups: groups, branches: branches, leaves: leaves, matchers: matchers, bytes: bytes,
                             ranges: ranges, wildcards: wildcards, numbers: numbers, roots: roots, indexes: indexes,
                             slots: slots, keyBytes: keyBytes, values: values, unindexed: unindexed))
        }}}}}}}}}}}}}}}
    }
}

/// `Program`'s arrays as buffers, for the length of one `withView` call (it must not escape it).
struct ProgramView {
    let nodes: UnsafeBufferPointer<FlatNode>
    let groups: UnsafeBufferPointer<FlatRange>
    let branches: UnsafeBufferPointer<Int32>
    let leaves: UnsafeBufferPointer<FlatLeaf>
    let matchers: UnsafeBufferPointer<FlatMatcher>
    let bytes: UnsafeRawBufferPointer
    let ranges: UnsafeBufferPointer<FlatRange>
    let wildcards: UnsafeBufferPointer<FlatRange>
    let numbers: UnsafeBufferPointer<Double>
    let roots: UnsafeBufferPointer<Int32>
    let indexes: UnsafeBufferPointer<ProgramIndex>
    let slots: UnsafeBufferPointer<ByteKeyIndex.Slot?>
    let keyBytes: UnsafeRawBufferPointer
    let values: UnsafeBufferPointer<Int>
    let unindexed: UnsafeBufferPointer<Int>

    /// The positions in `values` of the rules `index` keys by `key`: hash, probe linearly, compare bytes.
    @inline(__always)
    func lookup(_ key: UnsafeRawBufferPointer, in index: ProgramIndex) -> Range<Int> {
        let hash = ByteKeyIndex.hash(key)
        var position = Int(truncatingIfNeeded: hash) & index.mask
        while let slot = slots[index.slotBase + position] {
            let keyStart = index.keyBase + Int(slot.keyStart)
            if slot.hash == hash && Int(slot.keyCount) == key.count
                && UnsafeRawBufferPointer(rebasing: keyBytes[keyStart..<(keyStart + key.count)]).elementsEqual(key) {
                return (index.valueBase + Int(slot.valueStart))..<(index.valueBase + Int(slot.valueStart + slot.valueCount))
            }
            position = (position + 1) & index.mask
        }
        return 0..<0
    }

    func matches(node index: Int, _ record: CloudTrailRecord, _ envelope: inout RecordScratch) -> Bool {
        let node = nodes[index]
        for leaf in Int(node.leafStart)..<Int(node.leafStart + node.leafCount) where !matches(leaf: leaves[leaf], record, &envelope) {
            return false
        }
        for group in Int(node.groupStart)..<Int(node.groupStart + node.groupCount) {
            let branchRange = groups[group].range
            guard branchRange.contains(where: { matches(node: Int(branches[$0]), record, &envelope) }) else { return false }
        }
        return true
    }

    private func matches(leaf: FlatLeaf, _ record: CloudTrailRecord, _ envelope: inout RecordScratch) -> Bool {
        var sawLeafValue = false
        let matched = anyValue(leaf, record, &envelope) { value in
            if case .object = value { return false }
            sawLeafValue = true
            for index in leaf.matchers.range where matches(matchers[index], value) { return true }
            return false
        }
        if matched { return true }
        return !sawLeafValue && leaf.existsFalse
    }

    private func anyValue(
        _ leaf: FlatLeaf, _ record: CloudTrailRecord, _ envelope: inout RecordScratch, _ body: (PatternValue) -> Bool
    ) -> Bool {
        let path = leaf.path
        switch leaf.location {
        case .known(let field):
            // The field view is exact unless the record spells a known path another way (a top-level
            // `"userIdentity.type"`, or an array where an object belongs): then walk the path.
            guard record.fields.isExact else { return values(at: 0, path: path, depth: 0, record, &envelope, body) }
            guard let index = record.fields[field] else { return false }
            return values(at: index, path: path, depth: path.count, record, &envelope, body)
        case .detail:
            return values(at: 0, path: path, depth: 0, record, &envelope, body)
        case .envelope(let field):
            return envelopeValue(field, record, &envelope, body)
        case .nowhere:
            return false
        }
    }

    /// The values at segments `depth...` of `path` (a range of `ranges`) below the token at `index`.
    ///
    /// A member continues the path when its key spells one or more of the next segments (`"a"`, or
    /// `"a.b"` for two); of members with the same key, the last counts, as in the field view. Entering
    /// the elements of an array with segments still to go is noted in `scratch`.
    private func values(
        at index: Int, path: FlatRange, depth: Int32, _ record: CloudTrailRecord, _ scratch: inout RecordScratch,
        _ body: (PatternValue) -> Bool
    ) -> Bool {
        let tape = record.tape
        let token = tape[index]
        if token.kind == .array {
            if depth < path.count { scratch.crossedArray = true }
            var found = false
            tape.forEachElement(of: index) { element in
                found = values(at: element, path: path, depth: depth, record, &scratch, body)
                return !found
            }
            return found
        }
        guard depth < path.count else { return leafValue(token, record, body) }
        guard token.kind == .object else { return false }
        let first = ranges[Int(path.start + depth)]
        let last = ranges[Int(path.start + path.count - 1)]
        let rest = UnsafeRawBufferPointer(rebasing: bytes[Int(first.start)..<Int(last.start + last.count)])
        // The member for each number of segments consumed (usually only one).
        var single: (member: Int, depth: Int32)?
        var more: [(member: Int, depth: Int32)] = []
        tape.forEachMember(of: index) { keyIndex, valueIndex in
            guard let consumed = segmentsSpelled(by: tape[keyIndex], in: record.bytes, rest: rest, path: path, depth: depth) else { return true }
            let route = (member: valueIndex, depth: depth + consumed)
            if single == nil || single!.depth == route.depth {
                single = route
            } else if let existing = more.firstIndex(where: { $0.depth == route.depth }) {
                more[existing] = route
            } else {
                more.append(route)
            }
            return true
        }
        guard let single else { return false }
        if values(at: single.member, path: path, depth: single.depth, record, &scratch, body) { return true }
        return more.contains { values(at: $0.member, path: path, depth: $0.depth, record, &scratch, body) }
    }

    /// How many segments of `path` from `depth` the key `token` spells (`rest` is their dotted text),
    /// or `nil` when it spells none.
    @inline(__always)
    private func segmentsSpelled(by token: JSONToken, in bytes: UnsafeRawBufferPointer, rest: UnsafeRawBufferPointer, path: FlatRange, depth: Int32) -> Int32? {
        if !token.isEscaped {
            let length = token.range.count
            guard length <= rest.count else { return nil }
            let end = ranges[Int(path.start + depth)].start + Int32(length)
            // The key must end where a segment ends.
            var segment = depth
            while segment < path.count, ranges[Int(path.start + segment)].start + ranges[Int(path.start + segment)].count < end { segment += 1 }
            guard segment < path.count, ranges[Int(path.start + segment)].start + ranges[Int(path.start + segment)].count == end,
                  equal(UnsafeRawBufferPointer(rebasing: bytes[token.range]), UnsafeRawBufferPointer(rebasing: rest[0..<length]))
            else { return nil }
            return segment - depth + 1
        }
        let key = JSONString.bytes(of: token, in: bytes)
        for segment in depth..<path.count {
            let end = ranges[Int(path.start + segment)]
            let spelled = Int(end.start + end.count) - Int(ranges[Int(path.start + depth)].start)
            if spelled == key.count, key.withUnsafeBytes({ equal($0, UnsafeRawBufferPointer(rebasing: rest[0..<spelled])) }) {
                return segment - depth + 1
            }
        }
        return nil
    }

    private func leafValue(_ token: JSONToken, _ record: CloudTrailRecord, _ body: (PatternValue) -> Bool) -> Bool {
        switch token.kind {
        case .string:
            let content = UnsafeRawBufferPointer(rebasing: record.bytes[token.range])
            if !token.isEscaped { return body(.string(content)) }
            return JSONString.bytes(of: token, in: record.bytes).withUnsafeBytes { body(.string($0)) }
        case .number:
            let text = UnsafeRawBufferPointer(rebasing: record.bytes[token.range])
            return body(.number(Double(String(decoding: text, as: UTF8.self)) ?? .nan))
        case .true: return body(.bool(true))
        case .false: return body(.bool(false))
        case .null: return body(.null)
        case .object: return body(.object)
        case .array: return false
        }
    }

    private func envelopeValue(
        _ field: Envelope.Field, _ record: CloudTrailRecord, _ envelope: inout RecordScratch, _ body: (PatternValue) -> Bool
    ) -> Bool {
        func copy(_ source: CloudTrailField) -> Bool {
            guard let index = record.fields[source] else { return false }
            return values(at: index, path: FlatRange(start: 0, count: 0), depth: 0, record, &envelope, body)
        }
        switch field {
        case .version: return Self.zero.withUnsafeBytes { body(.string($0)) }
        case .id: return copy(.eventID)
        case .account: return copy(.recipientAccountId)
        case .time: return copy(.eventTime)
        case .region: return copy(.awsRegion)
        case .resources: return false
        case .detailType:
            if envelope.detailType == nil {
                envelope.detailType = Array(Envelope.detailType(eventType: record.string(.eventType), eventSource: record.string(.eventSource)).utf8)
            }
            return envelope.detailType!.withUnsafeBytes { body(.string($0)) }
        case .source:
            if envelope.source == nil {
                guard let eventSource = record.string(.eventSource) else { return false }
                envelope.source = Array(Envelope.source(eventSource: eventSource).utf8)
            }
            return envelope.source!.withUnsafeBytes { body(.string($0)) }
        }
    }

    private static let zero: [UInt8] = [0x30]

    // MARK: Matchers

    @inline(__always)
    private func operand(_ matcher: FlatMatcher) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: bytes[matcher.operand.range])
    }

    private func matches(_ m: FlatMatcher, _ value: PatternValue) -> Bool {
        switch m.kind {
        case .string:
            guard case .string(let text) = value else { return false }
            return equal(text, operand(m))
        case .number:
            guard case .number(let number) = value else { return false }
            return number == m.number
        case .true:
            if case .bool(true) = value { return true }
            return false
        case .false:
            if case .bool(false) = value { return true }
            return false
        case .null:
            if case .null = value { return true }
            return false
        case .prefix:
            guard case .string(let text) = value else { return false }
            return hasPrefix(text, operand(m))
        case .suffix:
            guard case .string(let text) = value else { return false }
            return hasSuffix(text, operand(m))
        case .prefixIgnoringCase, .suffixIgnoringCase, .equalsIgnoringCase:
            guard case .string(let text) = value else { return false }
            return Self.ignoringCase(text, operand(m), kind: m.kind)
        case .wildcard:
            guard case .string(let text) = value else { return false }
            return wildcard(m.operand, matches: text)
        case .numeric:
            guard case .number(let number) = value else { return false }
            if m.flags & 1 != 0, m.flags & 2 != 0 ? number < m.number : number <= m.number { return false }
            if m.flags & 4 != 0, m.flags & 8 != 0 ? number > m.upper : number >= m.upper { return false }
            return true
        case .existsTrue: return true
        case .existsFalse: return false
        case .cidr:
            guard case .string(let text) = value else { return false }
            return CIDR.contains(text, network: operand(m), prefixLength: Int(m.flags))
        case .notStrings:
            guard case .string(let text) = value else { return true }
            return !m.operand.range.contains { equal(text, piece($0)) }
        case .notNumbers:
            guard case .number(let number) = value else { return true }
            return !m.operand.range.contains { numbers[$0] == number }
        case .notPrefixes:
            guard case .string(let text) = value else { return true }
            return !m.operand.range.contains { hasPrefix(text, piece($0)) }
        case .notSuffixes:
            guard case .string(let text) = value else { return true }
            return !m.operand.range.contains { hasSuffix(text, piece($0)) }
        case .notIgnoringCase:
            guard case .string(let text) = value else { return true }
            return !m.operand.range.contains { Self.ignoringCase(text, piece($0), kind: .equalsIgnoringCase) }
        case .notWildcards:
            guard case .string(let text) = value else { return true }
            return !m.operand.range.contains { wildcard(wildcards[$0], matches: text) }
        }
    }

    /// The bytes of entry `index` of `ranges`.
    @inline(__always)
    private func piece(_ index: Int) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: bytes[ranges[index].range])
    }

    @inline(__always)
    private func equal(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> Bool {
        a.count == b.count && (a.count == 0 || memcmp(a.baseAddress!, b.baseAddress!, a.count) == 0)
    }

    @inline(__always)
    private func hasPrefix(_ text: UnsafeRawBufferPointer, _ prefix: UnsafeRawBufferPointer) -> Bool {
        text.count >= prefix.count && equal(UnsafeRawBufferPointer(rebasing: text[0..<prefix.count]), prefix)
    }

    @inline(__always)
    private func hasSuffix(_ text: UnsafeRawBufferPointer, _ suffix: UnsafeRawBufferPointer) -> Bool {
        text.count >= suffix.count && equal(UnsafeRawBufferPointer(rebasing: text[(text.count - suffix.count)...]), suffix)
    }

    /// `pieces` (a range of `ranges`): the text between the stars of a wildcard (see `Wildcard`).
    private func wildcard(_ pieces: FlatRange, matches text: UnsafeRawBufferPointer) -> Bool {
        let first = piece(Int(pieces.start))
        if pieces.count == 1 { return equal(text, first) }
        let last = piece(Int(pieces.start + pieces.count - 1))
        guard text.count >= first.count + last.count, hasPrefix(text, first), hasSuffix(text, last) else { return false }
        var position = first.count
        let end = text.count - last.count
        for index in (Int(pieces.start) + 1)..<(Int(pieces.start + pieces.count) - 1) {
            let needle = piece(index)
            if needle.isEmpty { continue }
            var found = -1
            if end - position >= needle.count {
                for offset in position...(end - needle.count)
                where equal(UnsafeRawBufferPointer(rebasing: text[offset..<(offset + needle.count)]), needle) {
                    found = offset
                    break
                }
            }
            guard found >= 0 else { return false }
            position = found + needle.count
        }
        return true
    }

    /// equals/prefix/suffix ignoring case; `expected` is already lowercased. ASCII text is folded in place;
    /// other text takes Unicode lowercasing (allocates).
    private static func ignoringCase(_ text: UnsafeRawBufferPointer, _ expected: UnsafeRawBufferPointer, kind: FlatMatcher.Kind) -> Bool {
        if text.allSatisfy({ $0 < 0x80 }) && expected.allSatisfy({ $0 < 0x80 }) {
            func fold(_ byte: UInt8) -> UInt8 { byte >= 0x41 && byte <= 0x5A ? byte | 0x20 : byte }
            switch kind {
            case .prefixIgnoringCase:
                return text.count >= expected.count && zip(text, expected).allSatisfy { fold($0) == $1 }
            case .suffixIgnoringCase:
                return text.count >= expected.count && zip(text.suffix(expected.count), expected).allSatisfy { fold($0) == $1 }
            default:
                return text.count == expected.count && zip(text, expected).allSatisfy { fold($0) == $1 }
            }
        }
        let lowered = String(decoding: text, as: UTF8.self).lowercased()
        let target = String(decoding: expected, as: UTF8.self)
        switch kind {
        case .prefixIgnoringCase: return lowered.hasPrefix(target)
        case .suffixIgnoringCase: return lowered.hasSuffix(target)
        default: return lowered == target
        }
    }
}
