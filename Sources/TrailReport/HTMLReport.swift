public import TrailScan
internal import TrailMatch
internal import TrailTime

/// `--report FILE.html`: one self-contained page for the meeting a backfill ends in — the scan's scope,
/// a timeline of alerts stacked by severity, an accounts × regions heat map, the top principals and
/// source IPs, and a table per rule (sortable, filterable by account and severity). No request leaves
/// the page when it is opened: the charts are inline SVG and the one script is inline.
///
/// Every value from a log is escaped for HTML (`&`, `<`, `>`, `"`, `'`), and the page is well-formed
/// XML too, so a strict parser reads it. At most `rowsPerRule` alerts of a rule are listed (the counts
/// stay exact), which keeps a report of 100,000 alerts under about 10 MB.
public final class HTMLReport: ScanSink {
    /// What the page says about the scan besides its alerts.
    public struct Scope: Sendable {
        public var sources: [String]
        public var window: String
        public var accounts: [String]
        public var regions: [String]
        public var configuration: String?

        public init(sources: [String], window: String, accounts: [String], regions: [String], configuration: String?) {
            self.sources = sources
            self.window = window
            self.accounts = accounts
            self.regions = regions
            self.configuration = configuration
        }
    }

    /// One alert as a table row shows it.
    private struct Row {
        var timeText: String
        var account: String
        var region: String
        var principal: String
        var sourceIP: String
        var event: String
        var target: String
        var userAgent: String
        var eventID: String
    }

    private struct RuleAlerts {
        var title: String
        var severity: Severity
        var count = 0
        var rows: [Row] = []
    }

    public static let rowsPerRule = 1000
    private var rules: [String: RuleAlerts] = [:]
    private var times: [(Int64, Severity)] = []
    /// Alerts by account, then region.
    private var grid: [String: [String: Int]] = [:]

    public init() {}

    public func finding(_ finding: Finding) {
        var alerts = rules[finding.ruleID] ?? RuleAlerts(title: finding.title, severity: finding.severity)
        alerts.count += 1
        if let time = finding.eventTime { times.append((time, finding.severity)) }
        grid[finding.account ?? "-", default: [:]][finding.region ?? "-", default: 0] += 1
        if alerts.rows.count < Self.rowsPerRule {
            alerts.rows.append(Row(
                timeText: finding.eventTime.map(UTC.iso8601) ?? finding.eventTimeText ?? "-",
                account: finding.account ?? "-", region: finding.region ?? "-",
                principal: finding.principal.display.isEmpty ? "-" : finding.principal.display, sourceIP: finding.sourceIPAddress ?? "-",
                event: "\(finding.eventSource ?? "-") \(finding.eventName ?? "-")" + (finding.detail.map { ": " + $0 } ?? "")
                    + (finding.evidence.map { " — " + $0.text(clock: .utc) } ?? "")
                    + (finding.integrity.flatMap { integrity in
                        integrity.status == .valid ? nil
                            : " — log file integrity \(integrity.status.rawValue.uppercased())" + (integrity.digest.map { " (digest \($0))" } ?? "")
                    } ?? ""),
                target: finding.targets.map { "\($0.field.split(separator: ".").last ?? "") \($0.value)" }.joined(separator: ", "),
                userAgent: finding.userAgent ?? "-", eventID: finding.eventID ?? "-"))
        }
        rules[finding.ruleID] = alerts
    }

