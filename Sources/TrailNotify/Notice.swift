internal import Crypto
internal import TrailJSON
internal import TrailSigV4
internal import TrailMatch
internal import TrailReport
public import TrailScan

/// One message to one destination: an alert, or — aggregated — the alerts of one rule and account
/// whose `eventTime` falls in one window, every one of them kept (a message shows the first
/// `Notice.listed` and counts the rest; a webhook gets them all).
public struct Notice: Sendable {
    /// In the order found; more than one only when aggregated.
    public var findings: [Finding]
    /// The aggregation window `[start, end)` of `eventTime`, when aggregated.
    public var window: (start: Int64, end: Int64)?
    /// The outbox ids of the alerts (what delivery marks delivered or failed).
    public var ids: [Int64]

    /// How many alerts an aggregated message lists by name (then "and N more").
    public static let listed = 20

    public init(findings: [Finding], window: (start: Int64, end: Int64)? = nil, ids: [Int64] = []) {
        self.findings = findings
        self.window = window
        self.ids = ids
    }

    var first: Finding { findings[0] }
    var isAggregate: Bool { window != nil }

    /// Stable across runs and restarts, so a receiver can drop a repeat (`Idempotency-Key`): a hash of
    /// the rule and eventID — of the rule, account and window for an aggregate — as hex (log text
    /// never goes into a header as it is).
    public var key: String {
        let text: String
        if let window {
            text = "\(first.ruleID)\u{0}\(first.account ?? "")\u{0}\(window.start)\u{0}\(window.end)"
        } else {
            text = "\(first.ruleID)\u{0}\(first.eventID ?? first.eventTimeText ?? "")"
        }
        return SigV4Signer.hex(SHA256.hash(data: Array(text.utf8)))
    }

    /// Groups alerts into notices: one each, or by rule, account and window. With `holdOpen`, the
    /// alerts of a window that has not ended by `now` are left out (a later run sends them whole).
    public static func group(
        _ alerts: [(id: Int64, finding: Finding)], by aggregation: Aggregation, now: Int64, holdOpen: Bool
    ) -> (notices: [Notice], held: Int) {
        guard case .window(let seconds) = aggregation else {
            return (alerts.map { Notice(findings: [$0.finding], ids: [$0.id]) }, 0)
        }
        var order: [String] = []
        var groups: [String: Notice] = [:]
        var held = 0
        for (id, finding) in alerts {
            // An alert without a readable time has no window: it goes alone.
            guard let time = finding.eventTime else {
                order.append("#\(id)")
                groups["#\(id)"] = Notice(findings: [finding], ids: [id])
                continue
            }
            let start = time - ((time % seconds) + seconds) % seconds
            if holdOpen && start + seconds > now {
                held += 1
                continue
            }
            let key = "\(finding.ruleID)\u{0}\(finding.account ?? "")\u{0}\(start)"
            if groups[key] == nil {
                order.append(key)
                groups[key] = Notice(findings: [], window: (start, start + seconds))
            }
            groups[key]!.findings.append(finding)
            groups[key]!.ids.append(id)
        }
        return (order.map { groups[$0]! }, held)
    }
}

/// The readable parts of an alert, shared by every message: each log value passed through `escape`
/// (the message format's escaping) and cut to a length that keeps messages inside receivers' limits.
struct AlertText {
    let clock: DisplayClock
    let escape: (String) -> String

    /// A log value, escaped, at most `limit` characters (cut with "…").
    /// The alert's log file as `scan --verify` found it, when not valid: `MODIFIED: SHA-256 … (digest …)`.
    func integrity(_ finding: Finding) -> String? {
        guard let integrity = finding.integrity, integrity.status != .valid else { return nil }
        return value(integrity.status.rawValue.uppercased() + (integrity.detail.map { ": \($0)" } ?? "")
                     + (integrity.digest.map { " (digest \($0))" } ?? ""), limit: 1000)
    }

    func value(_ text: String?, limit: Int = 300) -> String {
        guard let text else { return "-" }
        return Self.cut(escape(text), to: limit)
    }

    static func cut(_ text: String, to limit: Int) -> String {
        text.count <= limit ? text : String(text.prefix(limit - 1)) + "…"
    }

    /// The event time in the chosen zone, and in UTC when that is another zone.
    func when(_ finding: Finding) -> String {
        guard let time = finding.eventTime else { return value(finding.eventTimeText) }
        let local = clock.format(time)
        return clock.isUTC ? local : "\(local) (\(DisplayClock.utc.format(time)))"
    }

