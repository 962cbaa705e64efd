internal import Dispatch
internal import Glibc
internal import Synchronization
internal import TrailBytes
internal import TrailEvents
internal import TrailS3

/// A log object to scan.
public enum ObjectRef: Sendable, Equatable, Hashable {
    case file(LocalPath)
    case standardInput
    case s3(bucket: String, key: String)

    /// How messages and alerts name the object.
    public var name: String {
        switch self {
        case .file(let path): path.name
        case .standardInput: "<stdin>"
        case .s3(let bucket, let key): "s3://\(bucket)/\(key)"
        }
    }
}

/// `s3://bucket[/prefix]` split, or `nil` for anything else.
func s3Location(_ input: String) -> (bucket: String, prefix: String)? {
    guard input.hasPrefix("s3://") else { return nil }
    let rest = input.dropFirst(5)
    let bucket = rest.prefix { $0 != "/" }
    guard !bucket.isEmpty else { return nil }
    return (String(bucket), String(rest.dropFirst(bucket.count + 1)))
}

/// What the source hands out, in listing order.
enum SourceItem: Sendable {
    /// An object to scan, with its version as listed (`nil` for standard input and retried objects).
    case scan(ObjectRef, listed: ObjectVersion?)
    /// A folder or prefix that could not be listed.
    case failure(String, ObjectFailure)
}

/// The objects named on the command line — files, folders walked recursively, and `s3://bucket/prefix`
/// listings (see `ListingPlan`) — handed out one at a time to any number of workers, each with its
/// place in the listing order: the command line's inputs in turn, a folder's entries sorted by name
/// (depth first), S3 keys in the order S3 lists them.
///
/// Listing is work the workers share: a worker with nothing to scan reads a folder or lists a prefix,
/// outside the lock, and hands back what it found in place of the task (`OrderedExpansion`), so
/// folders and prefixes are read concurrently and no worker waits on another's directory I/O. Memory
/// follows the folders and pages being expanded, not the number of files. In folders, files named
/// `*.json.gz` or `*.json` are taken; `CloudTrail-Digest/` (and `CloudTrail-Insight/` unless asked for)
/// is skipped; symbolic links to folders are not followed. A file named explicitly is always scanned.
final class ObjectSource: Sendable {
    /// Listing work on local paths.
    enum LocalTask: Sendable {
        /// A path from the command line: a folder to walk, or a file to scan whatever its name.
        case input(LocalPath)
        case folder(LocalPath)
    }

    private enum Listing: Sendable {
        case local(OrderedExpansion<LocalTask, SourceItem>)
        case s3(ListingPlan)
    }

    private struct State: Sendable {
        /// Inputs not started, last first.
        var pending: [String]
        /// Objects to scan before any input (failed in an earlier run, `--state`), last first.
        var retries: [ObjectRef]
        var listing: Listing?
        /// The filter of the input being listed (its own `deliveredSince`).
        var filter: RecordFilter
        /// Workers blocked until a task in flight comes back.
        var waiting = WaitList()
        /// The place in the listing order of the next item handed out.
        var sequence = 0
        /// Objects not scanned because of where they are (see `pruned`).
        var skipped = SkippedObjects()
        /// Folder entries not scanned, by reason.
        var ignored: [IgnoredEntry: Int] = [:]
        /// S3 list requests of the plans already finished.
        var finishedListRequests = 0
    }

    /// A task taken under the lock, to run outside it.
    private enum Work {
        case local(ExpansionTicket, LocalTask, RecordFilter)
        case s3(ListingTask)
    }

    /// What a worker does next.
    private enum Step {
        case item(SourceItem?)
        case run(Work)
        /// Other workers are listing: nothing to hand out yet; wait on this until one hands back.
        case wait(DispatchSemaphore)
    }

