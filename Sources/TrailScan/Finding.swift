public import TrailEvents
public import TrailGzip
public import TrailMatch
public import TrailS3
internal import TrailJSON

/// What a rule found in one record: an owned value with everything a sink needs — the alert's rule,
/// who did what, where and when, what it acted on, where the record came from and the record itself.
///
/// The searcher makes a `Finding` only for a record a rule matched (and no suppression silenced), so
/// copying out of the decode window costs nothing on the records that match nothing. Strings are the
/// decoded values of the log (still attacker-controlled text: every sink escapes them for its own
/// format); a field that is absent, or not a string, is `nil`.
public struct Finding: Sendable, Equatable {
    public struct Principal: Sendable, Equatable {
        public var type: String?
        public var arn: String?
        public var userName: String?

        public init(type: String? = nil, arn: String? = nil, userName: String? = nil) {
            self.type = type
            self.arn = arn
            self.userName = userName
        }

        /// `type arn` or `type userName`, whichever parts exist.
        public var display: String {
            [type, arn ?? userName].compactMap { $0 }.joined(separator: "  ")
        }
    }

    /// A value the action acted on, named by the rule (`Rule.targets`): `requestParameters.userName`,
    /// `requestParameters.policyArn`, `responseElements.accessKey.accessKeyId`, …
    public struct Target: Sendable, Equatable {
        /// The field's dotted path in the record.
        public var field: String
        /// Its decoded value when it is a string, else its JSON text.
        public var value: String

        public init(field: String, value: String) {
            self.field = field
            self.value = value
        }
    }

    public var ruleID: String
    public var severity: Severity
    public var title: String
    public var eventID: String?
    /// `eventTime` as Unix seconds, when it is an RFC 3339 instant.
    public var eventTime: Int64?
    /// `eventTime` as written in the record.
    public var eventTimeText: String?
    public var eventSource: String?
    public var eventName: String?
    /// `recipientAccountId`.
    public var account: String?
    /// `awsRegion`.
    public var region: String?
    public var principal: Principal
    public var sourceIPAddress: String?
    public var userAgent: String?
    /// `responseElements.ConsoleLogin` and `additionalEventData.MFAUsed`, for console sign-ins only.
    public var loginResult: String?
    public var mfaUsed: String?
    public var errorCode: String?
    public var errorMessage: String?
    public var targets: [Target]
    /// What a Stage 2 check found, in words (`created an access key for bob, not for the caller
    /// (alice)`); `nil` for pattern-only rules. Built from log values: escape it like them.
    public var detail: String?
    /// For a windowed or correlated rule: the records behind the alert.
    public var evidence: Evidence?
    /// The object the record was read from.
    public var object: ObjectRef
    /// The record's JSON text, exactly as in the log. Findings of one record share one copy. Empty for
    /// the alert of a counting rule, which is about many records (`evidence` names them).
    public var record: [UInt8]
    /// What digest validation found about `object` (`scan --verify`); `nil` when not asked.
    public var integrity: SourceIntegrity?

    public init(
        ruleID: String, severity: Severity, title: String, eventID: String? = nil, eventTime: Int64? = nil,
        eventTimeText: String? = nil, eventSource: String? = nil, eventName: String? = nil, account: String? = nil,
        region: String? = nil, principal: Principal = Principal(), sourceIPAddress: String? = nil, userAgent: String? = nil,
        loginResult: String? = nil, mfaUsed: String? = nil, errorCode: String? = nil, errorMessage: String? = nil,
        targets: [Target] = [], detail: String? = nil, evidence: Evidence? = nil, object: ObjectRef, record: [UInt8],
        integrity: SourceIntegrity? = nil
    ) {
        self.integrity = integrity
        self.detail = detail
        self.evidence = evidence
        self.ruleID = ruleID
        self.severity = severity
        self.title = title
        self.eventID = eventID
        self.eventTime = eventTime
        self.eventTimeText = eventTimeText
        self.eventSource = eventSource
        self.eventName = eventName
        self.account = account
        self.region = region
        self.principal = principal
        self.sourceIPAddress = sourceIPAddress
        self.userAgent = userAgent
        self.loginResult = loginResult
        self.mfaUsed = mfaUsed
        self.errorCode = errorCode
        self.errorMessage = errorMessage
        self.targets = targets
        self.object = object
        self.record = record
    }