    func who(_ finding: Finding) -> String {
        let principal = finding.principal.display
        return principal.isEmpty ? "-" : value(principal)
    }

    func what(_ finding: Finding) -> String {
        var text = "\(value(finding.eventSource)) \(value(finding.eventName))"
        if finding.isConsoleLogin { text += ", result \(value(finding.loginResult)), MFA \(value(finding.mfaUsed))" }
        if let error = finding.errorCode ?? finding.errorMessage { text += ", error \(value(error))" }
        return text
    }

    /// What the action acted on: `userName bob, policyArn arn:…`; `nil` when the rule names nothing.
    func targets(_ finding: Finding) -> String? {
        guard !finding.targets.isEmpty else { return nil }
        return finding.targets.map { "\($0.field.split(separator: ".").last.map(String.init) ?? $0.field) \(value($0.value))" }
            .joined(separator: ", ")
    }

    func place(_ finding: Finding) -> String {
        "account \(value(finding.account)), region \(value(finding.region))"
    }

    /// `HIGH: Console sign-in without MFA`, with the count when aggregated.
    static func headline(_ notice: Notice) -> String {
        let first = notice.first
        let count = notice.findings.count
        return "\(first.severity.name.uppercased()): \(TerminalText.escaped(first.title))" + (notice.isAggregate && count > 1 ? " (\(count) alerts)" : "")
    }

    /// One line per alert of an aggregate: time, who, source IP.
    func line(_ finding: Finding) -> String {
        "\(when(finding))  \(who(finding))  from \(value(finding.sourceIPAddress))"
    }

    /// The window of an aggregate, in the chosen zone (and UTC).
    func window(_ notice: Notice) -> String {
        guard let window = notice.window else { return "" }
        let local = "\(clock.format(window.start)) to \(clock.format(window.end))"
        return clock.isUTC ? local : "\(local) (\(DisplayClock.utc.format(window.start)) to \(DisplayClock.utc.format(window.end)))"
    }

    /// A windowed alert's evidence, times in the display zone.
    func evidence(_ evidence: Finding.Evidence) -> String { evidence.text(clock: clock) }

    /// The plain-text message (email body, SNS message): every field on its own line.
    func body(_ notice: Notice) -> String {
        let first = notice.first
        var lines = ["\(Self.headline(notice))  [\(TerminalText.escaped(first.ruleID))]", ""]
        if notice.isAggregate {
            lines.append("\(notice.findings.count) alerts in \(place(first)), \(window(notice)):")
            for finding in notice.findings.prefix(Notice.listed) { lines.append("  \(line(finding))") }
            if notice.findings.count > Notice.listed { lines.append("  and \(notice.findings.count - Notice.listed) more") }
            return lines.joined(separator: "\n") + "\n"
        }
        lines.append("Who         \(who(first))")
        lines.append("What        \(what(first))")
        if let targets = targets(first) { lines.append("Target      \(targets)") }
        if let detail = first.detail { lines.append("Detail      \(value(detail))") }
        if let evidence = first.evidence { lines.append("Evidence    \(value(self.evidence(evidence), limit: 1000))") }
        lines.append("Where       \(place(first))")
        lines.append("When        \(when(first))")
        lines.append("Source IP   \(value(first.sourceIPAddress))")
        lines.append("User agent  \(value(first.userAgent))")
        lines.append("Event ID    \(value(first.eventID))")
        lines.append("Object      \(value(first.object.name))")
        if let integrity = integrity(first) { lines.append("Integrity   \(integrity)") }
        return lines.joined(separator: "\n") + "\n"
    }

    /// A destination's own template, rendered for the notice's first alert, with trailscan's time
    /// variables. Log values in it are escaped as in every message; the template's own newlines stay.
    func templated(_ transformer: InputTransformer, _ notice: Notice) -> String? {
        let first = notice.first
        guard let record = try? JSONValue(parsing: first.templateRecord) else { return nil }  // the scan validated it
        var extra: [String: String] = [:]
        if let time = first.eventTime {
            extra["trailscan.event.time"] = clock.format(time)
            extra["trailscan.event.time-utc"] = DisplayClock.utc.format(time)
        }
        let event = Envelope.event(for: record)
        let safe = transformer.isJSONTemplate
            ? TerminalText.jsonSafe(transformer.render(event: event, ruleID: first.ruleID, extra: extra))
            : transformer.render(event: event, ruleID: first.ruleID, extra: extra, escape: escape)
        return notice.isAggregate && notice.findings.count > 1 ? safe + "\n(and \(notice.findings.count - 1) more alerts of this rule and account in the window)" : safe
    }
}
