public import TrailEvents
public import TrailJSON

/// The EventBridge event CloudTrail would have produced for a record (EventBridge user guide, "Events
/// from AWS services via CloudTrail"):
///
///     { "version": "0", "id": <eventID>, "detail-type": <from eventType>, "source": "aws." + <service>,
///       "account": <recipientAccountId>, "time": <eventTime>, "region": <awsRegion>, "resources": [],
///       "detail": <the record> }
///
/// EventBridge gives each event a fresh UUID as `id`; trailscan uses the record's `eventID`, which is
/// stable across scans and means something to the reader.
public enum Envelope {
    /// The envelope's own fields (everything but `detail`).
    enum Field: String, CaseIterable, Sendable {
        case version, id, detailType = "detail-type", source, account, time, region, resources
    }

    /// `detail-type` for a record's `eventType` (compared ignoring case: AWS's own samples spell it
    /// `AwsConsoleSignin` too). Records written before `eventType` existed (eventVersion < 1.02) are API
    /// calls, or sign-ins when they come from `signin.amazonaws.com`.
    static func detailType(eventType: String?, eventSource: String?) -> String {
        switch eventType?.lowercased() {
        case "awsapicall": "AWS API Call via CloudTrail"
        case "awsconsolesignin": "AWS Console Sign In via CloudTrail"
        case "awsserviceevent": "AWS Service Event via CloudTrail"
        case "awsconsoleaction": "AWS Console Action via CloudTrail"
        case "awscloudtrailinsight": "AWS Insight via CloudTrail"
        case nil:
            eventSource == "signin.amazonaws.com" ? "AWS Console Sign In via CloudTrail" : "AWS API Call via CloudTrail"
        default: "AWS API Call via CloudTrail"
        }
    }

    /// `source`: `aws.` and the service part of `eventSource`, except for the services whose EventBridge
    /// source has another name.
    public static func source(eventSource: String) -> String {
        let service = eventSource.hasSuffix(".amazonaws.com") ? String(eventSource.dropLast(14)) : eventSource
        return "aws." + (sourceExceptions[service] ?? service)
    }

    /// Services whose EventBridge `source` differs from their CloudTrail `eventSource` name.
    static let sourceExceptions: [String: String] = [
        "monitoring": "cloudwatch",  // CloudWatch metrics and alarms
        "email": "ses",
    ]

    /// The envelope as a JSON value, `detail` included (for `rules test --record` and templates). A
    /// field whose record field is absent is absent too, as in the zero-copy view patterns run on.
    public static func event(for record: JSONValue) -> JSONValue {
        func string(_ key: String) -> String? {
            if case .string(let text) = record[key] { text } else { nil }
        }
        var members: [(key: String, value: JSONValue)] = [("version", .string("0"))]
        if let id = record["eventID"] { members.append(("id", id)) }
        members.append(("detail-type", .string(detailType(eventType: string("eventType"), eventSource: string("eventSource")))))
        if let eventSource = string("eventSource") { members.append(("source", .string(source(eventSource: eventSource)))) }
        if let account = record["recipientAccountId"] { members.append(("account", account)) }
        if let time = record["eventTime"] { members.append(("time", time)) }
        if let region = record["awsRegion"] { members.append(("region", region)) }
        members.append(("resources", .array([])))
        members.append(("detail", record))
        return .object(members)
    }

    /// The envelope of a record on the tape (for templates of alerts).
    public static func event(for record: CloudTrailRecord) -> JSONValue {
        event(for: JSONValue(tape: record.tape, at: 0, bytes: record.bytes))
    }
}