    /// The records a windowed alert stands on: how many, over what span of `eventTime`, and which.
    public struct Evidence: Sendable, Equatable {
        /// Records behind the alert (for a distinct count, the records; `distinct` the values counted).
        public var count: Int
        /// Distinct values counted, for the rules that count them.
        public var distinct: Int?
        /// The rule's window, in seconds.
        public var window: Int64
        /// The `eventTime` of the first and the last record, Unix seconds.
        public var first: Int64
        public var last: Int64
        /// The event IDs of the first `listed` records, in eventTime order.
        public var eventIDs: [String]

        /// How many event IDs an alert lists.
        public static let listed = 20

        public init(count: Int, distinct: Int? = nil, window: Int64, first: Int64, last: Int64, eventIDs: [String]) {
            self.count = count
            self.distinct = distinct
            self.window = window
            self.first = first
            self.last = last
            self.eventIDs = eventIDs
        }
    }

    /// Whether the record is a console sign-in (the records for which `mfaUsed` is meaningful).
    public var isConsoleLogin: Bool { eventName == "ConsoleLogin" }

    /// The finding of `rule` on a borrowed record: copies out what the finding holds.
    ///
    /// - Parameters:
    ///   - bytes: the record's bytes, already copied (one copy for all the rules it matched).
    ///   - detail: what the rule's check found, and `severity` the check's severity when not the rule's.
    init(rule: Rule, record: CloudTrailRecord, bytes: [UInt8], object: ObjectRef, detail: String? = nil, severity: Severity? = nil) {
        let login = "ConsoleLogin".utf8.withContiguousStorageIfAvailable {
            record.field(.eventName, equals: UnsafeRawBufferPointer($0))
        } ?? false
        self.init(
            ruleID: rule.id, severity: severity ?? rule.severity, title: rule.title, eventID: record.string(.eventID),
            eventTime: record.eventTimeSeconds, eventTimeText: record.string(.eventTime),
            eventSource: record.string(.eventSource), eventName: record.string(.eventName),
            account: record.string(.recipientAccountId), region: record.string(.awsRegion),
            principal: Principal(type: record.string(.userIdentityType), arn: record.string(.userIdentityArn),
                                 userName: record.string(.userIdentityUserName)),
            sourceIPAddress: record.string(.sourceIPAddress), userAgent: record.string(.userAgent),
            loginResult: login ? record.string(.consoleLoginResult) : nil, mfaUsed: login ? record.string(.mfaUsed) : nil,
            errorCode: record.string(.errorCode), errorMessage: record.string(.errorMessage),
            targets: rule.targets.compactMap { path in
                record.text(at: path).map { Target(field: path.joined(separator: "."), value: $0) }
            },
            detail: detail, object: object, record: bytes)
    }

    /// Roughly the bytes this finding holds, for memory budgets (the record counted once per finding:
    /// an upper bound when findings share it).
    var footprint: Int {
        var total = 256 + record.count
        for text in [ruleID, title, eventID, eventTimeText, eventSource, eventName, account, region, principal.type,
                     principal.arn, principal.userName, sourceIPAddress, userAgent, loginResult, mfaUsed, errorCode,
                     errorMessage, detail] {
            total += text?.utf8.count ?? 0
        }
        for target in targets { total += target.field.utf8.count + target.value.utf8.count }
        total += (integrity?.digest?.utf8.count ?? 0) + (integrity?.detail?.utf8.count ?? 0)
        for id in evidence?.eventIDs ?? [] { total += 16 + id.utf8.count }
        return total
    }
}

/// Why an object (or a folder or prefix being listed) could not be read to its end: the typed cause,
/// carried to the sinks as it is. Text is made from it at the edge.
public enum ObjectFailure: Error, Sendable, Equatable, CustomStringConvertible {
    /// Reading a file or a folder failed: the `errno`.
    case io(errno: Int32)
    case s3(S3Error)
    /// The gzip stream is corrupt or truncated, or decodes past the object size limit.
    case gzip(GzipError)
    /// Invalid JSON (with its offset), or JSON that is not a CloudTrail log.
    case format(CloudTrailFormatError)
    /// A single record is longer than the record size limit (bytes).
    case recordTooLarge(limit: Int)
    /// The object's findings outgrew memory and could not be written to a temporary file: the `errno`.
    case spill(errno: Int32)
    /// The scan was cancelled while the object was being read (it is abandoned, never reported).
    case interrupted
    /// `scan --verify --require-valid`: the digests do not prove the object's content (or do not cover
    /// it yet: `pending`), so its alerts were withheld, not reported.
    case unproven(SourceIntegrity, alertsWithheld: Int)

