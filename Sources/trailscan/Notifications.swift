import ArgumentParser
import Foundation
import TrailJSON
import TrailMatch
import TrailNotify
import TrailReport
import TrailS3
import TrailScan

/// The configuration file: `suppress` (alerts that are expected), `notify` (where alerts are sent),
/// `parameters` (the Stage 2 rules' settings, by rule id), and defaults for flags the command line does
/// not give — `timezone`, `minSeverity`, `format`, `color` and `rules` (rule files, relative to the
/// configuration's folder, read before those of `--rules`) — and `lateness` (the windowed rules'). Any other setting is refused, naming it.
struct ConfigurationFile {
    let path: String
    let json: JSONValue
    let timezone: String?
    let destinations: [Destination]
    let minimumSeverity: Severity?
    let format: OutputFormat?
    let color: ColorChoice?
    let ruleFiles: [String]
    /// `lateness`: how long after its eventTime a record may be delivered and still count for the
    /// windowed rules (`WindowEngine.lateness`).
    let lateness: Int64?

    static let settings = ["suppress", "notify", "parameters", "timezone", "minSeverity", "format", "color", "rules", "lateness"]

    /// `--config`, else `$XDG_CONFIG_HOME/trailscan/config.json` or `~/.config/trailscan/config.json`
    /// when it exists, else `nil`.
    static func load(_ flag: String?) throws -> ConfigurationFile? {
        let path: String
        if let flag {
            path = flag
        } else {
            let environment = ProcessInfo.processInfo.environment
            let base = environment["XDG_CONFIG_HOME"].map { $0 + "/trailscan" } ?? environment["HOME"].map { $0 + "/.config/trailscan" }
            guard let base, FileManager.default.fileExists(atPath: base + "/config.json") else { return nil }
            path = base + "/config.json"
        }
        let json = try readJSON(path, flag: "--config")
        guard case .object(let members) = json else { throw ValidationError("--config: \(path): the configuration must be a JSON object") }
        for (key, _) in members where !settings.contains(key) {
            throw ValidationError("--config: \(path): at \(key): unknown setting (known: \(settings.joined(separator: ", ")))")
        }
        func string(_ key: String, _ known: [String]? = nil) throws -> String? {
            switch json[key] {
            case nil: return nil
            case .string(let text)? where known.map { $0.contains(text) } ?? true: return text
            default:
                throw ValidationError("--config: \(path): at \(key): must be " + (known.map { "one of " + $0.joined(separator: ", ") } ?? "a string"))
            }
        }
        let severities = Severity.allCases.map(\.name)
        var rules: [String] = []
        if let list = json["rules"] {
            guard case .array(let items) = list, let files = Optional(items.compactMap { item -> String? in
                if case .string(let file) = item { file } else { nil }
            }), files.count == items.count else { throw ValidationError("--config: \(path): at rules: must be an array of rule files") }
            let folder = path.contains("/") ? String(path[..<path.lastIndex(of: "/")!]) : "."
            rules = files.map { $0.hasPrefix("/") ? $0 : folder + "/" + $0 }
        }
        do {
            return ConfigurationFile(
                path: path, json: json, timezone: try string("timezone"), destinations: try Destination.all(configuration: json),
                minimumSeverity: try string("minSeverity", severities).flatMap(Severity.init(name:)),
                format: try string("format", OutputFormat.allCases.map(\.rawValue)).flatMap(OutputFormat.init(rawValue:)),
                color: try string("color", ColorChoice.allCases.map(\.rawValue)).flatMap(ColorChoice.init(rawValue:)), ruleFiles: rules,
                lateness: try string("lateness").map { text in
                    guard let seconds = TimeArgument.seconds(age: text), seconds > 0 else {
                        throw ValidationError("--config: \(path): at lateness: '\(text)' is not a duration such as 30m, 1h or 2d")
                    }
                    return seconds
                })
        } catch let error as PatternError {
            throw ValidationError("--config: \(path): \(error)")
        }
    }

