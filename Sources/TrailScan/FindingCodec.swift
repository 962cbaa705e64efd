public import TrailJSON
internal import TrailMatch
internal import TrailTime

/// A `Finding` as JSON and back, exactly: every field but the record, whose bytes travel beside it
/// (the state store keeps them in a column of their own, the spill file as a second piece). The keys
/// are those of `scan --format jsonl` where both have the field:
///
///     {"rule", "severity", "title", "eventID", "eventTime", "eventTimeSeconds", "eventSource", "eventName",
///      "awsRegion", "recipientAccountId", "principal": {"type", "arn", "userName"}, "sourceIPAddress",
///      "userAgent", "detail", "evidence": {"count", "distinct", "windowSeconds", "first", "last", "eventIDs"} | null, "loginResult", "mfaUsed", "errorCode", "errorMessage", "targets": [{"field", "value"}],
///      "object": {"file": path} | {"stdin": true} | {"s3": {"bucket", "key"}}}
///
/// An absent field is `null`. A path that is not UTF-8 is written as `LocalPath.name` (bytes as
/// U+10FF00 + the byte) and reads back as the same bytes.
public enum FindingCodec {
    /// Why stored JSON is not a finding (a state file edited by hand, or damaged).
    public struct Malformed: Error, Equatable, CustomStringConvertible {
        public var reason: String
        public var description: String { reason }
    }

    public static func json(_ finding: Finding) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(512)
        var object = JSONObjectWriter(appendingTo: &out)
        finding.appendCommonMembers(to: &object)
        object.raw("eventTimeSeconds", (finding.eventTime.map(String.init) ?? "null").utf8)
        object.string("loginResult", finding.loginResult)
        object.string("mfaUsed", finding.mfaUsed)
        object.string("errorCode", finding.errorCode)
        object.string("errorMessage", finding.errorMessage)
        object.objects("targets", finding.targets) { target, value in
            target.string("field", value.field)
            target.string("value", value.value)
        }
        appendObject(finding.object, to: &object)
        object.finish(into: &out)
        return out
    }

    /// `"object": {"file": path} | {"stdin": true} | {"s3": {"bucket", "key"}}`.
    static func appendObject(_ ref: ObjectRef, to object: inout JSONObjectWriter) {
        object.object("object") { place in
            switch ref {
            case .file(let path): place.string("file", path.name)
            case .standardInput: place.raw("stdin", "true".utf8)
            case .s3(let bucket, let key):
                place.object("s3") { s3 in
                    s3.string("bucket", bucket)
                    s3.string("key", key)
                }
            }
        }
    }

    /// A string member, `nil` when absent or null.
    static func text(_ member: JSONValue?, _ name: String) throws(Malformed) -> String? {
        switch member {
        case nil, .null?: return nil
        case .string(let text)?: return text
        default: throw Malformed(reason: "\(name) is not a string")
        }
    }

    /// An integer member, `nil` when absent or null.
    static func integer(_ member: JSONValue?, _ name: String) throws(Malformed) -> Int64? {
        switch member {
        case nil, .null?: return nil
        case .number(let number, _)?:
            guard let value = Int64(number) else { throw Malformed(reason: "\(name) is not an integer") }
            return value
        default: throw Malformed(reason: "\(name) is not a number")
        }
    }

    /// The `object` member written by `appendObject`.
    static func object(_ place: JSONValue?) throws(Malformed) -> ObjectRef {
        if let path = try text(place?["file"], "object.file") {
            return .file(LocalPath(name: path))
        } else if case .bool(true)? = place?["stdin"] {
            return .standardInput
        } else if let s3 = place?["s3"], let bucket = try text(s3["bucket"], "object.s3.bucket"), let key = try text(s3["key"], "object.s3.key") {
            return .s3(bucket: bucket, key: key)
        }
        throw Malformed(reason: "object is missing")
    }

    public static func finding(json: [UInt8], record: [UInt8]) throws(Malformed) -> Finding {
        // Members are read by name: their order is free.
        let value: JSONValue
        do { value = try JSONValue(parsing: json) } catch { throw Malformed(reason: "invalid JSON: \(error)") }
        func required(_ name: String) throws(Malformed) -> String {
            guard let text = try text(value[name], name) else { throw Malformed(reason: "\(name) is missing") }
            return text
        }
        let severityName = try required("severity")
        guard let severity = Severity.allCases.first(where: { $0.name == severityName }) else {
            throw Malformed(reason: "unknown severity '\(severityName)'")
        }
        let eventTime = try integer(value["eventTimeSeconds"], "eventTimeSeconds")
        var targets: [Finding.Target] = []
        if case .array(let elements)? = value["targets"] {
            for element in elements {
                guard let field = try text(element["field"], "targets.field"), let target = try text(element["value"], "targets.value") else {
                    throw Malformed(reason: "a target lacks its field or value")
                }
                targets.append(Finding.Target(field: field, value: target))
            }
        }
        let object = try Self.object(value["object"])
        var evidence: Finding.Evidence?
        if let found = value["evidence"], found != .null {
            func time(_ name: String) throws(Malformed) -> Int64 {
                guard let text = try text(found[name], "evidence.\(name)"), let seconds = UTC.seconds(rfc3339: text) else {
                    throw Malformed(reason: "evidence.\(name) is not an RFC 3339 time")
                }
                return seconds
            }
            guard let count = try integer(found["count"], "evidence.count"), let window = try integer(found["windowSeconds"], "evidence.windowSeconds"),
                  case .array(let ids)? = found["eventIDs"]
            else { throw Malformed(reason: "evidence lacks its count, windowSeconds or eventIDs") }
            var eventIDs: [String] = []
            for id in ids {
                guard case .string(let text) = id else { throw Malformed(reason: "evidence.eventIDs holds a value that is not a string") }
                eventIDs.append(text)
            }
            evidence = Finding.Evidence(
                count: Int(count), distinct: try integer(found["distinct"], "evidence.distinct").map(Int.init), window: window,
                first: try time("first"), last: try time("last"), eventIDs: eventIDs)
        }
        var integrity: SourceIntegrity?
        if let found = value["integrity"], found != .null {
            let name = try text(found["status"], "integrity.status")
            guard let status = name.flatMap(IntegrityStatus.init(rawValue:)) else { throw Malformed(reason: "integrity.status is not an integrity status") }
            integrity = SourceIntegrity(status: status, digest: try text(found["digest"], "integrity.digest"), detail: try text(found["detail"], "integrity.detail"))
        }
        let principal = value["principal"]
        return Finding(
            ruleID: try required("rule"), severity: severity, title: try required("title"),
            eventID: try text(value["eventID"], "eventID"), eventTime: eventTime, eventTimeText: try text(value["eventTime"], "eventTime"),
            eventSource: try text(value["eventSource"], "eventSource"), eventName: try text(value["eventName"], "eventName"),
            account: try text(value["recipientAccountId"], "recipientAccountId"), region: try text(value["awsRegion"], "awsRegion"),
            principal: Finding.Principal(
                type: try text(principal?["type"], "principal.type"), arn: try text(principal?["arn"], "principal.arn"),
                userName: try text(principal?["userName"], "principal.userName")),
            sourceIPAddress: try text(value["sourceIPAddress"], "sourceIPAddress"), userAgent: try text(value["userAgent"], "userAgent"),
            loginResult: try text(value["loginResult"], "loginResult"), mfaUsed: try text(value["mfaUsed"], "mfaUsed"),
            errorCode: try text(value["errorCode"], "errorCode"), errorMessage: try text(value["errorMessage"], "errorMessage"),
            targets: targets, detail: try text(value["detail"], "detail"), evidence: evidence, object: object, record: record,
            integrity: integrity)
    }
}

