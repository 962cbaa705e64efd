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
///   No other object's calls come in between.
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
    public var objectsSkipped = 0
    /// S3 ListObjectsV2 requests made to find the objects.
    public var listRequests = 0
    public var elapsedSeconds: Double = 0
    /// A sink stopped the scan before every object was read.
    public var stoppedEarly = false

    public init() {}
}
