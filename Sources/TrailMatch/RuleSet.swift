public import TrailEvents
internal import TrailJSON

/// A set of rules compiled for evaluation on the zero-copy record view.
///
/// Rules that require particular `eventName` values are indexed by them in a hash table over raw
/// bytes, so most records are rejected after hashing one field and one byte comparison; only the few
/// rules that do not name an event (e.g. `root.activity`) run on every record, and they start with
/// their cheapest test.
public struct RuleSet: Sendable {
    public let rules: [Rule]
    private let conditions: [CompiledCondition]
    private let byEventName: ByteKeyIndex
    /// Rules with no `eventName` requirement, tried on every record.
    private let unindexed: [Int]

    public init(_ rules: [Rule]) {
        self.rules = rules
        conditions = rules.map { CompiledCondition($0.condition) }
        var keyed: [[UInt8]: [Int]] = [:]
        var unindexed: [Int] = []
        for (index, rule) in rules.enumerated() {
            if let names = rule.condition.requiredEventNames {
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
                if conditions[rule].evaluate(record) { matches.append(rule) }
            }
        }
        for rule in unindexed where conditions[rule].evaluate(record) {
            matches.append(rule)
        }
        if matches.count - start > 1 { matches[start...].sort() }
    }
}

extension Condition {
    /// The `eventName` values a record must have to satisfy this condition, if it names any.
    var requiredEventNames: Set<String>? {
        switch self {
        case .equals(.eventName, let names):
            return Set(names)
        case .all(let conditions):
            return conditions.compactMap(\.requiredEventNames).min { $0.count < $1.count }
        case .any(let conditions):
            var union = Set<String>()
            for condition in conditions {
                guard let names = condition.requiredEventNames else { return nil }
                union.formUnion(names)
            }
            return union
        default:
            return nil
        }
    }
}

/// A `Condition` with its literals turned into bytes once, evaluated without allocating (unless a
/// field it reads is escaped, which AWS does not write for these fields).
private indirect enum CompiledCondition: Sendable {
    case equals(CloudTrailField, [[UInt8]])
    case equalsIgnoringCase(CloudTrailField, [[UInt8]])
    case hasSuffix(CloudTrailField, [UInt8])
    case contains(CloudTrailField, [UInt8])
    case isAbsentOrNull(CloudTrailField)
    case isTrue(CloudTrailField)
    case all([CompiledCondition])
    case any([CompiledCondition])
    case not(CompiledCondition)

    init(_ condition: Condition) {
        switch condition {
        case .equals(let field, let values): self = .equals(field, values.map { Array($0.utf8) })
        case .equalsIgnoringCase(let field, let values):
            self = .equalsIgnoringCase(field, values.map { Array($0.utf8).map(asciiLowercased) })
        case .hasSuffix(let field, let value): self = .hasSuffix(field, Array(value.utf8))
        case .contains(let field, let value): self = .contains(field, Array(value.utf8))
        case .isAbsentOrNull(let field): self = .isAbsentOrNull(field)
        case .isTrue(let field): self = .isTrue(field)
        case .all(let conditions): self = .all(conditions.map(CompiledCondition.init))
        case .any(let conditions): self = .any(conditions.map(CompiledCondition.init))
        case .not(let condition): self = .not(CompiledCondition(condition))
        }
    }

    func evaluate(_ record: CloudTrailRecord) -> Bool {
        switch self {
        case .equals(let field, let values):
            return values.contains { value in value.withUnsafeBytes { record.field(field, equals: $0) } }
        case .equalsIgnoringCase(let field, let values):
            return withString(field, in: record) { text in
                values.contains { value in
                    value.count == text.count && zip(value, text).allSatisfy { $0 == asciiLowercased($1) }
                }
            }
        case .hasSuffix(let field, let suffix):
            return withString(field, in: record) { text in
                text.count >= suffix.count && text.suffix(suffix.count).elementsEqual(suffix)
            }
        case .contains(let field, let needle):
            return withString(field, in: record) { text in
                guard needle.count <= text.count else { return false }
                return (0...(text.count - needle.count)).contains { offset in
                    text[(text.startIndex + offset)...].starts(with: needle)
                }
            }
        case .isAbsentOrNull(let field):
            return record.isAbsentOrNull(field)
        case .isTrue(let field):
            guard let token = record.token(field) else { return false }
            if token.kind == .true { return true }
            return Self.trueString.withUnsafeBytes { record.field(field, equals: $0) }
        case .all(let conditions):
            return conditions.allSatisfy { $0.evaluate(record) }
        case .any(let conditions):
            return conditions.contains { $0.evaluate(record) }
        case .not(let condition):
            return !condition.evaluate(record)
        }
    }

    private static let trueString: [UInt8] = Array("true".utf8)

    /// Runs `body` on the string value of `field` (in place when unescaped); `false` when the field is
    /// absent or not a string.
    private func withString(
        _ field: CloudTrailField, in record: CloudTrailRecord, _ body: (UnsafeRawBufferPointer) -> Bool
    ) -> Bool {
        guard let token = record.token(field), token.kind == .string else { return false }
        if !token.isEscaped { return body(UnsafeRawBufferPointer(rebasing: record.bytes[token.range])) }
        return JSONString.bytes(of: token, in: record.bytes).withUnsafeBytes(body)
    }
}

@inline(__always)
private func asciiLowercased(_ byte: UInt8) -> UInt8 {
    byte >= 0x41 && byte <= 0x5A ? byte | 0x20 : byte
}
