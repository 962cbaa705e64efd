internal import Foundation
internal import Synchronization
public import TrailMatch
public import TrailReport
public import TrailS3

/// Everything a scan needs to know, fixed before it starts.
public struct ScanConfiguration: Sendable {
    /// Worker threads for local objects; each scans one object at a time (S3 scans use
    /// `S3Settings.maxFetches` workers when that is more).
    public var jobs: Int
    /// Decoded bytes allowed per object (a larger object fails: gzip bomb).
    public var maximumObjectBytes: Int
    /// Largest single record; bounds each worker's memory.
    public var maximumRecordBytes: Int
    public var filter: RecordFilter
    public var rules: RuleSet
    public var format: any AlertFormat
    /// Alerts that are expected and silenced (counted in the summary).
    public var suppressions: Suppressions
    /// Scan `CloudTrail-Insight/` folders too.
    public var includeInsights: Bool
    /// How to reach S3, for `s3://` inputs.
    public var s3: S3Settings?
    /// Shared by the workers of one scan: bounds what the whole-object fast path holds at once.
    let fastPathMemory: FastPathMemory

    /// - Parameter fastPathBytes: decoded bytes that the whole-object fast path may hold at once across
    ///   all workers (by default 16 MiB per job); 0 turns the fast path off, so that every object
    ///   streams through zlib.
    public init(
        jobs: Int, maximumObjectBytes: Int, maximumRecordBytes: Int, filter: RecordFilter, rules: RuleSet,
        format: any AlertFormat, suppressions: Suppressions = .none, includeInsights: Bool = false, s3: S3Settings? = nil,
        fastPathBytes: Int? = nil
    ) {
        self.jobs = jobs
        self.maximumObjectBytes = maximumObjectBytes
        self.maximumRecordBytes = maximumRecordBytes
        self.filter = filter
        self.rules = rules
        self.format = format
        self.suppressions = suppressions
        self.includeInsights = includeInsights
        self.s3 = s3
        fastPathMemory = FastPathMemory(bytes: fastPathBytes ?? max(1, jobs) * ObjectScanner.wholeOutputLimit)
    }

    /// Worker threads: one per job, or with S3 inputs enough to keep `maxFetches` GETs in flight.
    var workerCount: Int { max(1, jobs, s3?.maxFetches ?? 0) }
}

/// How a scan ended.
public struct ScanOutcome: Sendable {
    public var summary: ScanSummary
    /// The reader of standard output went away; the scan stopped early.
    public var outputClosed: Bool
}

/// Runs a scan: `jobs` worker threads take objects from the source one at a time; each worker scans
/// its object with its own buffers, then writes the object's alerts in one piece and reports a failure
/// as one line on stderr. Summaries are merged when the workers finish.
///
/// Workers are threads, not tasks: reading files and inflating are blocking, CPU-bound work that
/// should not occupy Swift's cooperative pool.
public enum ScanPipeline {
    public static func run(
        inputs: [String], configuration: ScanConfiguration,
        output: OutputWriter = .standardOutput, errors: OutputWriter = .standardError
    ) -> ScanOutcome {
        let clock = ContinuousClock.now
        let source = makeSource(inputs: inputs, configuration: configuration)
        let total = Mutex(ScanSummary())
        let group = DispatchGroup()
        for _ in 0..<configuration.workerCount {
            group.enter()
            let thread = Thread {
                let summary = work(source: source, configuration: configuration, output: output, errors: errors)
                total.withLock { $0 += summary }
                group.leave()
            }
            thread.stackSize = 4 << 20
            thread.start()
        }
        group.wait()
        var summary = total.withLock { $0 }
        summary.listRequests = source.listRequests
        let elapsed = ContinuousClock.now - clock
        summary.elapsedSeconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
        return ScanOutcome(summary: summary, outputClosed: output.isClosed)
    }

    /// Lists the objects a scan would read, one name per line, without reading them (`--list-only`).
    public static func list(
        inputs: [String], configuration: ScanConfiguration,
        output: OutputWriter = .standardOutput, errors: OutputWriter = .standardError
    ) -> ScanOutcome {
        let source = makeSource(inputs: inputs, configuration: configuration)
        var summary = ScanSummary()
        let scanner = ObjectScanner(configuration: configuration)  // for its S3 client
        while !output.isClosed, let item = source.next(client: scanner.s3Client) {
            switch item {
            case .skip(let count): summary.objectsSkipped += count
            case .failure(let path, let cause): fail(path, cause, summary: &summary, errors: errors)
            case .scan(let object):
                summary.objectsScanned += 1
                output.write(TerminalText.escaped(object.name) + "\n")
            }
        }
        summary.listRequests = source.listRequests
        return ScanOutcome(summary: summary, outputClosed: output.isClosed)
    }

    private static func makeSource(inputs: [String], configuration: ScanConfiguration) -> ObjectSource {
        let filter = configuration.filter
        let listingFilter = ListingFilter(
            since: filter.since, until: filter.until, accounts: filter.accounts, regions: filter.regions,
            includeInsights: configuration.includeInsights)
        return ObjectSource(
            inputs: inputs, includeInsights: configuration.includeInsights, s3: configuration.s3, listingFilter: listingFilter
        ) { path in
            guard !filter.isEmpty, let key = CloudTrailKey(path: path) else { return false }
            return !filter.mayContainRecords(key)
        }
    }

    /// One worker's loop.
    private static func work(
        source: ObjectSource, configuration: ScanConfiguration, output: OutputWriter, errors: OutputWriter
    ) -> ScanSummary {
        let scanner = ObjectScanner(configuration: configuration)
        var summary = ScanSummary()
        var buffer: [UInt8] = []
        while !output.isClosed, let item = source.next(client: scanner.s3Client) {
            switch item {
            case .skip(let count):
                summary.objectsSkipped += count
            case .failure(let path, let cause):
                fail(path, cause, summary: &summary, errors: errors)
            case .scan(let object):
                buffer.removeAll(keepingCapacity: true)
                let error = scanner.scan(object, output: &buffer, summary: &summary)
                if !buffer.isEmpty { output.write(buffer) }
                if buffer.capacity > 1 << 20 { buffer = [] }  // give back memory after a noisy object
                if let error {
                    fail(object.name, error.description, summary: &summary, errors: errors)
                } else {
                    summary.objectsScanned += 1
                }
            }
        }
        return summary
    }

    private static func fail(_ source: String, _ cause: String, summary: inout ScanSummary, errors: OutputWriter) {
        summary.objectsFailed += 1
        summary.failures.append(.init(source: source, cause: cause))
        errors.write("trailscan: \(TerminalText.escaped(source)): \(TerminalText.escaped(cause))\n")
    }
}
