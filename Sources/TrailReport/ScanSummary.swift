public import TrailMatch
public import TrailScan

/// What a scan saw, found and failed on, added up by `SummaryCollector` (summaries of separate runs
/// merge with `+=`, as ripgrep's `Stats` do).
public struct ScanSummary: Sendable, Equatable {
    public struct Failure: Sendable, Equatable {
        /// File path or `s3://bucket/key`.
        public var source: String
        public var cause: String

        public init(source: String, cause: String) {
            self.source = source
            self.cause = cause
        }
    }

    public var objectsScanned = 0
    /// Objects not read because their name shows the filters exclude them (account, region, date).
    public var objectsSkipped = 0
    /// The accounts and regions in the names of the skipped objects.
    public var skippedAccounts: Set<String> = []
    public var skippedRegions: Set<String> = []
    /// Objects not read because an earlier run scanned the same version (`--state`).
    public var objectsAlreadyScanned = 0
    public var objectsFailed = 0
    public var compressedBytes: Int64 = 0
    public var uncompressedBytes: Int64 = 0
    /// Records inside the filters (the ones rules ran on).
    public var records = 0
    /// Records left out by `--since`, `--until`, `--account` or `--region`.
    public var recordsFilteredOut = 0
    /// Of those, records left out by the time window for want of a readable `eventTime`.
    public var recordsWithoutTime = 0
    /// Folder entries not scanned, by reason.
    public var ignored: [IgnoredEntry: Int] = [:]
    /// The span of `eventTime` over the records inside the filters, in Unix seconds.
    public var firstEventTime: Int64?
    public var lastEventTime: Int64?
    public var alerts = 0
    public var alertsByRule: [String: Int] = [:]
    /// The severity of each rule that fired.
    public var ruleSeverity: [String: Severity] = [:]
    public var alertsBySeverity: [Severity: Int] = [:]
    public var alertsByAccount: [String: Int] = [:]
    public var alertsByRegion: [String: Int] = [:]
    public var alertsByPrincipal: [String: Int] = [:]
    public var alertsBySourceIP: [String: Int] = [:]
    /// Alerts silenced by the configuration's suppressions, by rule (not in `alerts`).
    public var alertsSuppressedByRule: [String: Int] = [:]
    /// Records a Stage 2 rule could not judge (its policy document is not valid JSON), by rule, and the
    /// first one's event ID and reason.
    public var recordsUnjudgedByRule: [String: Int] = [:]
    /// Records windowed rules did not count because a suppression matched them, by rule id.
    public var recordsSuppressedByRule: [String: Int] = [:]
    public var unjudgedExample: [String: String] = [:]
    /// Alerts not reported again: the same rule and eventID was reported earlier in the run or, with
    /// `--state`, by an earlier run.
    public var alertsDuplicate = 0
    /// Of `alerts`, those an earlier run committed to the state and stopped before writing out.
    public var alertsResent = 0
    /// What the windowed rules made of the records.
    public var windows = WindowTotals()
    /// The first `windowedListed` windowed alerts, with their evidence, in the order reported.
    public var windowedAlerts: [Finding] = []
    public static let windowedListed = 100
    public var failures: [Failure] = []
    /// S3 ListObjectsV2 requests made to find the objects.
    public var listRequests = 0
    public var elapsedSeconds: Double = 0
    /// The scan was interrupted (SIGINT, SIGTERM): the counts cover what was read before.
    public var interrupted = false
    /// `scan --verify`: the objects scanned by integrity status, the digests and the log files the
    /// scan did not find by status, and the alerts reported from objects not proven valid.
    public var objectIntegrity: [IntegrityStatus: Int] = [:]
    public var digestIntegrity: [IntegrityStatus: Int] = [:]
    public var missingLogs = 0
    /// Of `objectsFailed`, those failed by `--require-valid` (`ObjectFailure.unproven`).
    public var objectsUnproven = 0
    public var alertsUnproven = 0

    /// What was scanned, how, and when (set by the command before the summary is written).
    public var context: ScanContext?
    /// The parts of each principal of `alertsByPrincipal`, by its display text.
    public var principalParts: [String: Finding.Principal] = [:]

    public init() {}

    public mutating func noteEventTime(_ seconds: Int64) {
        if firstEventTime.map({ seconds < $0 }) ?? true { firstEventTime = seconds }
        if lastEventTime.map({ seconds > $0 }) ?? true { lastEventTime = seconds }
    }

    /// Counts an alert by the few fields the summary groups by.
    public mutating func countAlert(_ finding: Finding) {
        alerts += 1
        if let integrity = finding.integrity, integrity.status != .valid { alertsUnproven += 1 }
        if finding.evidence != nil && windowedAlerts.count < Self.windowedListed {
            var kept = finding
            kept.record = []  // the summary lists what the alert says, not the record
            windowedAlerts.append(kept)
        }
        alertsByRule[finding.ruleID, default: 0] += 1
        ruleSeverity[finding.ruleID] = finding.severity
        alertsBySeverity[finding.severity, default: 0] += 1
        alertsByAccount[finding.account ?? "-", default: 0] += 1
        alertsByRegion[finding.region ?? "-", default: 0] += 1
        let principal = finding.principal.display
        alertsByPrincipal[principal.isEmpty ? "-" : principal, default: 0] += 1
        principalParts[principal.isEmpty ? "-" : principal] = finding.principal
        alertsBySourceIP[finding.sourceIPAddress ?? "-", default: 0] += 1
    }

