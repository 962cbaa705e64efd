// TrailState: the state of scheduled scans (`--state`) in one SQLite file — which objects were scanned
// (the ledger incremental runs consult), every alert once (rule and eventID), the outbox of alerts
// committed but not yet written out, each run, and each input's listing cursor. It implements the
// ledger protocol of TrailScan and a forwarding sink; nothing below it knows SQLite.

internal import CSQLite
internal import Glibc
internal import Synchronization
public import TrailReport
public import TrailScan
internal import TrailJSON
internal import TrailTime

/// The state file of scheduled scans, opened by one run that holds its lock for as long as it lives.
///
/// SQLite in WAL mode with `synchronous=NORMAL`: a transaction committed survives the process being
/// killed at any moment (`kill -9`); after a power cut the last transactions may be lost, never half
/// of one. Every change is a transaction (`StateRecorder` says which).
///
/// Used from one thread (the scan's consumer), except the ledger, which has its own connection.
public final class StateStore {
    /// The schema this trailscan writes. `user_version` holds it; `application_id` marks the file.
    public static let schemaVersion = 2
    static let applicationID: Int64 = 0x7472_6C73  // "trls"

    public let path: String
    let database: SQLiteDatabase
    private let lock: StateLock
    /// The run this process records (`beginRun`).
    public private(set) var runID: Int64 = 0

    /// Opens (or creates, mode 0600) the state at `path` and takes its lock.
    ///
    /// - Throws: `StateError` — `.locked` when another process holds it (the file is not touched).
    public init(path: String, now: Int64) throws(StateError) {
        self.path = path
        lock = try StateLock(statePath: path, now: now)
        try Self.createPrivately(path)
        database = try SQLiteDatabase(path: path)
        try migrate()
    }

    /// Creates an empty file readable by its owner only, so SQLite's own files (`-wal`, `-shm`, which
    /// take the database's mode) are private too.
    private static func createPrivately(_ path: String) throws(StateError) {
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        if fd >= 0 { close(fd); return }
        if errno == EEXIST { return }
        throw StateError(path: path, kind: errno == EROFS || errno == EACCES ? .readOnly : .other(String(cString: strerror(errno))))
    }

    /// Brings the schema to `schemaVersion` in one transaction; refuses a newer one or a SQLite file
    /// that is not a state.
    private func migrate() throws(StateError) {
        guard let version = try database.integer("PRAGMA user_version"), let application = try database.integer("PRAGMA application_id")
        else { throw StateError(path: path, kind: .other("cannot read the schema version")) }
        if version > Self.schemaVersion { throw StateError(path: path, kind: .newerSchema(found: Int(version), supported: Self.schemaVersion)) }
        if version > 0 && application != Self.applicationID {
            throw StateError(path: path, kind: .notAState("a SQLite database of another application"))
        }
        if version == 0, let tables = try database.integer("SELECT count(*) FROM sqlite_schema"), tables > 0 {
            throw StateError(path: path, kind: .notAState("a SQLite database of another application"))
        }
        try database.execute("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON")
        guard version < Self.schemaVersion else { return }
        try transaction { () throws(StateError) in
            for step in Int(version)..<Self.schemaVersion { try database.execute(Self.migrations[step]) }
            try database.execute("PRAGMA application_id = \(Self.applicationID); PRAGMA user_version = \(Self.schemaVersion)")
        }
    }

    /// Runs `body` in one transaction (rolled back when it throws).
    func transaction(_ body: () throws(StateError) -> Void) throws(StateError) {
        try database.execute("BEGIN IMMEDIATE")
        do { try body() } catch {
            try? database.execute("ROLLBACK")
            throw error
        }
        try database.execute("COMMIT")
    }

