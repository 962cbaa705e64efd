// TrailScan: the searcher. Owns the sources (local walks, S3 listings), the workers that read, decode,
// split, filter, match and suppress, and what leaves them: `Finding`, `ObjectOutcome`, `ObjectFailure`,
// delivered in listing order to `ScanSink`s. It formats nothing and must never import TrailReport or
// anything else that consumes findings: sinks plug in from above.

internal import Dispatch
internal import Glibc
internal import Foundation
internal import Synchronization
public import TrailEvents
public import TrailMatch
public import TrailS3

/// Everything a scan needs to know, fixed before it starts: plain values, no live objects (what the
/// workers share at run time, `ScanResources`, is made by each run).
public struct ScanConfiguration: Sendable {
    /// Worker threads for local objects; each scans one object at a time (S3 scans use
    /// `S3Settings.maxFetches` workers when that is more).
    public var jobs: Int
    /// Decoded bytes allowed per object (a larger object fails: gzip bomb).
    public var maximumObjectBytes: Int
    /// Largest single record; bounds each worker's decode window.
    public var maximumRecordBytes: Int
    public var filter: RecordFilter
    public var rules: RuleSet
    /// Alerts that are expected and silenced (counted in the summary).
    public var suppressions: Suppressions
    /// Scan `CloudTrail-Insight/` folders too.
    public var includeInsights: Bool
    /// How to reach S3, for `s3://` inputs.
    public var s3: S3Settings?
    /// Decoded bytes that the whole-object fast path may hold at once across all workers (by default
    /// 16 MiB per job); 0 turns the fast path off, so that every object streams through zlib.
    public var fastPathBytes: Int
    /// Bytes of findings all the objects waiting to be handed to the sinks may hold in memory; past
    /// their share of it, an object's findings go to a temporary file.
    public var findingMemoryBytes: Int

    public init(
        jobs: Int, maximumObjectBytes: Int, maximumRecordBytes: Int, filter: RecordFilter, rules: RuleSet,
        suppressions: Suppressions = .none, includeInsights: Bool = false, s3: S3Settings? = nil,
        fastPathBytes: Int? = nil, findingMemoryBytes: Int = 64 << 20
    ) {
        self.jobs = jobs
        self.maximumObjectBytes = maximumObjectBytes
        self.maximumRecordBytes = maximumRecordBytes
        self.filter = filter
        self.rules = rules
        self.suppressions = suppressions
        self.includeInsights = includeInsights
        self.s3 = s3
        self.fastPathBytes = fastPathBytes ?? max(1, jobs) * ObjectScanner.wholeOutputLimit
        self.findingMemoryBytes = findingMemoryBytes
    }

    /// Worker threads: one per job, or with S3 inputs enough to keep `maxFetches` GETs in flight.
    var workerCount: Int { max(1, jobs, s3?.maxFetches ?? 0) }

    /// Objects that may be scanned or waiting to be handed to the sinks at once: a slow object holds
    /// back the output of at most this many after it.
    var reorderWindow: Int { max(16, 2 * workerCount) }
}

/// What the workers of one run share: made when the run starts, gone when it ends.
final class ScanResources: Sendable {
    /// Bounds what the whole-object fast path holds at once.
    let fastPathMemory: FastPathMemory
    /// The gate all workers' S3 GETs pass.
    let fetchLimiter: FetchLimiter
    let cancellation: ScanCancellation
    /// The rules compiled once, for every worker.
    let matcher: RecordMatcher
    /// Digest validation, when asked: workers hash what they inflate and judge each object.
    let verification: ScanVerification?

    init(_ configuration: ScanConfiguration, cancellation: ScanCancellation, verification: ScanVerification?) {
        self.verification = verification
        matcher = RecordMatcher(configuration.rules)
        fastPathMemory = FastPathMemory(bytes: configuration.fastPathBytes)
        fetchLimiter = FetchLimiter(maximum: configuration.s3?.maxFetches ?? 1)
        self.cancellation = cancellation
    }
}