    /// The page, from what the sink collected and the run's summary.
    public func render(_ summary: ScanSummary, scope: Scope) -> String {
        var html = """
            <!DOCTYPE html>
            <html xmlns="http://www.w3.org/1999/xhtml" lang="en"><head><meta charset="utf-8"/>
            <title>trailscan report</title>
            <style>
            body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#1d1d1f}h1{font-size:22px}h2{font-size:17px;margin-top:28px}
            table{border-collapse:collapse;margin:8px 0}td,th{border:1px solid #ddd;padding:3px 8px;text-align:left;vertical-align:top}
            th{background:#f4f4f6;cursor:pointer}td.n{text-align:right}.critical{color:#fff;background:#b00020}.high{color:#b00020}
            .medium{color:#a15c00}.low{color:#00718f}.info{color:#666}.muted{color:#777}
            </style></head><body>
            <h1>trailscan report</h1>

            """
        html += section("Scope", table(["", ""], [
            ["sources", scope.sources.joined(separator: ", ")], ["window", scope.window],
            ["accounts", scope.accounts.isEmpty ? "all" : scope.accounts.joined(separator: ", ")],
            ["regions", scope.regions.isEmpty ? "all" : scope.regions.joined(separator: ", ")],
            ["configuration", scope.configuration ?? "none"],
            ["objects", "\(summary.objectsScanned) scanned, \(summary.objectsSkipped) skipped, \(summary.objectsFailed) failed"],
            ["records", "\(summary.records)"],
            ["event time", [summary.firstEventTime, summary.lastEventTime].compactMap { $0.map(UTC.iso8601) }.joined(separator: " to ")],
        ], header: false))
        var totals = "<p><span id=\"total-alerts\" data-count=\"\(summary.alerts)\">\(summary.alerts) alerts</span>"
        for severity in Severity.allCases.reversed() {
            let count = summary.alertsBySeverity[severity] ?? 0
            totals += " · <span class=\"\(severity.name)\" data-severity=\"\(severity.name)\" data-count=\"\(count)\">\(count) \(severity.name)</span>"
        }
        html += totals + "</p>\n"
        if !summary.failures.isEmpty {
            html += section("Failures", table(["source", "cause"], summary.failures.map { [$0.source, $0.cause] }))
        }
        html += section("Alerts over time", timeline())
        html += section("Accounts × regions", heatMap())
        html += section("Top principals", table(["principal", "alerts"], summary.alertsByPrincipal.ranked { $0 }.prefix(10).map { [$0.0, "\($0.1)"] }))
        html += section("Top source IPs", table(["source IP", "alerts"], summary.alertsBySourceIP.ranked { $0 }.prefix(10).map { [$0.0, "\($0.1)"] }))
        html += "<h2>Alerts by rule</h2>\n<p>Filter: account <select id=\"account\"><option value=\"\">all</option>"
        for account in Set(rules.values.flatMap { $0.rows.map(\.account) }).sorted() {
            html += "<option value=\"\(Self.escape(account))\">\(Self.escape(account))</option>"
        }
        html += "</select> severity <select id=\"severity\"><option value=\"\">all</option>"
        for severity in Severity.allCases.reversed() { html += "<option value=\"\(severity.name)\">\(severity.name)</option>" }
        html += "</select> <span class=\"muted\">Click a column to sort.</span></p>\n"
        for (id, alerts) in rules.sorted(by: { ($0.value.severity, $0.value.count, $1.key) > ($1.value.severity, $1.value.count, $0.key) }) {
            html += "<div class=\"rule\" data-rule=\"\(Self.escape(id))\" data-count=\"\(alerts.count)\" data-severity=\"\(alerts.severity.name)\">"
            html += "<h3><span class=\"\(alerts.severity.name)\">\(alerts.severity.name.uppercased())</span> \(Self.escape(alerts.title)) "
            html += "<code>\(Self.escape(id))</code> · \(alerts.count) \(alerts.count == 1 ? "alert" : "alerts")</h3>\n"
            html += table(["time (UTC)", "account", "region", "principal", "source IP", "event", "target", "event ID", "user agent"],
                          alerts.rows.map { [$0.timeText, $0.account, $0.region, $0.principal, $0.sourceIP, $0.event, $0.target, $0.eventID,
                                             String($0.userAgent.prefix(200))] },
                          sortable: true)
            if alerts.count > alerts.rows.count {
                html += "<p class=\"muted\">and \(alerts.count - alerts.rows.count) more (all of them: <code>--format jsonl</code>)</p>\n"
            }
            html += "</div>\n"
        }
        html += "<script>//<![CDATA[\n\(Self.script)\n//]]></script>\n</body></html>\n"
        return html
    }

    // MARK: - Parts

    private func section(_ title: String, _ body: String) -> String { "<h2>\(Self.escape(title))</h2>\n\(body)" }

    /// A table; every cell escaped. Numeric cells are right-aligned.
    private func table(_ headers: [String], _ rows: [[String]], header: Bool = true, sortable: Bool = false) -> String {
        var html = sortable ? "<table class=\"sortable\">" : "<table>"
        if header { html += "<thead><tr>" + headers.map { "<th>\(Self.escape($0))</th>" }.joined() + "</tr></thead>" }
        html += "<tbody>"
        for row in rows {
            html += "<tr>" + row.map { cell in
                cell.allSatisfy(\.isNumber) && !cell.isEmpty ? "<td class=\"n\">\(cell)</td>" : "<td>\(Self.escape(cell))</td>"
            }.joined() + "</tr>"
        }
        return html + "</tbody></table>\n"
    }

