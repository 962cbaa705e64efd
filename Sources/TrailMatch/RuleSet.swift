public import TrailEvents
internal import TrailJSON

/// A set of rules compiled for evaluation on the zero-copy record view.
///
/// Rules whose pattern requires particular `detail.eventName` values are indexed by them in a hash
/// table over raw bytes, so most records are rejected after hashing one field; only the few rules that
/// name no event (e.g. `root.activity`) run on every record, and their patterns test known fields with
/// exact values first.
public struct RuleSet: Sendable {
    public let rules: [Rule]
    private let byEventName: ByteKeyIndex
    /// Rules with no `eventName` requirement, tried on every record.
    private let unindexed: [Int]

    public init(_ rules: [Rule]) {
        self.rules = rules
        var keyed: [[UInt8]: [Int]] = [:]
        var unindexed: [Int] = []
        for (index, rule) in rules.enumerated() {
            if let names = rule.pattern.root.requiredEventNames {
                for name in names { keyed[Array(name.utf8), default: []].append(index) }
            } else {
                unindexed.append(index)
            }
        }
        byEventName = ByteKeyIndex(keyed)
        self.unindexed = unindexed
    }

    /// Appends to `matches` the index (in `rules`) of every rule the record satisfies, in rule order.
    public func evaluate(_ record: CloudTrailRecord, into matches: inout [Int]) {
        let start = matches.count
        if let token = record.token(.eventName), token.kind == .string {
            let candidates: Range<Int>
            if token.isEscaped {
                let name = JSONString.bytes(of: token, in: record.bytes)
                candidates = name.withUnsafeBytes { byEventName.lookup($0) }
            } else {
                candidates = byEventName.lookup(UnsafeRawBufferPointer(rebasing: record.bytes[token.range]))
            }
            for slot in candidates {
                let rule = byEventName.value(at: slot)
                if rules[rule].pattern.matches(record) { matches.append(rule) }
            }
        }
        for rule in unindexed where rules[rule].pattern.matches(record) {
            matches.append(rule)
        }
        if matches.count - start > 1 { matches[start...].sort() }
    }
}

extension PatternNode {
    /// The `detail.eventName` values an event must have to match, if the pattern implies a finite set:
    /// from a leaf with only exact strings, or from `$or` branches that all imply one.
    var requiredEventNames: Set<String>? {
        var candidates: [Set<String>] = []
        for leaf in leaves where leaf.path == ["detail", "eventName"] {
            var names = Set<String>()
            for matcher in leaf.matchers {
                guard case .string(let bytes) = matcher else { names = []; break }
                names.insert(String(decoding: bytes, as: UTF8.self))
            }
            if !names.isEmpty { candidates.append(names) }
        }
        for group in alternatives {
            var union = Set<String>()
            var complete = true
            for branch in group {
                guard let names = branch.requiredEventNames else { complete = false; break }
                union.formUnion(names)
            }
            if complete { candidates.append(union) }
        }
        return candidates.min { $0.count < $1.count }
    }
}
