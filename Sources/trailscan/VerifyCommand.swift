import ArgumentParser
import Foundation
import Glibc
import TrailDigest
import TrailEvents
import TrailJSON
import TrailReport
import TrailS3
import TrailScan
import TrailTime

/// `trailscan verify`: CloudTrail's log file validation — digest signatures, the digest chain, and the
/// SHA-256 of every log file — over S3 prefixes and local copies.
struct VerifyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Check CloudTrail digest files: their signatures and chain, and the hash of every log file they list.",
        discussion: """
            Sources are s3://bucket/prefix or local folders in the CloudTrail layout (a copy of a trail's \
            bucket). Digests are signed SHA256withRSA; the keys are what 'aws cloudtrail list-public-keys' \
            prints, saved to the --public-keys file. A digest's own signature is in its S3 metadata, or in \
            the next digest: so a copy verifies offline up to its newest digest, whose signature can be put \
            in a file beside it named <digest>.signature.

            Exit status: 0 every file valid, 3 an integrity failure (a file modified, deleted, not covered by \
            a digest, a digest unsigned, badly signed or out of place), 2 a file or listing could not be read, \
            64 usage error.
            """
    )

    @Argument(help: ArgumentHelp("s3://bucket/prefix or local folders holding AWSLogs/.", valueName: "source"), completion: .file())
    var sources: [String] = []

    @OptionGroup var keyOptions: PublicKeyOptions

    @OptionGroup var window: TimeWindowOptions

    @Option(name: .customLong("account"), help: ArgumentHelp("Only this account; repeatable.", valueName: "id"))
    var accounts: [String] = []

    @Option(name: .customLong("region"), help: ArgumentHelp("Only this region; repeatable.", valueName: "name"))
    var regions: [String] = []

    @Option(help: "Format: text (one line per file that is not valid, then a summary) or jsonl (one JSON object per file).")
    var format: Format = .text

    @Flag(help: "In text, list valid files too.")
    var verbose = false

    @Option(name: [.customShort("j"), .long], help: "Files read in parallel (default: the number of cores; S3 reads are worth more).")
    var jobs: Int?

    @OptionGroup var s3Options: S3Options

    enum Format: String, ExpressibleByArgument, CaseIterable {
        case text, jsonl
    }

    func validate() throws {
        guard !sources.isEmpty else { throw ValidationError("Give at least one source, e.g. 'trailscan verify --public-keys keys.json ./trail-copy'.") }
        if let jobs, !(1...256).contains(jobs) { throw ValidationError("--jobs must be between 1 and 256.") }
        if let account = accounts.first(where: { $0.count != 12 || !$0.allSatisfy { $0.isASCII && $0.isNumber } }) {
            throw ValidationError("--account: '\(account)' is not an AWS account id (12 digits).")
        }
        if let region = regions.first(where: { !ScanCommand.isRegionName($0) }) {
            throw ValidationError("--region: '\(region)' is not an AWS region name (such as us-east-1 or eu-west-1).")
        }
    }

    func run() throws {
        do { try perform() } catch let error as ValidationError { throw usageError(error, of: Self.self) }
    }

    private func perform() throws {
        signal(SIGPIPE, SIG_IGN)
        let file = try keyOptions.fileKeys()
        let (since, until) = try window.bounds(now: Int64(Date().timeIntervalSince1970))
        let s3: S3Settings?
        do { s3 = try s3Options.settings(for: sources, maxFetches: 64) } catch let error as SetupFailure {
            OutputWriter.standardError.write("trailscan: \(error.message)\n")
            throw ExitCode(2)
        }
        let filter = RecordFilter(since: since, until: until, accounts: Set(accounts), regions: Set(regions))
        let cores = ProcessInfo.processInfo.activeProcessorCount
        let collector = EvidenceCollector(
            filter: filter, s3: s3, jobs: jobs ?? (s3 == nil ? cores : max(16, cores)), maximumObjectBytes: 4 << 30)
        let evidence = collector.collect(sources)
        let keys = try keyOptions.keys(file: file, for: evidence.digests, profile: s3Options.profile)
        let results = IntegrityAudit(keys: keys, since: since, until: until).run(
            digests: evidence.digests, logs: evidence.logs, listedLogs: evidence.listedLogs)

        var output: [UInt8] = []
        for failure in evidence.failures {
            OutputWriter.standardError.write("trailscan: \(TerminalText.escaped(failure.location)): \(TerminalText.escaped(failure.reason))\n")
        }
        for result in results {
            switch format {
            case .jsonl: Self.appendJSON(result, to: &output)
            case .text:
                guard verbose || result.status != .valid else { continue }
                output += Array(Self.line(result).utf8)
            }
            if output.count >= 1 << 16 {
                OutputWriter.standardOutput.write(output)
                output.removeAll(keepingCapacity: true)
            }
        }
        OutputWriter.standardOutput.write(output)
        var counts: [IntegrityResult.Subject: [IntegrityResult.Status: Int]] = [:]
        for result in results { counts[result.subject, default: [:]][result.status, default: 0] += 1 }
        OutputWriter.standardError.write(Self.summary(counts, listingFailures: evidence.failures.count, requests: evidence.requests))
        try checkStandardOutput()
        if results.contains(where: \.status.isIntegrityFailure) { throw ExitCode(3) }
        if !evidence.failures.isEmpty || results.contains(where: { $0.status == .unreadable }) { throw ExitCode(2) }
        if !results.contains(where: { $0.subject == .digest }) {
            throw PublicKeyOptions.noDigests()
        }
    }

    /// `MODIFIED  log     <where>  (digest <which>): <detail>`.
    static func line(_ result: IntegrityResult) -> String {
        var text = result.status.rawValue.uppercased().padding(toLength: 19, withPad: " ", startingAt: 0)
        text += result.subject.rawValue.padding(toLength: 7, withPad: " ", startingAt: 0)
        text += TerminalText.escaped(result.location)
        if let digest = result.digest, result.status != .valid { text += "  (digest \(TerminalText.escaped(digest)))" }
        if let detail = result.detail { text += ": " + TerminalText.escaped(detail) }
        return text + "\n"
    }

    static func appendJSON(_ result: IntegrityResult, to output: inout [UInt8]) {
        output += Array(#"{"subject":"#.utf8)
        JSONString.appendQuoted(result.subject.rawValue, to: &output)
        output += Array(#","status":"#.utf8)
        JSONString.appendQuoted(result.status.rawValue, to: &output)
        output += Array(#","location":"#.utf8)
        JSONString.appendQuoted(result.location, to: &output)
        if let digest = result.digest {
            output += Array(#","digest":"#.utf8)
            JSONString.appendQuoted(digest, to: &output)
        }
        if let detail = result.detail {
            output += Array(#","detail":"#.utf8)
            JSONString.appendQuoted(detail, to: &output)
        }
        if let time = result.time {
            output += Array(#","time":"#.utf8)
            JSONString.appendQuoted(UTC.iso8601(time), to: &output)
        }
        output += Array("}\n".utf8)
    }

    /// `verified 24 digests, 30 log files: 54 valid, 1 modified; …` on stderr.
    static func summary(_ counts: [IntegrityResult.Subject: [IntegrityResult.Status: Int]], listingFailures: Int, requests: Int) -> String {
        func part(_ subject: IntegrityResult.Subject, _ name: String) -> String {
            let byStatus = counts[subject] ?? [:]
            let total = byStatus.values.reduce(0, +)
            let detail = IntegrityResult.Status.allCases.compactMap { status in byStatus[status].map { "\($0) \(status.rawValue)" } }
            return "\(total) \(name)" + (detail.isEmpty ? "" : " (\(detail.joined(separator: ", ")))")
        }
        var text = "trailscan verify: \(part(.digest, "digest results")), \(part(.log, "log files"))"
        if listingFailures > 0 { text += "; \(listingFailures) folders or prefixes could not be listed" }
        if requests > 0 { text += "; \(requests) list requests" }
        return text + "\n"
    }
}