/// Runs a scan: workers take objects from the source, each scanning with its own buffers into an owned
/// batch of findings; the calling thread hands the objects' findings and outcomes to the sinks, one
/// object at a time, in listing order (see `ScanSink` for the contract).
///
/// On local files the calling thread is one of the workers: when nothing is ready to hand to the sinks
/// it scans an object itself rather than sleep, so `--jobs 1` runs on one thread with no hand-off at
/// all, and with more jobs the consumer costs no context switch per object. (Not on S3 or standard
/// input, where a read can take long and the consumer must stay free to notice a cancellation.) The other workers are threads, not tasks:
/// reading files and inflating are blocking, CPU-bound work that should not occupy Swift's cooperative
/// pool.
public enum ScanPipeline {
    /// - Parameters:
    ///   - rawPaths: the bytes of input paths that are not valid UTF-8, by their (repaired) text.
    ///   - plan: what an incremental run adds (`--state`): objects to retry first, each input's look-back,
    ///     and the ledger of what earlier runs scanned.
    ///   - progress: told how far the listing has got (a progress display reads it).
    ///   - verification: digest validation (`scan --verify`): each object's outcome and findings are
    ///     marked with its integrity before the sinks see them.
    public static func run(
        inputs: [String], rawPaths: [String: [UInt8]] = [:], configuration: ScanConfiguration, plan: IncrementalPlan? = nil,
        sinks: [any ScanSink], cancellation: ScanCancellation = ScanCancellation(), progress: ListingProgress = ListingProgress(),
        verification: ScanVerification? = nil
    ) {
        let clock = ContinuousClock.now
        let source = makeSource(inputs: inputs, rawPaths: rawPaths, configuration: configuration, plan: plan, progress: progress)
        let ledger = plan?.ledger
        let shared = ScanResources(configuration, cancellation: cancellation, verification: verification)
        // Not with S3 (a GET can take long) nor standard input (a read can block): the consumer must be
        // free to notice a cancellation at once.
        let callerScans = configuration.s3 == nil && inputs.allSatisfy { input in
            // Nor a FIFO or device named on the command line, whose reads can block as long.
            var info = stat()
            return input != "-" && (rawPaths[input].map(LocalPath.init(bytes:)) ?? LocalPath(input)).withCString { stat($0, &info) } == 0
                && (info.st_mode & S_IFMT == S_IFDIR || info.st_mode & S_IFMT == S_IFREG)
        }
        let threads = callerScans ? configuration.workerCount - 1 : configuration.workerCount
        let delivery = Delivery(window: configuration.reorderWindow, threads: threads)
        cancellation.onCancel { delivery.cancel() }
        let budget = max(256 << 10, configuration.findingMemoryBytes / configuration.reorderWindow)
        /// Scans one item and submits what it gave.
        @Sendable func process(_ sequence: Int, _ item: SourceItem, with scanner: ObjectScanner) {
            switch item {
            case .failure(let location, let failure):
                delivery.submit(sequence, .listingFailed(location, failure))
            case .scan(let object, let listed):
                if let ledger, let listed, ledger.hasScanned(object, version: listed) {
                    verification?.verifier.noteAlreadyScanned(object)
                    return delivery.submit(sequence, .known)
                }
                var findings = FindingBatch(budget: budget)
                var statistics = ObjectStatistics()
                let failure = scanner.scan(object, findings: &findings, statistics: &statistics)
                var outcome = ObjectOutcome(statistics: statistics, failure: failure, observations: findings.observations)
                verification?.judge(object, &outcome, &findings)
                delivery.submit(sequence, .scanned(object, findings, outcome))
            }
        }
        for _ in 0..<threads {
            let thread = Thread {
                let scanner = ObjectScanner(configuration: configuration, shared: shared)
                while !delivery.isStopped, let (sequence, item) = source.next(client: scanner.s3.client), delivery.waitForRoom(sequence) {
                    process(sequence, item, with: scanner)
                }
                delivery.threadFinished()
            }
            thread.stackSize = 4 << 20
            thread.start()
        }
        let scanner = callerScans ? ObjectScanner(configuration: configuration, shared: shared) : nil
        delivery.consume(work: {
            guard let scanner, !cancellation.isCancelled, let (sequence, item) = source.next(client: scanner.s3.client) else { return false }
            process(sequence, item, with: scanner)
            return true
        }) { result in
            switch result {
            case .known:
                progress.noteAlreadyScanned()
            case .listingFailed(let location, let failure):
                for sink in sinks { sink.listingFailed(location, failure) }
            case .scanned(let object, let findings, var outcome):
                for sink in sinks { sink.begin(object) }
                do throws(ObjectFailure) {
                    try findings.forEach { finding in
                        var finding = finding
                        finding.integrity = outcome.integrity
                        for sink in sinks { sink.finding(finding) }
                    }
                } catch {
                    outcome.failure = outcome.failure ?? error
                }
                for sink in sinks { sink.end(object, outcome) }
            }
            return !sinks.contains { $0.isDone }
        }
        var totals = source.totals
        totals.objectsAlreadyScanned = progress.alreadyScanned
        totals.interrupted = cancellation.isCancelled
        let elapsed = ContinuousClock.now - clock
        totals.elapsedSeconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
        for sink in sinks { sink.finish(totals) }
    }

    /// Lists the objects a scan would read, without reading them (`--list-only`): each object is handed
    /// to the sinks as an object with no findings and an empty outcome.
    public static func list(inputs: [String], rawPaths: [String: [UInt8]] = [:], configuration: ScanConfiguration, sinks: [any ScanSink]) {
        let source = makeSource(inputs: inputs, rawPaths: rawPaths, configuration: configuration, plan: nil, progress: ListingProgress())
        let s3 = WorkerS3Client(configuration.s3)
        var stoppedEarly = false
        while !stoppedEarly, let (_, item) = source.next(client: s3.client) {
            switch item {
            case .failure(let location, let failure):
                for sink in sinks { sink.listingFailed(location, failure) }
            case .scan(let object, _):
                for sink in sinks { sink.begin(object) }
                for sink in sinks { sink.end(object, ObjectOutcome()) }
            }
            stoppedEarly = sinks.contains { $0.isDone }
        }
        for sink in sinks { sink.finish(source.totals) }
    }

