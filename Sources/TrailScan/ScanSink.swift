internal import Synchronization
internal import TrailEvents

/// A consumer of what a scan finds: alerts printed as text or JSON Lines, the summary, and later the
/// state store, notifiers, reports.
///
/// The contract, which `ScanPipeline` keeps:
/// - Every call comes from one thread, the one that called `ScanPipeline.run`, so a sink needs no lock
///   and may be a plain class that is not `Sendable`.
/// - Objects arrive in the order of the listing (paths in sorted order, S3 keys in listing order, the
///   command line's inputs in turn), whatever the number of workers and however they interleave, so
///   the same inputs give the same calls in the same order on every run.
/// - For each object: one `begin`, then its findings in record order, then one `end` with its outcome.
///   No other object's calls come in between. After the last object, the alerts of windowed rules
///   come the same way, grouped by the object of each alert's record, with `ObjectOutcome.origin`
///   `.windows` (they are not a reading of the object).
/// - A folder or prefix that cannot be listed arrives as `listingFailed` at its place in that order.
/// - `finish` comes once, last, with what only the whole run knows.
/// - `isDone` is asked after each object: a sink that returns `true` (its reader went away) stops the
///   scan early; the objects in flight are dropped and `finish` still comes.
public protocol ScanSink: AnyObject {
    func begin(_ object: ObjectRef)
    func finding(_ finding: Finding)
    func end(_ object: ObjectRef, _ outcome: ObjectOutcome)
    func listingFailed(_ location: String, _ failure: ObjectFailure)
    func finish(_ totals: ScanTotals)
    var isDone: Bool { get }
}

extension ScanSink {
    public func begin(_ object: ObjectRef) {}
    public func finding(_ finding: Finding) {}
    public func end(_ object: ObjectRef, _ outcome: ObjectOutcome) {}
    public func listingFailed(_ location: String, _ failure: ObjectFailure) {}
    public func finish(_ totals: ScanTotals) {}
    public var isDone: Bool { false }
}

/// What only a whole run knows, handed to `ScanSink.finish`.
public struct ScanTotals: Sendable, Equatable {
    /// Objects not read because their name shows the filters exclude them (account, region, date).
    public var skipped = SkippedObjects()
    /// Objects not read because an earlier run scanned the same version (`IncrementalPlan.ledger`).
    public var objectsAlreadyScanned = 0
    /// Folder entries not scanned, by why: every entry of a walked folder is scanned, walked, or counted
    /// here (`CloudTrail-Digest/` and `CloudTrail-Insight/` folders, skipped by design, are not).
    public var ignored: [IgnoredEntry: Int] = [:]
    /// S3 ListObjectsV2 requests made to find the objects.
    public var listRequests = 0
    public var elapsedSeconds: Double = 0
    /// The scan was cancelled (`ScanCancellation`, e.g. on SIGINT): the run covers the objects handed
    /// to the sinks before that; those in flight were abandoned.
    public var interrupted = false
    /// The windowed rules' side of the run (set by `TrailWindow`'s sink or the state's).
    public var windows = WindowTotals()

    public init() {}
}

/// What the windowed rules made of the run's records.
public struct WindowTotals: Sendable, Equatable {
    /// Records counted by windowed rules (each once, however often delivered or read).
    public var counted = 0
    /// Records left out as late: delivered more than `lateness` after their `eventTime`, or, with
    /// `--state`, older than an earlier run's watermark.
    public var late = 0
    /// Alerts found but not decided: they end too close to the newest delivery, and the next run decides them.
    public var pending = 0
    /// Seconds of delivery delay tolerated.
    public var lateness: Int64 = 0
    /// Alerts ending before this are decided (`--state`); `nil` when every alert is.
    public var watermark: Int64?

    public init() {}
}

/// Stops a running scan from another thread (a signal handler's): the workers take no more objects and
/// abandon the ones in flight at their next chunk, the consumer hands nothing more to the sinks after
/// the object it is handing over, and `ScanSink.finish` comes with `interrupted` set.
public final class ScanCancellation: Sendable {
    private let state = Mutex<(cancelled: Bool, wake: [@Sendable () -> Void])>((false, []))
    private let flag = Atomic<Bool>(false)

    public init() {}

    public func cancel() {
        let wake = state.withLock { state in
            state.cancelled = true
            defer { state.wake = [] }
            return state.wake
        }
        flag.store(true, ordering: .releasing)
        for action in wake { action() }
    }

    /// Cheap enough to ask once per chunk of an object.
    public var isCancelled: Bool { flag.load(ordering: .acquiring) }

    /// Runs `action` when the scan is cancelled (at once if it already is).
    func onCancel(_ action: @escaping @Sendable () -> Void) {
        let now = state.withLock { state in
            if !state.cancelled { state.wake.append(action) }
            return state.cancelled
        }
        if now { action() }
    }
}

/// Why an entry of a walked folder was not scanned.
public enum IgnoredEntry: String, Sendable, CaseIterable, Comparable {
    case notALogName = "not named *.json.gz or *.json"
    case linkToFolder = "symbolic link to a folder (not followed)"
    case danglingLink = "symbolic link to nothing"
    case notARegularFile = "not a regular file (FIFO, socket, device)"

    public static func < (lhs: IgnoredEntry, rhs: IgnoredEntry) -> Bool {
        allCases.firstIndex(of: lhs)! < allCases.firstIndex(of: rhs)!
    }
}

/// Objects the filters left out by their CloudTrail name, and the accounts and regions those names
/// had (so an empty result can say what the paths hold: a mistyped `--region` shows itself).
public struct SkippedObjects: Sendable, Equatable {
    public var count = 0
    public var accounts: Set<String> = []
    public var regions: Set<String> = []

    public init() {}

    mutating func add(_ key: CloudTrailKey) {
        count += 1
        accounts.insert(key.account)
        regions.insert(key.region)
    }

    mutating func merge(_ other: SkippedObjects) {
        count += other.count
        accounts.formUnion(other.accounts)
        regions.formUnion(other.regions)
    }
}

/// How far the listing has got, for a progress display (read from any thread): objects handed out to
/// be scanned so far, and whether the listing is complete (then that is the total).
public final class ListingProgress: Sendable {
    private let count = Atomic<Int>(0)
    private let done = Atomic<Bool>(false)
    private let known = Atomic<Int>(0)

    public init() {}

    public var listed: Int { count.load(ordering: .relaxed) }
    /// Of those, objects not read because an earlier run scanned them (they reach no sink).
    public var alreadyScanned: Int { known.load(ordering: .relaxed) }
    public var isComplete: Bool { done.load(ordering: .acquiring) }

    func noteListed() { count.add(1, ordering: .relaxed) }
    func noteComplete() { done.store(true, ordering: .releasing) }
    func noteAlreadyScanned() { known.add(1, ordering: .relaxed) }
}