    /// Handing back a task is the only event that changes what a waiting worker can do: it wakes every
    /// worker in `State.waiting`.
    private let state: Mutex<State>
    private let skippedFolders: Set<[UInt8]>
    private let includeInsights: Bool
    private let s3: S3Settings?
    private let filter: RecordFilter
    private let deliveredSince: [String: Int64]
    private let rawPaths: [String: [UInt8]]
    /// The objects retried first: the listing does not hand them out again.
    private let retried: Set<ObjectRef>
    /// Told of each object handed out, and of the listing's end.
    let progress: ListingProgress

    /// An input path as the bytes the user gave.
    private func rawPath(_ input: String) -> LocalPath {
        rawPaths[input].map { LocalPath(bytes: $0) } ?? LocalPath(input)
    }

    /// - Parameters:
    ///   - inputs: paths from the command line; `-` is standard input.
    ///   - rawPaths: the bytes of inputs that are not valid UTF-8 (from `argv`), by their text.
    ///   - retries: objects to scan first, whatever the filters (they failed in an earlier run).
    ///   - includeInsights: scan `CloudTrail-Insight/` folders too.
    ///   - filter: what the listing may leave out (accounts, regions, day folders, file names that show
    ///     they cannot hold wanted records: those are skipped and counted).
    ///   - deliveredSince: by input, the `RecordFilter.deliveredSince` of its listing (an incremental run).
    init(
        inputs: [String], retries: [ObjectRef] = [], rawPaths: [String: [UInt8]] = [:], includeInsights: Bool, s3: S3Settings?,
        filter: RecordFilter, deliveredSince: [String: Int64] = [:], progress: ListingProgress = ListingProgress()
    ) {
        self.progress = progress
        self.rawPaths = rawPaths
        state = Mutex(State(pending: inputs.reversed(), retries: retries.reversed(), filter: filter))
        skippedFolders = Set((includeInsights ? ["CloudTrail-Digest"] : ["CloudTrail-Digest", "CloudTrail-Insight"]).map { Array($0.utf8) })
        self.includeInsights = includeInsights
        self.s3 = s3
        self.filter = filter
        self.deliveredSince = deliveredSince
        retried = Set(retries)
    }

    /// The CloudTrail name of a file or key, when it shows that the object cannot hold records the
    /// filter wants.
    private static func pruned(_ path: String, _ filter: RecordFilter) -> CloudTrailKey? {
        guard !filter.isEmpty, let key = CloudTrailKey(path: path), !filter.mayContainRecords(key) else { return nil }
        return key
    }

    /// S3 requests made for listing so far.
    var listRequests: Int {
        state.withLock { state in
            if case .s3(let plan) = state.listing { return state.finishedListRequests + plan.requests }
            return state.finishedListRequests
        }
    }

    /// What the source counted, for `ScanSink.finish`.
    var totals: ScanTotals {
        var totals = ScanTotals()
        totals.listRequests = listRequests
        state.withLock { state in
            totals.skipped = state.skipped
            totals.ignored = state.ignored
        }
        return totals
    }

    /// The next item and its place in the listing order (0, 1, 2, … with no gaps), or `nil` at the end.
    /// `client` gives the calling worker's S3 client, with which it lists a prefix when nothing is
    /// ready to hand out.
    func next(client: () throws(S3Error) -> S3Client) -> (sequence: Int, item: SourceItem)? {
        while true {
            // An item is numbered in the critical section that takes it, so numbers follow the order.
            let (taken, sequence) = state.withLock { (state: inout State) -> (Step, Int) in
                let taken = step(&state)
                guard case .item(.some) = taken else { return (taken, 0) }
                state.sequence += 1
                return (taken, state.sequence - 1)
            }
            switch taken {
            case .item(let item):
                guard let item else {
                    progress.noteComplete()
                    return nil
                }
                if case .scan = item { progress.noteListed() }
                return (sequence, item)
            case .wait(let wakeUp):
                wakeUp.wait()
            case .run(.local(let ticket, let task, let filter)):
                let (found, skipped, ignored) = run(task, filter: filter)
                handBack { state in
                    state.skipped.merge(skipped)
                    state.ignored.merge(ignored, uniquingKeysWith: +)
                    if case .local(var walk) = state.listing {
                        state.listing = nil  // no copy of the walk while it changes
                        walk.complete(ticket, found: found)
                        state.listing = .local(walk)
                    }
                }
            case .run(.s3(let task)):
                let result = list(task, client: client)
                handBack { state in
                    guard case .s3(var plan) = state.listing else { return }
                    state.listing = nil
                    switch result {
                    case .success(let page): plan.complete(task, page: page)
                    case .failure(let error): plan.abandon(task, error: error)
                    }
                    state.listing = .s3(plan)
                }
            }
        }
    }