    private static func makeSource(
        inputs: [String], rawPaths: [String: [UInt8]], configuration: ScanConfiguration, plan: IncrementalPlan?, progress: ListingProgress
    ) -> ObjectSource {
        ObjectSource(
            inputs: inputs, retries: plan?.retries ?? [], rawPaths: rawPaths, includeInsights: configuration.includeInsights,
            s3: configuration.s3, filter: configuration.filter, deliveredSince: plan?.deliveredSince ?? [:], progress: progress)
    }
}

/// The reorder window between the workers and the consumer: results come in from the workers in any
/// order and go out in sequence order.
///
/// A worker holding sequence number `n` waits until `n < emitted + window` before it scans, so at most
/// `window` objects are being scanned or waiting to be emitted: a slow object holds back the output of
/// those after it, never more memory than the window's. The worker holding `emitted` itself never
/// waits, so the consumer always gets what it waits for.
final class Delivery: Sendable {
    enum Result: Sendable {
        case scanned(ObjectRef, FindingBatch, ObjectOutcome)
        /// Not read: the ledger says this version was scanned by an earlier run.
        case known
        case listingFailed(String, ObjectFailure)
    }

    private struct State: Sendable {
        var ready: [Int: Result] = [:]
        /// The sequence number the consumer hands out next.
        var emitted = 0
        /// Worker threads still running (the consumer's own work is not counted).
        var threadsLeft: Int
        /// Workers blocked until the window moves or the consumer stops.
        var waitingForRoom = WaitList()
        /// The consumer stopped: workers take nothing more.
        var stopped = false
        /// Cancelled: the consumer returns without waiting for the workers.
        var cancelled = false
    }

    private let state: Mutex<State>
    private let window: Int
    /// Signalled on every submission and every worker's end: the consumer looks again.
    private let arrived = DispatchSemaphore(value: 0)

    init(window: Int, threads: Int) {
        self.window = window
        state = Mutex(State(threadsLeft: threads))
    }

    /// The consumer has stopped: workers take nothing more.
    var isStopped: Bool { state.withLock { $0.stopped } }

    /// Waits until `sequence` is inside the window. Returns `false` when the consumer has stopped.
    func waitForRoom(_ sequence: Int) -> Bool {
        while true {
            let answer: (go: Bool?, wakeUp: DispatchSemaphore?) = state.withLock { state in
                if state.stopped { return (false, nil) }
                if sequence < state.emitted + window { return (true, nil) }
                return (nil, state.waitingForRoom.enlist())
            }
            if let go = answer.go { return go }
            answer.wakeUp!.wait()
        }
    }

    func submit(_ sequence: Int, _ result: Result) {
        state.withLock { $0.ready[sequence] = result }
        arrived.signal()
    }

    func threadFinished() {
        state.withLock { $0.threadsLeft -= 1 }
        arrived.signal()
    }

    /// Hands each result to `body` in sequence order, on the calling thread, until all the work is done
    /// and everything submitted was handed out, or `body` returns `false`.
    ///
    /// - Parameter work: called when nothing is ready to hand out: takes and does one item of the work
    ///   on this thread (submitting its result), or returns `false` when no work is left to take. It is
    ///   not called while the window's worth of results waits to be handed out, so the consumer never
    ///   runs far ahead of the output.
    func consume(work: () -> Bool, _ body: (Result) -> Bool) {
        var workLeft = true
        while true {
            let (next, threadsDone, full, cancelled) = state.withLock { state in
                (state.ready.removeValue(forKey: state.emitted), state.threadsLeft == 0, state.ready.count >= window, state.cancelled)
            }
            if cancelled { return }
            guard let next else {
                if workLeft && !full {
                    workLeft = work()
                    continue
                }
                if !workLeft && threadsDone { return }
                arrived.wait()
                continue
            }
            state.withLock { state in
                state.emitted += 1
                return state.waitingForRoom.takeAll()
            }.wake()
            if !body(next) {
                stop()
                return
            }
        }
    }

    /// Stops the consumer at once (from any thread): it returns after the result it is handing out, if
    /// any, without waiting for the workers, whose objects in flight are abandoned.
    func cancel() {
        state.withLock { state in
            state.cancelled = true
            state.stopped = true
            return state.waitingForRoom.takeAll()
        }.wake()
        arrived.signal()
    }

    /// Stops the workers taking more, wakes those waiting for room, and waits for them to end; what
    /// they still submit is dropped.
    private func stop() {
        state.withLock { state in
            state.stopped = true
            return state.waitingForRoom.takeAll()
        }.wake()
        while state.withLock({ $0.threadsLeft > 0 }) { arrived.wait() }
    }
}
