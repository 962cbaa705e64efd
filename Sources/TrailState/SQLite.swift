internal import CSQLite
internal import Glibc

/// Why the state file cannot be used, with what a user needs to act. Text is made by `description`.
public struct StateError: Error, Equatable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        /// Another process holds the state's lock (exit status 75: try again later).
        case locked(pid: Int32?, since: String?)
        /// Written by a newer trailscan.
        case newerSchema(found: Int, supported: Int)
        /// Not a SQLite file, a damaged one, or a SQLite file of something else.
        case notAState(String)
        /// The file or its folder cannot be written (a read-only file or file system).
        case readOnly
        /// The disk is full.
        case full
        /// Any other SQLite or file-system error: its message.
        case other(String)
    }

    public var path: String
    public var kind: Kind

    public init(path: String, kind: Kind) {
        self.path = path
        self.kind = kind
    }

    public var description: String {
        switch kind {
        case .locked(let pid, let since):
            let holder = [pid.map { "pid \($0)" }, since.map { "since \($0)" }].compactMap { $0 }.joined(separator: ", ")
            return "another scan holds the state" + (holder.isEmpty ? "" : " (\(holder))")
        case .newerSchema(let found, let supported):
            return "the state was written by a newer trailscan (schema version \(found); this one knows up to \(supported)): run that version, or start a new state file"
        case .notAState(let reason):
            return "not a trailscan state file (\(reason)); move it away to start a new one"
        case .readOnly:
            return "the state cannot be written: the file, its folder (SQLite writes its journal beside it) or the file system is read-only"
        case .full:
            return "the disk holding the state file is full"
        case .other(let message):
            return message
        }
    }
}

/// One SQLite connection, owned by one thread at a time (opened `SQLITE_OPEN_NOMUTEX`: the owner
/// serializes its use), with the few calls the state store needs.
final class SQLiteDatabase {
    /// Invariant: a connection from a successful `sqlite3_open_v2`, closed only by `deinit`.
    private let handle: OpaquePointer
    let path: String

    init(path: String, readOnly: Bool = false) throws(StateError) {
        var db: OpaquePointer?
        let flags = (readOnly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE) | SQLITE_OPEN_NOMUTEX
        let rc = sqlite3_open_v2(path, &db, flags, nil)
        guard rc == SQLITE_OK, let db else {
            let message = db.map { String(cString: sqlite3_errmsg($0)) } ?? "cannot open"
            sqlite3_close_v2(db)
            throw Self.error(rc, message: message, path: path)
        }
        handle = db
        self.path = path
        sqlite3_extended_result_codes(db, 1)
        sqlite3_busy_timeout(db, 10_000)
    }

    deinit { sqlite3_close_v2(handle) }

    /// Runs SQL with no parameters and no rows (several statements may be given).
    func execute(_ sql: String) throws(StateError) {
        var message: UnsafeMutablePointer<CChar>?
        let rc = sqlite3_exec(handle, sql, nil, nil, &message)
        defer { sqlite3_free(message) }
        guard rc == SQLITE_OK else { throw failure(rc, message.map { String(cString: $0) }) }
    }

    func prepare(_ sql: String) throws(StateError) -> Statement {
        var statement: OpaquePointer?
        let rc = sqlite3_prepare_v3(handle, sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &statement, nil)
        guard rc == SQLITE_OK, let statement else { throw failure(rc) }
        return Statement(statement, database: self)
    }

    /// The first column of the first row of `sql`, as an integer.
    func integer(_ sql: String) throws(StateError) -> Int64? {
        let statement = try prepare(sql)
        return try statement.step() ? statement.integer(0) : nil
    }

    /// Rows changed by the last INSERT, UPDATE or DELETE.
    var changes: Int { Int(sqlite3_changes(handle)) }

    var lastInsertRowID: Int64 { sqlite3_last_insert_rowid(handle) }

