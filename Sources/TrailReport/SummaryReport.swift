internal import TrailTime
internal import TrailJSON
internal import TrailMatch
internal import TrailScan

/// Renders a `ScanSummary`: a two-line digest for stderr, or the full report as text, Markdown or JSON.
///
/// Everything that came from a log or a path (principals, IPs, accounts, sources, causes) is escaped
/// for the format it goes into.
public enum SummaryReport {
    public enum Format: Sendable {
        case text, markdown, json

        /// The format for a `--summary-out` file name: `.json`, `.md`/`.markdown`, anything else text.
        public init(path: String) {
            let lower = path.lowercased()
            if lower.hasSuffix(".json") {
                self = .json
            } else if lower.hasSuffix(".md") || lower.hasSuffix(".markdown") {
                self = .markdown
            } else {
                self = .text
            }
        }
    }

    /// The first ten items, comma-separated, then how many more.
    private static func listed(_ items: [String]) -> String {
        items.prefix(10).joined(separator: ", ") + (items.count > 10 ? ", and \(items.count - 10) more" : "")
    }

    /// How many principals and source IPs the full report lists.
    static let topCount = 10

    /// The short summary printed to stderr at the end of a scan.
    public static func digest(_ s: ScanSummary) -> String {
        var lines = s.interrupted ? "trailscan: interrupted: the counts cover the objects read before it\n" : ""
        lines += "trailscan: \(s.objectsScanned) \(plural(s.objectsScanned, "object")) scanned"
        lines += ", \(s.objectsSkipped) skipped, \(s.objectsFailed) failed"
        if s.objectsAlreadyScanned > 0 { lines += ", \(s.objectsAlreadyScanned) already scanned" }
        if let ignored = ignoredText(s) { lines += "; \(ignored)" }
        lines += "; \(bytes(s.compressedBytes)) read, \(bytes(s.uncompressedBytes)) of JSON"
        if s.listRequests > 0 { lines += "; \(s.listRequests) S3 list \(plural(s.listRequests, "request"))" }
        lines += "; \(s.records) \(plural(s.records, "record"))"
        if let span = span(s) { lines += " (\(span))" }
        if s.recordsWithoutTime > 0 {
            lines += "; \(s.recordsWithoutTime) \(plural(s.recordsWithoutTime, "record")) without a readable eventTime, left out by the time window"
        }
        lines += "\ntrailscan: \(s.alerts) \(plural(s.alerts, "alert"))"
        if s.alerts > 0 {
            let bySeverity = Severity.allCases.reversed().compactMap { severity in
                s.alertsBySeverity[severity].map { "\($0) \(severity.name)" }
            }
            lines += " (" + bySeverity.joined(separator: ", ") + ")"
        }
        if s.alertsSuppressed > 0 { lines += ", \(s.alertsSuppressed) suppressed" }
        let recordsSuppressed = s.recordsSuppressedByRule.values.reduce(0, +)
        if recordsSuppressed > 0 { lines += ", \(recordsSuppressed) \(plural(recordsSuppressed, "record")) suppressed from windowed rules" }
        if s.alertsDuplicate > 0 { lines += ", \(s.alertsDuplicate) already reported" }
        if s.alertsResent > 0 { lines += ", \(s.alertsResent) left unsent by an interrupted run" }
        lines += " in \(seconds(s.elapsedSeconds)), \(mbps(s.throughputMBps))\n"
        if let integrity = integrityText(s) { lines += "trailscan: integrity: \(integrity)\n" }
        for (rule, count) in s.recordsUnjudgedByRule.ranked(by: { $0 }) {
            lines += "trailscan: \(TerminalText.escaped(rule)): \(count) \(plural(count, "record")) could not be judged"
                + (s.unjudgedExample[rule].map { " (first: \(TerminalText.escaped($0)))" } ?? "") + "\n"
        }
        let windows = s.windows
        if windows.late > 0 {
            lines += "trailscan: windowed rules: \(windows.late) \(plural(windows.late, "record")) not counted: delivered more than "
                + "\(Window.duration(windows.lateness)) after their eventTime, or older than an earlier run's watermark (lateness in the configuration)\n"
        }
        if windows.pending > 0, let watermark = windows.watermark {
            lines += "trailscan: windowed rules: \(windows.pending) \(plural(windows.pending, "alert")) end at or after \(UTC.iso8601(watermark)) "
                + "(the newest delivery minus the lateness): a later run decides them\n"
        }
        if s.alerts > 0 {
            // What fired, and where: the rules by severity, then the accounts and regions with alerts.
            lines += "trailscan: rules fired (by severity): " + listed(s.firedRules.map { "\(TerminalText.escaped($0.rule)) \($0.count)" }) + "\n"
            lines += "trailscan: accounts: " + listed(s.alertsByAccount.ranked { $0 }.map { "\(TerminalText.escaped($0.0)) \($0.1)" })
            lines += "; regions: " + listed(s.alertsByRegion.ranked { $0 }.map { "\(TerminalText.escaped($0.0)) \($0.1)" }) + "\n"
        }
        return lines
    }

