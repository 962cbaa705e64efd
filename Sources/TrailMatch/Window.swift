public import TrailEvents
internal import TrailJSON

/// What a windowed or correlated rule (Stage 2) counts: records its pattern matches, grouped by a key
/// read from each record, measured over `eventTime` within a span.
///
/// The rule's `pattern` selects the records counted (the failed sign-ins, the created users); a
/// `then` feed, for the measures that have one, selects the records that complete the rule (the
/// successful sign-in, the AdministratorAccess attachment). The matching happens in the scan like any
/// other pattern; the counting happens after it, over every record of the key in eventTime order
/// (`TrailWindow`), so the answer does not depend on files, regions or the order they are read in.
public struct Window: Sendable, Equatable {
    /// A pattern and the key its records are grouped by.
    public struct Feed: Sendable, Equatable {
        public var pattern: EventPattern
        /// The key: record paths whose values, all present, name the group (`recipientAccountId`, …).
        public var key: [[String]]

        public init(pattern: EventPattern, key: [[String]]) {
            self.pattern = pattern
            self.key = key
        }
    }

    /// Which of a windowed rule's patterns a record matched.
    public enum Role: UInt8, Sendable, Equatable, Comparable {
        /// The rule's own pattern: a record counted.
        case counted = 0
        /// The `then` feed's pattern: a record that completes the rule.
        case then = 1

        public static func < (lhs: Role, rhs: Role) -> Bool { lhs.rawValue < rhs.rawValue }
    }

    public enum Measure: Sendable, Equatable {
        /// At least `threshold` records of the key within the span.
        case count(threshold: Int)
        /// At least `threshold` distinct values of `member` among the key's records within the span.
        case distinct(threshold: Int, member: [String])
        /// A `then` record preceded, within the span and since the key's previous `then` record, by at
        /// least `threshold` records of the key.
        case preceded(threshold: Int, then: Feed)
        /// A `then` record following, within the span, a record of the key.
        case followed(then: Feed)
        /// A record whose `member` none of the key's records within the span before it had — when there
        /// is at least one such earlier record (a key seen for the first time has no history to differ from).
        case unseen(member: [String])
    }

    /// The paths the rule's own records are grouped by.
    public var key: [[String]]
    public var measure: Measure
    /// Seconds: how far apart in `eventTime` the records of one alert may be.
    public var span: Int64
    /// What a record counted is ("failed root sign-in"; a plural adds "s"), for the alert's detail.
    public var noun: String

    /// `3 failed sign-ins`, `1 failed sign-in`.
    public func counted(_ count: Int) -> String { "\(count) \(noun)\(count == 1 ? "" : "s")" }

    public init(key: [[String]], measure: Measure, span: Int64, noun: String) {
        self.key = key
        self.measure = measure
        self.span = span
        self.noun = noun
    }

    /// The second feed, if the measure has one.
    public var then: Feed? {
        switch measure {
        case .preceded(_, let then), .followed(let then): then
        case .count, .distinct, .unseen: nil
        }
    }

    /// The path whose distinct values the measure compares, if any.
    public var member: [String]? {
        switch measure {
        case .distinct(_, let member), .unseen(let member): member
        case .count, .preceded, .followed: nil
        }
    }

    /// The threshold, for the measures that have one.
    public var threshold: Int? {
        switch measure {
        case .count(let threshold), .distinct(let threshold, _), .preceded(let threshold, _): threshold
        case .followed, .unseen: nil
        }
    }

    /// The same measure with another threshold (for the measures that have one).
    public func with(threshold: Int) -> Window {
        var copy = self
        switch measure {
        case .count: copy.measure = .count(threshold: threshold)
        case .distinct(_, let member): copy.measure = .distinct(threshold: threshold, member: member)
        case .preceded(_, let then): copy.measure = .preceded(threshold: threshold, then: then)
        case .followed, .unseen: break
        }
        return copy
    }

    /// The key of a record for `role`, as the JSON array of its parts' texts (unambiguous whatever the
    /// values hold); `nil` when a part is missing: the record counts for no key.
    public func key(of record: CloudTrailRecord, role: Role) -> String? {
        var parts: [String] = []
        for path in role == .then ? (then?.key ?? key) : key {
            guard let value = Self.value(at: path, in: record) else { return nil }
            parts.append(value)
        }
        return String(decoding: JSONString.array(parts), as: UTF8.self)
    }

    /// The text at `path`, where a segment `a|b` reads `a`, or `b` when there is no `a` (the built-in
    /// rules' way to say "requestParameters.userName or .roleName").
    public static func value(at path: [String], in record: CloudTrailRecord) -> String? {
        // A field of the field view is read from its slot; others, and values that are not strings, by path.
        if let field = knownFields[path] { return record.string(field) ?? record.text(at: path) }
        guard let last = path.last, last.contains("|") else { return record.text(at: path) }
        for choice in last.split(separator: "|") {
            if let text = record.text(at: path.dropLast() + [String(choice)]) { return text }
        }
        return nil
    }

    private static let knownFields = Dictionary(uniqueKeysWithValues: CloudTrailField.allCases.map { ($0.path, $0) })

    /// What the rule counts, in a line (for `trailscan rules show`).
    public var explanation: String {
        let key = self.key.map { $0.joined(separator: ".") }.joined(separator: " + ")
        let within = "within \(Self.duration(span)) of eventTime"
        switch measure {
        case .count(let threshold):
            return "at least \(threshold) records matching the pattern per \(key) \(within)"
        case .distinct(let threshold, let member):
            return "at least \(threshold) distinct \(member.joined(separator: ".")) among records matching the pattern per \(key) \(within)"
        case .preceded(let threshold, let then):
            return "a record matching the second pattern preceded by at least \(threshold) records matching the pattern, per \(key) (then \(then.key.map { $0.joined(separator: ".") }.joined(separator: " + "))), \(within), since the previous such record"
        case .followed(let then):
            return "a record matching the second pattern per \(then.key.map { $0.joined(separator: ".") }.joined(separator: " + ")) \(within) after a record matching the pattern per \(key)"
        case .unseen(let member):
            return "a record whose \(member.joined(separator: ".")) no record of the same \(key) had in the \(Self.duration(span)) before it (a \(key) with no such records is not judged)"
        }
    }

    /// The parameters a configuration file may set, by name, for `trailscan rules`.
    public var parameters: [(name: String, value: String)] {
        (threshold.map { [("threshold", "\($0)")] } ?? []) + [("window", Self.duration(span))]
    }

    /// `15m`, `1h`, `24h`, `30d`: the largest unit that divides the seconds.
    public static func duration(_ seconds: Int64) -> String {
        if seconds > 0 && seconds % 86_400 == 0 && seconds >= 2 * 86_400 { return "\(seconds / 86_400)d" }
        if seconds > 0 && seconds % 3600 == 0 { return "\(seconds / 3600)h" }
        if seconds > 0 && seconds % 60 == 0 { return "\(seconds / 60)m" }
        return "\(seconds)s"
    }
}
