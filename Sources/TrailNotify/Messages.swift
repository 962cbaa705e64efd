internal import Foundation
internal import TrailJSON
public import TrailMatch
public import TrailReport
internal import TrailScan
internal import TrailTime

/// What each kind of receiver gets for a notice. Every log value is escaped for the format it goes into:
/// mrkdwn for Slack, JSON for webhooks, plain text without control characters for SNS and email.
public enum Messages {
    // MARK: - Slack

    /// A Slack incoming-webhook body: Block Kit blocks (a header with severity and title; who, what and
    /// its target, where, when in the chosen zone and UTC, source IP, event ID; the user agent and rule
    /// below) and a plain `text` fallback for notifications. Inside Slack's limits: 50 blocks, 150
    /// characters in a header, 2,000 in a field, 3,000 in a text, cut with "…".
    public static func slack(_ notice: Notice, clock: DisplayClock, template: InputTransformer?) -> [UInt8] {
        let text = AlertText(clock: clock, escape: mrkdwn)
        let first = notice.first
        var blocks: [JSONValue] = [
            .object([("type", .string("header")), ("text", plainText(AlertText.cut(AlertText.headline(notice), to: 150)))]),
        ]
        let fallback: String
        if let template, let rendered = text.templated(template, notice) {
            blocks.append(section(text: rendered))
            fallback = rendered
        } else if notice.isAggregate {
            var lines = ["*\(notice.findings.count) alerts* in \(text.place(first)), \(text.window(notice))"]
            for finding in notice.findings.prefix(Notice.listed) { lines.append("• \(text.line(finding))") }
            if notice.findings.count > Notice.listed { lines.append("and \(notice.findings.count - Notice.listed) more") }
            blocks.append(section(text: lines.joined(separator: "\n")))
            blocks.append(context("rule `\(mrkdwn(first.ruleID))`"))
            fallback = "\(mrkdwn(AlertText.headline(notice))): " + lines[0]
        } else {
            var fields = [("Who", text.who(first)), ("What", text.what(first))]
            if let targets = text.targets(first) { fields.append(("Target", targets)) }
            if let detail = first.detail { fields.append(("Detail", text.value(detail))) }
            if let evidence = first.evidence { fields.append(("Evidence", text.value(text.evidence(evidence), limit: 1000))) }
            fields += [("Where", text.place(first)), ("When", text.when(first)), ("Source IP", text.value(first.sourceIPAddress)),
                       ("Event ID", text.value(first.eventID))]
            if let integrity = text.integrity(first) { fields.append(("Integrity of its log file", integrity)) }
            blocks.append(.object([
                ("type", .string("section")),
                ("fields", .array(fields.map { mrkdwnText(AlertText.cut("*\($0.0)*\n\($0.1)", to: 2000)) })),
            ]))
            blocks.append(context("User agent: \(text.value(first.userAgent)) · rule `\(mrkdwn(first.ruleID))`"))
            fallback = "\(mrkdwn(AlertText.headline(notice))): \(text.who(first)) — \(text.what(first)) — \(text.when(first))"
        }
        let body = JSONValue.object([("text", .string(AlertText.cut(fallback, to: 3000))), ("blocks", .array(Array(blocks.prefix(50))))])
        return Array(body.serialized.utf8)
    }

    /// Log text for mrkdwn: control and bidirectional characters shown escaped; `&`, `<`, `>` as the
    /// entities Slack decodes (so no `<!channel>`, mention or link can come from a log); and a zero-width
    /// space before `*`, `_`, `~` and `` ` `` so a log value cannot bold, italicize, strike or quote.
    static func mrkdwn(_ text: String) -> String {
        var out = ""
        for character in TerminalText.escaped(text) {
            switch character {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "*", "_", "~", "`": out += "\u{200B}\(character)"
            default: out.append(character)
            }
        }
        return out
    }

    private static func plainText(_ text: String) -> JSONValue {
        .object([("type", .string("plain_text")), ("text", .string(text)), ("emoji", .bool(false))])
    }

    /// mrkdwn that Slack does not auto-link (`verbatim`): no URL or channel name in a log becomes a link.
    private static func mrkdwnText(_ text: String) -> JSONValue {
        .object([("type", .string("mrkdwn")), ("text", .string(text)), ("verbatim", .bool(true))])
    }

    private static func section(text: String) -> JSONValue {
        .object([("type", .string("section")), ("text", mrkdwnText(AlertText.cut(text, to: 3000)))])
    }

    private static func context(_ text: String) -> JSONValue {
        .object([("type", .string("context")), ("elements", .array([mrkdwnText(AlertText.cut(text, to: 2000))]))])
    }

    // MARK: - Webhook