    /// `migrations[n]` takes the schema from version n to n + 1.
    private static let migrations = [
        """
        CREATE TABLE runs (
            id INTEGER PRIMARY KEY,
            started INTEGER NOT NULL,              -- Unix seconds
            ended INTEGER,                         -- NULL: the run is going on, or was killed
            pid INTEGER NOT NULL,
            sources TEXT NOT NULL,                 -- JSON array of the inputs
            filters TEXT NOT NULL,                 -- JSON object of the filters and the look-back
            objects_scanned INTEGER, objects_failed INTEGER, objects_already_scanned INTEGER,
            alerts INTEGER, alerts_duplicate INTEGER, list_requests INTEGER,
            interrupted INTEGER, exit_status INTEGER
        );
        CREATE TABLE objects (
            location BLOB PRIMARY KEY,             -- s3://bucket/key, or the file's absolute path (bytes)
            name TEXT NOT NULL,                    -- as the run named it, to retry it
            kind TEXT NOT NULL CHECK (kind IN ('s3', 'file')),
            version TEXT,                          -- the version read: 'etag "…"' or 'size N mtime N'
            status TEXT NOT NULL CHECK (status IN ('ok', 'failed', 'gone')),  -- gone: failed, then vanished
            failure_kind TEXT,                     -- io, s3, gzip, format, record-too-large, spill
            failure TEXT,                          -- the cause, as the failure line said it
            scanned_at INTEGER NOT NULL,
            run_id INTEGER NOT NULL REFERENCES runs (id),
            records INTEGER NOT NULL,
            alerts INTEGER NOT NULL                -- new alerts it gave
        ) WITHOUT ROWID;
        CREATE INDEX objects_failed ON objects (status) WHERE status = 'failed';
        CREATE TABLE alerts (
            id INTEGER PRIMARY KEY,
            rule TEXT NOT NULL,
            event_id TEXT,                         -- NULL (never a duplicate) when the record has none
            severity INTEGER NOT NULL,             -- 0 info … 4 critical
            event_time INTEGER,
            account TEXT,
            first_seen INTEGER NOT NULL,
            run_id INTEGER NOT NULL REFERENCES runs (id),
            object TEXT NOT NULL,
            finding TEXT NOT NULL,                 -- FindingCodec JSON
            record BLOB NOT NULL,                  -- the record's bytes, as in the log
            UNIQUE (rule, event_id)
        );
        CREATE INDEX alerts_event_time ON alerts (event_time);
        CREATE TABLE outbox (                      -- alerts committed and not yet delivered, by destination
            destination TEXT NOT NULL,             -- 'output': standard output; else a notify destination's name
            alert_id INTEGER NOT NULL REFERENCES alerts (id),
            attempts INTEGER NOT NULL DEFAULT 0,   -- tries that failed
            last_attempt INTEGER,
            last_error TEXT,                       -- what the receiver said the last time
            PRIMARY KEY (destination, alert_id)
        ) WITHOUT ROWID;
        CREATE TABLE deliveries (                  -- alerts a destination accepted
            destination TEXT NOT NULL,
            alert_id INTEGER NOT NULL REFERENCES alerts (id),
            delivered_at INTEGER NOT NULL,
            receipt TEXT NOT NULL,                 -- HTTP 200, the SNS MessageId, SMTP 250
            PRIMARY KEY (destination, alert_id)
        ) WITHOUT ROWID;
        CREATE TABLE cursors (                     -- per input: listed completely up to this time
            source TEXT PRIMARY KEY,
            listed_through INTEGER NOT NULL,
            run_id INTEGER NOT NULL REFERENCES runs (id)
        ) WITHOUT ROWID;
        """,
        """
        CREATE TABLE window_records (              -- records the windowed rules may still count (TrailWindow)
            rule TEXT NOT NULL,
            role INTEGER NOT NULL,                 -- 0 counted, 1 then
            event_id TEXT NOT NULL,
            event_time INTEGER NOT NULL,
            run_id INTEGER NOT NULL REFERENCES runs (id),  -- the run that read it, or last kept it
            key TEXT NOT NULL,                     -- the group: a JSON array of the key's values
            member TEXT,                           -- the value a distinct count or a novelty compares
            delivered INTEGER,                     -- the object's delivery time, from its name
            account TEXT, region TEXT, source_ip TEXT, principal_type TEXT, user_name TEXT,
            object_kind TEXT NOT NULL CHECK (object_kind IN ('s3', 'file', 'stdin')),
            object TEXT NOT NULL,                  -- as the run named it
            finding TEXT,                          -- FindingCodec JSON, for a record an alert can be about alone
            record BLOB,                           -- that finding's record
            PRIMARY KEY (rule, role, event_id)
        ) WITHOUT ROWID;
        CREATE TABLE window_floors (               -- per rule and key: the last decided alert's record
            rule TEXT NOT NULL,
            key TEXT NOT NULL,
            event_time INTEGER NOT NULL,
            event_id TEXT NOT NULL,
            PRIMARY KEY (rule, key)
        ) WITHOUT ROWID;
        CREATE TABLE window_clock (                -- one row: how far the windowed rules have decided
            id INTEGER PRIMARY KEY CHECK (id = 1),
            watermark INTEGER NOT NULL,            -- alerts ending before it are decided
            delivered INTEGER NOT NULL             -- the newest delivery time read
        );
        """,
    ]

