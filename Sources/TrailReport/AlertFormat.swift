public import TrailScan
public import TrailJSON
internal import TrailTime
public import TrailMatch

/// Turns findings into output bytes, appended to a buffer.
public protocol AlertFormat: Sendable {
    func append(_ finding: Finding, to output: inout [UInt8])
    /// The findings of one record (one event), in the order the rules matched: one after another,
    /// unless the format shows an event once.
    func append(event findings: [Finding], to output: inout [UInt8])
}

extension AlertFormat {
    public func append(event findings: [Finding], to output: inout [UInt8]) {
        for finding in findings { append(finding, to: &output) }
    }
}

// MARK: - JSON Lines

/// One JSON object per alert, one per line, with a fixed set of keys (README, "JSON Lines schema").
///
/// A field that is absent or not a string is `null`; the record is copied minified (`null` for the alert of
/// a counting rule, which is about many records: its `evidence` lists them).
public struct JSONLinesFormat: AlertFormat {
    public init() {}

    public func append(_ finding: Finding, to output: inout [UInt8]) {
        var object = JSONObjectWriter(appendingTo: &output)
        Self.members(of: finding, into: &object)
        object.finish(into: &output)
        output.append(0x0A)
    }

    /// The members of an alert's line, for objects that hold more (the history's, an aggregate's).
    public static func members(of finding: Finding, into object: inout JSONObjectWriter) {
        finding.appendCommonMembers(to: &object)
        object.string("mfaUsed", finding.mfaUsed)
        object.string("source", finding.object.name)
        if finding.record.isEmpty { object.raw("record", "null".utf8) } else { object.minified("record", finding.record) }
    }
}

// MARK: - Text

/// A readable block per event: every rule the record triggered (highest severity first), then who did
/// what, to what, where and when. Every value from the log is escaped with `TerminalText`.
public struct TextFormat: AlertFormat {
    public let clock: DisplayClock
    public let color: Bool
    /// The terminal's width: lines are cut to it (with "…") on a terminal, never elsewhere.
    public let width: Int?

    public init(clock: DisplayClock, color: Bool, width: Int? = nil) {
        self.clock = clock
        self.color = color
        self.width = width
    }

    public func append(_ finding: Finding, to output: inout [UInt8]) {
        append(event: [finding], to: &output)
    }

    public func append(event findings: [Finding], to output: inout [UInt8]) {
        guard let first = findings.first else { return }
        func value(_ text: String?) -> String { text.map { TerminalText.escaped($0) } ?? "-" }
        var lines: [String] = []
        let rules = findings.enumerated().sorted { ($0.element.severity, $1.offset) > ($1.element.severity, $0.offset) }.map(\.element)
        let labelWidth = rules.map { $0.severity.name.count }.max() ?? 0
        for finding in rules {
            let label = finding.severity.name.uppercased()
            let padded = label + String(repeating: " ", count: labelWidth - label.count)
            let shown = color ? "\(Self.colors[finding.severity.rawValue])\(label)\u{1B}[0m" + String(repeating: " ", count: labelWidth - label.count) : padded
            lines.append("\(shown)  \(TerminalText.escaped(finding.title))  [\(TerminalText.escaped(finding.ruleID))]")
        }
        for finding in rules {
            if let detail = finding.detail { lines.append("  detail      \(TerminalText.escaped(detail))") }
            if let evidence = finding.evidence { lines.append("  evidence    \(TerminalText.escaped(evidence.text(clock: clock)))") }
        }
        let time = first.eventTime.map(clock.format) ?? value(first.eventTimeText)
        lines.append("  time        \(time)")
        let principal = first.principal.display
        lines.append("  principal   \(principal.isEmpty ? "-" : TerminalText.escaped(principal))")
        var seen: Set<String> = []
        let targets = findings.flatMap(\.targets).filter { seen.insert($0.field + "\u{0}" + $0.value).inserted }
        if !targets.isEmpty {
            lines.append("  target      " + targets.map { "\(TerminalText.escaped($0.field.split(separator: ".").last.map(String.init) ?? $0.field)) \(value($0.value))" }
                .joined(separator: ", "))
        }
        lines.append("  source IP   \(value(first.sourceIPAddress))")
        lines.append("  account     \(value(first.account))  region \(value(first.region))")
        var event = "\(value(first.eventSource)) \(value(first.eventName))"
        if first.isConsoleLogin {
            event += "  result \(value(first.loginResult))  MFA \(value(first.mfaUsed))"
        }
        if let error = first.errorCode ?? first.errorMessage {
            event += "  error \(TerminalText.escaped(error))"
        }
        lines.append("  event       \(event)")
        lines.append("  user agent  \(value(first.userAgent))")
        lines.append("  event ID    \(value(first.eventID))")
        lines.append("  object      \(TerminalText.escaped(first.object.name))")
        if let integrity = first.integrity, integrity.status != .valid {
            lines.append("  integrity   \(integrity.status.rawValue.uppercased())"
                + (integrity.digest.map { "  digest \(TerminalText.escaped($0))" } ?? "")
                + (integrity.detail.map { ": \(TerminalText.escaped($0))" } ?? ""))
        }
        var text = ""
        for line in lines { text += (width.map { Self.cut(line, to: $0) } ?? line) + "\n" }
        output.append(contentsOf: (text + "\n").utf8)
    }

