internal import Glibc
public import TrailScan
internal import TrailEvents
internal import TrailMatch
internal import TrailS3
public import TrailWindow

/// The sink of an incremental run: records each object and its alerts in the state, and passes on
/// to `downstream` (the alert output, the failure lines, the summary) only what the state committed —
/// each alert (rule and eventID) once across all runs.
///
/// The state machine of one object:
///
///     begin ─▶ findings: each new alert inserted, with an outbox row ─▶ end: the object's row
///         no new alert:  passed on at once; committed with the next ones (every 1,000 objects or 0.5 s)
///         new alerts:    COMMIT ─▶ read back from the outbox and passed on ─▶ outbox rows deleted, COMMIT
///
/// So a process killed at any moment loses nothing and repeats nothing but this: an object whose
/// transaction had not committed is scanned again by the next run (its alerts were never written);
/// alerts committed but not yet written out are written by the next run (`resendUnsent`); alerts
/// written but whose outbox rows were not yet deleted are written once more by the next run — the one
/// window in which an alert can appear twice, as long as a `write` to standard output.
public final class StateRecorder: ScanSink {
    /// Where a test can stop the process (`TRAILSCAN_TEST_KILL`), in the order an object passes them.
    public enum Point: String, Sendable, CaseIterable {
        /// An object's alerts are inserted, not committed.
        case recorded
        /// Committed, not written out.
        case committed
        /// Written out, the outbox rows not yet deleted.
        case written
    }

    private let store: StateStore
    private let downstream: [any ScanSink]
    private let describe: (ObjectFailure) -> String
    private let hook: (Point) -> Void
    /// The notification destinations each new alert is queued for.
    private let route: (Finding) -> [String]
    /// The inputs whose cursors advance when the run lists everything without a failure.
    private let sources: [String]
    private let runStart: Int64
    /// The windowed rules, decided at the end of the run over the records kept in the state.
    private let windows: WindowEngine
    /// The newest delivery time of the objects read (their CloudTrail names; else their newest record).
    private var newestDelivery: Int64?

    private let insertAlert: Statement
    private let insertOutbox: Statement
    private let recordObject: Statement
    private let previousStatus: Statement
    private let unsent: Statement
    private let deleteSent: Statement
    private let insertWindowRecord: Statement

    private var inTransaction = false
    private var objectsInTransaction = 0
    private var transactionStarted: Int64 = 0
    private var firstNewAlert: Int64?
    private var lastNewAlert: Int64 = 0
    private var duplicates = 0
    private var listingFailed = false
    /// The first error of the state: the scan stops, the command reports it (exit 2).
    public private(set) var failure: StateError?

    /// - Parameters:
    ///   - sources: the cursor names of the run's inputs.
    ///   - runStart: when the run started; a complete listing advances the cursors to it.
    ///   - describe: the text of a failure, as the failure lines say it.
    ///   - route: the notification destinations a new alert is queued for (in the same transaction).
    ///   - hook: called at each `Point` of each object with new alerts (tests stop the process there).
    public init(
        store: StateStore, downstream: [any ScanSink], sources: [String], runStart: Int64, windows: WindowEngine = WindowEngine(rules: []),
        describe: @escaping (ObjectFailure) -> String, route: @escaping (Finding) -> [String] = { _ in [] },
        hook: @escaping (Point) -> Void = { _ in }
    ) throws(StateError) {
        self.store = store
        self.windows = windows
        self.downstream = downstream
        self.sources = sources
        self.runStart = runStart
        self.describe = describe
        self.hook = hook
        self.route = route
        let database = store.database
        insertAlert = try database.prepare("""
            INSERT INTO alerts (rule, event_id, severity, event_time, account, first_seen, run_id, object, finding, record)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING
            """)
        insertOutbox = try database.prepare("INSERT INTO outbox (destination, alert_id) VALUES (?, ?)")
        recordObject = try database.prepare("""
            INSERT OR REPLACE INTO objects (location, name, kind, version, status, failure_kind, failure, scanned_at, run_id, records, alerts)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """)
        previousStatus = try database.prepare("SELECT status FROM objects WHERE location = ?")
        unsent = try database.prepare("""
            SELECT a.id, a.finding, a.record FROM outbox o JOIN alerts a ON a.id = o.alert_id
            WHERE o.destination = 'output' AND o.alert_id >= ? ORDER BY o.alert_id
            """)
        deleteSent = try database.prepare("DELETE FROM outbox WHERE destination = 'output' AND alert_id BETWEEN ? AND ?")
        insertWindowRecord = try store.prepareWindowRecordInsert()
    }

    /// Passes on the alerts an earlier run committed and did not write out (it was killed, or its
    /// output went away), as objects of origin `.resent`, in the order they were found.
    ///
    /// - Returns: how many.
    @discardableResult
    public func resendUnsent() throws(StateError) -> Int {
        try passOnByObject(from: 0, origin: .resent)
    }

