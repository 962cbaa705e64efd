import ArgumentParser
import Foundation
import TrailMatch
import TrailReport
import TrailState

/// `trailscan alerts`: the alert history of a state file, each alert once, in the order found.
struct AlertsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "alerts",
        abstract: "List the alerts a state file holds (from scans with --state), each once, in the order they were found.",
        discussion: "It reads the state without locking it, so it can run while a scan does. --since and --until select by eventTime."
    )

    @Option(help: ArgumentHelp("The state file of scheduled scans.", valueName: "file"))
    var state: String

    @OptionGroup var window: TimeWindowOptions

    @Option(name: .customLong("rule"), help: ArgumentHelp("Only this rule id or glob (signin.*); repeatable.", valueName: "id"))
    var rules: [String] = []

    @Option(
        help: ArgumentHelp("Only alerts of at least this severity: info, low, medium, high, critical.", valueName: "level"),
        transform: severityArgument)
    var minSeverity: Severity = .info

    @Option(name: .customLong("account"), help: ArgumentHelp("Only this account (recipientAccountId); repeatable.", valueName: "id"))
    var accounts: [String] = []

    @Option(help: "Format: text (readable blocks) or jsonl (the schema of scan --format jsonl, plus firstSeen).")
    var format: HistoryChoice = .text

    @Option(help: ArgumentHelp("Time zone for times in text: an IANA name, UTC or local.", valueName: "zone"))
    var timezone: String = "UTC"

    enum HistoryChoice: String, ExpressibleByArgument, CaseIterable {
        case text, jsonl
    }

    func run() throws {
        do { try perform() } catch let error as ValidationError { throw usageError(error, of: Self.self) }
    }

    private func perform() throws {
        signal(SIGPIPE, SIG_IGN)
        var query = AlertHistory.Query()
        guard let clock = DisplayClock(timeZone: timezone) else {
            throw ValidationError("--timezone: unknown time zone '\(timezone)' (use an IANA name such as Europe/Paris, UTC, local, or an offset such as +09:00).")
        }
        (query.since, query.until) = try window.bounds(now: Int64(Date().timeIntervalSince1970), zone: clock)
        query.rules = rules
        query.minimumSeverity = minSeverity.rawValue
        query.accounts = accounts
        let output = HistoryFormat(format: format == .jsonl ? JSONLinesFormat() : TextFormat(clock: clock, color: false), clock: clock)
        let history: AlertHistory
        do { history = try AlertHistory(path: state) } catch {
            OutputWriter.standardError.write("trailscan: \(TerminalText.escaped(state)): \(error)\n")
            throw ExitCode(2)
        }
        var buffer: [UInt8] = []
        do {
            try history.forEach(query) { entry in
                output.append(entry.finding, firstSeen: entry.firstSeen, deliveries: entry.deliveries, to: &buffer)
                guard buffer.count >= 1 << 16 else { return true }
                defer { buffer.removeAll(keepingCapacity: true) }
                return OutputWriter.standardOutput.write(buffer)
            }
        } catch {
            OutputWriter.standardError.write("trailscan: \(TerminalText.escaped(state)): \(error)\n")
            throw ExitCode(2)
        }
        OutputWriter.standardOutput.write(buffer)
        try checkStandardOutput()
    }
}
