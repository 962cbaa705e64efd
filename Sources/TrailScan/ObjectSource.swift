internal import Dispatch
internal import Glibc
internal import Synchronization
internal import TrailS3

/// A log object to scan.
public enum ObjectRef: Sendable, Equatable {
    case file(String)
    case standardInput
    case s3(bucket: String, key: String)

    /// How messages and alerts name the object.
    public var name: String {
        switch self {
        case .file(let path): path
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

/// What the walk yields next.
enum WalkItem: Sendable {
    case scan(ObjectRef)
    /// Objects not scanned because of where they are; counted in the summary.
    case skip(count: Int)
    /// A folder that could not be read.
    case failure(String, cause: String)
}

/// The objects named on the command line — files, folders walked recursively, and `s3://bucket/prefix`
/// listings (see `CloudTrailLister`) — handed out one at a time to any number of workers, in the order
/// of the command line.
///
/// Folders are read one at a time and their entries sorted, so memory follows the depth and width of
/// the tree, not the number of files, and the order is the same on every run. In folders, files named
/// `*.json.gz` or `*.json` are taken; anything under `CloudTrail-Digest/` (and `CloudTrail-Insight/`
/// unless asked for) is skipped; symbolic links to folders are not followed. A file named explicitly
/// is always scanned.
final class ObjectSource: Sendable {
    private struct Walk {
        var pending: [String]
        /// Folders being walked, innermost last: the folder path, its sorted entries, the next index.
        var folders: [(path: String, entries: [String], next: Int)] = []
        /// The S3 listing in progress: workers take its tasks, list them outside the lock, and return
        /// the pages.
        var plan: ListingPlan?
        /// Workers blocked on `listed` until a listing task in flight comes back.
        var waiting = 0
    }

    private let walk: Mutex<Walk>
    /// Signalled once for each waiting worker when a listing task completes or is abandoned: the only
    /// events that change what a worker told to wait can do next. A worker counts itself in
    /// `Walk.waiting` in the same critical section that tells it to wait, and waits after leaving it;
    /// a signal sent in between is kept by the semaphore, so no wake-up is lost, and a worker woken
    /// early only looks again.
    private let listed = DispatchSemaphore(value: 0)
    private let skippedFolders: Set<String>
    private let prune: @Sendable (String) -> Bool
    private let s3: S3Settings?
    private let listingFilter: ListingFilter

    /// - Parameters:
    ///   - inputs: paths from the command line; `-` is standard input.
    ///   - includeInsights: scan `CloudTrail-Insight/` folders too.
    ///   - prune: returns `true` for a file that cannot hold wanted records (it is skipped).
    init(
        inputs: [String], includeInsights: Bool, s3: S3Settings?, listingFilter: ListingFilter,
        prune: @escaping @Sendable (String) -> Bool
    ) {
        walk = Mutex(Walk(pending: inputs.reversed()))
        skippedFolders = includeInsights ? ["CloudTrail-Digest"] : ["CloudTrail-Digest", "CloudTrail-Insight"]
        self.prune = prune
        self.s3 = s3
        self.listingFilter = listingFilter
    }

    /// S3 requests made for listing so far.
    var listRequests: Int { walk.withLock { $0.plan?.requests ?? 0 } + finishedListRequests.withLock { $0 } }
    private let finishedListRequests = Mutex(0)

    /// What a worker does next.
    private enum Step {
        case item(WalkItem?)
        /// List this task (outside the lock) and hand back the page.
        case list(ListingTask)
        /// Other workers are listing: nothing to hand out yet.
        case wait
    }

    /// The next object, walking folders and S3 listings; `client` gives the calling worker's S3 client,
    /// with which it lists a task of the current S3 listing when no object is ready — so idle workers
    /// list independent prefixes concurrently.
    func next(client: () throws(S3Error) -> S3Client) -> WalkItem? {
        while true {
            switch walk.withLock({ step(&$0) }) {
            case .item(let item):
                return item
            case .wait:
                listed.wait()
            case .list(let task):
                var attempt = 0
                while true {
                    attempt += 1
                    do throws(S3Error) {
                        let page = try client().list(task)
                        handBack { $0.complete(task, page: page) }
                        break
                    } catch {
                        if let delay = s3?.retry.delay(after: attempt, error: error) {
                            usleep(useconds_t(delay * 1_000_000))
                            continue
                        }
                        handBack { $0.abandon(task) }
                        return .failure("s3://\(task.bucket)/\(task.prefix)", cause: error.description)
                    }
                }
            }
        }
    }

    private func step(_ walk: inout Walk) -> Step {
            while true {
                if walk.plan != nil {
                    if let (bucket, key) = walk.plan!.takeObject() {
                        return .item(prune(key) ? .skip(count: 1) : .scan(.s3(bucket: bucket, key: key)))
                    }
                    if let task = walk.plan!.takeTask() { return .list(task) }
                    if walk.plan!.inFlight > 0 {
                        walk.waiting += 1
                        return .wait
                    }
                    finishedListRequests.withLock { $0 += walk.plan!.requests }
                    walk.plan = nil
                } else if var folder = walk.folders.popLast() {
                    guard folder.next < folder.entries.count else { continue }
                    let name = folder.entries[folder.next]
                    folder.next += 1
                    walk.folders.append(folder)
                    let path = folder.path.hasSuffix("/") ? folder.path + name : folder.path + "/" + name
                    switch Self.kind(of: path, following: false) {
                    case .folder:
                        if let item = enter(path, into: &walk, skipping: skippedFolders.contains(name)) { return .item(item) }
                    case .file:
                        if name.hasSuffix(".json.gz") || name.hasSuffix(".json") {
                            return .item(prune(path) ? .skip(count: 1) : .scan(.file(path)))
                        }
                    case .other:
                        continue
                    }
                } else if let input = walk.pending.popLast() {
                    if input == "-" { return .item(.scan(.standardInput)) }
                    if let (bucket, prefix) = s3Location(input) {
                        guard s3 != nil else { return .item(.failure(input, cause: "no S3 settings")) }
                        walk.plan = ListingPlan(bucket: bucket, prefix: prefix, filter: listingFilter)
                        continue
                    }
                    if Self.kind(of: input, following: true) == .folder {
                        if let item = enter(input, into: &walk, skipping: false) { return .item(item) }
                    } else {
                        // Explicit files are scanned whatever their name; a missing one fails when opened.
                        return .item(.scan(.file(input)))
                    }
                } else {
                    return .item(nil)
                }
            }
    }

    /// Returns a listing task to the plan (`change` completes or abandons it) and wakes every worker
    /// waiting for it.
    private func handBack(_ change: (inout ListingPlan) -> Void) {
        let waiting = walk.withLock { walk in
            if walk.plan != nil { change(&walk.plan!) }
            defer { walk.waiting = 0 }
            return walk.waiting
        }
        for _ in 0..<waiting { listed.signal() }
    }

    private func enter(_ path: String, into walk: inout Walk, skipping: Bool) -> WalkItem? {
        if skipping { return nil }  // digests, and Insights unless asked: not logs to scan, and not skipped by a filter
        do {
            walk.folders.append((path, try Self.entries(of: path), 0))
            return nil
        } catch {
            return .failure(path, cause: error.description)
        }
    }

    private enum Kind { case folder, file, other }

    private static func kind(of path: String, following: Bool) -> Kind {
        var info = stat()
        let rc = following ? stat(path, &info) : lstat(path, &info)
        guard rc == 0 else { return .other }
        switch info.st_mode & S_IFMT {
        case S_IFDIR: return .folder
        case S_IFREG: return .file
        case S_IFLNK:
            // A link to a file is followed; a link to a folder is not (no cycles).
            return kind(of: path, following: true) == .file ? .file : .other
        default: return .other
        }
    }

    static func entries(of path: String) throws(SystemError) -> [String] {
        guard let dir = opendir(path) else { throw SystemError(errno: errno) }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names.sorted()
    }
}

/// An `errno` with its message.
struct SystemError: Error, CustomStringConvertible {
    var errno: Int32
    var description: String { String(cString: strerror(errno)) }
}