    /// Alerts per hour (a span of up to 3 days) or per day, stacked by severity, as inline SVG.
    private func timeline() -> String {
        guard let first = times.map(\.0).min(), let last = times.map(\.0).max() else { return "<p class=\"muted\">No alert has a readable time.</p>\n" }
        let step: Int64 = last - first <= 3 * 86_400 ? 3600 : 86_400
        let start = first - ((first % step) + step) % step
        let buckets = Int((last - start) / step) + 1
        var counts = Array(repeating: Array(repeating: 0, count: Severity.allCases.count), count: buckets)
        for (time, severity) in times { counts[Int((time - start) / step)][severity.rawValue] += 1 }
        let highest = max(1, counts.map { $0.reduce(0, +) }.max() ?? 1)
        let width = max(600, min(1600, buckets * 12)), height = 160
        let bar = Double(width) / Double(buckets)
        let colors = ["#9e9e9e", "#00a3c4", "#e0a100", "#e4572e", "#b00020"]
        var svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(width)\" height=\"\(height + 20)\" role=\"img\" aria-label=\"alerts over time\">"
        for (index, bucket) in counts.enumerated() {
            var y = Double(height)
            for severity in Severity.allCases where bucket[severity.rawValue] > 0 {
                let h = Double(bucket[severity.rawValue]) / Double(highest) * Double(height - 10)
                y -= h
                svg += "<rect x=\"\(Self.fixed(Double(index) * bar))\" y=\"\(Self.fixed(y))\" width=\"\(Self.fixed(max(1, bar - 1)))\" height=\"\(Self.fixed(h))\" fill=\"\(colors[severity.rawValue])\">"
                svg += "<title>\(UTC.iso8601(start + Int64(index) * step)): \(bucket[severity.rawValue]) \(severity.name)</title></rect>"
            }
        }
        svg += "<text x=\"0\" y=\"\(height + 15)\" font-size=\"11\">\(UTC.iso8601(start))</text>"
        svg += "<text x=\"\(width)\" y=\"\(height + 15)\" font-size=\"11\" text-anchor=\"end\">\(UTC.iso8601(start + Int64(buckets) * step))</text></svg>\n"
        return "<p class=\"muted\">per \(step == 3600 ? "hour" : "day"), highest \(highest)</p>\n" + svg
    }

    /// Alerts per account (rows) and region (columns), the cell shaded by its count.
    private func heatMap() -> String {
        let cells = grid
        let regions = Array(Set(cells.values.flatMap(\.keys))).sorted()
        let highest = max(1, cells.values.flatMap(\.values).max() ?? 1)
        var html = "<table><thead><tr><th>account</th>" + regions.map { "<th>\(Self.escape($0))</th>" }.joined() + "</tr></thead><tbody>"
        for account in cells.keys.sorted() {
            html += "<tr><th>\(Self.escape(account))</th>"
            for region in regions {
                let count = cells[account]?[region] ?? 0
                let alpha = count == 0 ? 0 : 0.15 + 0.85 * Double(count) / Double(highest)
                let ink = alpha > 0.5 ? ";color:#fff" : ""
                html += "<td class=\"n\" style=\"background:rgba(176,0,32,\(Self.fixed(alpha)))\(ink)\">\(count == 0 ? "" : "\(count)")</td>"
            }
            html += "</tr>"
        }
        return html + "</tbody></table>\n"
    }

    /// Text for HTML and XML: `&`, `<`, `>`, `"`, `'` as entities, and control characters (not valid in
    /// XML) as visible escapes.
    static func escape(_ text: String) -> String {
        var out = ""
        for scalar in TerminalText.escaped(text).unicodeScalars {
            switch scalar {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    private static func fixed(_ value: Double) -> String {
        let scaled = (value * 10).rounded() / 10
        return scaled == scaled.rounded() ? String(Int(scaled)) : String(scaled)
    }

    /// Sorting by a column, and filtering rule tables by account and severity; no request, no library.
    private static let script = """
        document.querySelectorAll("table.sortable th").forEach(function (th, _) {
          th.addEventListener("click", function () {
            var table = th.closest("table"), index = Array.prototype.indexOf.call(th.parentNode.children, th);
            var body = table.tBodies[0], rows = Array.prototype.slice.call(body.rows);
            var down = th.getAttribute("data-down") !== "1";
            rows.sort(function (a, b) {
              var x = a.cells[index].textContent, y = b.cells[index].textContent;
              return (x === y ? 0 : (x > y ? 1 : -1)) * (down ? 1 : -1);
            });
            rows.forEach(function (row) { body.appendChild(row); });
            th.setAttribute("data-down", down ? "1" : "0");
          });
        });
        function filter() {
          var account = document.getElementById("account").value, severity = document.getElementById("severity").value;
          document.querySelectorAll("div.rule").forEach(function (rule) {
            var shown = 0;
            rule.querySelectorAll("tbody tr").forEach(function (row) {
              var keep = account === "" || row.cells[1].textContent === account;
              row.style.display = keep ? "" : "none";
              if (keep) { shown += 1; }
            });
            rule.style.display = (severity === "" || rule.getAttribute("data-severity") === severity) && shown > 0 ? "" : "none";
          });
        }
        document.getElementById("account").addEventListener("change", filter);
        document.getElementById("severity").addEventListener("change", filter);
        document.body.setAttribute("data-ready", "1");
        """
}

@available(*, unavailable)
extension HTMLReport: Sendable {}
