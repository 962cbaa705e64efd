
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

/// A detection rule: an EventBridge pattern, and for Stage 2 rules a check of the matched record
/// beyond what a pattern can say, or a window over the records it matches.
public struct Rule: Sendable, Equatable {
    /// Stable identifier, used in alerts, `--enable`/`--disable` and suppressions.
    public var id: String
    public var severity: Severity
    public var title: String
    /// One line saying what the rule flags and why it matters.
    public var description: String
    /// The EventBridge pattern the record's envelope must match.
    public var pattern: EventPattern
    /// Whether the rule runs when nothing enables or disables it.
    public var enabledByDefault: Bool
    /// What the action acted on: paths in the record (`["requestParameters", "userName"]`) whose values
    /// an alert shows as its targets, those present in the record.
    public var targets: [[String]]
    /// Stage 2: what the matched record must also satisfy.
    public var check: RecordCheck?
    /// Stage 2: the rule counts or correlates the records its pattern matches over time, and alerts on
    /// what the `Window` measures, not on each record.
    public var window: Window?

    public init(
        id: String, severity: Severity, title: String, description: String, pattern: EventPattern,
        enabledByDefault: Bool = true, targets: [[String]] = [], check: RecordCheck? = nil, window: Window? = nil
    ) {
        self.targets = targets
        self.check = check
        self.window = window
        self.id = id
        self.severity = severity
        self.title = title
        self.description = description
        self.pattern = pattern
        self.enabledByDefault = enabledByDefault
    }
}
