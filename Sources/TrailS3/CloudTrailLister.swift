internal import Foundation
internal import TrailBytes
public import TrailEvents
internal import TrailTime

/// One ListObjectsV2 request of a listing: a prefix, what it is in the layout, and where to continue.
public struct ListingTask: Sendable {
    public enum Kind: Sendable, Equatable {
        /// Does the prefix hold `AWSLogs/`? (`found`: seen on an earlier page of this listing.)
        case findLogs(found: Bool)
        /// `AWSLogs/` or an organization level: accounts or organizations below.
        case logs
        /// `<account>/CloudTrail/`: regions below.
        case regions
        /// A region's `YYYY/`, `YYYY/MM/` folders (`depth` of them in the prefix): the ones that exist
        /// and meet the window are listed further, down to day folders.
        case dates(depth: Int)
        /// Every object below.
        case objects
    }

    public var bucket: String
    public var prefix: String
    public var kind: Kind
    public var continuationToken: String?
    /// The first page lists keys after this one (`StartAfter`): an incremental run starts a day folder
    /// at the first minute it must read.
    public var startAfter: String?
    /// Set when the task is taken from a plan: which slot of the plan its page fills.
    var ticket: ExpansionTicket?

    /// Delimiter listings find the "folders"; object listings go all the way down.
    public var delimiter: String? { kind == .objects ? nil : "/" }
}

/// The plan of a listing of `s3://bucket/prefix` that follows the CloudTrail layout and lists only what
/// the filters can contain:
///
///     [prefix/]AWSLogs/[o-orgid/]<account>/CloudTrail/<region>/YYYY/MM/DD/<file>.json.gz
///
/// It finds `AWSLogs/`, then the accounts (through the organization level, if any), keeps those of
/// `--account`, then under `CloudTrail/` the regions of `--region`, and, when a time window is given,
/// lists only the day folders from the day of `since` to one day after `until` (folders are named by
/// delivery time, and a file can hold earlier events). `CloudTrail-Digest/` is entered only when asked
/// (`trailscan verify`: digest folders are named by the digest's end day, as log folders by delivery
/// day), `CloudTrail-Insight/` likewise. A prefix without that layout is listed plainly.
///
/// The plan makes no request itself: callers take tasks, list them — several at once, each with its own
/// client — and hand back each page, which yields objects and further tasks. So independent prefixes
/// (regions, day folders) are listed concurrently.
public struct ListingPlan: Sendable {
    /// What the plan hands out, in key order.
    public enum Item: Sendable {
        case object(bucket: String, key: String, etag: String?)
        /// A prefix whose listing failed for good: nothing below it is known.
        case failed(bucket: String, prefix: String, S3Error)
    }

    private let filter: RecordFilter
    private let includeInsights: Bool
    private let includeDigests: Bool
    private var expansion: OrderedExpansion<ListingTask, Item>
    /// Requests made so far.
    public private(set) var requests = 0

    public init(bucket: String, prefix: String, filter: RecordFilter, includeInsights: Bool = false, includeDigests: Bool = false) {
        self.filter = filter
        self.includeInsights = includeInsights
        self.includeDigests = includeDigests
        let start = prefix.isEmpty || prefix.hasSuffix("/") ? prefix : prefix + "/"
        let kind: ListingTask.Kind
        if start.hasSuffix("AWSLogs/") {
            kind = .logs
        } else if start.contains("AWSLogs/") {
            kind = .objects  // deeper inside the layout: list what is there
        } else {
            kind = .findLogs(found: false)
        }
        expansion = OrderedExpansion([.task(ListingTask(bucket: bucket, prefix: kind == .objects ? prefix : start, kind: kind))])
    }

    /// Nothing left to list, nothing being listed, nothing found and not taken.
    public var isFinished: Bool { expansion.isFinished }

    /// Tasks being listed by someone now.
    public var inFlight: Int { expansion.inFlight }

    /// The next task to list, if any (the caller lists it, then calls `complete` or `abandon`).
    public mutating func takeTask() -> ListingTask? {
        guard let (ticket, task) = expansion.takeTask() else { return nil }
        requests += 1
        var taken = task
        taken.ticket = ticket
        return taken
    }

    /// The next object (or failed prefix) in key order, once everything before it has been listed.
    public mutating func takeItem() -> Item? { expansion.takeItem() }

    /// A task failed for good: its place in the order reports the failure.
    public mutating func abandon(_ task: ListingTask, error: S3Error) {
        expansion.complete(task.ticket!, found: [.item(.failed(bucket: task.bucket, prefix: task.prefix, error))])
    }

