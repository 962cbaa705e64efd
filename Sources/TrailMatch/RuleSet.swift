public import TrailEvents
internal import TrailJSON

/// A set of rules compiled for evaluation on the zero-copy record view.
///
/// Each rule is indexed by the first field, in `indexedFields` order, whose values its pattern pins
/// exactly (e.g. `detail.eventName: ["CreateUser"]`, else `detail.eventSource`), in a hash table over
/// raw bytes per field. A record is checked against the rules whose key it has, plus the few rules that
/// pin no field (e.g. `root.activity`), whose patterns test known fields first. So most records are
/// rejected after a hash lookup or two, however many rules there are.
public struct RuleSet: Sendable {
    public let rules: [Rule]
    /// The compiled pattern of each rule, read in place while matching.
    private let patterns: [PatternNode]
    /// Per indexed field: the rules keyed by the values their pattern requires.
    private let indexes: [FieldIndex]

    private struct FieldIndex: Sendable {
        var field: CloudTrailField
        var rules: ByteKeyIndex
    }
    /// Rules that pin no indexed field, tried on every record.
    private let unindexed: [Int]

    /// The fields rules can be indexed by, most selective first.
    static let indexedFields: [CloudTrailField] = [.eventName, .eventSource, .eventType, .userIdentityType, .recipientAccountId]

    public init(_ rules: [Rule]) {
        self.rules = rules
        patterns = rules.map(\.pattern.root)
        var keyed = [[[UInt8]: [Int]]](repeating: [:], count: Self.indexedFields.count)
        var unindexed: [Int] = []
        for (index, rule) in rules.enumerated() {
            let pinned = Self.indexedFields.indices.lazy.compactMap { position in
                rule.pattern.root.requiredValues(at: ["detail"] + Self.indexedFields[position].path).map { (position, $0) }
            }.first
            if let (position, values) = pinned {
                for value in values { keyed[position][value, default: []].append(index) }
            } else {
                unindexed.append(index)
            }
        }
        indexes = zip(Self.indexedFields, keyed).filter { !$0.1.isEmpty }.map { FieldIndex(field: $0.0, rules: ByteKeyIndex($0.1)) }
        self.unindexed = unindexed
    }

    /// Appends to `matches` the index (in `rules`) of every rule the record satisfies, in rule order.
    public func evaluate(_ record: CloudTrailRecord, into matches: inout [Int]) {
        // Compiled rules are read in place through buffer pointers: copying a pattern or an index out of
        // its array would retain and release its arrays for every record.
        patterns.withUnsafeBufferPointer { patterns in
            indexes.withUnsafeBufferPointer { indexes in evaluate(record, patterns, indexes, into: &matches) }
        }
    }

    private func evaluate(
        _ record: CloudTrailRecord, _ patterns: UnsafeBufferPointer<PatternNode>, _ indexes: UnsafeBufferPointer<FieldIndex>,
        into matches: inout [Int]
    ) {
        let event = RecordEvent(record: record)
        let start = matches.count
        for position in indexes.indices {
            guard let token = record.token(indexes[position].field), token.kind == .string else { continue }
            let candidates: Range<Int>
            if token.isEscaped {
                candidates = JSONString.bytes(of: token, in: record.bytes).withUnsafeBytes { indexes[position].rules.lookup($0) }
            } else {
                candidates = indexes[position].rules.lookup(UnsafeRawBufferPointer(rebasing: record.bytes[token.range]))
            }
            for slot in candidates {
                let rule = indexes[position].rules.value(at: slot)
                if patterns[rule].matches(event) { matches.append(rule) }
            }
        }
        for rule in unindexed where patterns[rule].matches(event) {
            matches.append(rule)
        }
        if matches.count - start > 1 { matches[start...].sort() }
    }
}

extension PatternNode {
    /// The values the string at `path` must have for an event to match, if the pattern implies a finite
    /// set: from a leaf with only exact strings, or from `$or` branches that all imply one.
    func requiredValues(at path: [String]) -> Set<[UInt8]>? {
        var candidates: [Set<[UInt8]>] = []
        for leaf in leaves where leaf.path == path {
            var values = Set<[UInt8]>()
            for matcher in leaf.matchers {
                guard case .string(let bytes) = matcher else { values = []; break }
                values.insert(bytes)
            }
            if !values.isEmpty { candidates.append(values) }
        }
        for group in alternatives {
            var union = Set<[UInt8]>()
            var complete = true
            for branch in group {
                guard let values = branch.requiredValues(at: path) else { complete = false; break }
                union.formUnion(values)
            }
            if complete { candidates.append(union) }
        }
        return candidates.min { $0.count < $1.count }
    }

    /// The `detail.eventName` values an event must have to match, if the pattern implies a finite set.
    var requiredEventNames: Set<String>? {
        requiredValues(at: ["detail", "eventName"]).map { Set($0.map { String(decoding: $0, as: UTF8.self) }) }
    }
}