    public static func render(_ s: ScanSummary, as format: Format) -> String {
        switch format {
        case .text: text(s)
        case .markdown: markdown(s)
        case .json: json(s)
        }
    }

    // MARK: - Text

    private static func text(_ s: ScanSummary) -> String {
        var out = "trailscan scan summary\n\n"
        for (label, value) in overview(s) { out += "\(label.leftAligned(12))\(value)\n" }
        for (title, table) in tables(s) {
            out += "\n\(title)\n"
            for (key, count) in table { out += "  \(String(count).leftAligned(8)) \(TerminalText.escaped(key))\n" }
        }
        if !s.windowedAlerts.isEmpty {
            out += "\nwindowed alerts\n"
            for alert in s.windowedAlerts {
                out += "  \(TerminalText.escaped(alert.ruleID)) at \(alert.eventTime.map(UTC.iso8601) ?? "-"): \(TerminalText.escaped(alert.detail ?? ""))\n"
                    + "    \(TerminalText.escaped(alert.evidence!.text(clock: .utc)))\n"
            }
        }
        if !s.failures.isEmpty {
            out += "\nfailures\n"
            for failure in s.failures {
                out += "  \(TerminalText.escaped(failure.source)): \(TerminalText.escaped(failure.cause))\n"
            }
        }
        return out
    }

    // MARK: - Markdown

    private static func markdown(_ s: ScanSummary) -> String {
        /// Table cell text: terminal-safe, then every ASCII punctuation character backslash-escaped (as
        /// CommonMark allows for all of them), so a log value can neither break the table nor make
        /// emphasis, code, links, images, HTML or autolinks.
        func cell(_ text: String) -> String {
            TerminalText.escaped(text).unicodeScalars.reduce(into: "") { out, scalar in
                if scalar.isASCII, scalar.properties.generalCategory != .uppercaseLetter, scalar.properties.generalCategory != .lowercaseLetter,
                   scalar.properties.generalCategory != .decimalNumber, scalar != " " {
                    out += "\\"
                }
                out.unicodeScalars.append(scalar)
            }
        }
        var out = "# trailscan scan summary\n\n| | |\n|---|---|\n"
        for (label, value) in overview(s) { out += "| \(label) | \(value) |\n" }
        for (title, table) in tables(s) {
            out += "\n## \(title.prefix(1).uppercased() + title.dropFirst())\n\n| count | value |\n|---:|---|\n"
            for (key, count) in table { out += "| \(count) | \(cell(key)) |\n" }
        }
        if !s.windowedAlerts.isEmpty {
            out += "\n## Windowed alerts\n\n| rule | time | detail | evidence |\n|---|---|---|---|\n"
            for alert in s.windowedAlerts {
                out += "| \(cell(alert.ruleID)) | \(alert.eventTime.map(UTC.iso8601) ?? "-") | \(cell(alert.detail ?? "")) | \(cell(alert.evidence!.text(clock: .utc))) |\n"
            }
        }
        if !s.failures.isEmpty {
            out += "\n## Failures\n\n| object | cause |\n|---|---|\n"
            for failure in s.failures { out += "| \(cell(failure.source)) | \(cell(failure.cause)) |\n" }
        }
        return out
    }

    // MARK: - JSON