    /// What comes next in the order, under the lock.
    private func step(_ state: inout State) -> Step {
        while true {
            switch state.listing {
            case .local(var walk):
                state.listing = nil  // the walk uniquely referenced while it changes: no copy
                if let item = walk.takeItem() {
                    state.listing = .local(walk)
                    if case .scan(let object, _) = item, retried.contains(object) { continue }
                    return .item(item)
                }
                if let (ticket, task) = walk.takeTask() {
                    state.listing = .local(walk)
                    return .run(.local(ticket, task, state.filter))
                }
                if walk.inFlight > 0 {
                    state.listing = .local(walk)
                    return .wait(state.waiting.enlist())
                }
                continue  // walked to its end: the next input
            case .s3(var plan):
                state.listing = nil
                if let item = plan.takeItem() {
                    state.listing = .s3(plan)
                    switch item {
                    case .object(let bucket, let key, let etag):
                        if let name = Self.pruned(key, state.filter) {
                            state.skipped.add(name)
                            continue
                        }
                        let object = ObjectRef.s3(bucket: bucket, key: key)
                        if retried.contains(object) { continue }
                        return .item(.scan(object, listed: etag.map(ObjectVersion.etag)))
                    case .failed(let bucket, let prefix, let error):
                        return .item(.failure("s3://\(bucket)/\(prefix)", .s3(error)))
                    }
                }
                if let task = plan.takeTask() {
                    state.listing = .s3(plan)
                    return .run(.s3(task))
                }
                if plan.inFlight > 0 {
                    state.listing = .s3(plan)
                    return .wait(state.waiting.enlist())
                }
                state.finishedListRequests += plan.requests
                continue
            case nil:
                if let retry = state.retries.popLast() { return .item(.scan(retry, listed: nil)) }
                guard let input = state.pending.popLast() else { return .item(nil) }
                state.filter = filter
                state.filter.deliveredSince = deliveredSince[input]
                if input == "-" { return .item(.scan(.standardInput, listed: nil)) }
                if let (bucket, prefix) = s3Location(input) {
                    guard s3 != nil else {
                        return .item(.failure(input, .s3(S3Error(kind: .other, message: "no S3 settings", resource: input))))
                    }
                    state.listing = .s3(ListingPlan(bucket: bucket, prefix: prefix, filter: state.filter, includeInsights: includeInsights))
                } else {
                    state.listing = .local(OrderedExpansion([.task(.input(rawPath(input)))]))
                }
            }
        }
    }

    /// Hands back what a task found (`change` puts it in place) and wakes every worker waiting for it.
    private func handBack(_ change: (inout State) -> Void) {
        state.withLock { state in
            change(&state)
            return state.waiting.takeAll()
        }.wake()
    }

    /// Lists one S3 prefix, retrying what is worth retrying.
    private func list(_ task: ListingTask, client: () throws(S3Error) -> S3Client) -> Result<ListObjectsPage, S3Error> {
        let retry = s3?.retry ?? RetryPolicy(maxAttempts: 1)
        return Result { () throws(S3Error) in try retry.run { () throws(S3Error) in try client().list(task) } }
    }

    // MARK: - Local folders

