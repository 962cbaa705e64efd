public import TrailScan

/// The sink of a run without `--state`: passes everything on to `downstream`, keeps the objects'
/// observations, and after the last object hands on the windowed rules' alerts, every one decided
/// (no later run will bring more records).
///
/// Memory: the run's records packed (`WindowRecords`, about 80 bytes per record a rule counts, plus
/// each distinct string once); a `then` record (a successful sign-in) keeps its finding too.
public final class WindowStage: ScanSink {
    private let engine: WindowEngine
    private let downstream: [any ScanSink]
    private var records = WindowRecords()

    public init(engine: WindowEngine, downstream: [any ScanSink]) {
        self.engine = engine
        self.downstream = downstream
    }

    public func begin(_ object: ObjectRef) { for sink in downstream { sink.begin(object) } }
    public func finding(_ finding: Finding) { for sink in downstream { sink.finding(finding) } }

    public func end(_ object: ObjectRef, _ outcome: ObjectOutcome) {
        for observation in outcome.observations { records.add(observation) }
        for sink in downstream { sink.end(object, outcome) }
    }

    public func listingFailed(_ location: String, _ failure: ObjectFailure) {
        for sink in downstream { sink.listingFailed(location, failure) }
    }

    public func finish(_ totals: ScanTotals) {
        var totals = totals
        if !engine.isEmpty {
            let outcome = engine.evaluate(records, watermark: nil)
            records = WindowRecords()
            Self.hand(outcome.alerts, to: downstream)
            totals.windows.counted = outcome.counted
            totals.windows.late = outcome.late
            totals.windows.lateness = engine.lateness
        }
        for sink in downstream { sink.finish(totals) }
    }

    public var isDone: Bool { downstream.contains { $0.isDone } }

    /// Hands windowed alerts to `sinks` as the sink contract says: grouped by the object of each
    /// alert's record, in order, each group's outcome of origin `.windows`.
    private static func hand(_ alerts: [Finding], to sinks: [any ScanSink]) {
        var index = 0
        while index < alerts.count && !sinks.contains(where: { $0.isDone }) {
            let object = alerts[index].object
            for sink in sinks { sink.begin(object) }
            while index < alerts.count && alerts[index].object == object {
                for sink in sinks { sink.finding(alerts[index]) }
                index += 1
            }
            for sink in sinks { sink.end(object, ObjectOutcome(origin: .windows)) }
        }
    }
}
