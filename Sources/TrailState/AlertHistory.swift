internal import Glibc
public import TrailReport
public import TrailScan
internal import TrailMatch

/// The alerts a state holds, for `trailscan alerts`: read on a connection of its own, without the lock,
/// so it can be read while a scan runs (SQLite's WAL: it sees what was committed).
public final class AlertHistory {
    /// Which alerts to list; every part is optional.
    public struct Query: Sendable {
        /// `eventTime` in `[since, until)`, Unix seconds.
        public var since: Int64?
        public var until: Int64?
        /// Rule ids or globs (`signin.*`); any of them.
        public var rules: [String] = []
        /// At least this severity (`Severity.rawValue`).
        public var minimumSeverity = 0
        public var accounts: [String] = []

        public init() {}
    }

    /// One alert as the state holds it.
    public struct Entry: Sendable {
        public var finding: Finding
        /// When a run first found it, Unix seconds.
        public var firstSeen: Int64
        /// Where it was sent, or waits to be, by destination name.
        public var deliveries: [DeliveryStatus]
    }

    private let database: SQLiteDatabase
    private let path: String

    /// Opens an existing state; a missing file is an error, not an empty history.
    public init(path: String) throws(StateError) {
        self.path = path
        guard access(path, F_OK) == 0 else { throw StateError(path: path, kind: .other("no such state file (a scan with --state creates it)")) }
        database = try SQLiteDatabase(path: path, readOnly: true)
        guard let version = try database.integer("PRAGMA user_version") else { throw StateError(path: path, kind: .other("cannot read the schema version")) }
        if version > StateStore.schemaVersion {
            throw StateError(path: path, kind: .newerSchema(found: Int(version), supported: StateStore.schemaVersion))
        }
        guard version == StateStore.schemaVersion, try database.integer("PRAGMA application_id") == StateStore.applicationID else {
            throw StateError(path: path, kind: .notAState("no trailscan schema"))
        }
    }

    /// Calls `body` with each alert of `query`, in the order they were first found; `body` returns
    /// `false` to stop.
    public func forEach(_ query: Query, _ body: (Entry) -> Bool) throws(StateError) {
        var conditions = ["severity >= ?"]
        var values: [SQLValue] = [.integer(Int64(query.minimumSeverity))]
        if let since = query.since {
            conditions.append("event_time >= ?")
            values.append(.integer(since))
        }
        if let until = query.until {
            conditions.append("event_time < ?")
            values.append(.integer(until))
        }
        if !query.rules.isEmpty {
            conditions.append("(" + query.rules.map { _ in "rule GLOB ?" }.joined(separator: " OR ") + ")")
            values += query.rules.map { .text($0) }
        }
        if !query.accounts.isEmpty {
            conditions.append("account IN (" + query.accounts.map { _ in "?" }.joined(separator: ", ") + ")")
            values += query.accounts.map { .text($0) }
        }
        let delivered = try database.prepare("SELECT destination, delivered_at, receipt FROM deliveries WHERE alert_id = ? ORDER BY destination")
        let waiting = try database.prepare("""
            SELECT destination, attempts, last_error FROM outbox WHERE alert_id = ? AND destination != 'output' ORDER BY destination
            """)
        let statement = try database.prepare(
            "SELECT id, finding, record, first_seen FROM alerts WHERE " + conditions.joined(separator: " AND ") + " ORDER BY id")
        try statement.bind(values)
        while try statement.step() {
            guard let id = statement.integer(0), let json = statement.text(1) else { continue }
            let finding: Finding
            do { finding = try FindingCodec.finding(json: Array(json.utf8), record: statement.blob(2)) } catch {
                throw StateError(path: path, kind: .notAState("alert \(id) cannot be read: \(error)"))
            }
            var deliveries: [DeliveryStatus] = []
            try delivered.bind(.integer(id))
            while try delivered.step() {
                deliveries.append(DeliveryStatus(destination: delivered.text(0) ?? "", delivered: delivered.integer(1), receipt: delivered.text(2)))
            }
            try waiting.bind(.integer(id))
            while try waiting.step() {
                deliveries.append(DeliveryStatus(destination: waiting.text(0) ?? "", attempts: Int(waiting.integer(1) ?? 0), error: waiting.text(2)))
            }
            deliveries.sort { $0.destination < $1.destination }
            guard body(Entry(finding: finding, firstSeen: statement.integer(3) ?? 0, deliveries: deliveries)) else { return }
        }
    }
}

@available(*, unavailable)
extension AlertHistory: Sendable {}
