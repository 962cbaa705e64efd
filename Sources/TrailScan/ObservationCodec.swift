public import TrailJSON
internal import TrailMatch

/// An `Observation` as JSON and back, exactly (the state keeps the windowed rules' records between
/// runs): every field, the kept finding as `FindingCodec` writes it, its record beside the JSON.
///
///     {"rule", "role": "counted" | "then", "key", "member", "eventTime", "eventID", "delivered", "account",
///      "region", "sourceIPAddress", "principalType", "userName", "object": {…}, "finding": {…} | null}
public enum ObservationCodec {
    public static func json(_ observation: Observation) -> [UInt8] {
        var out: [UInt8] = []
        var object = JSONObjectWriter(appendingTo: &out)
        object.string("rule", observation.ruleID)
        object.string("role", observation.role == .then ? "then" : "counted")
        object.string("key", observation.key)
        object.string("member", observation.member)
        object.raw("eventTime", String(observation.eventTime).utf8)
        object.string("eventID", observation.eventID)
        object.raw("delivered", (observation.delivered.map(String.init) ?? "null").utf8)
        object.string("account", observation.account)
        object.string("region", observation.region)
        object.string("sourceIPAddress", observation.sourceIPAddress)
        object.string("principalType", observation.principalType)
        object.string("userName", observation.userName)
        FindingCodec.appendObject(observation.object, to: &object)
        object.raw("finding", observation.finding.map(FindingCodec.json) ?? Array("null".utf8))
        object.finish(into: &out)
        return out
    }

    /// - Parameter record: the kept finding's record (empty when it keeps none).
    public static func observation(json: [UInt8], record: [UInt8]) throws(FindingCodec.Malformed) -> Observation {
        let value: JSONValue
        do { value = try JSONValue(parsing: json) } catch { throw FindingCodec.Malformed(reason: "invalid JSON: \(error)") }
        func required(_ name: String) throws(FindingCodec.Malformed) -> String {
            guard let text = try FindingCodec.text(value[name], name) else { throw FindingCodec.Malformed(reason: "\(name) is missing") }
            return text
        }
        let role: Window.Role
        switch try required("role") {
        case "counted": role = .counted
        case "then": role = .then
        case let other: throw FindingCodec.Malformed(reason: "unknown role '\(other)'")
        }
        guard let eventTime = try FindingCodec.integer(value["eventTime"], "eventTime") else {
            throw FindingCodec.Malformed(reason: "eventTime is missing")
        }
        var finding: Finding?
        if let kept = value["finding"], kept != .null {
            var text: [UInt8] = []
            kept.append(to: &text)
            finding = try FindingCodec.finding(json: text, record: record)
        }
        return Observation(
            ruleID: try required("rule"), role: role, key: try required("key"), member: try FindingCodec.text(value["member"], "member"),
            eventTime: eventTime, eventID: try required("eventID"), delivered: try FindingCodec.integer(value["delivered"], "delivered"),
            account: try FindingCodec.text(value["account"], "account"), region: try FindingCodec.text(value["region"], "region"),
            sourceIPAddress: try FindingCodec.text(value["sourceIPAddress"], "sourceIPAddress"),
            principalType: try FindingCodec.text(value["principalType"], "principalType"),
            userName: try FindingCodec.text(value["userName"], "userName"), object: try FindingCodec.object(value["object"]),
            finding: finding)
    }
}