    /// Reads one local path: what it holds in order, how many files were pruned, and the entries
    /// ignored, by reason.
    private func run(_ task: LocalTask, filter: RecordFilter) -> (found: [OrderedExpansion<LocalTask, SourceItem>.Found], skipped: SkippedObjects, ignored: [IgnoredEntry: Int]) {
        switch task {
        case .input(let path):
            // Explicit files are scanned whatever their name; a missing one fails when opened.
            switch Self.kind(of: path, following: true) {
            case .folder: return run(.folder(path), filter: filter)
            case .file(let version): return ([.item(.scan(.file(path), listed: version))], SkippedObjects(), [:])
            default: return ([.item(.scan(.file(path), listed: nil))], SkippedObjects(), [:])
            }
        case .folder(let path):
            let names: [[UInt8]]
            do { names = try path.entries() } catch {
                return ([.item(.failure(path.name, .io(errno: error.errno)))], SkippedObjects(), [:])
            }
            var found: [OrderedExpansion<LocalTask, SourceItem>.Found] = []
            var skipped = SkippedObjects()
            var ignored: [IgnoredEntry: Int] = [:]
            for name in names {
                let child = path.appending(name)
                switch Self.kind(of: child, following: false) {
                case .folder:
                    // Digests, and Insights unless asked: not logs to scan, and not skipped by a filter.
                    // Day folders of the CloudTrail layout entirely outside the window are not walked.
                    if !skippedFolders.contains(name) && Self.mayContainObjects(child, filter) { found.append(.task(.folder(child))) }
                case .file(let version):
                    guard Self.isLogName(name) else {
                        ignored[.notALogName, default: 0] += 1
                        continue
                    }
                    if let name = Self.pruned(child.name, filter) {
                        skipped.add(name)
                    } else {
                        found.append(.item(.scan(.file(child), listed: version)))
                    }
                case .ignored(let reason):
                    ignored[reason, default: 0] += 1
                case .unreadable(let errno):
                    // Not silently passed over: the entry is named, with the reason (a path of 4 KiB or
                    // more, a permission).
                    found.append(.item(.failure(child.name, .io(errno: errno))))
                }
            }
            return (found, skipped, ignored)
        }
    }

    /// Whether a folder can hold objects the filter wants, judged by its place in the CloudTrail layout:
    /// `…/CloudTrail/<region>/YYYY[/MM[/DD]]` before the window's earliest delivery day, or more than a
    /// day after its end, cannot.
    private static func mayContainObjects(_ folder: LocalPath, _ filter: RecordFilter) -> Bool {
        guard filter.earliestDelivery != nil || filter.until != nil else { return true }
        let components = folder.name.split(separator: "/").map(String.init)
        guard let index = components.lastIndex(of: "CloudTrail"), components.count - index - 2 >= 1 else { return true }
        return filter.mayContainObjects(dayFolder: Array(components[(index + 2)...]))
    }

    private enum Kind: Equatable {
        case folder
        case file(ObjectVersion)
        case ignored(IgnoredEntry)
        /// `stat` failed with this `errno`.
        case unreadable(Int32)
    }

    private static func kind(of path: LocalPath, following: Bool) -> Kind {
        var info = stat()
        let rc = path.withCString { following ? stat($0, &info) : lstat($0, &info) }
        guard rc == 0 else { return following && errno == ENOENT ? .ignored(.danglingLink) : .unreadable(errno) }
        switch info.st_mode & S_IFMT {
        case S_IFDIR: return .folder
        case S_IFREG: return .file(ObjectVersion(info))
        case S_IFLNK:
            // A link to a file is followed; a link to a folder is not (no cycles).
            switch kind(of: path, following: true) {
            case .file(let version): return .file(version)
            case .folder: return .ignored(.linkToFolder)
            case let other: return other
            }
        default: return .ignored(.notARegularFile)
        }
    }

    /// `*.json.gz` or `*.json`.
    private static func isLogName(_ name: [UInt8]) -> Bool {
        name.reversed().starts(with: ".json.gz".utf8.reversed()) || name.reversed().starts(with: ".json".utf8.reversed())
    }
}

/// An `errno` with its message.
public struct SystemError: Error, CustomStringConvertible {
    public var errno: Int32
    public init(errno: Int32) { self.errno = errno }
    public var description: String { String(cString: strerror(errno)) }
}
