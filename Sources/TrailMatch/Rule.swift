public import TrailEvents

/// How much an alert matters. Ordered: `info < low < medium < high < critical`.
public enum Severity: Int, Comparable, CaseIterable, Sendable, CustomStringConvertible {
    case info, low, medium, high, critical

    public static func < (lhs: Severity, rhs: Severity) -> Bool { lhs.rawValue < rhs.rawValue }

    public var description: String { "\(name)" }

    public var name: String {
        switch self {
        case .info: "info"
        case .low: "low"
        case .medium: "medium"
        case .high: "high"
        case .critical: "critical"
        }
    }

    public init?(name: String) {
        guard let severity = Severity.allCases.first(where: { $0.name == name.lowercased() }) else { return nil }
        self = severity
    }
}

/// A predicate over one CloudTrail record's fields.
public indirect enum Condition: Sendable, Equatable {
    /// The field is a string equal to one of the values (exact, case-sensitive).
    case equals(CloudTrailField, [String])
    /// The field is a string equal to one of the values, ignoring ASCII case.
    case equalsIgnoringCase(CloudTrailField, [String])
    /// The field is a string that ends with the value.
    case hasSuffix(CloudTrailField, String)
    /// The field is a string that contains the value.
    case contains(CloudTrailField, String)
    /// The field is absent or JSON `null`.
    case isAbsentOrNull(CloudTrailField)
    /// The field is JSON `true` (or the string `"true"`).
    case isTrue(CloudTrailField)
    case all([Condition])
    case any([Condition])
    case not(Condition)
}

/// A single-record detection rule.
public struct Rule: Sendable, Equatable {
    /// Stable identifier, used in alerts, `--enable`/`--disable` and suppressions.
    public var id: String
    public var severity: Severity
    public var title: String
    /// One line saying what the rule flags and why it matters.
    public var description: String
    public var condition: Condition
    /// Whether the rule runs when nothing enables or disables it.
    public var enabledByDefault: Bool

    public init(
        id: String, severity: Severity, title: String, description: String, condition: Condition,
        enabledByDefault: Bool = true
    ) {
        self.id = id
        self.severity = severity
        self.title = title
        self.description = description
        self.condition = condition
        self.enabledByDefault = enabledByDefault
    }
}