    // MARK: - Runs

    /// Records the start of this run.
    public func beginRun(sources: [String], filters: String, now: Int64) throws(StateError) {
        try database.prepare("INSERT INTO runs (started, pid, sources, filters) VALUES (?, ?, ?, ?)")
            .bind(.integer(now), .integer(Int64(getpid())), .text(Self.jsonArray(sources)), .text(filters)).run()
        runID = database.lastInsertRowID
    }

    /// Records what the run did, and how it ended.
    public func endRun(_ summary: ScanSummary, exitStatus: Int32, now: Int64) throws(StateError) {
        try database.prepare("""
            UPDATE runs SET ended = ?, objects_scanned = ?, objects_failed = ?, objects_already_scanned = ?, alerts = ?,
            alerts_duplicate = ?, list_requests = ?, interrupted = ?, exit_status = ? WHERE id = ?
            """).bind(
                .integer(now), .integer(Int64(summary.objectsScanned)), .integer(Int64(summary.objectsFailed)),
                .integer(Int64(summary.objectsAlreadyScanned)), .integer(Int64(summary.alerts)), .integer(Int64(summary.alertsDuplicate)),
                .integer(Int64(summary.listRequests)), .integer(summary.interrupted ? 1 : 0), .integer(Int64(exitStatus)), .integer(runID)
            ).run()
    }

    // MARK: - Cursors and retries

    /// When `source` was last listed completely (the start of that run), or `nil` if never.
    public func listedThrough(_ source: String) throws(StateError) -> Int64? {
        let statement = try database.prepare("SELECT listed_through FROM cursors WHERE source = ?").bind(.text(source))
        return try statement.step() ? statement.integer(0) : nil
    }

    /// Records that `sources` were listed completely by this run, which started at `time`.
    func advanceCursors(_ sources: [String], to time: Int64) throws(StateError) {
        let statement = try database.prepare("""
            INSERT INTO cursors (source, listed_through, run_id) VALUES (?, ?, ?)
            ON CONFLICT (source) DO UPDATE SET listed_through = max(listed_through, excluded.listed_through), run_id = excluded.run_id
            """)
        for source in sources { try statement.bind(.text(source), .integer(time), .integer(runID)).run() }
    }

    /// The objects that failed in an earlier run and have not been scanned to their end since.
    public func failedObjects() throws(StateError) -> [ObjectRef] {
        let statement = try database.prepare("SELECT kind, name FROM objects WHERE status = 'failed' ORDER BY location")
        var objects: [ObjectRef] = []
        while try statement.step() {
            guard let kind = statement.text(0), let name = statement.text(1) else { continue }
            if kind == "s3", let (bucket, key) = Self.s3Parts(name) {
                objects.append(.s3(bucket: bucket, key: key))
            } else if kind == "file" {
                objects.append(.file(LocalPath(name: name)))
            }
        }
        return objects
    }

    /// The ledger of this state, on a connection of its own, for the scan's workers.
    public func ledger() throws(StateError) -> StateLedger {
        try StateLedger(path: path)
    }

    // MARK: - Helpers

