public import Foundation

/// What a listing may skip: the same filters as the scan, applied to the layout.
public struct ListingFilter: Sendable {
    public var since: Int64?
    public var until: Int64?
    public var accounts: Set<String>
    public var regions: Set<String>
    public var includeInsights: Bool

    public init(since: Int64? = nil, until: Int64? = nil, accounts: Set<String> = [], regions: Set<String> = [], includeInsights: Bool = false) {
        self.since = since
        self.until = until
        self.accounts = accounts
        self.regions = regions
        self.includeInsights = includeInsights
    }
}

/// Lists the log objects under `s3://bucket/prefix` the way the CloudTrail layout allows, a page at a
/// time, without listing what the filters exclude:
///
///     [prefix/]AWSLogs/[o-orgid/]<account>/CloudTrail/<region>/YYYY/MM/DD/<file>.json.gz
///
/// It finds `AWSLogs/`, then the accounts (through the organization level, if any), keeps those of
/// `--account`, then under `CloudTrail/` the regions of `--region`, and, when a time window is given,
/// lists only the day folders from the day of `since` to one day after `until` (folders are named by
/// delivery time, and a file can hold earlier events). `CloudTrail-Digest/` is never entered, nor
/// `CloudTrail-Insight/` unless asked. A prefix without that layout is listed plainly (every
/// `*.json.gz` / `*.json` below it).
///
/// Not `Sendable`: it owns the client it lists with.
public final class CloudTrailLister {
    private let client: S3Client
    public let bucket: String
    private let filter: ListingFilter

    private enum Work {
        /// A prefix whose children are not known yet: `findLogs` (does it hold AWSLogs/?), `logs`
        /// (accounts or organizations), `account`, `regions`.
        case findLogs(String)
        case logs(String)
        case regions(String)
        /// List every object below the prefix.
        case objects(String)
    }

    private var work: [Work]
    private var pending: [ListObjectsPage.Object] = []
    private var current: (prefix: String, token: String?)?
    /// Requests made so far (for reports and benchmarks).
    public private(set) var requests = 0

    public init(client: S3Client, bucket: String, prefix: String, filter: ListingFilter) {
        self.client = client
        self.bucket = bucket
        self.filter = filter
        let start = prefix.isEmpty || prefix.hasSuffix("/") ? prefix : prefix + "/"
        if start.hasSuffix("AWSLogs/") {
            work = [.logs(start)]
        } else if start.contains("AWSLogs/") {
            work = [.objects(prefix)]  // deeper inside the layout: list what is there
        } else {
            work = [.findLogs(start)]
        }
    }

    /// The next object, or `nil` when the listing is complete.
    public func next() throws(S3Error) -> ListObjectsPage.Object? {
        while true {
            if !pending.isEmpty { return pending.removeFirst() }
            if let (prefix, token) = current {
                let page = try list(prefix, delimiter: nil, token: token)
                pending = page.objects.filter { Self.isLogObject($0.key, includeInsights: filter.includeInsights) }
                current = page.continuationToken.map { (prefix, $0) }
                continue
            }
            guard let item = work.popLast() else { return nil }
            switch item {
            case .objects(let prefix):
                current = (prefix, nil)
            case .findLogs(let prefix):
                let children = try folders(prefix)
                if children.contains(prefix + "AWSLogs/") {
                    work.append(.logs(prefix + "AWSLogs/"))
                } else {
                    work.append(.objects(prefix))
                }
            case .logs(let prefix):
                for child in try folders(prefix).reversed() {
                    let name = String(child.dropFirst(prefix.count).dropLast())
                    if Self.isOrganization(name) {
                        work.append(.logs(child))
                    } else if Self.isAccount(name), filter.accounts.isEmpty || filter.accounts.contains(name) {
                        if filter.includeInsights { work.append(.objects(child + "CloudTrail-Insight/")) }
                        work.append(.regions(child + "CloudTrail/"))
                    }
                }
            case .regions(let prefix):
                for child in try folders(prefix).reversed() {
                    let region = String(child.dropFirst(prefix.count).dropLast())
                    guard filter.regions.isEmpty || filter.regions.contains(region) else { continue }
                    if let days = dayFolders() {
                        for day in days.reversed() { work.append(.objects(child + day)) }
                    } else {
                        work.append(.objects(child))
                    }
                }
            }
        }
    }

    /// The `YYYY/MM/DD/` folders the time window can reach, or `nil` for "all".
    private func dayFolders() -> [String]? {
        guard filter.since != nil || filter.until != nil else { return nil }
        let now = Int64(Date().timeIntervalSince1970)
        let first = (filter.since ?? 0) / 86_400
        // `until` is exclusive: the window's last day, then one day of slack for late delivery.
        let last = ((filter.until ?? now) - 1) / 86_400 + 1
        guard filter.since != nil, last - first < 36_600 else { return nil }  // no lower bound: list all
        return (first...last).map { day in
            let date = Date(timeIntervalSince1970: TimeInterval(day * 86_400))
            var calendar = Calendar(identifier: .gregorian)
            calendar.timeZone = TimeZone(identifier: "UTC")!
            let parts = calendar.dateComponents([.year, .month, .day], from: date)
            return String(format: "%04d/%02d/%02d/", parts.year!, parts.month!, parts.day!)
        }
    }

    /// The common prefixes ("folders") directly below `prefix`.
    private func folders(_ prefix: String) throws(S3Error) -> [String] {
        var result: [String] = []
        var token: String?
        repeat {
            let page = try list(prefix, delimiter: "/", token: token)
            result += page.prefixes
            token = page.continuationToken
        } while token != nil
        return result.sorted()
    }

    private func list(_ prefix: String, delimiter: String?, token: String?) throws(S3Error) -> ListObjectsPage {
        requests += 1
        return try client.listObjects(bucket: bucket, prefix: prefix, delimiter: delimiter, continuationToken: token)
    }

    static func isAccount(_ name: String) -> Bool { name.count == 12 && name.allSatisfy { $0.isASCII && $0.isNumber } }

    static func isOrganization(_ name: String) -> Bool {
        name.hasPrefix("o-") && name.count >= 12 && name.dropFirst(2).allSatisfy { $0.isASCII && ($0.isLowercase || $0.isNumber) }
    }

    /// `*.json.gz` / `*.json`, outside the digest (and, unless asked, Insights) folders.
    static func isLogObject(_ key: String, includeInsights: Bool) -> Bool {
        guard key.hasSuffix(".json.gz") || key.hasSuffix(".json") else { return false }
        if key.contains("/CloudTrail-Digest/") { return false }
        if !includeInsights && key.contains("/CloudTrail-Insight/") { return false }
        return true
    }
}

@available(*, unavailable)
extension CloudTrailLister: Sendable {}