    /// Passes on the outbox's alerts from `first` on, grouped by object (`begin`, findings, `end` with
    /// an outcome of `origin`), then deletes their outbox rows. Returns how many.
    private func passOnByObject(from first: Int64, origin: ObjectOutcome.Origin) throws(StateError) -> Int {
        let outcome = ObjectOutcome(origin: origin)
        var current: ObjectRef?
        let last = try passOnUnsent(from: first) { object in
            if let current { for sink in downstream { sink.end(current, outcome) } }
            current = object
            for sink in downstream { sink.begin(object) }
        }
        if let current { for sink in downstream { sink.end(current, outcome) } }
        guard let last else { return 0 }
        try acknowledge(from: first, through: last.id)
        return last.count
    }

    /// Passes on the findings of the outbox rows from alert `first` on, in order; `objectChanged` is
    /// called before the first finding of each object.
    ///
    /// - Returns: the last alert id passed on and how many, or `nil` for none.
    private func passOnUnsent(from first: Int64, objectChanged: (ObjectRef) -> Void) throws(StateError) -> (id: Int64, count: Int)? {
        let statement = try unsent.bind(.integer(first))
        var last: (id: Int64, count: Int)?
        var current: ObjectRef?
        while try statement.step() {
            guard let id = statement.integer(0), let json = statement.text(1) else { continue }
            let finding: Finding
            do { finding = try FindingCodec.finding(json: Array(json.utf8), record: statement.blob(2)) } catch {
                throw StateError(path: store.path, kind: .notAState("alert \(id) cannot be read: \(error)"))
            }
            if current != finding.object {
                current = finding.object
                objectChanged(finding.object)
            }
            for sink in downstream { sink.finding(finding) }
            last = (id, (last?.count ?? 0) + 1)
        }
        return last
    }

    /// Deletes the outbox rows of alerts passed on, once the downstream has taken them (written them
    /// out): not when the output went away or failed, so that the next run writes them.
    private func acknowledge(from first: Int64, through last: Int64) throws(StateError) {
        guard !isDownstreamDone else { return }
        try deleteSent.bind(.integer(first), .integer(last)).run()
    }

    private var isDownstreamDone: Bool { downstream.contains { $0.isDone } }

    // MARK: - ScanSink

    public func begin(_ object: ObjectRef) {
        firstNewAlert = nil
        duplicates = 0
        guard failure == nil else { return }
        attempt { () throws(StateError) in
            if !inTransaction {
                try store.database.execute("BEGIN IMMEDIATE")
                inTransaction = true
                objectsInTransaction = 0
                transactionStarted = Self.milliseconds()
            }
        }
    }

    public func finding(_ finding: Finding) {
        guard failure == nil else { return }
        attempt { () throws(StateError) in try insert(finding) }
    }

    /// Inserts a new alert and its outbox rows; a duplicate (rule and eventID known) is counted.
    private func insert(_ finding: Finding) throws(StateError) {
        try insertAlert.bind(
            .text(finding.ruleID), finding.eventID.map(SQLValue.text) ?? .null, .integer(Int64(finding.severity.rawValue)),
            finding.eventTime.map(SQLValue.integer) ?? .null, finding.account.map(SQLValue.text) ?? .null, .integer(runStart),
            .integer(store.runID), .text(finding.object.name), .text(String(decoding: FindingCodec.json(finding), as: UTF8.self)), .blob(finding.record)
        ).run()
        guard store.database.changes == 1 else { return duplicates += 1 }
        let id = store.database.lastInsertRowID
        for destination in ["output"] + route(finding) { try insertOutbox.bind(.text(destination), .integer(id)).run() }
        if firstNewAlert == nil { firstNewAlert = id }
        lastNewAlert = id
    }

    public func end(_ object: ObjectRef, _ outcome: ObjectOutcome) {
        var outcome = outcome
        outcome.statistics.duplicateFindings += duplicates
        guard failure == nil else { return }
        attempt { () throws(StateError) in
            let newAlerts = firstNewAlert.map { Int(lastNewAlert - $0) + 1 } ?? 0
            if outcome.origin == .scanned, let delivered = CloudTrailKey(path: object.name)?.deliveryTime ?? outcome.statistics.lastEventTime {
                newestDelivery = max(newestDelivery ?? delivered, delivered)
            }
            for observation in outcome.observations { try store.insert(observation, into: insertWindowRecord, runID: store.runID) }
            if let (location, kind) = StateStore.location(of: object) {
                let failed = outcome.failure
                var status = failed == nil ? "ok" : "failed"
                // An object that failed before and no longer exists is not retried again (it cannot
                // succeed): this run's failure line is the last word on it.
                if let failed, Self.isMissing(failed), try previousStatus.bind(.blob(location)).step(), previousStatus.text(0) == "failed" {
                    status = "gone"
                }
                try recordObject.bind(
                    .blob(location), .text(object.name), .text(kind), outcome.statistics.version.map { .text($0.description) } ?? .null,
                    .text(status), failed.map { .text(Self.kind(of: $0)) } ?? .null,
                    failed.map { .text(describe($0)) } ?? .null, .integer(Int64(time(nil))), .integer(store.runID),
                    .integer(Int64(outcome.statistics.records)), .integer(Int64(newAlerts))
                ).run()
            }
            objectsInTransaction += 1
            guard let first = firstNewAlert else {
                for sink in downstream { sink.begin(object) }
                for sink in downstream { sink.end(object, outcome) }
                if objectsInTransaction >= 1_000 || Self.milliseconds() - transactionStarted >= 500 { try commit() }
                return
            }
            hook(.recorded)
            try commit()
            hook(.committed)
            // Driven by what was committed: the alerts come back out of the outbox.
            for sink in downstream { sink.begin(object) }
            let last = try passOnUnsent(from: first) { _ in }
            for sink in downstream { sink.end(object, outcome) }
            hook(.written)
            if let last { try acknowledge(from: first, through: last.id) }
        }
    }