    public var description: String {
        switch self {
        case .io(let errno): SystemError(errno: errno).description
        case .s3(let error): error.description
        case .gzip(let error): error.description
        case .format(let error): error.description
        case .recordTooLarge(let limit): "a record is larger than the limit of \(limit) bytes"
        case .spill(let errno): "cannot keep the object's alerts in a temporary file: \(SystemError(errno: errno))"
        case .interrupted: "the scan was interrupted"
        case .unproven(let integrity, let withheld):
            (integrity.status == .pending ? "not covered by a digest yet" : "integrity \(integrity.status.rawValue)")
                + (integrity.detail.map { ": \($0)" } ?? "") + (integrity.digest.map { " (digest \($0))" } ?? "") + "; "
                + (withheld == 0 ? "nothing from it is reported" : withheld == 1 ? "its alert is not reported" : "its \(withheld) alerts are not reported")
                + (integrity.status == .pending ? " until it is" : "")
        }
    }
}

/// What a worker counted in one object.
public struct ObjectStatistics: Sendable, Equatable {
    public var compressedBytes: Int64 = 0
    public var uncompressedBytes: Int64 = 0
    /// Records inside the filters (the ones rules ran on).
    public var records = 0
    /// Records left out by the record filter.
    public var recordsFilteredOut = 0
    /// Of those, records left out by the time window because their `eventTime` is missing or not an
    /// RFC 3339 instant (so the summary can say so, not hide them among the filtered).
    public var recordsWithoutTime = 0
    /// The span of `eventTime` over the records inside the filters, in Unix seconds.
    public var firstEventTime: Int64?
    public var lastEventTime: Int64?
    /// Findings silenced by suppressions, by rule id.
    public var suppressedByRule: [String: Int] = [:]
    /// Records a windowed rule did not count because a suppression matched them, by rule id.
    public var recordsSuppressedByRule: [String: Int] = [:]
    /// Records a Stage 2 rule's pattern matched but its check could not judge (a policy document that
    /// is not valid JSON), by rule id, and the first such record's event ID and reason per rule.
    public var unjudgedByRule: [String: Int] = [:]
    public var unjudgedExample: [String: String] = [:]
    /// Findings dropped because their alert (rule and eventID) was already reported: in an earlier
    /// object of this run, or by an earlier run (`--state`). Set by the sink that drops them.
    public var duplicateFindings = 0
    /// The version read: the ETag the GET returned, the size and modification time of the open file.
    public var version: ObjectVersion?
    /// The lowercase hex SHA-256 of the object's uncompressed content, when the scan hashed it
    /// (`scan --verify`) and read it to its end.
    public var contentHash: String?

    public init() {}

    /// Counts a record `rule` could not judge, keeping the first one's event ID and `reason`.
    mutating func noteUnjudged(_ rule: String, _ record: CloudTrailRecord, _ reason: String) {
        unjudgedByRule[rule, default: 0] += 1
        if unjudgedExample[rule] == nil { unjudgedExample[rule] = "eventID \(record.string(.eventID) ?? "-"): \(reason)" }
    }

    mutating func noteEventTime(_ seconds: Int64) {
        if firstEventTime.map({ seconds < $0 }) ?? true { firstEventTime = seconds }
        if lastEventTime.map({ seconds > $0 }) ?? true { lastEventTime = seconds }
    }
}

/// How one object ended.
public struct ObjectOutcome: Sendable, Equatable {
    public var statistics: ObjectStatistics
    /// What ended the object early, if anything. Findings of the records complete before it are kept.
    public var failure: ObjectFailure?
    /// Where the findings handed over with this outcome come from.
    public var origin: Origin
    /// The records of the object that windowed rules count (`TrailWindow` and the state take them).
    public var observations: [Observation]
    /// What digest validation found (`scan --verify`); `nil` when not asked.
    public var integrity: SourceIntegrity?

    public enum Origin: Sendable, Equatable {
        /// The object was read now.
        case scanned
        /// The object was not read: its findings are alerts an earlier run committed (`--state`) and
        /// stopped before writing out, delivered now.
        case resent
        /// The object was not read now: its findings are alerts of windowed rules on its records,
        /// decided after the last object (their records may come from any object).
        case windows
    }

    public init(statistics: ObjectStatistics = ObjectStatistics(), failure: ObjectFailure? = nil, origin: Origin = .scanned,
                observations: [Observation] = []) {
        self.statistics = statistics
        self.failure = failure
        self.origin = origin
        self.observations = observations
    }
}
