internal import TrailEvents

/// A set of rules compiled for evaluation on the zero-copy record view.
///
/// Each pattern (a rule's, or a windowed rule's second feed: `entries`) is indexed by the first field, in `indexedFields` order, whose values its pattern pins
/// exactly (e.g. `detail.eventName: ["CreateUser"]`, else `detail.eventSource`), in a hash table over
/// raw bytes per field. A record is checked against the rules whose key it has, plus the few rules that
/// pin no field (e.g. `root.activity`), whose patterns test known fields first. So most records are
/// rejected after a hash lookup or two, however many rules there are.
///
/// A `RuleSet` is a shareable description; each worker compiles it into a `RecordMatcher`.
public struct RuleSet: Sendable {
    public let rules: [Rule]
    /// The patterns compiled, in order: each rule's own, and after it a windowed rule's `then` feed.
    /// A match names an entry.
    public let entries: [Entry]

    public struct Entry: Sendable {
        /// The rule's index in `rules`.
        public let rule: Int
        /// For a windowed rule, which of its patterns; `nil` for a rule that alerts on each record.
        public let role: Window.Role?
        let pattern: EventPattern
    }
    /// Per indexed field: the rules keyed by the values their pattern requires.
    let indexes: [FieldIndex]

    struct FieldIndex: Sendable {
        var field: CloudTrailField
        var rules: ByteKeyIndex
    }
    /// Rules that pin no indexed field, tried on every record.
    let unindexed: [Int]

    /// The fields rules can be indexed by, most selective first.
    static let indexedFields: [CloudTrailField] = [.eventName, .eventSource, .eventType, .userIdentityType, .recipientAccountId]

    public init(_ rules: [Rule]) {
        self.rules = rules
        var entries: [Entry] = []
        for (index, rule) in rules.enumerated() {
            entries.append(Entry(rule: index, role: rule.window == nil ? nil : .counted, pattern: rule.pattern))
            if let then = rule.window?.then { entries.append(Entry(rule: index, role: .then, pattern: then.pattern)) }
        }
        self.entries = entries
        var keyed = [[[UInt8]: [Int]]](repeating: [:], count: Self.indexedFields.count)
        var unindexed: [Int] = []
        for (index, entry) in entries.enumerated() {
            let pinned = Self.indexedFields.indices.lazy.compactMap { position in
                entry.pattern.root.requiredValues(at: ["detail"] + Self.indexedFields[position].path).map { (position, $0) }
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

extension EventPattern {
    /// The one string the event must have at `path` for the pattern to match, if there is exactly one
    /// (`["detail", "eventName"]` of a sign-in rule: `ConsoleLogin`).
    public func requiredString(at path: [String]) -> String? {
        guard let values = root.requiredValues(at: path), values.count == 1 else { return nil }
        return String(decoding: values.first!, as: UTF8.self)
    }
}