    public func listingFailed(_ location: String, _ failure: ObjectFailure) {
        listingFailed = true
        for sink in downstream { sink.listingFailed(location, failure) }
    }

    public func finish(_ totals: ScanTotals) {
        if failure == nil {
            attempt { () throws(StateError) in
                if inTransaction { try commit() }
                // Every input listed to its end: the next run need not look further back than now.
                if !listingFailed && !totals.interrupted && !isDownstreamDone {
                    try store.transaction { () throws(StateError) in try store.advanceCursors(sources, to: runStart) }
                }
            }
        }
        var totals = totals
        if failure == nil && !windows.isEmpty && !totals.interrupted && !isDownstreamDone {
            attempt { () throws(StateError) in totals.windows = try decideWindows() }
        }
        for sink in downstream { sink.finish(totals) }
    }

    /// Decides the windowed rules over the records the state keeps and this run's, moves the watermark,
    /// and passes on the alerts it decided — all through the outbox, in one transaction with the new
    /// window state, so that a crash repeats or loses none.
    ///
    /// The watermark: the newest delivery read (this run's or an earlier's) minus the lateness, held
    /// back to the oldest delivery of an object that failed and will be retried (its records may still
    /// count), never moving back. A run whose listing failed decides nothing new (an object it did not
    /// see could be older than the ones it read).
    private func decideWindows() throws(StateError) -> WindowTotals {
        let (records, floors, previous, storedDelivery) = try store.windowState()
        let newest = [storedDelivery, newestDelivery].compactMap { $0 }.max()
        var watermark = previous
        if let newest, !listingFailed {
            var candidate = newest - windows.lateness
            for object in try store.failedObjects() {
                if let delivered = CloudTrailKey(path: object.name)?.deliveryTime { candidate = min(candidate, delivered - windows.lateness) }
            }
            watermark = max(watermark ?? candidate, candidate)
        }
        var totals = WindowTotals()
        totals.lateness = windows.lateness
        // Nothing read has a delivery time yet: nothing can be decided; the records stay for the next run.
        guard let watermark else { return totals }
        let outcome = windows.evaluate(records, floors: floors, previous: previous, watermark: watermark)
        firstNewAlert = nil
        try store.transaction { () throws(StateError) in
            try store.saveWindowState(outcome.state, delivered: newest)
            for alert in outcome.alerts { try insert(alert) }
        }
        if let first = firstNewAlert { _ = try passOnByObject(from: first, origin: .windows) }
        totals.counted = outcome.counted
        totals.late = outcome.late
        totals.pending = outcome.pending
        totals.watermark = watermark
        return totals
    }

    /// Stops the scan when the state fails or the output went away.
    public var isDone: Bool { failure != nil || isDownstreamDone }

    // MARK: - Helpers

    private func commit() throws(StateError) {
        guard inTransaction else { return }
        try store.database.execute("COMMIT")
        inTransaction = false
    }

    /// Runs a step; the first error is kept, the open transaction rolled back, and the scan stops.
    private func attempt(_ body: () throws(StateError) -> Void) {
        do throws(StateError) {
            try body()
        } catch {
            failure = failure ?? error
            if inTransaction { try? store.database.execute("ROLLBACK") }
            inTransaction = false
        }
    }

    private static func milliseconds() -> Int64 {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return Int64(now.tv_sec) * 1000 + Int64(now.tv_nsec) / 1_000_000
    }

    /// The object is not there (any more): a file that does not exist, an S3 key that does not.
    static func isMissing(_ failure: ObjectFailure) -> Bool {
        switch failure {
        case .io(let errno): errno == ENOENT
        case .s3(let error): error.kind == .noSuchKey
        default: false
        }
    }

    static func kind(of failure: ObjectFailure) -> String {
        switch failure {
        case .io: "io"
        case .s3: "s3"
        case .gzip: "gzip"
        case .format: "format"
        case .recordTooLarge: "record-too-large"
        case .spill: "spill"
        case .interrupted: "interrupted"
        case .unproven: "unproven"
        }
    }
}

@available(*, unavailable)
extension StateRecorder: Sendable {}