    /// A line cut to `width` columns (characters; a colour sequence takes none), ending in "…".
    static func cut(_ line: String, to width: Int) -> String {
        guard width > 1, line.count > width, !line.contains("\u{1B}") else { return line }
        return String(line.prefix(width - 1)) + "…"
    }

    /// ANSI colours by severity: info dim, low cyan, medium yellow, high bold red, critical white on red.
    private static let colors = ["\u{1B}[2m", "\u{1B}[36m", "\u{1B}[33m", "\u{1B}[1;31m", "\u{1B}[1;97;41m"]
}

// MARK: - Templates

/// One message per alert, rendered from an EventBridge input transformer on the record's envelope: the
/// rule's own template when it has one, else the global one (`--template`). Control and bidirectional
/// characters in the result are escaped: as `\x1B`, `\u{202E}` in a string template, as JSON `\u001b`,
/// `\u202e` in a JSON template, whose output stays valid JSON.
public struct TemplateFormat: AlertFormat {
    public let ruleTemplates: [String: InputTransformer]
    public let global: InputTransformer?

    public init(ruleTemplates: [String: InputTransformer], global: InputTransformer?) {
        self.ruleTemplates = ruleTemplates
        self.global = global
    }

    public func append(_ finding: Finding, to output: inout [UInt8]) {
        guard let transformer = ruleTemplates[finding.ruleID] ?? global,
              let record = try? JSONValue(parsing: finding.templateRecord)  // the scan validated it
        else { return }
        let message = transformer.render(event: Envelope.event(for: record), ruleID: finding.ruleID)
        let safe = transformer.isJSONTemplate ? TerminalText.jsonSafe(message) : TerminalText.escaped(message, backslashes: false)
        output.append(contentsOf: safe.utf8)
        output.append(0x0A)
    }
}

// MARK: - Alert history

/// An alert of the history (`trailscan alerts`): its format's output with when it was first found and
/// where it was sent — `first seen` and `sent to` lines in a text block; `firstSeen` (RFC 3339, UTC) and
/// `deliveries` (`{"<destination>": {"status": "delivered", "at", "receipt"} | {"status": "pending",
/// "attempts", "error"}}`) members in a JSON line.
public struct HistoryFormat: Sendable {
    public let format: any AlertFormat
    public let clock: DisplayClock

    public init(format: any AlertFormat, clock: DisplayClock) {
        self.format = format
        self.clock = clock
    }

    public func append(_ finding: Finding, firstSeen: Int64, deliveries: [DeliveryStatus], to output: inout [UInt8]) {
        if format is JSONLinesFormat {
            var object = JSONObjectWriter(appendingTo: &output)
            JSONLinesFormat.members(of: finding, into: &object)
            object.string("firstSeen", UTC.iso8601(firstSeen))
            object.object("deliveries") { destinations in
                for delivery in deliveries {
                    destinations.object(delivery.destination) { status in
                        if let time = delivery.delivered {
                            status.string("status", "delivered")
                            status.string("at", UTC.iso8601(time))
                            status.string("receipt", delivery.receipt)
                        } else {
                            status.string("status", "pending")
                            status.raw("attempts", String(delivery.attempts).utf8)
                            status.string("error", delivery.error)
                        }
                    }
                }
            }
            object.finish(into: &output)
            output.append(0x0A)
            return
        }
        format.append(finding, to: &output)
        if format is TextFormat, output.last == 0x0A {
            output.removeLast()  // the blank line that ends the block
            var text = "  first seen  \(clock.format(firstSeen))\n"
            if !deliveries.isEmpty {
                text += "  sent to     " + deliveries.map { delivery in
                    let name = TerminalText.escaped(delivery.destination)
                    if let time = delivery.delivered { return "\(name) \(clock.format(time))" }
                    return "\(name) pending" + (delivery.attempts > 0 ? " (\(delivery.attempts) failed: \(TerminalText.escaped(delivery.error ?? "")))" : "")
                }.joined(separator: ", ") + "\n"
            }
            output.append(contentsOf: (text + "\n").utf8)
        }
    }
}

/// Where an alert was sent, or waits to be: delivered (when, and what the receiver answered), or
/// pending (failed tries, and what the receiver said the last time).
public struct DeliveryStatus: Sendable, Equatable {
    public var destination: String
    /// Unix seconds, when delivered.
    public var delivered: Int64?
    public var receipt: String?
    public var attempts: Int
    public var error: String?

    public init(destination: String, delivered: Int64? = nil, receipt: String? = nil, attempts: Int = 0, error: String? = nil) {
        self.destination = destination
        self.delivered = delivered
        self.receipt = receipt
        self.attempts = attempts
        self.error = error
    }
}

extension Finding.Evidence {
    /// `5 records from 10:00:01 to 10:07:40 UTC (window 15m): <id>, <id>, … and 3 more` — log values
    /// inside: the caller escapes it for its output.
    public func text(clock: DisplayClock) -> String {
        let ids = eventIDs.joined(separator: ", ") + (count > eventIDs.count ? " and \(count - eventIDs.count) more" : "")
        return "\(count) record\(count == 1 ? "" : "s") from \(clock.format(first)) to \(clock.format(last)) (window \(Window.duration(window))): \(ids)"
    }
}