    private static func json(_ s: ScanSummary) -> String {
        var out: [UInt8] = []
        func raw(_ text: String) { out.append(contentsOf: text.utf8) }
        func string(_ text: String) { JSONString.appendQuoted(text, to: &out) }
        func counts(_ table: [(String, Int)]) {
            raw("{")
            for (index, (key, count)) in table.enumerated() {
                if index > 0 { raw(",") }
                string(key)
                raw(":\(count)")
            }
            raw("}")
        }
        func ranked(_ table: [(String, Int)], _ name: String) {
            raw("[")
            for (index, (key, count)) in table.prefix(topCount).enumerated() {
                if index > 0 { raw(",") }
                var entry = JSONObjectWriter(appendingTo: &out)
                entry.string(name, key)
                if name == "principal", let parts = s.principalParts[key] {
                    entry.string("type", parts.type)
                    entry.string("arn", parts.arn)
                    entry.string("userName", parts.userName)
                }
                entry.raw("count", String(count).utf8)
                entry.finish(into: &out)
            }
            raw("]")
        }
        func list(_ values: [String]) {
            raw("[")
            for (index, value) in values.enumerated() {
                if index > 0 { raw(",") }
                string(value)
            }
            raw("]")
        }
        func time(_ value: Int64?) { if let value { string(UTC.iso8601(value)) } else { raw("null") } }
        raw("{")
        if let context = s.context {
            raw("\"scan\":{\"version\":")
            string(context.version)
            raw(",\"inputs\":")
            list(context.inputs)
            raw(",\"since\":")
            time(context.since)
            raw(",\"until\":")
            time(context.until)
            raw(",\"accounts\":")
            list(context.accounts)
            raw(",\"regions\":")
            list(context.regions)
            raw(",\"configuration\":")
            if let configuration = context.configuration { string(configuration) } else { raw("null") }
            raw(",\"started\":")
            time(context.started)
            raw(",\"ended\":")
            time(context.ended)
            raw("},")
        }
        raw("\"objects\":{\"scanned\":\(s.objectsScanned),\"skipped\":\(s.objectsSkipped),\"failed\":\(s.objectsFailed),\"alreadyScanned\":\(s.objectsAlreadyScanned),\"listRequests\":\(s.listRequests)}")
        raw(",\"bytes\":{\"compressed\":\(s.compressedBytes),\"uncompressed\":\(s.uncompressedBytes)}")
        raw(",\"records\":{\"scanned\":\(s.records),\"filteredOut\":\(s.recordsFilteredOut),\"withoutEventTime\":\(s.recordsWithoutTime)}")
        if !s.objectIntegrity.isEmpty || !s.digestIntegrity.isEmpty {
            func statuses(_ byStatus: [IntegrityStatus: Int]) { counts(IntegrityStatus.allCases.compactMap { status in byStatus[status].map { (status.rawValue, $0) } }) }
            raw(",\"integrity\":{\"logFiles\":")
            statuses(s.objectIntegrity)
            raw(",\"digests\":")
            statuses(s.digestIntegrity)
            raw(",\"missingLogFiles\":\(s.missingLogs),\"objectsUnproven\":\(s.objectsUnproven),\"alertsUnproven\":\(s.alertsUnproven)}")
        }
        raw(",\"ignored\":")
        counts(s.ignored.sorted { $0.key < $1.key }.map { ($0.key.rawValue, $0.value) })
        raw(",\"eventTime\":{\"first\":")
        if let first = s.firstEventTime { string(UTC.iso8601(first)) } else { raw("null") }
        raw(",\"last\":")
        if let last = s.lastEventTime { string(UTC.iso8601(last)) } else { raw("null") }
        raw("},\"alerts\":{\"total\":\(s.alerts),\"byRule\":")
        counts(s.alertsByRule.ranked { $0 })
        raw(",\"bySeverity\":")
        counts(Severity.allCases.reversed().compactMap { severity in s.alertsBySeverity[severity].map { (severity.name, $0) } })
        raw(",\"byAccount\":")
        counts(s.alertsByAccount.ranked { $0 })
        raw(",\"byRegion\":")
        counts(s.alertsByRegion.ranked { $0 })
        raw(",\"topPrincipals\":")
        ranked(s.alertsByPrincipal.ranked { $0 }, "principal")
        raw(",\"topSourceIPs\":")
        ranked(s.alertsBySourceIP.ranked { $0 }, "sourceIPAddress")
        raw(",\"duplicate\":\(s.alertsDuplicate),\"resent\":\(s.alertsResent)")
        raw("},\"suppressed\":{\"total\":\(s.alertsSuppressed),\"byRule\":")
        counts(s.alertsSuppressedByRule.ranked { $0 })
        raw(",\"windowRecordsByRule\":")
        counts(s.recordsSuppressedByRule.ranked { $0 })
        raw("},\"unjudged\":{\"byRule\":")
        counts(s.recordsUnjudgedByRule.ranked { $0 })
        raw(",\"first\":{")
        for (index, (rule, example)) in s.unjudgedExample.sorted(by: { $0.key < $1.key }).enumerated() {
            if index > 0 { raw(",") }
            string(rule)
            raw(":")
            string(example)
        }
        raw("}")
        raw("},\"windows\":{\"counted\":\(s.windows.counted),\"late\":\(s.windows.late),\"pending\":\(s.windows.pending),")
        raw("\"latenessSeconds\":\(s.windows.lateness),\"watermark\":")
        if let watermark = s.windows.watermark { string(UTC.iso8601(watermark)) } else { raw("null") }
        raw(",\"alerts\":[")
        for (index, alert) in s.windowedAlerts.enumerated() {
            if index > 0 { raw(",") }
            var member: [UInt8] = []
            var object = JSONObjectWriter(appendingTo: &member)
            alert.appendCommonMembers(to: &object)
            object.finish(into: &member)
            raw(String(decoding: member, as: UTF8.self))
        }
        raw("]},\"failures\":[")
        for (index, failure) in s.failures.enumerated() {
            if index > 0 { raw(",") }
            raw("{\"source\":")
            string(failure.source)
            raw(",\"cause\":")
            string(failure.cause)
            raw("}")
        }
        raw("],\"interrupted\":\(s.interrupted),\"elapsedSeconds\":\(rounded(s.elapsedSeconds)),\"throughputMBps\":\(rounded(s.throughputMBps))}\n")
        return String(decoding: out, as: UTF8.self)
    }