    /// Adds one object's counts.
    public mutating func add(_ statistics: ObjectStatistics) {
        compressedBytes += statistics.compressedBytes
        uncompressedBytes += statistics.uncompressedBytes
        records += statistics.records
        recordsFilteredOut += statistics.recordsFilteredOut
        recordsWithoutTime += statistics.recordsWithoutTime
        if let first = statistics.firstEventTime { noteEventTime(first) }
        if let last = statistics.lastEventTime { noteEventTime(last) }
        alertsSuppressedByRule.merge(statistics.suppressedByRule, uniquingKeysWith: +)
        recordsSuppressedByRule.merge(statistics.recordsSuppressedByRule, uniquingKeysWith: +)
        recordsUnjudgedByRule.merge(statistics.unjudgedByRule, uniquingKeysWith: +)
        unjudgedExample.merge(statistics.unjudgedExample) { first, _ in first }
        alertsDuplicate += statistics.duplicateFindings
    }

    public static func += (lhs: inout ScanSummary, rhs: ScanSummary) {
        lhs.objectsScanned += rhs.objectsScanned
        lhs.objectsSkipped += rhs.objectsSkipped
        lhs.skippedAccounts.formUnion(rhs.skippedAccounts)
        lhs.skippedRegions.formUnion(rhs.skippedRegions)
        lhs.objectsAlreadyScanned += rhs.objectsAlreadyScanned
        lhs.objectsFailed += rhs.objectsFailed
        lhs.compressedBytes += rhs.compressedBytes
        lhs.uncompressedBytes += rhs.uncompressedBytes
        lhs.records += rhs.records
        lhs.recordsFilteredOut += rhs.recordsFilteredOut
        lhs.recordsWithoutTime += rhs.recordsWithoutTime
        lhs.ignored.merge(rhs.ignored, uniquingKeysWith: +)
        if let first = rhs.firstEventTime { lhs.noteEventTime(first) }
        if let last = rhs.lastEventTime { lhs.noteEventTime(last) }
        lhs.alerts += rhs.alerts
        lhs.alertsByRule.merge(rhs.alertsByRule, uniquingKeysWith: +)
        lhs.ruleSeverity.merge(rhs.ruleSeverity) { $1 }
        lhs.alertsBySeverity.merge(rhs.alertsBySeverity, uniquingKeysWith: +)
        lhs.alertsByAccount.merge(rhs.alertsByAccount, uniquingKeysWith: +)
        lhs.alertsByRegion.merge(rhs.alertsByRegion, uniquingKeysWith: +)
        lhs.alertsByPrincipal.merge(rhs.alertsByPrincipal, uniquingKeysWith: +)
        lhs.principalParts.merge(rhs.principalParts) { $1 }
        lhs.alertsBySourceIP.merge(rhs.alertsBySourceIP, uniquingKeysWith: +)
        lhs.alertsSuppressedByRule.merge(rhs.alertsSuppressedByRule, uniquingKeysWith: +)
        lhs.recordsUnjudgedByRule.merge(rhs.recordsUnjudgedByRule, uniquingKeysWith: +)
        lhs.unjudgedExample.merge(rhs.unjudgedExample) { first, _ in first }
        lhs.alertsDuplicate += rhs.alertsDuplicate
        lhs.alertsResent += rhs.alertsResent
        lhs.failures += rhs.failures
        lhs.objectIntegrity.merge(rhs.objectIntegrity, uniquingKeysWith: +)
        lhs.digestIntegrity.merge(rhs.digestIntegrity, uniquingKeysWith: +)
        lhs.missingLogs += rhs.missingLogs
        lhs.objectsUnproven += rhs.objectsUnproven
        lhs.alertsUnproven += rhs.alertsUnproven
    }

    /// The rules that fired with their counts: highest severity first, then most alerts, then by id.
    public var firedRules: [(rule: String, severity: Severity, count: Int)] {
        alertsByRule.map { ($0.key, ruleSeverity[$0.key] ?? .info, $0.value) }
            .sorted { ($0.severity, $0.count, $1.rule) > ($1.severity, $1.count, $0.rule) }
    }

    /// Alerts silenced by suppressions.
    public var alertsSuppressed: Int { alertsSuppressedByRule.values.reduce(0, +) }

    /// Decoded megabytes (10^6 bytes) per second of wall time.
    public var throughputMBps: Double {
        elapsedSeconds > 0 ? Double(uncompressedBytes) / 1e6 / elapsedSeconds : 0
    }
}

extension Dictionary where Value == Int {
    /// Entries by count, highest first, then by key.
    func ranked(by key: (Key) -> String) -> [(Key, Int)] {
        sorted { $0.value != $1.value ? $0.value > $1.value : key($0.key) < key($1.key) }
    }
}

/// What a scan read and how: its inputs, filters and configuration, trailscan's version, and when it
/// ran (Unix seconds).
public struct ScanContext: Sendable, Equatable {
    public var inputs: [String]
    public var since: Int64?
    public var until: Int64?
    public var accounts: [String]
    public var regions: [String]
    public var configuration: String?
    public var version: String
    public var started: Int64
    public var ended: Int64

    public init(inputs: [String], since: Int64?, until: Int64?, accounts: [String], regions: [String], configuration: String?, version: String,
                started: Int64, ended: Int64) {
        self.inputs = inputs
        self.since = since
        self.until = until
        self.accounts = accounts
        self.regions = regions
        self.configuration = configuration
        self.version = version
        self.started = started
        self.ended = ended
    }
}
