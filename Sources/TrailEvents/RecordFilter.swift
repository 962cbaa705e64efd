internal import TrailTime

/// Which records a scan looks at: `--since`, `--until`, `--account`, `--region`.
///
/// Times are Unix seconds; `since` is inclusive, `until` exclusive. Account and region sets are
/// compared to the raw bytes of `recipientAccountId` and `awsRegion` in place.
public struct RecordFilter: Sendable {
    public var since: Int64?
    public var until: Int64?
    public var accounts: Set<String>
    public var regions: Set<String>
    private let accountBytes: [[UInt8]]
    private let regionBytes: [[UInt8]]

    public init(since: Int64? = nil, until: Int64? = nil, accounts: Set<String> = [], regions: Set<String> = []) {
        self.since = since
        self.until = until
        self.accounts = accounts
        self.regions = regions
        accountBytes = accounts.sorted().map { Array($0.utf8) }
        regionBytes = regions.sorted().map { Array($0.utf8) }
    }

    public var isEmpty: Bool { since == nil && until == nil && accounts.isEmpty && regions.isEmpty }

    /// `since` or `until` is set: records without a readable `eventTime` are left out.
    public var hasTimeWindow: Bool { since != nil || until != nil }

    /// Whether the record is inside the filters. `eventTime` is passed in because the caller reads it
    /// anyway; a record without a readable `eventTime` is outside any time window.
    public func accepts(_ record: CloudTrailRecord, eventTime: Int64?) -> Bool {
        if since != nil || until != nil {
            guard let time = eventTime else { return false }
            if let since, time < since { return false }
            if let until, time >= until { return false }
        }
        if !accountBytes.isEmpty && !Self.field(.recipientAccountId, of: record, isIn: accountBytes) { return false }
        if !regionBytes.isEmpty && !Self.field(.awsRegion, of: record, isIn: regionBytes) { return false }
        return true
    }

    private static func field(_ field: CloudTrailField, of record: CloudTrailRecord, isIn values: [[UInt8]]) -> Bool {
        values.contains { value in value.withUnsafeBytes { record.field(field, equals: $0) } }
    }

    /// Whether a log object at this key or path can hold records inside the filters, judged from the
    /// CloudTrail layout (`…/<account>/CloudTrail/<region>/…/<account>_CloudTrail_<region>_<time>Z_…`).
    ///
    /// The file's timestamp is when it was *delivered*: it holds events from before that minute. So a file
    /// delivered before `since` is skipped, and after `until` one day of slack is kept for late delivery.
    public func mayContainRecords(_ key: CloudTrailKey) -> Bool {
        if !accounts.isEmpty && !accounts.contains(key.account) { return false }
        if !regions.isEmpty && !regions.contains(key.region) { return false }
        if let since, key.deliveryTime + 60 <= since { return false }
        if let until, key.deliveryTime >= until + 86_400 { return false }
        return true
    }
}

/// The parts of a CloudTrail log file name:
/// `<account>_CloudTrail_<region>_<YYYYMMDDTHHmmZ>_<unique>.json.gz`.
public struct CloudTrailKey: Sendable, Equatable {
    public var account: String
    public var region: String
    /// The delivery minute, as Unix seconds.
    public var deliveryTime: Int64

    /// Parses the file-name part of a key or path; `nil` when it is not a CloudTrail log file name.
    public init?(path: String) {
        let name = path.split(separator: "/").last.map(String.init) ?? path
        let parts = name.split(separator: "_", omittingEmptySubsequences: false)
        guard parts.count >= 5, parts[1] == "CloudTrail",
              parts[0].count == 12, parts[0].allSatisfy(\.isASCII), parts[0].allSatisfy(\.isNumber)
        else { return nil }
        let stamp = Array(parts[3].utf8)  // YYYYMMDDTHHmmZ
        guard stamp.count == 14, stamp[8] == 0x54, stamp[13] == 0x5A else { return nil }
        func number(_ range: Range<Int>) -> Int64? {
            var value: Int64 = 0
            for byte in stamp[range] {
                guard byte &- 0x30 < 10 else { return nil }
                value = value * 10 + Int64(byte - 0x30)
            }
            return value
        }
        guard let year = number(0..<4), let month = number(4..<6), let day = number(6..<8),
              let hour = number(9..<11), let minute = number(11..<13),
              UTC.isValid(year: year, month: month, day: day), hour < 24, minute < 60
        else { return nil }
        account = String(parts[0])
        region = String(parts[2])
        deliveryTime = UTC.days(year: year, month: month, day: day) * 86_400 + hour * 3600 + minute * 60
    }
}
