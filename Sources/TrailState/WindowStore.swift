internal import TrailEvents
internal import TrailMatch
internal import TrailScan
internal import TrailWindow

/// The windowed rules' part of the state: their records, floors and clock (`window_*` tables).
extension StateStore {
    /// What the windowed rules left: the records kept by earlier runs and those this run read (`runID`),
    /// packed together (the earlier ones marked kept), each key's floor, the watermark and the newest
    /// delivery read.
    func windowState() throws(StateError) -> (records: WindowRecords, floors: [WindowGroup: WindowPosition], watermark: Int64?, delivered: Int64?) {
        var records = WindowRecords()
        let rows = try database.prepare("""
            SELECT rule, role, event_id, event_time, run_id, key, member, delivered, account, region, source_ip, principal_type, user_name,
                   object_kind, object, finding, record
            FROM window_records
            """)
        var objects: [String: ObjectRef] = [:]  // many records name one object: its name is decoded once
        while try rows.step() {
            guard let rule = rows.text(0), let role = rows.integer(1).flatMap({ Window.Role(rawValue: UInt8(clamping: $0)) }),
                  let eventID = rows.text(2), let time = rows.integer(3), let key = rows.text(5), let kind = rows.text(13),
                  let name = rows.text(14), let object = objects[kind + ":" + name] ?? Self.object(kind: kind, name: name)
            else { throw StateError(path: path, kind: .notAState("a windowed rule's record cannot be read")) }
            objects[kind + ":" + name] = object
            var finding: Finding?
            if let json = rows.text(15) {
                do { finding = try FindingCodec.finding(json: Array(json.utf8), record: rows.blob(16)) } catch {
                    throw StateError(path: path, kind: .notAState("a windowed rule's record cannot be read: \(error)"))
                }
            }
            records.add(Observation(
                ruleID: rule, role: role, key: key, member: rows.text(6), eventTime: time, eventID: eventID, delivered: rows.integer(7),
                account: rows.text(8), region: rows.text(9), sourceIPAddress: rows.text(10), principalType: rows.text(11),
                userName: rows.text(12), object: object, finding: finding), kept: rows.integer(4) != runID)
        }
        var floors: [WindowGroup: WindowPosition] = [:]
        let floorRows = try database.prepare("SELECT rule, key, event_time, event_id FROM window_floors")
        while try floorRows.step() {
            guard let rule = floorRows.text(0), let key = floorRows.text(1), let time = floorRows.integer(2), let id = floorRows.text(3) else { continue }
            floors[WindowGroup(ruleID: rule, key: key)] = WindowPosition(time: time, eventID: id)
        }
        let clock = try database.prepare("SELECT watermark, delivered FROM window_clock WHERE id = 1")
        guard try clock.step() else { return (records, floors, nil, nil) }
        return (records, floors, clock.integer(0), clock.integer(1))
    }

    /// Replaces the windowed rules' state with `state` (inside the caller's transaction). Its records are
    /// written as this run's; the next run, whose id differs, reads them as kept.
    func saveWindowState(_ state: WindowState, delivered: Int64?) throws(StateError) {
        try database.execute("DELETE FROM window_records; DELETE FROM window_floors; DELETE FROM window_clock")
        let insert = try prepareWindowRecordInsert()
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

    func prepareWindowRecordInsert() throws(StateError) -> Statement {
        try database.prepare("""
            INSERT OR IGNORE INTO window_records (rule, role, event_id, event_time, run_id, key, member, delivered, account, region, source_ip,
                                                  principal_type, user_name, object_kind, object, finding, record)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """)
    }

    /// Inserts one record of a windowed rule (a record already there — delivered twice — stays as it was).
    func insert(_ observation: Observation, into statement: Statement, runID: Int64) throws(StateError) {
        func text(_ value: String?) -> SQLValue { value.map(SQLValue.text) ?? .null }
        let kind: String
        switch observation.object {
        case .file: kind = "file"
        case .s3: kind = "s3"
        case .standardInput: kind = "stdin"
        }
        try statement.bind(
            .text(observation.ruleID), .integer(Int64(observation.role.rawValue)), .text(observation.eventID), .integer(observation.eventTime),
            .integer(runID), .text(observation.key), text(observation.member), observation.delivered.map(SQLValue.integer) ?? .null,
            text(observation.account), text(observation.region), text(observation.sourceIPAddress), text(observation.principalType),
            text(observation.userName), .text(kind), .text(observation.object.name),
            observation.finding.map { .text(String(decoding: FindingCodec.json($0), as: UTF8.self)) } ?? .null,
            observation.finding.map { .blob($0.record) } ?? .null
        ).run()
    }

    /// The object a row names, as the run that read it named it.
    private static func object(kind: String, name: String) -> ObjectRef? {
        switch kind {
        case "s3": s3Parts(name).map { .s3(bucket: $0.0, key: $0.1) }
        case "file": .file(LocalPath(name: name))
        case "stdin": .standardInput
        default: nil
        }
    }
}
