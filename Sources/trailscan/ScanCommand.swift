import ArgumentParser
import Foundation
import Synchronization
import TrailDigest
import TrailEvents
import TrailGzip
import TrailMatch
import TrailNotify
import TrailReport
import TrailS3
import TrailScan
import TrailState
import TrailWindow

enum OutputFormat: String, ExpressibleByArgument, CaseIterable {
    case text, jsonl, template
}

enum ColorChoice: String, ExpressibleByArgument, CaseIterable {
    case auto, always, never
}

enum SortOrder: String, ExpressibleByArgument, CaseIterable {
    case listing, time
}

struct ScanCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "scan",
        abstract: "Scan CloudTrail log files and folders (.json.gz or .json) and report alerts.",
        discussion: """
            Folders are searched recursively for *.json.gz and *.json; CloudTrail-Digest/ and \
            CloudTrail-Insight/ folders are skipped. Use - to read one object from standard input.

            Alerts go to standard output; failures (one line per object) and the summary go to \
            standard error.
            """
    )

    @Argument(help: ArgumentHelp("Files and folders to scan; - for standard input.", valueName: "path"), completion: .file())
    var paths: [String] = []

    @Option(help: "Alert format: text (readable blocks, the default), jsonl (one JSON object per alert), or template (one message per alert from an EventBridge input transformer).")
    var format: OutputFormat?

    @Option(help: ArgumentHelp("An EventBridge input transformer ({\"InputPathsMap\", \"InputTemplate\"}) for --format template; a rule's own template wins.", valueName: "file"))
    var template: String?

    @OptionGroup var ruleOptions: RuleOptions

    @Option(help: ArgumentHelp("Configuration file: suppressions, notification destinations, time zone (default: $XDG_CONFIG_HOME/trailscan/config.json or ~/.config/trailscan/config.json, if it exists).", valueName: "file"))
    var config: String?

    @Option(help: ArgumentHelp("Time zone for times in text alerts and messages: an IANA name, UTC or local (default: the configuration's timezone, else UTC).", valueName: "zone"))
    var timezone: String?

    @Flag(help: "Read no configuration file, not even the default one.")
    var noConfig = false

    @Option(name: .customLong("notify"), help: ArgumentHelp("Send alerts to this destination of the configuration (repeatable; default: all of them).", valueName: "name"))
    var notify: [String] = []

    @Flag(help: "Send no notifications, whatever the configuration says.")
    var noNotify = false

    @Option(help: ArgumentHelp("Group notifications: none, 5m or 12h (alerts of one rule and account in one window of eventTime become one message naming each).", valueName: "window"))
    var aggregate: String = "none"

    @Option(help: "Colour severities in text alerts: auto (the default: on a terminal, unless NO_COLOR is set), always, never.")
    var color: ColorChoice?

    @Option(help: "Order of the alerts: listing (as objects are read, streamed) or time (all of them by eventTime, at the end).")
    var sort: SortOrder = .listing

    @OptionGroup var window: TimeWindowOptions

    @Option(name: .customLong("account"), help: ArgumentHelp("Only this account (recipientAccountId); repeatable.", valueName: "id"))
    var accounts: [String] = []

    @Option(name: .customLong("region"), help: ArgumentHelp("Only this region (awsRegion); repeatable.", valueName: "name"))
    var regions: [String] = []

    @Option(name: [.customShort("j"), .long], help: "Objects scanned in parallel (default: the number of cores).")
    var jobs: Int?

    @Option(help: ArgumentHelp("Largest decoded size of one object; bigger ones fail as possible gzip bombs.", valueName: "size"))
    var maxObjectSize: String = "4G"

    @Option(help: ArgumentHelp("Largest single record; bounds memory per worker.", valueName: "size"))
    var maxRecordSize: String = "64M"

    @Option(help: ArgumentHelp("Most S3 objects fetched at once (each by a worker with its own decoder); below it, the number adapts to latency.", valueName: "n"))
    var maxFetches = 64

    @OptionGroup var s3Options: S3Options

    @Flag(help: "Print the objects that would be scanned (after the account, region and date filters), and stop.")
    var listOnly = false

    @Flag(help: "Also scan CloudTrail-Insight/ folders.")
    var includeInsights = false

    @Flag(name: [.customShort("q"), .long], help: "Do not print the summary on standard error.")
    var quiet = false

    @Flag(help: "Exit 0 when no object matched the paths and filters (else that is exit 2: a mistyped filter looks like a clean result).")
    var allowEmpty = false

    @Option(help: ArgumentHelp("Write the full summary to this file: .json, .md, or text.", valueName: "file"))
    var summaryOut: String?

    @Option(help: ArgumentHelp("Write a self-contained HTML report (scope, timeline, accounts × regions, top principals, a table per rule).", valueName: "file.html"))
    var report: String?

    @Option(help: ArgumentHelp("State file of scheduled scans (SQLite): scan only objects not scanned before, report each alert once across runs.", valueName: "file"))
    var state: String?

    @Option(help: ArgumentHelp("With --state: how far before the last complete listing each run lists again, to catch late deliveries (90m, 12h, 2d).", valueName: "age"))
    var lookback: String = "2d"

    @Flag(help: "Check the log files against the trail's digest files as they are scanned (read once, hashed while inflated): mark each alert with its file's integrity, report files modified, deleted or not covered; exit 3 on an integrity failure.")
    var verify = false

    @Flag(help: "With --verify: report nothing from a log file the digests do not prove valid; its alerts become a failure line (a file not digested yet is held back: with --state, a later run reports it once its digest has arrived).")
    var requireValid = false

    @OptionGroup var keyOptions: PublicKeyOptions

    func validate() throws {
        guard !paths.isEmpty else {
            throw ValidationError("Give at least one file or folder to scan, e.g. 'trailscan scan sample-logs'.")
        }
        if let first = paths.first, access(first, F_OK) != 0,
           let command = TrailScanCommand.configuration.subcommands.compactMap({ $0.configuration.commandName }).first(where: { Self.isNearMiss(first, $0) }) {
            throw ValidationError("unknown subcommand '\(first)' (did you mean '\(command)'?); to scan a path of that name, write ./\(first).")
        }
        for path in paths { try Self.checkLocation(path) }
        if let jobs, !(1...256).contains(jobs) { throw ValidationError("--jobs must be between 1 and 256.") }
        if let account = accounts.first(where: { $0.count != 12 || !$0.allSatisfy { $0.isASCII && $0.isNumber } }) {
            throw ValidationError("--account: '\(account)' is not an AWS account id (12 digits).")
        }
        if let region = regions.first(where: { !Self.isRegionName($0) }) {
            throw ValidationError("--region: '\(region)' is not an AWS region name (such as us-east-1 or eu-west-1).")
        }
        guard (1...256).contains(maxFetches) else { throw ValidationError("--max-fetches must be between 1 and 256.") }
        guard let age = TimeArgument.seconds(age: lookback), age > 0 else {
            throw ValidationError("--lookback: '\(lookback)' is not a length of time such as 90m, 12h or 2d.")
        }
        if state != nil && listOnly { throw ValidationError("--state cannot be used with --list-only.") }
        if state != nil && sort == .time {
            throw ValidationError("--sort time cannot be used with --state: a scheduled run writes each object's alerts as soon as the state has them.")
        }
        guard Aggregation(aggregate) != nil else { throw ValidationError("--aggregate: '\(aggregate)' is not none, 5m or 12h.") }
        if noNotify && !notify.isEmpty { throw ValidationError("--notify and --no-notify exclude each other.") }
        if noConfig && config != nil { throw ValidationError("--config and --no-config exclude each other.") }
        if state != nil && paths.contains("-") { throw ValidationError("--state: standard input (-) cannot be scanned incrementally; name files or folders.") }
        if requireValid && !verify { throw ValidationError("--require-valid is used with --verify.") }
        if verify && paths.contains("-") { throw ValidationError("--verify: standard input (-) has no digests; name folders or s3:// prefixes in the CloudTrail layout.") }
        if verify && listOnly { throw ValidationError("--verify cannot be used with --list-only.") }
        if !verify && (keyOptions.publicKeys != nil || keyOptions.cloudtrailEndpointURL != nil) {
            throw ValidationError("--public-keys and --cloudtrail-endpoint-url are used with --verify.")
        }
    }

    /// The scan settings derived from the flags (rule files and configuration read once) and the format
    /// of the alerts, or the usage error that explains the first bad one. Thrown from `run()`, a
    /// `ValidationError` still prints the usage and exits with 64.
    private func settings() throws -> (ScanConfiguration, any AlertFormat, Notifications, configurationPath: String?, windows: WindowEngine) {
        let file = noConfig ? nil : try ConfigurationFile.load(config)
        let zone = timezone ?? file?.timezone ?? "UTC"
        guard let clock = DisplayClock(timeZone: zone) else {
            throw ValidationError("\(timezone == nil ? "\(file!.path): timezone" : "--timezone"): unknown time zone '\(zone)' (use an IANA name such as Europe/Paris, UTC, local, or an offset such as +09:00).")
        }
        let (since, until) = try window.bounds(now: Int64(Date().timeIntervalSince1970), zone: clock)
        guard let maxObject = SizeArgument.parse(maxObjectSize) else {
            throw ValidationError("--max-object-size: '\(maxObjectSize)' is not a size (e.g. 4G, 512M).")
        }
        guard let maxRecord = SizeArgument.parse(maxRecordSize), maxRecord >= 4096, maxRecord <= 1 << 30 else {
            throw ValidationError("--max-record-size: '\(maxRecordSize)' must be a size from 4K to 1G.")
        }
        var known = try ruleOptions.allRules(configured: file?.ruleFiles ?? [])
        if let file { known.rules = try file.parameterized(known.rules) }
        let (rules, templates) = try ruleOptions.select(from: known, severity: file?.minimumSeverity)
        let alertFormat: any AlertFormat
        let format = format ?? file?.format ?? .text
        switch format {
        case .text: alertFormat = TextFormat(clock: clock, color: useColor(color ?? file?.color ?? .auto), width: Self.terminalWidth)
        case .jsonl: alertFormat = JSONLinesFormat()
        case .template:
            var global: InputTransformer?
            if let template {
                do { global = try InputTransformer(try readJSON(template, flag: "--template")) } catch let error as PatternError {
                    throw ValidationError("--template: \(template): \(error)")
                }
            }
            if global == nil, let rule = rules.first(where: { templates[$0.id] == nil }) {
                throw ValidationError("--format template: rule '\(rule.id)' has no template of its own; give one with --template FILE.")
            }
            alertFormat = TemplateFormat(ruleTemplates: templates, global: global)
        }
        let suppressions = try file?.suppressions(knownRules: Set(known.rules.map(\.id))) ?? .none
        let notifications = try Notifications(
            destinations: file?.destinations ?? [], chosen: notify, disabled: noNotify, clock: clock, aggregation: Aggregation(aggregate)!,
            profile: s3Options.profile, region: s3Options.bucketRegion, configPath: file?.path)
        if template != nil && format != .template {
            throw ValidationError("--template is used with --format template.")
        }
        let configuration = ScanConfiguration(
            jobs: jobs ?? ProcessInfo.processInfo.activeProcessorCount,
            maximumObjectBytes: maxObject,
            maximumRecordBytes: maxRecord,
            filter: RecordFilter(since: since, until: until, accounts: Set(accounts), regions: Set(regions)),
            rules: RuleSet(rules),
            suppressions: suppressions,
            includeInsights: includeInsights,
            s3: try s3Options.settings(for: paths, maxFetches: maxFetches))
        return (configuration, alertFormat, notifications, file?.path, WindowEngine(rules: rules, lateness: file?.lateness ?? WindowEngine.defaultLateness))
    }

    /// How to reach S3, when an input is an `s3://` URL. Credentials are found as the AWS CLI finds them
    /// (`CredentialSource`) and checked now, so a missing or broken setup is reported before scanning.
    /// The width of the terminal standard output is, or `nil` when it is not one (lines are then never cut).
    static var terminalWidth: Int? {
        guard isatty(STDOUT_FILENO) != 0 else { return nil }
        var size = winsize()
        guard ioctl(STDOUT_FILENO, UInt(TIOCGWINSZ), &size) == 0, size.ws_col > 0 else { return nil }
        return Int(size.ws_col)
    }

    private func useColor(_ color: ColorChoice) -> Bool {
        switch color {
        case .always: return true
        case .never: return false
        case .auto:
            let environment = ProcessInfo.processInfo.environment
            return isatty(STDOUT_FILENO) != 0 && environment["NO_COLOR"] == nil && environment["TERM"] != "dumb"
        }
    }

    /// The bytes of the command-line arguments that are not valid UTF-8, by the text the argument parser
    /// saw (its invalid bytes repaired to U+FFFD), so that such paths are opened as given.
    static func rawPaths() -> [String: [UInt8]] {
        var raw: [String: [UInt8]] = [:]
        for index in 1..<Int(CommandLine.argc) {
            guard let argument = CommandLine.unsafeArgv[index] else { continue }
            let bytes = Array(UnsafeRawBufferPointer(start: argument, count: strlen(argument)))
            if String(validating: bytes, as: UTF8.self) == nil { raw[String(decoding: bytes, as: UTF8.self)] = bytes }
        }
        return raw
    }

    /// Refuses what looks like an S3 location but is not written `s3://bucket/prefix` (it would be read
    /// as a local path and found missing), with how to write it.
    static func checkLocation(_ path: String) throws {
        let lower = path.lowercased()
        if lower.hasPrefix("s3:") && !path.hasPrefix("s3://") {
            throw ValidationError("'\(path)': write S3 locations as s3://bucket/prefix (lowercase s3, two slashes).")
        }
        if lower.hasPrefix("https://") || lower.hasPrefix("http://") {
            let host = lower.split(separator: "/").dropFirst().first.map(String.init) ?? ""
            if host.contains(".s3.") || host.contains(".s3-") || host.hasPrefix("s3.") {
                throw ValidationError("'\(path)': give the bucket as s3://bucket/prefix (--endpoint-url for an S3-compatible server).")
            }
            throw ValidationError("'\(path)': trailscan reads files, folders and s3://bucket/prefix, not URLs.")
        }
    }

    /// A word one or two edits from a subcommand's name (`sacn`, `alert`), and no longer than it plus two.
    static func isNearMiss(_ word: String, _ name: String) -> Bool {
        let a = Array(word), b = Array(name)
        guard word != name, abs(a.count - b.count) <= 2, !word.contains("/"), !word.contains(".") else { return false }
        var previous = Array(0...b.count)
        for (i, x) in a.enumerated() {
            var current = [i + 1]
            for (j, y) in b.enumerated() {
                current.append(min(previous[j + 1] + 1, current[j] + 1, previous[j] + (x == y ? 0 : 1)))
            }
            previous = current
        }
        return previous[b.count] <= 2
    }

    /// `us-east-1`, `eu-west-3`, `us-gov-west-1`, `ap-southeast-4`: letters, dash-separated words, a number.
    static func isRegionName(_ name: String) -> Bool {
        let parts = name.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count >= 3, let number = parts.last, (1...2).contains(number.count), number.allSatisfy({ $0.isASCII && $0.isNumber }) else { return false }
        return (2...4).contains(parts[0].count) && parts.dropLast().allSatisfy { !$0.isEmpty && $0.allSatisfy { $0.isASCII && $0.isLowercase } }
    }

    /// Says on stderr that nothing was read, and what the paths hold that the filters left out.
    private func reportNothingMatched(_ summary: ScanSummary) {
        var line = "trailscan: no objects matched"
        if summary.objectsSkipped > 0 {
            line += ": \(summary.objectsSkipped) skipped by the filters"
            if !regions.isEmpty { line += "; regions in these paths: " + summary.skippedRegions.sorted().joined(separator: ", ") }
            if !accounts.isEmpty { line += "; accounts in these paths: " + summary.skippedAccounts.sorted().joined(separator: ", ") }
        } else {
            line += " in " + paths.map { TerminalText.escaped($0) }.joined(separator: ", ")
            if window.since != nil || window.until != nil { line += " delivered in the --since/--until window" }
        }
        OutputWriter.standardError.write(line + " (--allow-empty accepts an empty result)\n")
    }

    /// The text of a failure, naming the flag that sets a limit.
    @Sendable static func describe(_ failure: ObjectFailure) -> String {
        switch failure {
        case .gzip(.limitExceeded(let limit)):
            "decompressed size exceeds the limit of \(limit) bytes (--max-object-size); possible gzip bomb"
        case .gzip(.plainLimitExceeded(let limit)):
            "the object is larger than the limit of \(limit) bytes (--max-object-size)"
        case .recordTooLarge(let limit):
            "a record is larger than the limit of \(limit) bytes (--max-record-size)"
        default:
            failure.description
        }
    }

    func run() throws {
        signal(SIGPIPE, SIG_IGN)  // a closed stdout shows up as EPIPE, handled by OutputWriter
        let started = Int64(Date().timeIntervalSince1970)
        let configuration: ScanConfiguration, format: any AlertFormat, notifications: Notifications, configurationPath: String?
        let windows: WindowEngine
        var keyFile: PublicKeyRing?
        do {
            (configuration, format, notifications, configurationPath, windows) = try settings()
            keyFile = try keyOptions.fileKeys()
            try summaryOut.map { try OutputFile(path: $0, flag: "--summary-out").check() }
            try report.map { try OutputFile(path: $0, flag: "--report").check() }
        } catch let error as ValidationError {
            throw usageError(error, of: Self.self)
        } catch let error as SetupFailure {
            OutputWriter.standardError.write("trailscan: \(error.message)\n")
            throw ExitCode(2)
        }
        let summarySink = SummaryCollector(describe: Self.describe)
        if listOnly {
            let failures = FailureLineWriter(writer: .standardError, describe: Self.describe)
            let objects = ObjectListWriter(writer: .standardOutput)
            ScanPipeline.list(inputs: paths, rawPaths: Self.rawPaths(), configuration: configuration, sinks: [objects, failures, summarySink])
            try checkStandardOutput()
            throw ExitCode(summarySink.summary.objectsFailed > 0 ? 2 : 0)
        }
        let progress = quiet ? nil : ProgressLine.onStandardError()
        let failures = FailureLineWriter(writer: .standardError, describe: Self.describe, progress: progress)
        let alerts = AlertWriter(format: format, writer: .standardOutput, progress: progress)
        let page = report.map { _ in HTMLReport() }
        let sorted = sort == .time ? TimeSortedAlerts(output: alerts) : nil
        let integrityLines = verify ? IntegrityLineWriter(progress: progress) : nil
        let shown: [any ScanSink] = [sorted ?? alerts, failures, summarySink] + (progress.map { [$0] } ?? []) + (page.map { [$0] } ?? [])
            + (integrityLines.map { [$0] } ?? [])
        let interruption = Interruption()
        var stateFailure: StateError?
        var undelivered = false
        var incremental: IncrementalRun?
        var verifier: DigestVerifier?
        if let state {
            do {
                incremental = try IncrementalRun(
                    statePath: state, inputs: paths, lookback: TimeArgument.seconds(age: lookback)!, since: window.since, configuration: configuration,
                    windows: windows, downstream: shown, describe: Self.describe, route: notifications.route)
            } catch let error as StateError {
                OutputWriter.standardError.write("trailscan: \(TerminalText.escaped(state)): \(error)\n")
                if case .locked = error.kind { throw ExitCode(75) }
                throw ExitCode(2)
            }
            let span = incremental!.listedSpan
            verifier = try verify ? makeVerifier(configuration, keyFile: keyFile, since: span.earliest, missingFrom: span.everyInputFrom) : nil
            stateFailure = incremental!.run(
                rawPaths: Self.rawPaths(), cancellation: interruption.cancellation, progress: progress?.listing ?? ListingProgress(),
                verification: verifier.map { ScanVerification(verifier: $0, requireValid: requireValid) })
            if stateFailure == nil && !notifications.isEmpty && !incremental!.deliver(notifications, quiet: quiet) { undelivered = true }
        } else {
            let outbox = MemoryOutbox(destinations: notifications.destinations)
            verifier = try verify ? makeVerifier(configuration, keyFile: keyFile, since: configuration.filter.since, missingFrom: nil) : nil
            ScanPipeline.run(inputs: paths, rawPaths: Self.rawPaths(), configuration: configuration,
                             sinks: [WindowStage(engine: windows, downstream: [DuplicateFilter(downstream: shown + [outbox])])],
                             cancellation: interruption.cancellation,
                             progress: progress?.listing ?? ListingProgress(),
                             verification: verifier.map { ScanVerification(verifier: $0, requireValid: requireValid) })
            if !notifications.isEmpty && !notifications.deliver(from: outbox, pendingStays: false, quiet: quiet) { undelivered = true }
        }
        var summary = summarySink.summary
        var integrityFailed = false
        if let verifier {
            for result in verifier.closingResults() {
                if result.subject == .digest { summary.digestIntegrity[result.status, default: 0] += 1 } else { summary.missingLogs += 1 }
                if result.status.isIntegrityFailure { integrityFailed = true }
                if result.status != .valid { OutputWriter.standardError.write("trailscan: integrity: " + VerifyCommand.line(result)) }
            }
            // An object held back until its digest comes is a failure only when no later run will report it.
            integrityFailed = integrityFailed || summary.objectIntegrity.contains { $0.key.isIntegrityFailure }
                || (state == nil && requireValid && summary.objectIntegrity[.pending] != nil)
        }
        summary.context = ScanContext(
            inputs: paths, since: configuration.filter.since, until: configuration.filter.until, accounts: accounts, regions: regions,
            configuration: configurationPath, version: TrailScanCommand.configuration.version, started: started,
            ended: Int64(Date().timeIntervalSince1970))
        var status: Int32 = integrityFailed ? 3 : summary.objectsFailed > summary.objectsUnproven || undelivered ? 2 : summary.alerts > 0 ? 1 : 0
        if let failure = sorted?.failure {
            OutputWriter.standardError.write("trailscan: --sort time: \(failure); the alerts are incomplete\n")
            status = 2
        }
        if summary.objectsScanned + summary.objectsFailed + summary.objectsAlreadyScanned + summary.alertsResent == 0
            && !summary.interrupted && stateFailure == nil && !allowEmpty {
            reportNothingMatched(summary)
            status = 2
        }
        if let stateFailure, let state {
            OutputWriter.standardError.write("trailscan: \(TerminalText.escaped(state)): \(stateFailure)\n")
            status = 2
        }
        if let failure = OutputWriter.standardOutput.failure {
            OutputWriter.standardError.write("trailscan: standard output: \(failure.message); the alerts are incomplete\n")
            status = 2
        } else if alerts.isDone {
            _ = incremental?.end(summary, status: status)
            throw ExitCode(status)  // the reader left: end quietly
        }
        if let signal = interruption.signalNumber { status = 128 + signal }
        if let summaryOut {
            let text = SummaryReport.render(summary, as: SummaryReport.Format(path: summaryOut))
            if let failure = OutputFile(path: summaryOut, flag: "--summary-out").write(text) {
                OutputWriter.standardError.write("trailscan: \(TerminalText.escaped(summaryOut)): cannot write the summary: \(failure)\n")
                status = 2
            }
        }
        if let report, let page {
            let scope = HTMLReport.Scope(
                sources: paths,
                window: [window.since.map { "since \($0)" }, window.until.map { "until \($0)" }].compactMap { $0 }.joined(separator: ", ").nonEmpty ?? "all event times",
                accounts: accounts, regions: regions, configuration: configurationPath)
            if let failure = OutputFile(path: report, flag: "--report").write(page.render(summary, scope: scope)) {
                OutputWriter.standardError.write("trailscan: \(TerminalText.escaped(report)): cannot write the report: \(failure)\n")
                status = 2
            }
        }
        if !quiet { OutputWriter.standardError.write(SummaryReport.digest(summary)) }
        if let incremental, let failure = incremental.end(summary, status: status) {
            OutputWriter.standardError.write("trailscan: \(TerminalText.escaped(state ?? "")): \(failure)\n")
            status = 2
        }
        throw ExitCode(status)
    }
}

