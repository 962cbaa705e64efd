internal import TrailEvents
internal import TrailMatch
public import TrailScan
public import TrailWindow

/// The windowed rules' part of the state: their records, floors and clock (`window_*` tables).
extension StateStore {
    /// The state the windowed rules left, and the records this run added to it (`runID`), apart.
    func windowState() throws(StateError) -> (kept: WindowState, new: [Observation], delivered: Int64?) {
        var state = WindowState()
        var new: [Observation] = []
        let records = try database.prepare("SELECT observation, record, run_id FROM window_records")
        while try records.step() {
            guard let json = records.text(0) else { continue }
            let observation: Observation
            do { observation = try ObservationCodec.observation(json: Array(json.utf8), record: records.blob(1)) } catch {
                throw StateError(path: path, kind: .notAState("a windowed rule's record cannot be read: \(error)"))
            }
            if records.integer(2) == runID { new.append(observation) } else { state.observations.append(observation) }
        }
        let floors = try database.prepare("SELECT rule, key, event_time, event_id FROM window_floors")
        while try floors.step() {
            guard let rule = floors.text(0), let key = floors.text(1), let time = floors.integer(2), let id = floors.text(3) else { continue }
            state.floors[WindowGroup(ruleID: rule, key: key)] = WindowPosition(time: time, eventID: id)
        }
        let clock = try database.prepare("SELECT watermark, delivered FROM window_clock WHERE id = 1")
        var delivered: Int64?
        if try clock.step() {
            state.watermark = clock.integer(0)
            delivered = clock.integer(1)
        }
        return (state, new, delivered)
    }

    /// Replaces the windowed rules' state with `state` (inside the caller's transaction). Its records are
    /// written as this run's; the next run, whose id differs, reads them as kept.
    func saveWindowState(_ state: WindowState, delivered: Int64?) throws(StateError) {
        try database.execute("DELETE FROM window_records; DELETE FROM window_floors; DELETE FROM window_clock")
        let insert = try database.prepare("""
            INSERT OR IGNORE INTO window_records (rule, role, event_id, event_time, run_id, observation, record) VALUES (?, ?, ?, ?, ?, ?, ?)
            """)
        for observation in state.observations { try self.insert(observation, into: insert, runID: runID) }
        let floor = try database.prepare("INSERT INTO window_floors (rule, key, event_time, event_id) VALUES (?, ?, ?, ?)")
        for (group, position) in state.floors {
            try floor.bind(.text(group.ruleID), .text(group.key), .integer(position.time), .text(position.eventID)).run()
        }
        if let watermark = state.watermark, let delivered {
            try database.prepare("INSERT INTO window_clock (id, watermark, delivered) VALUES (1, ?, ?)")
                .bind(.integer(watermark), .integer(delivered)).run()
        }
    }

    /// Inserts one record of a windowed rule (a record already there — delivered twice — stays as it was).
    func insert(_ observation: Observation, into statement: Statement, runID: Int64) throws(StateError) {
        try statement.bind(
            .text(observation.ruleID), .integer(Int64(observation.role.rawValue)), .text(observation.eventID),
            .integer(observation.eventTime), .integer(runID), .text(String(decoding: ObservationCodec.json(observation), as: UTF8.self)),
            .blob(observation.finding?.record ?? [])
        ).run()
    }
}
