internal import TrailTime

/// Which records a scan looks at: `--since`, `--until`, `--account`, `--region`.
///
/// Times are Unix seconds; `since` is inclusive, `until` exclusive. Account and region sets are
/// compared to the raw bytes of `recipientAccountId` and `awsRegion` in place.
public struct RecordFilter: Sendable {
    public var since: Int64?
    public var until: Int64?
    /// Objects delivered before this time are not read (an incremental run's look-back: `--state`). It
    /// selects objects by the delivery time in their CloudTrail name, never records by `eventTime`: a
    /// late file holds old events, and they are wanted.
    public var deliveredSince: Int64?
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

    public var isEmpty: Bool { since == nil && until == nil && deliveredSince == nil && accounts.isEmpty && regions.isEmpty }

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
        if let deliveredSince, key.deliveryTime + 60 <= deliveredSince { return false }
        return true
    }

    /// The earliest delivery time an object can have and still be read, from `since` and
    /// `deliveredSince`; `nil` when there is no lower bound.
    public var earliestDelivery: Int64? {
        switch (since, deliveredSince) {
        case (let since?, let delivered?): max(since, delivered)
        case (let since?, nil): since
        case (nil, let delivered?): delivered
        case (nil, nil): nil
        }
    }

    /// Whether a folder of the CloudTrail layout, by the components after `<region>/` (`YYYY`,
    /// `YYYY/MM` or `YYYY/MM/DD`), can hold objects the filters want: `false` when every delivery
    /// time it can hold is before `earliestDelivery`, or a day or more after `until` (folders are named
    /// by delivery day; a file delivered the day after `until` can still hold its events).
    public func mayContainObjects(dayFolder components: [String]) -> Bool {
        guard earliestDelivery != nil || until != nil, (1...3).contains(components.count) else { return true }
        var numbers: [Int64] = []
        for (component, width) in zip(components, [4, 2, 2]) {
            guard component.utf8.count == width, let number = Int64(component), component.allSatisfy(\.isASCII) else { return true }
            numbers.append(number)
        }
        // The folder's first day, and the first day after it.
        let year = numbers[0]
        let (first, end): (Int64, Int64)
        switch numbers.count {
        case 1: (first, end) = (UTC.days(year: year, month: 1, day: 1), UTC.days(year: year + 1, month: 1, day: 1))
        case 2:
            guard (1...12).contains(numbers[1]) else { return true }
            first = UTC.days(year: year, month: numbers[1], day: 1)
            end = numbers[1] == 12 ? UTC.days(year: year + 1, month: 1, day: 1) : UTC.days(year: year, month: numbers[1] + 1, day: 1)
        default:
            guard UTC.isValid(year: year, month: numbers[1], day: numbers[2]) else { return true }
            first = UTC.days(year: year, month: numbers[1], day: numbers[2])
            end = first + 1
        }
        if let earliest = earliestDelivery, end * 86_400 <= earliest { return false }
        if let until, first * 86_400 >= until + 86_400 { return false }
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
        guard parts[3].utf8.count == 14, let delivered = UTC.seconds(basic: String(parts[3])) else { return nil }  // YYYYMMDDTHHmmZ
        account = String(parts[0])
        region = String(parts[2])
        deliveryTime = delivered
    }
}