    /// How the state names an object: `nil` for standard input, which cannot be recognized again.
    static func location(of object: ObjectRef) -> (key: [UInt8], kind: String)? {
        switch object {
        case .standardInput: return nil
        case .s3: return (Array(object.name.utf8), "s3")
        case .file(let path):
            guard path.bytes.first != 0x2F else { return (path.bytes, "file") }
            var bytes = Array(WorkingDirectory.path.utf8)
            var relative = path.bytes[...]
            while relative.starts(with: [0x2E, 0x2F]) { relative = relative.dropFirst(2) }
            if bytes.last != 0x2F { bytes.append(0x2F) }
            return (bytes + relative, "file")
        }
    }

    static func s3Parts(_ name: String) -> (String, String)? {
        guard name.hasPrefix("s3://") else { return nil }
        let rest = name.dropFirst(5)
        guard let slash = rest.firstIndex(of: "/") else { return nil }
        return (String(rest[..<slash]), String(rest[rest.index(after: slash)...]))
    }

    static func jsonArray(_ values: [String]) -> String {
        var out: [UInt8] = [0x5B]
        for (index, value) in values.enumerated() {
            if index > 0 { out.append(0x2C) }
            JSONString.appendQuoted(value, to: &out)
        }
        out.append(0x5D)
        return String(decoding: out, as: UTF8.self)
    }
}

@available(*, unavailable)
extension StateStore: Sendable {}

/// The working directory, read once.
enum WorkingDirectory {
    static let path: String = {
        var buffer = [UInt8](repeating: 0, count: Int(PATH_MAX) + 1)
        guard buffer.withUnsafeMutableBufferPointer({ getcwd(UnsafeMutableRawPointer($0.baseAddress!).assumingMemoryBound(to: CChar.self), $0.count) }) != nil
        else { return "/" }
        return String(decoding: buffer.prefix { $0 != 0 }, as: UTF8.self)
    }()
}

/// The ledger of a state file, on its own connection, shared by the scan's workers (one at a time).
public final class StateLedger: ScanLedger {
    private final class Reader {
        let database: SQLiteDatabase
        let lookup: Statement

        init(path: String) throws(StateError) {
            database = try SQLiteDatabase(path: path)
            lookup = try database.prepare("SELECT version FROM objects WHERE location = ? AND status = 'ok'")
        }
    }

    private let reader: Mutex<Reader>

    init(path: String) throws(StateError) {
        reader = Mutex(try Reader(path: path))
    }

    /// `false` when the state cannot be read: the object is scanned again (its alerts, already in the
    /// state, are not reported twice).
    public func hasScanned(_ object: ObjectRef, version: ObjectVersion) -> Bool {
        guard let (key, _) = StateStore.location(of: object) else { return false }
        return reader.withLock { reader in
            guard (try? reader.lookup.bind(.blob(key)).step()) == true else { return false }
            return reader.lookup.text(0) == version.description
        }
    }
}

/// The lock of a state file: `flock` on `<state>.lock` (mode 0600), which holds the pid and start time
/// of the run that has it. The kernel drops it when the process ends, however it ends.
final class StateLock {
    private let fd: Int32

    init(statePath: String, now: Int64) throws(StateError) {
        let path = statePath + ".lock"
        fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            throw StateError(path: statePath, kind: errno == EROFS || errno == EACCES ? .readOnly : .other("cannot create \(path): \(String(cString: strerror(errno)))"))
        }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            let busy = errno == EWOULDBLOCK
            var holder = [UInt8](repeating: 0, count: 256)
            let count = pread(fd, &holder, holder.count, 0)
            close(fd)
            guard busy else { throw StateError(path: statePath, kind: .other("cannot lock \(path): \(String(cString: strerror(errno)))")) }
            let fields = String(decoding: holder.prefix(max(0, count)), as: UTF8.self).split(separator: " ")
            throw StateError(path: statePath, kind: .locked(
                pid: fields.count >= 2 ? Int32(fields[1]) : nil,
                since: fields.count >= 4 ? String(fields[3]).trimmingTrailingNewline : nil))
        }
        let text = Array("pid \(getpid()) since \(UTC.iso8601(now))\n".utf8)
        _ = ftruncate(fd, 0)
        _ = pwrite(fd, text, text.count, 0)
    }

    deinit { close(fd) }
}

extension String {
    fileprivate var trimmingTrailingNewline: String { hasSuffix("\n") ? String(dropLast()) : self }
}