    // MARK: - Helpers

    /// The headline figures of the full report, as (label, value) rows. Values hold no log text.
    private static func overview(_ s: ScanSummary) -> [(String, String)] {
        var rows: [(String, String)] = []
        if let context = s.context {
            rows.append(("scanned", context.inputs.map { TerminalText.escaped($0) }.joined(separator: ", ")))
            rows.append(("filters", [context.since.map { "since \(UTC.iso8601($0))" }, context.until.map { "until \(UTC.iso8601($0))" },
                                     context.accounts.isEmpty ? nil : "accounts \(context.accounts.joined(separator: ", "))",
                                     context.regions.isEmpty ? nil : "regions \(context.regions.joined(separator: ", "))"]
                .compactMap { $0 }.joined(separator: "; ").nonEmptyOr("none")))
            rows.append(("config", context.configuration.map { TerminalText.escaped($0) } ?? "none"))
            rows.append(("run", "trailscan \(context.version), \(UTC.iso8601(context.started)) to \(UTC.iso8601(context.ended))"))
        }
        return rows + [
            ("objects", "\(s.objectsScanned) scanned, \(s.objectsSkipped) skipped, \(s.objectsFailed) failed"
                + ", \(s.objectsAlreadyScanned) already scanned" + (s.interrupted ? " (interrupted)" : "")),
            ("S3 listing", "\(s.listRequests) requests"),
            ("bytes", "\(bytes(s.compressedBytes)) read (\(s.compressedBytes)), \(bytes(s.uncompressedBytes)) decoded (\(s.uncompressedBytes))"),
            ("records", "\(s.records) scanned, \(s.recordsFilteredOut) outside the filters"
                + (s.recordsWithoutTime > 0 ? " (\(s.recordsWithoutTime) without a readable eventTime)" : "")),
            ("ignored", ignoredText(s) ?? "none"),
            ("event time", span(s) ?? "-"),
            ("elapsed", "\(seconds(s.elapsedSeconds)), \(mbps(s.throughputMBps))"),
            ("alerts", "\(s.alerts)" + (s.alertsResent > 0 ? " (\(s.alertsResent) left unsent by an interrupted run)" : "")),
            ("already reported", "\(s.alertsDuplicate)"),
            ("suppressed", "\(s.alertsSuppressed)"),
        ] + (integrityText(s).map { [("integrity", $0)] } ?? [])
    }

