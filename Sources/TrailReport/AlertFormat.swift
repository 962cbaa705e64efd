public import TrailEvents
public import TrailMatch
internal import TrailJSON

/// Turns one alert — a rule that matched a record — into output bytes.
///
/// Formats run inside the record callback, on the borrowed record, and append to the worker's
/// per-object buffer; nothing about the record is copied unless it is printed.
public protocol AlertFormat: Sendable {
    func append(rule: Rule, record: CloudTrailRecord, source: String, to output: inout [UInt8])
}

/// The principal of a record as reports show it.
struct Principal {
    var type: String?
    var arn: String?
    var userName: String?

    init(_ record: CloudTrailRecord) {
        type = record.string(.userIdentityType)
        arn = record.string(.userIdentityArn)
        userName = record.string(.userIdentityUserName)
    }

    /// `type arn` or `type userName`, whichever parts exist.
    var display: String {
        [type, arn ?? userName].compactMap { $0 }.joined(separator: "  ")
    }
}

/// Whether the record is a console sign-in (the records for which `mfaUsed` is meaningful).
func isConsoleLogin(_ record: CloudTrailRecord) -> Bool {
    "ConsoleLogin".utf8.withContiguousStorageIfAvailable {
        record.field(.eventName, equals: UnsafeRawBufferPointer($0))
    } ?? false
}

// MARK: - JSON Lines

/// One JSON object per alert, one per line, with a fixed set of keys (README, "JSONL schema").
///
/// String fields are copied exactly as they are in the log (still JSON-escaped), the record verbatim;
/// a field that is absent or not a string is `null`.
public struct JSONLinesFormat: AlertFormat {
    public init() {}

    public func append(rule: Rule, record: CloudTrailRecord, source: String, to output: inout [UInt8]) {
        func key(_ name: StaticString) {
            output.append(0x22)
            output.append(contentsOf: UnsafeRawBufferPointer(start: name.utf8Start, count: name.utf8CodeUnitCount))
            output.append(contentsOf: [0x22, 0x3A])  // ":
        }
        func stringField(_ field: CloudTrailField) {
            if let token = record.token(field), token.kind == .string {
                output.append(0x22)
                output.append(contentsOf: UnsafeRawBufferPointer(rebasing: record.bytes[token.range]))
                output.append(0x22)
            } else {
                output.append(contentsOf: "null".utf8)
            }
        }
        output.append(0x7B)
        key("rule"); JSONString.appendQuoted(rule.id, to: &output); output.append(0x2C)
        key("severity"); JSONString.appendQuoted(rule.severity.name, to: &output); output.append(0x2C)
        key("title"); JSONString.appendQuoted(rule.title, to: &output); output.append(0x2C)
        key("eventID"); stringField(.eventID); output.append(0x2C)
        key("eventTime"); stringField(.eventTime); output.append(0x2C)
        key("eventSource"); stringField(.eventSource); output.append(0x2C)
        key("eventName"); stringField(.eventName); output.append(0x2C)
        key("awsRegion"); stringField(.awsRegion); output.append(0x2C)
        key("recipientAccountId"); stringField(.recipientAccountId); output.append(0x2C)
        key("principal"); output.append(0x7B)
        key("type"); stringField(.userIdentityType); output.append(0x2C)
        key("arn"); stringField(.userIdentityArn); output.append(0x2C)
        key("userName"); stringField(.userIdentityUserName)
        output.append(contentsOf: [0x7D, 0x2C])
        key("sourceIPAddress"); stringField(.sourceIPAddress); output.append(0x2C)
        key("userAgent"); stringField(.userAgent); output.append(0x2C)
        key("mfaUsed")
        if isConsoleLogin(record) { stringField(.mfaUsed) } else { output.append(contentsOf: "null".utf8) }
        output.append(0x2C)
        key("source"); JSONString.appendQuoted(source, to: &output); output.append(0x2C)
        key("record"); JSONText.appendMinified(record.bytes, to: &output)
        output.append(contentsOf: [0x7D, 0x0A])
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

    public func append(rule: Rule, record: CloudTrailRecord, source: String, to output: inout [UInt8]) {
        func value(_ field: CloudTrailField) -> String {
            record.string(field).map { TerminalText.escaped($0) } ?? "-"
        }
        let time = record.eventTimeSeconds.map(clock.format) ?? value(.eventTime)
        let label = rule.severity.name.uppercased()
        var text = color ? "\(Self.colors[rule.severity.rawValue])\(label)\u{1B}[0m" : label
        text += "  \(rule.title)  [\(rule.id)]\n"
        text += "  time        \(time)\n"
        let principal = Principal(record).display
        text += "  principal   \(principal.isEmpty ? "-" : TerminalText.escaped(principal))\n"
        text += "  source IP   \(value(.sourceIPAddress))\n"
        text += "  account     \(value(.recipientAccountId))  region \(value(.awsRegion))\n"
        var event = "\(value(.eventSource)) \(value(.eventName))"
        if isConsoleLogin(record) {
            event += "  result \(value(.consoleLoginResult))  MFA \(value(.mfaUsed))"
        }
        if let error = record.string(.errorCode) ?? record.string(.errorMessage) {
            event += "  error \(TerminalText.escaped(error))"
        }
        text += "  event       \(event)\n"
        text += "  user agent  \(value(.userAgent))\n"
        text += "  event ID    \(value(.eventID))\n"
        text += "  object      \(TerminalText.escaped(source))\n\n"
        output.append(contentsOf: text.utf8)
    }

    /// ANSI colours by severity: info dim, low cyan, medium yellow, high bold red, critical white on red.
    private static let colors = ["\u{1B}[2m", "\u{1B}[36m", "\u{1B}[33m", "\u{1B}[1;31m", "\u{1B}[1;97;41m"]
}

// MARK: - Templates

/// One message per alert, rendered from an EventBridge input transformer on the record's envelope: the
/// rule's own template when it has one, else the global one (`--template`). Control and bidirectional
/// characters in the result are escaped (the rest is byte-for-byte what EventBridge would send).
public struct TemplateFormat: AlertFormat {
    public let ruleTemplates: [String: InputTransformer]
    public let global: InputTransformer?

    public init(ruleTemplates: [String: InputTransformer], global: InputTransformer?) {
        self.ruleTemplates = ruleTemplates
        self.global = global
    }

    public func append(rule: Rule, record: CloudTrailRecord, source: String, to output: inout [UInt8]) {
        guard let transformer = ruleTemplates[rule.id] ?? global else { return }
        let message = transformer.render(event: Envelope.event(for: record), ruleID: rule.id)
        output.append(contentsOf: TerminalText.escaped(message, backslashes: false).utf8)
        output.append(0x0A)
    }
}
