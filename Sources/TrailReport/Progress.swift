internal import Dispatch
internal import Glibc
internal import Synchronization
public import TrailScan
internal import TrailMatch

/// The line of progress a scan shows on a terminal's standard error: objects and bytes read, records
/// and bytes per second, alerts so far by severity, elapsed time — redrawn in place at most ten
/// times a second, erased before anything else is written to the terminal (an alert, a failure line,
/// the summary), and never written when standard error is not a terminal.
public final class ProgressLine: ScanSink {
    /// What the timer draws from, updated by the sink's calls.
    private final class State: Sendable {
        struct Counts {
            var objects = 0, failed = 0, records = 0
            var bytes: Int64 = 0
            var alerts: [Int] = Array(repeating: 0, count: Severity.allCases.count)
            var shown = false
            var stopped = false
        }

        let counts = Mutex(Counts())
        let started = ContinuousClock.now
    }

    private let state = State()
    private let timer: any DispatchSourceTimer
    /// What the scan's listing has handed out; pass it to `ScanPipeline.run`.
    public let listing = ListingProgress()

    /// `nil` unless standard error is a terminal.
    public static func onStandardError() -> ProgressLine? {
        isatty(STDERR_FILENO) != 0 ? ProgressLine() : nil
    }

    private init() {
        let state = state, listing = listing
        timer = DispatchSource.makeTimerSource(queue: .global())
        timer.schedule(deadline: .now() + .milliseconds(100), repeating: .milliseconds(100))
        timer.setEventHandler { Self.draw(state, listing) }
        timer.resume()
    }

    deinit { timer.cancel() }

    /// Erases the line if it is shown; `body` (a write to the terminal) runs before it is drawn again.
    public func clear(while body: () -> Void) {
        state.counts.withLock { counts in
            if counts.shown { OutputWriter.standardError.write("\r\u{1B}[K") }
            counts.shown = false
            body()
        }
    }

    public func finding(_ finding: Finding) {
        state.counts.withLock { $0.alerts[finding.severity.rawValue] += 1 }
    }

    public func end(_ object: ObjectRef, _ outcome: ObjectOutcome) {
        state.counts.withLock { counts in
            if outcome.failure == nil { counts.objects += 1 } else { counts.failed += 1 }
            counts.records += outcome.statistics.records
            counts.bytes += outcome.statistics.uncompressedBytes
        }
    }

    public func listingFailed(_ location: String, _ failure: ObjectFailure) {
        state.counts.withLock { $0.failed += 1 }
    }

    /// Stops drawing and erases the line, before the summary.
    public func finish(_ totals: ScanTotals) {
        timer.cancel()
        clear {}
        state.counts.withLock { $0.stopped = true }
    }

    private static func draw(_ state: State, _ listing: ListingProgress) {
        let elapsed = ContinuousClock.now - state.started
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
        state.counts.withLock { counts in
            guard !counts.stopped else { return }
            let done = counts.objects + counts.failed + listing.alreadyScanned
            let listed = listing.listed
            var line = "\r\u{1B}[K\(done)/\(listed)\(listing.isComplete ? "" : "+ (listing…)") objects"
            if counts.failed > 0 { line += ", \(counts.failed) failed" }
            line += ", \(SummaryReport.bytes(counts.bytes)) of JSON (\(SummaryReport.bytes(Int64(Double(counts.bytes) / max(seconds, 0.001))))/s)"
            line += ", \(counts.records) records (\(Int(Double(counts.records) / max(seconds, 0.001)))/s)"
            let alerts = Severity.allCases.reversed().compactMap { severity in
                counts.alerts[severity.rawValue] > 0 ? "\(counts.alerts[severity.rawValue]) \(severity.name)" : nil
            }
            line += alerts.isEmpty ? ", no alerts" : ", alerts: " + alerts.joined(separator: " ")
            line += ", \(Int(seconds)) s"
            if listing.isComplete, done > 0, listed > done {
                line += ", about \(Int(seconds / Double(done) * Double(listed - done)) + 1) s left"
            }
            var size = winsize()
            if ioctl(STDERR_FILENO, UInt(TIOCGWINSZ), &size) == 0, size.ws_col > 8, line.count - 4 > Int(size.ws_col) - 1 {
                line = String(line.prefix(Int(size.ws_col) + 3))  // the 4 characters of "\r\e[K" take no column
            }
            OutputWriter.standardError.write(line)
            counts.shown = true
        }
    }
}