/// SIGINT and SIGTERM during a scan: the first cancels it — no more objects are taken, those in flight
/// are abandoned, the summary is still written (marked as interrupted) and the exit status is 128 + the
/// signal (130, 143); a second SIGINT ends the process at once.
final class Interruption {
    let cancellation = ScanCancellation()
    private let received = Received()
    private let sources: [any DispatchSourceSignal]

    /// The first signal received.
    private final class Received: Sendable {
        let number = Mutex<Int32?>(nil)
    }

    init() {
        let cancellation = cancellation
        let received = received
        sources = [SIGINT, SIGTERM].map { number in
            signal(number, SIG_IGN)  // delivered to the dispatch source instead of killing the process
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler {
                let first = received.number.withLock { received in
                    defer { received = received ?? number }
                    return received == nil
                }
                if !first && number == SIGINT { _exit(128 + SIGINT) }
                cancellation.cancel()
            }
            source.resume()
            return source
        }
    }

    /// The signal that interrupted the scan, if one did.
    var signalNumber: Int32? { received.number.withLock { $0 } }
}

/// What stops a scan before it starts that is not a mistake on the command line (no AWS credentials):
/// one line on stderr and exit status 2, not a usage message.
struct SetupFailure: Error {
    var message: String
}

extension String {
    /// `nil` for the empty string.
    var nonEmpty: String? { isEmpty ? nil : self }
}

extension ScanCommand {
    /// `--verify`: the digests of the sources from `since` on, read before the scan, and the keys that
    /// check their signatures.
    fileprivate func makeVerifier(_ configuration: ScanConfiguration, keyFile: PublicKeyRing?, since: Int64?, missingFrom: Int64?) throws -> DigestVerifier {
        var filter = configuration.filter
        filter.since = since
        let collector = EvidenceCollector(
            filter: filter, s3: configuration.s3, jobs: max(configuration.jobs, configuration.s3 == nil ? 1 : 16),
            maximumObjectBytes: configuration.maximumObjectBytes)
        let evidence = collector.collectDigests(paths)
        for failure in evidence.failures {
            OutputWriter.standardError.write("trailscan: \(TerminalText.escaped(failure.location)): \(TerminalText.escaped(failure.reason))\n")
        }
        guard !evidence.digests.isEmpty else { throw PublicKeyOptions.noDigests() }
        let keys = try keyOptions.keys(file: keyFile, for: evidence.digests, profile: s3Options.profile)
        return DigestVerifier(
            digests: evidence.digests, audit: IntegrityAudit(keys: keys, since: since, until: configuration.filter.until), collector: collector,
            missingFrom: missingFrom)
    }
}
