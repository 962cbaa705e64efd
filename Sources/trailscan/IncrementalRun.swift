import Foundation
import TrailEvents
import TrailJSON
import TrailReport
import TrailScan
import TrailState
import TrailTime
import TrailWindow

/// A scan with `--state`: the state is locked and opened, alerts an earlier run left unsent are
/// written first, then the scan reads only what earlier runs did not — objects that failed before
/// (retried first), and in each input only what was delivered since its last complete listing minus
/// the look-back — and every alert goes through the state (`StateRecorder`), once.
final class IncrementalRun {
    private let store: StateStore
    private let recorder: StateRecorder
    private let plan: IncrementalPlan
    private let inputs: [String]
    private let configuration: ScanConfiguration
    private let hook = IncrementalRun.testHook()

    /// - Parameters:
    ///   - lookback: seconds listed again before each input's last complete listing.
    ///   - since: `--since` as given: the listing then starts there, for every input (the first run's
    ///     history, or a catch-up of files delivered later than the look-back).
    init(
        statePath: String, inputs: [String], lookback: Int64, since: String?, configuration: ScanConfiguration, windows: WindowEngine,
        downstream: [any ScanSink], describe: @escaping @Sendable (ObjectFailure) -> String, route: @escaping (Finding) -> [String]
    ) throws {
        let now = Int64(Date().timeIntervalSince1970)
        store = try StateStore(path: statePath, now: now)
        self.inputs = inputs
        self.configuration = configuration
        try store.beginRun(sources: inputs, filters: Self.filters(configuration.filter, lookback: lookback), now: now)
        var deliveredSince: [String: Int64] = [:]
        for input in inputs where since == nil {
            if let listed = try store.listedThrough(Self.cursorName(input)) {
                deliveredSince[input] = listed - lookback
            } else {
                deliveredSince[input] = now - lookback
                OutputWriter.standardError.write(
                    "trailscan: \(TerminalText.escaped(input)): first scan with this state: reading objects delivered since \(UTC.iso8601(now - lookback)) (--lookback); give --since to start earlier\n")
            }
        }
        plan = IncrementalPlan(retries: try store.failedObjects(), deliveredSince: deliveredSince, ledger: try store.ledger())
        recorder = try StateRecorder(
            store: store, downstream: downstream, sources: inputs.map(Self.cursorName), runStart: now, windows: windows, describe: describe,
            route: route,
            hook: { [hook] point in hook(point.rawValue) })
    }

    /// What this run lists: objects delivered from the earliest input's start on (`nil`: `--since`, or
    /// everything), and objects that failed before, whenever delivered. `scan --verify` reads the
    /// digests of that span; it reports digested log files missing only from the latest start on, which
    /// every input listed.
    var listedSpan: (earliest: Int64?, everyInputFrom: Int64?) {
        guard !plan.deliveredSince.isEmpty else { return (configuration.filter.since, configuration.filter.since) }
        let retried = plan.retries.compactMap { CloudTrailKey(path: $0.name)?.deliveryTime }
        return ((plan.deliveredSince.values + retried).min(), plan.deliveredSince.values.max())
    }

    /// Writes what an earlier run left unsent, then scans. Returns the state's failure, if any.
    func run(rawPaths: [String: [UInt8]], cancellation: ScanCancellation, progress: ListingProgress, verification: ScanVerification?) -> StateError? {
        do { try recorder.resendUnsent() } catch { return error }
        ScanPipeline.run(inputs: inputs, rawPaths: rawPaths, configuration: configuration, plan: plan, sinks: [recorder], cancellation: cancellation,
                         progress: progress, verification: verification)
        return recorder.failure
    }

    /// Sends what waits for the destinations: this run's alerts and what earlier runs could not deliver.
    func deliver(_ notifications: Notifications, quiet: Bool) -> Bool {
        notifications.deliver(from: store, pendingStays: true, quiet: quiet, accepted: { [hook] in hook("accepted") })
    }

    /// Records the end of the run.
    func end(_ summary: ScanSummary, status: Int32) -> StateError? {
        do { try store.endRun(summary, exitStatus: status, now: Int64(Date().timeIntervalSince1970)) } catch { return error }
        return nil
    }

    /// The name of an input's cursor: an `s3://` URL as given, a local path made absolute.
    static func cursorName(_ input: String) -> String {
        var name = input.hasPrefix("s3://") || input.hasPrefix("/") ? input : FileManager.default.currentDirectoryPath + "/" + input
        while name.count > 1 && name.hasSuffix("/") && !name.hasSuffix("://") { name.removeLast() }
        return name
    }

    /// The filters of the run, as JSON for the state's `runs` table.
    private static func filters(_ filter: RecordFilter, lookback: Int64) -> String {
        var out: [UInt8] = []
        func strings(_ values: Set<String>) -> String {
            var list: [UInt8] = [0x5B]
            for (index, value) in values.sorted().enumerated() {
                if index > 0 { list.append(0x2C) }
                JSONString.appendQuoted(value, to: &list)
            }
            return String(decoding: list + [0x5D], as: UTF8.self)
        }
        let time = { (value: Int64?) in value.map { "\"\(UTC.iso8601($0))\"" } ?? "null" }
        out.append(contentsOf: "{\"since\":\(time(filter.since)),\"until\":\(time(filter.until)),\"accounts\":\(strings(filter.accounts)),\"regions\":\(strings(filter.regions)),\"lookbackSeconds\":\(lookback)}".utf8)
        return String(decoding: out, as: UTF8.self)
    }

    /// `TRAILSCAN_TEST_KILL=<point>:<n>`: the process kills itself with SIGKILL the n-th time it reaches
    /// `<point>` — an object with new alerts at `recorded`, `committed`, `written` (`StateRecorder.Point`),
    /// or a message a receiver `accepted` before the outbox recorded it. For the tests of what a crash at
    /// each point loses and repeats; unset, it does nothing.
    private static func testHook() -> (String) -> Void {
        guard let spec = ProcessInfo.processInfo.environment["TRAILSCAN_TEST_KILL"] else { return { _ in } }
        let parts = spec.split(separator: ":")
        guard parts.count == 2, let target = Int(parts[1]) else { return { _ in } }
        let point = String(parts[0])
        final class Counter { var value = 0 }
        let counter = Counter()
        return { reached in
            guard reached == point else { return }
            counter.value += 1
            if counter.value == target { kill(getpid(), SIGKILL) }
        }
    }
}
