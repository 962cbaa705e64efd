public import TrailNotify
public import TrailScan

/// The state's outbox as notifications see it: what waits for each destination, across runs. An alert
/// leaves a destination's queue, into `deliveries`, only once that receiver accepted it; a failed try
/// is counted with what the receiver said. A process killed after a receiver accepted a message and
/// before this commit sends that message again next run, with the same idempotency key.
extension StateStore: NotificationOutbox {
    public func pending(for destination: String) throws -> [(id: Int64, finding: Finding)] {
        let statement = try database.prepare("""
            SELECT a.id, a.finding, a.record FROM outbox o JOIN alerts a ON a.id = o.alert_id
            WHERE o.destination = ? ORDER BY o.alert_id
            """).bind(.text(destination))
        var alerts: [(id: Int64, finding: Finding)] = []
        while try statement.step() {
            guard let id = statement.integer(0), let json = statement.text(1) else { continue }
            do { alerts.append((id, try FindingCodec.finding(json: Array(json.utf8), record: statement.blob(2)))) } catch {
                throw StateError(path: path, kind: .notAState("alert \(id) cannot be read: \(error)"))
            }
        }
        return alerts
    }

    public func delivered(_ ids: [Int64], to destination: String, receipt: String, at time: Int64) throws {
        let remove = try database.prepare("DELETE FROM outbox WHERE destination = ? AND alert_id = ?")
        let record = try database.prepare("INSERT OR REPLACE INTO deliveries (destination, alert_id, delivered_at, receipt) VALUES (?, ?, ?, ?)")
        try transaction { () throws(StateError) in
            for id in ids {
                try remove.bind(.text(destination), .integer(id)).run()
                try record.bind(.text(destination), .integer(id), .integer(time), .text(receipt)).run()
            }
        }
    }

    public func failed(_ ids: [Int64], at destination: String, reason: String, at time: Int64) throws {
        let update = try database.prepare("""
            UPDATE outbox SET attempts = attempts + 1, last_attempt = ?, last_error = ? WHERE destination = ? AND alert_id = ?
            """)
        try transaction { () throws(StateError) in
            for id in ids { try update.bind(.integer(time), .text(reason), .text(destination), .integer(id)).run() }
        }
    }

}