    /// `log files scanned: 6 valid, 1 modified; digests: 28 valid; …` (`scan --verify`), `nil` without it.
    static func integrityText(_ s: ScanSummary) -> String? {
        guard !s.objectIntegrity.isEmpty || !s.digestIntegrity.isEmpty else { return nil }
        func counts(_ byStatus: [IntegrityStatus: Int]) -> String {
            IntegrityStatus.allCases.compactMap { status in byStatus[status].map { "\($0) \(status.rawValue)" } }.joined(separator: ", ")
        }
        var text = "log files scanned: \(counts(s.objectIntegrity).nonEmptyOr("none")); digests: \(counts(s.digestIntegrity).nonEmptyOr("none"))"
        if s.missingLogs > 0 { text += "; \(s.missingLogs) \(plural(s.missingLogs, "log file")) the digests list not found (deleted)" }
        if s.alertsUnproven > 0 { text += "; \(s.alertsUnproven) \(plural(s.alertsUnproven, "alert")) from log files not proven valid" }
        return text
    }

    /// The grouped tables of the full report, each ranked by count.
    private static func tables(_ s: ScanSummary) -> [(String, [(String, Int)])] {
        let severities = Severity.allCases.reversed().compactMap { severity in
            s.alertsBySeverity[severity].map { (severity.name, $0) }
        }
        return [
            ("alerts by rule", s.alertsByRule.ranked { $0 }),
            ("alerts by severity", severities),
            ("alerts by account", s.alertsByAccount.ranked { $0 }),
            ("alerts by region", s.alertsByRegion.ranked { $0 }),
            ("top principals in alerts", Array(s.alertsByPrincipal.ranked { $0 }.prefix(topCount))),
            ("top source IPs in alerts", Array(s.alertsBySourceIP.ranked { $0 }.prefix(topCount))),
            ("suppressed alerts by rule", s.alertsSuppressedByRule.ranked { $0 }),
            ("records rules could not judge, by rule", s.recordsUnjudgedByRule.ranked { $0 }),
        ].filter { !$0.1.isEmpty }
    }

    /// `3 entries ignored (2 not named *.json.gz or *.json, 1 symbolic link to nothing)`, if any.
    private static func ignoredText(_ s: ScanSummary) -> String? {
        let total = s.ignored.values.reduce(0, +)
        guard total > 0 else { return nil }
        let reasons = s.ignored.sorted { $0.key < $1.key }.map { "\($0.value) \($0.key.rawValue)" }
        return "\(total) \(plural(total, "entry", "entries")) ignored (" + reasons.joined(separator: ", ") + ")"
    }

    private static func span(_ s: ScanSummary) -> String? {
        guard let first = s.firstEventTime, let last = s.lastEventTime else { return nil }
        return "\(UTC.iso8601(first)) to \(UTC.iso8601(last))"
    }

    private static func plural(_ count: Int, _ noun: String, _ plural: String? = nil) -> String {
        count == 1 ? noun : plural ?? noun + "s"
    }

    static func bytes(_ count: Int64) -> String {
        let units = ["B", "kB", "MB", "GB", "TB"]
        var value = Double(count)
        var unit = 0
        while value >= 1000 && unit < units.count - 1 {
            value /= 1000
            unit += 1
        }
        return unit == 0 ? "\(count) B" : "\(oneDecimal(value)) \(units[unit])"
    }

    private static func seconds(_ value: Double) -> String { "\(rounded(value, places: 2)) s" }
    private static func mbps(_ value: Double) -> String { "\(oneDecimal(value)) MB/s" }
    private static func oneDecimal(_ value: Double) -> String { "\(rounded(value, places: 1))" }

    private static func rounded(_ value: Double, places: Int = 3) -> Double {
        var scale = 1.0
        for _ in 0..<places { scale *= 10 }
        return (value * scale).rounded() / scale
    }
}

extension String {
    fileprivate func leftAligned(_ width: Int) -> String {
        count >= width ? self : self + String(repeating: " ", count: width - count)
    }
}

extension String {
    fileprivate func nonEmptyOr(_ fallback: String) -> String { isEmpty ? fallback : self }
}