extension Finding {
    /// The members `scan --format jsonl` and the state's JSON share, in the order of the JSON Lines
    /// schema: `rule` … `detail`.
    public func appendCommonMembers(to object: inout JSONObjectWriter) {
        object.string("rule", ruleID)
        object.string("severity", severity.name)
        object.string("title", title)
        object.string("eventID", eventID)
        object.string("eventTime", eventTimeText)
        object.string("eventSource", eventSource)
        object.string("eventName", eventName)
        object.string("awsRegion", region)
        object.string("recipientAccountId", account)
        object.object("principal") { principal in
            principal.string("type", self.principal.type)
            principal.string("arn", self.principal.arn)
            principal.string("userName", self.principal.userName)
        }
        object.string("sourceIPAddress", sourceIPAddress)
        object.string("userAgent", userAgent)
        object.string("detail", detail)
        if let evidence { object.object("evidence", evidence.appendMembers) } else { object.raw("evidence", "null".utf8) }
        // Only with `scan --verify`: without it, lines keep the schema they always had.
        if let integrity {
            object.object("integrity") { member in
                member.string("status", integrity.status.rawValue)
                member.string("digest", integrity.digest)
                member.string("detail", integrity.detail)
            }
        }
    }

    /// The record a template renders (`--format template`, a destination's template): the record itself,
    /// or for the alert of a counting rule, which has none, a record of the fields its records share and
    /// the `evidence` (so `$.detail.evidence.count` and `$.detail.sourceIPAddress` work).
    public var templateRecord: [UInt8] {
        guard record.isEmpty else { return record }
        var out: [UInt8] = []
        var object = JSONObjectWriter(appendingTo: &out)
        for (name, value) in [("eventID", eventID), ("eventTime", eventTimeText), ("eventSource", eventSource), ("eventName", eventName),
                              ("awsRegion", region), ("recipientAccountId", account), ("sourceIPAddress", sourceIPAddress),
                              ("userAgent", userAgent)] {
            if let value { object.string(name, value) }
        }
        if principal != Principal() {
            object.object("userIdentity") { identity in
                for (name, value) in [("type", principal.type), ("arn", principal.arn), ("userName", principal.userName)] {
                    if let value { identity.string(name, value) }
                }
            }
        }
        if let evidence { object.object("evidence", evidence.appendMembers) }
        object.finish(into: &out)
        return out
    }
}

extension Finding.Evidence {
    /// `{"count", "distinct", "windowSeconds", "first", "last", "eventIDs"}`, as JSON Lines write it.
    func appendMembers(to member: inout JSONObjectWriter) {
        member.raw("count", String(count).utf8)
        member.raw("distinct", (distinct.map(String.init) ?? "null").utf8)
        member.raw("windowSeconds", String(window).utf8)
        member.string("first", UTC.iso8601(first))
        member.string("last", UTC.iso8601(last))
        member.raw("eventIDs", JSONString.array(eventIDs))
    }
}