    /// Records the page a task returned: its objects, its folders as new tasks, its continuation — in
    /// place of the task, in key order. A truncated page that repeats the token it was asked with, or
    /// brings nothing, would make the listing loop forever: the prefix fails instead.
    public mutating func complete(_ task: ListingTask, page: ListObjectsPage) {
        if let token = page.continuationToken {
            let reason: String? = token == task.continuationToken
                ? "the server repeated the continuation token it was given"
                : page.objects.isEmpty && page.prefixes.isEmpty ? "a truncated page with no keys and no prefixes" : nil
            if let reason {
                let error = S3Error(kind: .badResponse(reason), status: 200, resource: "s3://\(task.bucket)/\(task.prefix)")
                return expansion.complete(task.ticket!, found: [.item(.failed(bucket: task.bucket, prefix: task.prefix, error))])
            }
        }
        var found: [OrderedExpansion<ListingTask, Item>.Found] = []
        var sawLogs = false
        if case .findLogs(let earlier) = task.kind { sawLogs = earlier }
        func child(_ prefix: String, _ kind: ListingTask.Kind, startAfter: String? = nil) {
            found.append(.task(ListingTask(bucket: task.bucket, prefix: prefix, kind: kind, startAfter: startAfter)))
        }
        switch task.kind {
        case .objects:
            for object in page.objects where Self.isLogObject(object.key, includeInsights: includeInsights, includeDigests: includeDigests) {
                found.append(.item(.object(bucket: task.bucket, key: object.key, etag: object.etag)))
            }
        case .findLogs:
            if page.prefixes.contains(task.prefix + "AWSLogs/") {
                sawLogs = true
                child(task.prefix + "AWSLogs/", .logs)
            }
        case .logs:
            for prefix in page.prefixes {
                let name = String(prefix.dropFirst(task.prefix.count).dropLast())
                if Self.isOrganization(name) {
                    child(prefix, .logs)
                } else if Self.isAccount(name), filter.accounts.isEmpty || filter.accounts.contains(name) {
                    // Both sort before CloudTrail/.
                    if includeDigests { child(prefix + "CloudTrail-Digest/", .regions) }
                    if includeInsights { child(prefix + "CloudTrail-Insight/", .objects) }
                    child(prefix + "CloudTrail/", .regions)
                }
            }
        case .regions:
            for prefix in page.prefixes {
                let region = String(prefix.dropFirst(task.prefix.count).dropLast())
                guard filter.regions.isEmpty || filter.regions.contains(region) else { continue }
                guard let folders = dayFolders() else {
                    child(prefix, .objects)
                    continue
                }
                // A long window over a sparse bucket: ask which date folders exist instead of asking for
                // every day (one listing per year and month that exists, not one per day of the window).
                if folders.count > Self.directDays {
                    child(prefix, .dates(depth: 0))
                    continue
                }
                for (index, folder) in folders.enumerated() {
                    child(prefix + folder, .objects, startAfter: index == 0 ? firstKey(day: prefix + folder, region: prefix) : nil)
                }
            }
        case .dates(let depth):
            let dated = task.prefix.split(separator: "/").suffix(depth).map(String.init)
            let region = task.prefix.split(separator: "/", omittingEmptySubsequences: false).dropLast(depth + 1).joined(separator: "/") + "/"
            let firstDay = filter.earliestDelivery.map { UTC.dayFolder(days: $0 / 86_400) }
            for prefix in page.prefixes {
                let components = dated + [String(prefix.dropFirst(task.prefix.count).dropLast())]
                guard filter.mayContainObjects(dayFolder: components) else { continue }
                if components.count < 3 {
                    child(prefix, .dates(depth: depth + 1))
                } else {
                    let isFirst = firstDay == components.joined(separator: "/") + "/"
                    child(prefix, .objects, startAfter: isFirst ? firstKey(day: prefix, region: region) : nil)
                }
            }
        }
        if let token = page.continuationToken {
            var next = task
            next.ticket = nil
            next.continuationToken = token
            next.startAfter = nil
            if case .findLogs = task.kind { next.kind = .findLogs(found: sawLogs) }
            found.append(.task(next))
        } else if case .findLogs = task.kind, !sawLogs {
            child(task.prefix, .objects)
        }
        expansion.complete(task.ticket!, found: found)
    }

    /// Windows of up to this many day folders list them directly; longer ones find the folders first.
    static let directDays = 7

    /// The key before the first one to list in the window's first day folder (`day`, under the region
    /// folder `region`): log files, named by delivery minute, before the earliest wanted minute are not
    /// listed at all; digests are all listed, since they carry the signatures and links of their
    /// neighbours.
    private func firstKey(day: String, region: String) -> String? {
        let parts = region.split(separator: "/")
        guard parts.count >= 3, parts[parts.count - 2] == "CloudTrail", let earliest = filter.earliestDelivery else { return nil }
        let (account, name) = (parts[parts.count - 3], parts[parts.count - 1])
        return day + "\(account)_CloudTrail_\(name)_" + UTC.basic(earliest - 60).prefix(13)
    }

    /// The `YYYY/MM/DD/` folders the time window can reach, or `nil` for "all".
    private func dayFolders() -> [String]? {
        guard let since = filter.earliestDelivery else { return nil }  // no lower bound: list everything
        let now = Int64(Date().timeIntervalSince1970)
        let first = since / 86_400
        // `until` is exclusive: the window's last day, then one day of slack for late delivery. Without
        // `until`, up to today — tomorrow too in the last hour of the day, should S3's clock be ahead.
        let last = filter.until.map { ($0 - 1) / 86_400 + 1 } ?? (now + 3600) / 86_400
        guard last >= first, last - first < 36_600 else { return nil }
        return (first...last).map { UTC.dayFolder(days: $0) }
    }

    static func isAccount(_ name: String) -> Bool { name.count == 12 && name.allSatisfy { $0.isASCII && $0.isNumber } }

    static func isOrganization(_ name: String) -> Bool {
        name.hasPrefix("o-") && name.count >= 12 && name.dropFirst(2).allSatisfy { $0.isASCII && ($0.isLowercase || $0.isNumber) }
    }

    /// `*.json.gz` / `*.json`, outside the digest and Insights folders unless asked.
    static func isLogObject(_ key: String, includeInsights: Bool, includeDigests: Bool = false) -> Bool {
        guard key.hasSuffix(".json.gz") || key.hasSuffix(".json") else { return false }
        if !includeDigests && key.contains("/CloudTrail-Digest/") { return false }
        if !includeInsights && key.contains("/CloudTrail-Insight/") { return false }
        return true
    }
}

extension S3Client {
    /// Lists one task of a plan.
    public func list(_ task: ListingTask) throws(S3Error) -> ListObjectsPage {
        try listObjects(
            bucket: task.bucket, prefix: task.prefix, delimiter: task.delimiter, continuationToken: task.continuationToken,
            startAfter: task.startAfter)
    }
}