    /// `rules` with the configuration's `parameters` applied:
    ///
    ///     "parameters": {"iam.role.external-trust": {"trustedAccounts": ["444455556666"]},
    ///                    "signin.brute-force.ip": {"threshold": 50, "window": "30m"}}
    func parameterized(_ rules: [Rule]) throws -> [Rule] {
        guard let parameters = json["parameters"] else { return rules }
        func fail(_ at: String, _ reason: String) -> ValidationError { ValidationError("--config: \(path): at parameters\(at): \(reason)") }
        guard case .object(let byRule) = parameters else { throw fail("", "must be an object of rule ids") }
        var rules = rules
        for (id, settings) in byRule {
            guard let index = rules.firstIndex(where: { $0.id == id }) else { throw fail(".\(id)", "unknown rule id") }
            guard case .object(let members) = settings else { throw fail(".\(id)", "must be an object of parameters") }
            for (name, value) in members {
                switch (rules[index].check, rules[index].window, name) {
                case (_, let window?, "threshold") where window.threshold != nil:
                    guard case .number(let text, _) = value, let threshold = Int(text), threshold >= 1, threshold <= 1_000_000 else {
                        throw fail(".\(id).\(name)", "must be a whole number from 1 to 1000000")
                    }
                    rules[index].window = window.with(threshold: threshold)
                case (_, var window?, "window"):
                    guard case .string(let text) = value, let seconds = TimeArgument.seconds(age: text), seconds > 0, seconds <= 366 * 86_400 else {
                        throw fail(".\(id).\(name)", "must be a duration from 1s to 366d, such as 15m, 1h or 30d")
                    }
                    window.span = seconds
                    rules[index].window = window
                case (.externalTrust?, _, "trustedAccounts"):
                    guard case .array(let items) = value else { throw fail(".\(id).\(name)", "must be a list of 12-digit account ids") }
                    var accounts: Set<String> = []
                    for item in items {
                        guard case .string(let account) = item, account.utf8.count == 12, account.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else {
                            throw fail(".\(id).\(name)", "must be a list of 12-digit account ids")
                        }
                        accounts.insert(account)
                    }
                    rules[index].check = .externalTrust(trusted: accounts)
                default:
                    let known = (rules[index].check?.parameters ?? []).map(\.name) + (rules[index].window?.parameters ?? []).map(\.name)
                    throw fail(".\(id).\(name)", known.isEmpty ? "rule \(id) takes no parameters" : "unknown parameter (known: \(known.joined(separator: ", ")))")
                }
            }
        }
        return rules
    }

    func suppressions(knownRules: Set<String>) throws -> Suppressions {
        let suppressions: Suppressions
        do { suppressions = try Suppressions(configuration: json) } catch {
            throw ValidationError("--config: \(path): \(error)")
        }
        if let unknown = suppressions.ruleIDs.subtracting(knownRules).sorted().first {
            throw ValidationError("--config: \(path): suppression for unknown rule id '\(unknown)'")
        }
        return suppressions
    }
}

/// The notifications of one run: the destinations chosen (`--notify`, `--no-notify`) and the notifier
/// that sends to them.
struct Notifications {
    let destinations: [Destination]
    private let clock: DisplayClock
    private let aggregation: Aggregation
    private let credentials: CredentialProvider?

    init(
        destinations all: [Destination], chosen: [String], disabled: Bool, clock: DisplayClock, aggregation: Aggregation, profile: String?,
        region: String?, configPath: String?
    ) throws {
        if let unknown = chosen.first(where: { name in !all.contains { $0.name == name } }) {
            let known = all.map(\.name).joined(separator: ", ")
            throw ValidationError("no notification destination '\(unknown)' in \(configPath ?? "the configuration") (\(known.isEmpty ? "it has none" : "known: \(known)")).")
        }
        destinations = disabled ? [] : chosen.isEmpty ? all : all.filter { chosen.contains($0.name) }
        let needsAWS = destinations.contains { if case .sns = $0.kind { true } else { false } }
        let environment = ProcessInfo.processInfo.environment
        let credentials = needsAWS
            ? CredentialProvider(profile: profile, region: region ?? environment["AWS_REGION"] ?? environment["AWS_DEFAULT_REGION"] ?? "us-east-1")
            : nil
        self.clock = clock
        self.aggregation = aggregation
        self.credentials = credentials
    }

    /// The destinations that take `finding` (the state queues it for each).
    func route(_ finding: Finding) -> [String] {
        destinations.filter { $0.accepts(finding) }.map(\.name)
    }

    var isEmpty: Bool { destinations.isEmpty }

    /// Sends what waits in `outbox`, and says on stderr what could not be delivered (and, unless `quiet`,
    /// what was). Returns `false` when something could not be delivered.
    ///
    /// - Parameter pendingStays: the outbox is the state's: what is not delivered is sent by a later run,
    ///   and an aggregation window still open waits for it.
    func deliver(from outbox: NotificationOutbox, pendingStays: Bool, quiet: Bool, accepted: @escaping () -> Void = {}) -> Bool {
        let notifier = Notifier(
            destinations: destinations, clock: clock, aggregation: aggregation, credentials: credentials, holdOpenWindows: pendingStays,
            accepted: accepted)
        let reports: [DeliveryReport]
        do { reports = try notifier.deliver(from: outbox, now: Int64(Date().timeIntervalSince1970)) } catch {
            OutputWriter.standardError.write("trailscan: notifications: \(TerminalText.escaped("\(error)"))\n")
            return false
        }
        var complete = true
        for report in reports where report.delivered > 0 || report.pending > 0 {
            var line = "trailscan: notify \(TerminalText.escaped(report.destination)): \(report.delivered) \(report.delivered == 1 ? "alert" : "alerts") delivered"
                + (report.messages == 1 && report.receipt != nil ? " (\(TerminalText.escaped(report.receipt!)))" : "")
            if report.messages != report.delivered { line += " in \(report.messages) \(report.messages == 1 ? "message" : "messages")" }
            if report.undelivered > 0 {
                complete = false
                line += "; \(report.undelivered) not delivered: \(TerminalText.escaped(report.reason ?? "unknown"))"
                line += pendingStays ? " (they stay pending for the next run)" : ""
            }
            if report.held > 0 { line += "; \(report.held) held until their aggregation window closes" }
            if report.undelivered > 0 || !quiet { OutputWriter.standardError.write(line + "\n") }
        }
        return complete
    }
}
