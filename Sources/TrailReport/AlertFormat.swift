public import TrailScan
public import TrailJSON
internal import TrailTime
public import TrailMatch

/// Turns one finding into output bytes, appended to a buffer.
public protocol AlertFormat: Sendable {
    func append(_ finding: Finding, to output: inout [UInt8])
}

// MARK: - JSON Lines

/// One JSON object per alert, one per line, with a fixed set of keys (README, "JSON Lines schema").
///
/// A field that is absent or not a string is `null`; the record is copied minified.
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
        object.minified("record", finding.record)
    }
}

// MARK: - Text

/// A readable block per alert. Every value from the log is escaped with `TerminalText`.
public struct TextFormat: AlertFormat {
    public let clock: DisplayClock
    public let color: Bool

    public init(clock: DisplayClock, color: Bool) {
        self.clock = clock
        self.color = color
    }

    public func append(_ finding: Finding, to output: inout [UInt8]) {
        func value(_ text: String?) -> String { text.map { TerminalText.escaped($0) } ?? "-" }
        let time = finding.eventTime.map(clock.format) ?? value(finding.eventTimeText)
        let label = finding.severity.name.uppercased()
        var text = color ? "\(Self.colors[finding.severity.rawValue])\(label)\u{1B}[0m" : label
        text += "  \(TerminalText.escaped(finding.title))  [\(TerminalText.escaped(finding.ruleID))]\n"
        text += "  time        \(time)\n"
        let principal = finding.principal.display
        text += "  principal   \(principal.isEmpty ? "-" : TerminalText.escaped(principal))\n"
        text += "  source IP   \(value(finding.sourceIPAddress))\n"
        text += "  account     \(value(finding.account))  region \(value(finding.region))\n"
        var event = "\(value(finding.eventSource)) \(value(finding.eventName))"
        if finding.isConsoleLogin {
            event += "  result \(value(finding.loginResult))  MFA \(value(finding.mfaUsed))"
        }
        if let error = finding.errorCode ?? finding.errorMessage {
            event += "  error \(TerminalText.escaped(error))"
        }
        text += "  event       \(event)\n"
        text += "  user agent  \(value(finding.userAgent))\n"
        text += "  event ID    \(value(finding.eventID))\n"
        text += "  object      \(TerminalText.escaped(finding.object.name))\n\n"
        output.append(contentsOf: text.utf8)
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
              let record = try? JSONValue(parsing: finding.record)  // the scan validated it
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