    /// The error of a failed call on this connection.
    func failure(_ rc: Int32, _ message: String? = nil) -> StateError {
        Self.error(rc, message: message ?? String(cString: sqlite3_errmsg(handle)), path: path)
    }

    static func error(_ rc: Int32, message: String, path: String) -> StateError {
        switch rc & 0xFF {
        case SQLITE_READONLY: StateError(path: path, kind: .readOnly)
        case SQLITE_FULL: StateError(path: path, kind: .full)
        case SQLITE_NOTADB, SQLITE_CORRUPT: StateError(path: path, kind: .notAState(message))
        case SQLITE_CANTOPEN:
            StateError(path: path, kind: .other("cannot open the state file: \(message) (\(String(cString: strerror(errno))))"))
        default: StateError(path: path, kind: .other(message))
        }
    }
}

@available(*, unavailable)
extension SQLiteDatabase: Sendable {}

/// A value bound to a statement's parameter.
enum SQLValue {
    case integer(Int64)
    case text(String)
    case blob([UInt8])
    case null
}

/// A prepared statement, reset before each use.
final class Statement {
    /// Invariant: a statement from `sqlite3_prepare_v3` on `database`, finalized only by `deinit`;
    /// `database` outlives it (it holds it).
    private let handle: OpaquePointer
    private let database: SQLiteDatabase

    fileprivate init(_ handle: OpaquePointer, database: SQLiteDatabase) {
        self.handle = handle
        self.database = database
    }

    deinit { sqlite3_finalize(handle) }

    /// Resets the statement and binds `values` to its parameters in order.
    @discardableResult
    func bind(_ values: SQLValue...) throws(StateError) -> Statement {
        try bind(values)
    }

    @discardableResult
    func bind(_ values: [SQLValue]) throws(StateError) -> Statement {
        sqlite3_reset(handle)
        sqlite3_clear_bindings(handle)
        // SQLITE_TRANSIENT: SQLite copies the bytes before the call returns.
        let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)
        for (index, value) in values.enumerated() {
            let position = Int32(index + 1)
            let rc: Int32
            switch value {
            case .integer(let number): rc = sqlite3_bind_int64(handle, position, number)
            case .text(let text): rc = sqlite3_bind_text(handle, position, text, -1, transient)
            case .blob(let bytes):
                rc = bytes.withUnsafeBytes { sqlite3_bind_blob64(handle, position, $0.baseAddress ?? UnsafeRawPointer(bitPattern: 1), UInt64($0.count), transient) }
            case .null: rc = sqlite3_bind_null(handle, position)
            }
            guard rc == SQLITE_OK else { throw database.failure(rc) }
        }
        return self
    }

    /// Steps once: `true` when a row is ready to read, `false` when the statement is done.
    func step() throws(StateError) -> Bool {
        let rc = sqlite3_step(handle)
        switch rc {
        case SQLITE_ROW: return true
        case SQLITE_DONE: return false
        default:
            sqlite3_reset(handle)
            throw database.failure(rc)
        }
    }

    /// Steps to the end (an INSERT, UPDATE or DELETE).
    func run() throws(StateError) {
        while try step() {}
    }

    func integer(_ column: Int32) -> Int64? {
        sqlite3_column_type(handle, column) == SQLITE_NULL ? nil : sqlite3_column_int64(handle, column)
    }

    func text(_ column: Int32) -> String? {
        guard let text = sqlite3_column_text(handle, column) else { return nil }
        return String(decoding: UnsafeBufferPointer(start: text, count: Int(sqlite3_column_bytes(handle, column))), as: UTF8.self)
    }

    func blob(_ column: Int32) -> [UInt8] {
        // The pointer first, then its length (SQLite's documented order).
        guard let bytes = sqlite3_column_blob(handle, column) else { return [] }
        return Array(UnsafeRawBufferPointer(start: bytes, count: Int(sqlite3_column_bytes(handle, column))))
    }
}

@available(*, unavailable)
extension Statement: Sendable {}