    /// A webhook body: the alert as `scan --format jsonl` writes it; an aggregate as
    /// `{"rule", "severity", "title", "account", "windowStart", "windowEnd", "count", "alerts": [...]}` with
    /// every alert; a destination's JSON template as it renders.
    public static func webhook(_ notice: Notice, clock: DisplayClock, template: InputTransformer?) -> (body: [UInt8], contentType: String) {
        let text = AlertText(clock: clock, escape: { TerminalText.escaped($0) })
        if let template, let rendered = text.templated(template, notice) {
            return (Array(rendered.utf8), template.isJSONTemplate ? "application/json" : "text/plain; charset=utf-8")
        }
        var out: [UInt8] = []
        var object = JSONObjectWriter(appendingTo: &out)
        guard let window = notice.window else {
            JSONLinesFormat.members(of: notice.first, into: &object)
            object.finish(into: &out)
            return (out, "application/json")
        }
        let first = notice.first
        object.string("rule", first.ruleID)
        object.string("severity", first.severity.name)
        object.string("title", first.title)
        object.string("account", first.account)
        object.string("windowStart", UTC.iso8601(window.start))
        object.string("windowEnd", UTC.iso8601(window.end))
        object.raw("count", String(notice.findings.count).utf8)
        object.objects("alerts", notice.findings) { alert, finding in JSONLinesFormat.members(of: finding, into: &alert) }
        object.finish(into: &out)
        return (out, "application/json")
    }

    // MARK: - SNS and email

    /// An SNS subject: what email subscribers see as theirs. SNS takes printable ASCII only, under 100
    /// characters, so anything else is replaced by `?` and the subject is cut.
    public static func snsSubject(_ notice: Notice) -> String {
        let first = notice.first
        let text = "[\(first.severity.name.uppercased())] \(first.title)" + (notice.isAggregate && notice.findings.count > 1 ? " x\(notice.findings.count)" : "")
            + (first.account.map { " (\($0))" } ?? "")
        let ascii = String(text.unicodeScalars.map { $0.value >= 0x20 && $0.value < 0x7F ? Character($0) : "?" })
        return ascii.count <= 99 ? ascii : String(ascii.prefix(98)) + "~"
    }

    /// The plain-text message of SNS and the body of an email.
    public static func text(_ notice: Notice, clock: DisplayClock, template: InputTransformer?) -> String {
        let text = AlertText(clock: clock, escape: { TerminalText.escaped($0) })
        if let template, let rendered = text.templated(template, notice) { return rendered }
        return text.body(notice)
    }

    /// An email, CRLF line ends: a UTF-8 subject as RFC 2047 encoded words (folded, so no header line
    /// is long and none can be added from log data), and the text body in base64.
    public static func email(_ notice: Notice, clock: DisplayClock, template: InputTransformer?, from: String, to: [String], now: Int64) -> [UInt8] {
        let subject = "[trailscan] " + AlertText.headline(notice) + (notice.first.account.map { " (\($0))" } ?? "")
        let date = Date(timeIntervalSince1970: TimeInterval(now))
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss '+0000'"
        var headers = [
            "From: <\(from)>",
            "To: " + to.map { "<\($0)>" }.joined(separator: ", "),
            "Subject: " + encodedWords(subject),
            "Date: \(formatter.string(from: date))",
            "Message-ID: <\(notice.key.prefix(32)).\(now)@trailscan>",
            "MIME-Version: 1.0",
            "Content-Type: text/plain; charset=utf-8",
            "Content-Transfer-Encoding: base64",
        ]
        headers.append("")
        let body = Data(text(notice, clock: clock, template: template).replacingOccurrences(of: "\n", with: "\r\n").utf8)
            .base64EncodedString(options: [.lineLength76Characters, .endLineWithCarriageReturn, .endLineWithLineFeed])
        return Array((headers.joined(separator: "\r\n") + "\r\n" + body + "\r\n").utf8)
    }

    /// `text` as RFC 2047 encoded words (`=?UTF-8?B?…?=`), each at most 75 characters, folded onto
    /// continuation lines; plain ASCII without control characters stays as it is when it is short.
    static func encodedWords(_ text: String) -> String {
        if text.utf8.count <= 66, text.utf8.allSatisfy({ $0 >= 0x20 && $0 < 0x7F }) { return text }
        var words: [String] = []
        var chunk: [UInt8] = []
        for character in text {
            let bytes = Array(String(character).utf8)
            // 45 bytes of UTF-8 are 60 characters of base64: with "=?UTF-8?B?" and "?=", 72.
            if chunk.count + bytes.count > 45 {
                words.append("=?UTF-8?B?\(Data(chunk).base64EncodedString())?=")
                chunk = []
            }
            chunk += bytes
        }
        if !chunk.isEmpty { words.append("=?UTF-8?B?\(Data(chunk).base64EncodedString())?=") }
        return words.joined(separator: "\r\n ")
    }
}
