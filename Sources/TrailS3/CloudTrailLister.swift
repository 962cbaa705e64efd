internal import Foundation

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

/// One ListObjectsV2 request of a listing: a prefix, what it is in the layout, and where to continue.
public struct ListingTask: Sendable {
    public enum Kind: Sendable, Equatable {
        /// Does the prefix hold `AWSLogs/`? (`found`: seen on an earlier page of this listing.)
        case findLogs(found: Bool)
        /// `AWSLogs/` or an organization level: accounts or organizations below.
        case logs
        /// `<account>/CloudTrail/`: regions below.
        case regions
        /// Every object below.
        case objects
    }

    public var bucket: String
    public var prefix: String
    public var kind: Kind
    public var continuationToken: String?

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
/// delivery time, and a file can hold earlier events). `CloudTrail-Digest/` is never entered, nor
/// `CloudTrail-Insight/` unless asked. A prefix without that layout is listed plainly.
///
/// The plan makes no request itself: callers take tasks, list them — several at once, each with its own
/// client — and hand back each page, which yields objects and further tasks. So independent prefixes
/// (regions, day folders) are listed concurrently.
public struct ListingPlan: Sendable {
    private let filter: ListingFilter
    private var tasks: [ListingTask]
    /// Objects found; those from `head` on are not taken yet (a head index, not `removeFirst`, keeps
    /// taking O(1)).
    private var objects: [(bucket: String, key: String)] = []
    private var head = 0
    /// Tasks being listed by someone now.
    public private(set) var inFlight = 0
    /// Requests made so far.
    public private(set) var requests = 0

    public init(bucket: String, prefix: String, filter: ListingFilter) {
        self.filter = filter
        let start = prefix.isEmpty || prefix.hasSuffix("/") ? prefix : prefix + "/"
        let kind: ListingTask.Kind
        if start.hasSuffix("AWSLogs/") {
            kind = .logs
        } else if start.contains("AWSLogs/") {
            kind = .objects  // deeper inside the layout: list what is there
        } else {
            kind = .findLogs(found: false)
        }
        tasks = [ListingTask(bucket: bucket, prefix: kind == .objects ? prefix : start, kind: kind)]
    }

    /// Nothing left to list, nothing being listed, nothing found and not taken.
    public var isFinished: Bool { tasks.isEmpty && inFlight == 0 && head == objects.count }

    /// The next task to list, if any (the caller lists it, then calls `complete` or `abandon`).
    public mutating func takeTask() -> ListingTask? {
        guard let task = tasks.popLast() else { return nil }
        inFlight += 1
        requests += 1
        return task
    }

    /// The next object found, if any.
    public mutating func takeObject() -> (bucket: String, key: String)? {
        guard head < objects.count else { return nil }
        defer {
            head += 1
            if head == objects.count {
                objects.removeAll(keepingCapacity: true)
                head = 0
            } else if head >= 4096 && head * 2 >= objects.count {
                objects.removeFirst(head)  // drop what was taken, now and then
                head = 0
            }
        }
        return objects[head]
    }

    /// A task failed: nothing more comes from it.
    public mutating func abandon(_ task: ListingTask) {
        inFlight -= 1
    }

    /// Records the page a task returned: its objects, its folders as new tasks, its continuation.
    public mutating func complete(_ task: ListingTask, page: ListObjectsPage) {
        inFlight -= 1
        var found = false
        if case .findLogs(let earlier) = task.kind { found = earlier }
        switch task.kind {
        case .objects:
            objects += page.objects.filter { Self.isLogObject($0.key, includeInsights: filter.includeInsights) }
                .map { (task.bucket, $0.key) }
        case .findLogs:
            if page.prefixes.contains(task.prefix + "AWSLogs/") {
                found = true
                tasks.append(ListingTask(bucket: task.bucket, prefix: task.prefix + "AWSLogs/", kind: .logs))
            }
        case .logs:
            for child in page.prefixes.reversed() {
                let name = String(child.dropFirst(task.prefix.count).dropLast())
                if Self.isOrganization(name) {
                    tasks.append(ListingTask(bucket: task.bucket, prefix: child, kind: .logs))
                } else if Self.isAccount(name), filter.accounts.isEmpty || filter.accounts.contains(name) {
                    if filter.includeInsights {
                        tasks.append(ListingTask(bucket: task.bucket, prefix: child + "CloudTrail-Insight/", kind: .objects))
                    }
                    tasks.append(ListingTask(bucket: task.bucket, prefix: child + "CloudTrail/", kind: .regions))
                }
            }
        case .regions:
            for child in page.prefixes.reversed() {
                let region = String(child.dropFirst(task.prefix.count).dropLast())
                guard filter.regions.isEmpty || filter.regions.contains(region) else { continue }
                for folder in (dayFolders() ?? [""]).reversed() {
                    tasks.append(ListingTask(bucket: task.bucket, prefix: child + folder, kind: .objects))
                }
            }
        }
        if let token = page.continuationToken {
            var next = task
            next.continuationToken = token
            if case .findLogs = task.kind { next.kind = .findLogs(found: found) }
            tasks.append(next)
        } else if case .findLogs = task.kind, !found {
            tasks.append(ListingTask(bucket: task.bucket, prefix: task.prefix, kind: .objects))
        }
    }

    /// The `YYYY/MM/DD/` folders the time window can reach, or `nil` for "all".
    private func dayFolders() -> [String]? {
        guard let since = filter.since else { return nil }  // no lower bound: list everything
        let now = Int64(Date().timeIntervalSince1970)
        let first = since / 86_400
        // `until` is exclusive: the window's last day, then one day of slack for late delivery.
        let last = ((filter.until ?? now) - 1) / 86_400 + 1
        guard last >= first, last - first < 36_600 else { return nil }
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        return (first...last).map { day in
            let parts = calendar.dateComponents([.year, .month, .day], from: Date(timeIntervalSince1970: TimeInterval(day * 86_400)))
            return String(format: "%04d/%02d/%02d/", parts.year!, parts.month!, parts.day!)
        }
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

extension S3Client {
    /// Lists one task of a plan.
    public func list(_ task: ListingTask) throws(S3Error) -> ListObjectsPage {
        try listObjects(bucket: task.bucket, prefix: task.prefix, delimiter: task.delimiter, continuationToken: task.continuationToken)
    }
}
