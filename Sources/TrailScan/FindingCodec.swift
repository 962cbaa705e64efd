internal import TrailJSON
internal import TrailMatch

/// A `Finding` as JSON and back, exactly: every field but the record, whose bytes travel beside it
/// (the state store keeps them in a column of their own, the spill file as a second piece). The keys
/// are those of `scan --format jsonl` where both have the field:
///
///     {"rule", "severity", "title", "eventID", "eventTime", "eventTimeSeconds", "eventSource", "eventName",
///      "awsRegion", "recipientAccountId", "principal": {"type", "arn", "userName"}, "sourceIPAddress",
///      "userAgent", "loginResult", "mfaUsed", "errorCode", "errorMessage", "targets": [{"field", "value"}],
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
        var first = true
        func key(_ name: String) {
            out.append(first ? 0x7B : 0x2C)
            first = false
            JSONString.appendQuoted(name, to: &out)
            out.append(0x3A)
        }
        func string(_ name: String, _ value: String?) {
            key(name)
            if let value { JSONString.appendQuoted(value, to: &out) } else { out.append(contentsOf: "null".utf8) }
        }
        func object(_ name: String, _ body: () -> Void) {
            key(name)
            let outer = first
            first = true
            body()
            if first { out.append(0x7B) }
            out.append(0x7D)
            first = outer
        }
        string("rule", finding.ruleID)
        string("severity", finding.severity.name)
        string("title", finding.title)
        string("eventID", finding.eventID)
        string("eventTime", finding.eventTimeText)
        key("eventTimeSeconds")
        out.append(contentsOf: (finding.eventTime.map(String.init) ?? "null").utf8)
        string("eventSource", finding.eventSource)
        string("eventName", finding.eventName)
        string("awsRegion", finding.region)
        string("recipientAccountId", finding.account)
        object("principal") {
            string("type", finding.principal.type)
            string("arn", finding.principal.arn)
            string("userName", finding.principal.userName)
        }
        string("sourceIPAddress", finding.sourceIPAddress)
        string("userAgent", finding.userAgent)
        string("loginResult", finding.loginResult)
        string("mfaUsed", finding.mfaUsed)
        string("errorCode", finding.errorCode)
        string("errorMessage", finding.errorMessage)
        key("targets")
        out.append(0x5B)
        for (index, target) in finding.targets.enumerated() {
            if index > 0 { out.append(0x2C) }
            first = true
            string("field", target.field)
            string("value", target.value)
            out.append(0x7D)
        }
        out.append(0x5D)
        first = false
        object("object") {
            switch finding.object {
            case .file(let path): string("file", path.name)
            case .standardInput:
                key("stdin")
                out.append(contentsOf: "true".utf8)
            case .s3(let bucket, let objectKey):
                object("s3") {
                    string("bucket", bucket)
                    string("key", objectKey)
                }
            }
        }
        out.append(0x7D)
        return out
    }

    public static func finding(json: [UInt8], record: [UInt8]) throws(Malformed) -> Finding {
        let value: JSONValue
        do { value = try JSONValue(parsing: json) } catch { throw Malformed(reason: "invalid JSON: \(error)") }
        func text(_ member: JSONValue?, _ name: String) throws(Malformed) -> String? {
            switch member {
            case nil, .null?: return nil
            case .string(let text)?: return text
            default: throw Malformed(reason: "\(name) is not a string")
            }
        }
        func required(_ name: String) throws(Malformed) -> String {
            guard let text = try text(value[name], name) else { throw Malformed(reason: "\(name) is missing") }
            return text
        }
        let severityName = try required("severity")
        guard let severity = Severity.allCases.first(where: { $0.name == severityName }) else {
            throw Malformed(reason: "unknown severity '\(severityName)'")
        }
        var eventTime: Int64?
        switch value["eventTimeSeconds"] {
        case nil, .null?: eventTime = nil
        case .number(let number, _)?:
            guard let seconds = Int64(number) else { throw Malformed(reason: "eventTimeSeconds is not an integer") }
            eventTime = seconds
        default: throw Malformed(reason: "eventTimeSeconds is not a number")
        }
        var targets: [Finding.Target] = []
        if case .array(let elements)? = value["targets"] {
            for element in elements {
                guard let field = try text(element["field"], "targets.field"), let target = try text(element["value"], "targets.value") else {
                    throw Malformed(reason: "a target lacks its field or value")
                }
                targets.append(Finding.Target(field: field, value: target))
            }
        }
        let place = value["object"]
        let object: ObjectRef
        if let path = try text(place?["file"], "object.file") {
            object = .file(LocalPath(name: path))
        } else if case .bool(true)? = place?["stdin"] {
            object = .standardInput
        } else if let s3 = place?["s3"], let bucket = try text(s3["bucket"], "object.s3.bucket"), let key = try text(s3["key"], "object.s3.key") {
            object = .s3(bucket: bucket, key: key)
        } else {
            throw Malformed(reason: "object is missing")
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
            targets: targets, object: object, record: record)
    }
}
