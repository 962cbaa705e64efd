// TrailReport: the sinks people read. Owns the alert formats (text, JSON Lines, templates), the
// failure lines, the summary and its renderings; every value from a log is escaped for the format it
// goes into. It consumes `Finding`s from TrailScan and must never reach back into the searcher's
// workers or sources.

public import TrailScan
internal import Glibc

/// Writes each finding in a format to an output, an object's alerts at a time: the text, JSON Lines
/// and template outputs of `scan`.
///
/// Findings are formatted into a buffer that is written whole at the end of each object (and sooner,
/// whole alerts at a time, when an object's alerts pass `flushBytes`), so memory stays bounded and no
/// alert is ever written in part.
public final class AlertWriter: ScanSink {
    private let format: any AlertFormat
    private let writer: OutputWriter
    private var buffer: [UInt8] = []
    /// The findings of the record being read (its rules come one after another).
    private var event: [Finding] = []
    private static let flushBytes = 1 << 20
    private let progress: ProgressLine?

    /// - Parameter progress: the progress line to erase before each write (they may share a terminal).
    public init(format: any AlertFormat, writer: OutputWriter, progress: ProgressLine? = nil) {
        self.format = format
        self.writer = writer
        self.progress = progress
    }

    public func finding(_ finding: Finding) {
        if let last = event.last, !Self.sameRecord(last, finding) { formatEvent() }
        event.append(finding)
    }

    public func end(_ object: ObjectRef, _ outcome: ObjectOutcome) {
        formatEvent()
        flush()
    }

    /// Findings of one record: the same eventID, object and bytes (which they share, so `==` answers
    /// from the shared storage at once; findings read back from a spill file compare by content).
    private static func sameRecord(_ a: Finding, _ b: Finding) -> Bool {
        a.eventID == b.eventID && a.object == b.object && a.record == b.record
    }

    private func formatEvent() {
        guard !event.isEmpty else { return }
        format.append(event: event, to: &buffer)
        event.removeAll(keepingCapacity: true)
        if buffer.count >= Self.flushBytes { flush() }
    }

    public var isDone: Bool { writer.isClosed }

    private func flush() {
        guard !buffer.isEmpty else { return }
        if let progress { progress.clear { writer.write(buffer) } } else { writer.write(buffer) }
        buffer.removeAll(keepingCapacity: buffer.capacity <= 4 * Self.flushBytes)
    }
}

/// Prints the name of each object, one per line, escaped (`scan --list-only`).
public final class ObjectListWriter: ScanSink {
    private let writer: OutputWriter

    public init(writer: OutputWriter) {
        self.writer = writer
    }

    public func begin(_ object: ObjectRef) {
        writer.write(TerminalText.escaped(object.name) + "\n")
    }

    public var isDone: Bool { writer.isClosed }
}

/// One line on standard error for each object or listing that failed: `trailscan: <name>: <cause>`,
/// both escaped.
public final class FailureLineWriter: ScanSink {
    private let writer: OutputWriter
    private let describe: @Sendable (ObjectFailure) -> String
    private let progress: ProgressLine?

    /// - Parameters:
    ///   - describe: the text of a failure (the command line adds which flag sets a limit).
    ///   - progress: the progress line to erase before each line.
    public init(writer: OutputWriter, describe: @escaping @Sendable (ObjectFailure) -> String = { $0.description }, progress: ProgressLine? = nil) {
        self.writer = writer
        self.describe = describe
        self.progress = progress
    }

    public func end(_ object: ObjectRef, _ outcome: ObjectOutcome) {
        if let failure = outcome.failure { line(object.name, failure) }
    }

    public func listingFailed(_ location: String, _ failure: ObjectFailure) { line(location, failure) }

    private func line(_ name: String, _ failure: ObjectFailure) {
        let text = "trailscan: \(TerminalText.escaped(name)): \(TerminalText.escaped(describe(failure)))\n"
        if let progress { progress.clear { writer.write(text) } } else { writer.write(text) }
    }
}

/// One line on standard error for each object scanned that digest validation found modified, not
/// covered, or otherwise not proven (`scan --verify`); an object `--require-valid` failed has its
/// failure line instead.
public final class IntegrityLineWriter: ScanSink {
    private let progress: ProgressLine?

    public init(progress: ProgressLine?) {
        self.progress = progress
    }

    public func end(_ object: ObjectRef, _ outcome: ObjectOutcome) {
        guard let integrity = outcome.integrity, integrity.status.isIntegrityFailure else { return }
        if case .unproven? = outcome.failure { return }
        let text = "trailscan: \(TerminalText.escaped(object.name)): integrity \(integrity.status.rawValue)"
            + (integrity.detail.map { ": \(TerminalText.escaped($0))" } ?? "") + (integrity.digest.map { " (digest \(TerminalText.escaped($0)))" } ?? "") + "\n"
        if let progress { progress.clear { OutputWriter.standardError.write(text) } } else { OutputWriter.standardError.write(text) }
    }
}

/// Adds up the run into a `ScanSummary`.
public final class SummaryCollector: ScanSink {
    public private(set) var summary = ScanSummary()
    private let describe: @Sendable (ObjectFailure) -> String

    public init(describe: @escaping @Sendable (ObjectFailure) -> String = { $0.description }) {
        self.describe = describe
    }

    public func finding(_ finding: Finding) {
        summary.countAlert(finding)
        objectAlerts += 1
    }

    private var objectAlerts = 0

    public func begin(_ object: ObjectRef) { objectAlerts = 0 }

    public func end(_ object: ObjectRef, _ outcome: ObjectOutcome) {
        switch outcome.origin {
        case .scanned: break
        case .resent: return summary.alertsResent += objectAlerts
        case .windows: return
        }
        summary.add(outcome.statistics)
        if let integrity = outcome.integrity { summary.objectIntegrity[integrity.status, default: 0] += 1 }
        if let failure = outcome.failure {
            summary.objectsFailed += 1
            if case .unproven = failure { summary.objectsUnproven += 1 }
            summary.failures.append(.init(source: object.name, cause: describe(failure)))
        } else {
            summary.objectsScanned += 1
        }
    }

    public func listingFailed(_ location: String, _ failure: ObjectFailure) {
        summary.objectsFailed += 1
        summary.failures.append(.init(source: location, cause: describe(failure)))
    }

    public func finish(_ totals: ScanTotals) {
        summary.objectsSkipped = totals.skipped.count
        summary.skippedAccounts = totals.skipped.accounts
        summary.skippedRegions = totals.skipped.regions
        summary.objectsAlreadyScanned = totals.objectsAlreadyScanned
        summary.ignored = totals.ignored
        summary.listRequests = totals.listRequests
        summary.elapsedSeconds = totals.elapsedSeconds
        summary.interrupted = totals.interrupted
        summary.windows = totals.windows
    }
}

/// Passes everything on to `downstream`, but each alert once: a finding whose rule and `eventID` were
/// already passed on in this run (CloudTrail delivers an event twice now and then, with the same
/// `eventID`; the same object can be named twice) is dropped and counted in its object's
/// `duplicateFindings`. A finding without an `eventID` is always passed on.
///
/// It remembers 16 bytes per alert passed on (two independent 64-bit hashes of rule and `eventID`:
/// a false match among 10⁹ alerts has a chance below 10⁻²⁰).
public final class DuplicateFilter: ScanSink {
    private struct Key: Hashable {
        var low: UInt64
        var high: UInt64
    }

    private let downstream: [any ScanSink]
    private var seen: Set<Key> = []
    private var duplicates = 0

    public init(downstream: [any ScanSink]) {
        self.downstream = downstream
    }

    public func begin(_ object: ObjectRef) {
        duplicates = 0
        for sink in downstream { sink.begin(object) }
    }

    public func finding(_ finding: Finding) {
        if let eventID = finding.eventID {
            func hash(_ salt: UInt8) -> UInt64 {
                var hasher = Hasher()
                hasher.combine(salt)
                hasher.combine(finding.ruleID)
                hasher.combine(eventID)
                return UInt64(bitPattern: Int64(hasher.finalize()))
            }
            guard seen.insert(Key(low: hash(0), high: hash(1))).inserted else { return duplicates += 1 }
        }
        for sink in downstream { sink.finding(finding) }
    }

    public func end(_ object: ObjectRef, _ outcome: ObjectOutcome) {
        var outcome = outcome
        outcome.statistics.duplicateFindings += duplicates
        for sink in downstream { sink.end(object, outcome) }
    }

    public func listingFailed(_ location: String, _ failure: ObjectFailure) {
        for sink in downstream { sink.listingFailed(location, failure) }
    }

    public func finish(_ totals: ScanTotals) {
        for sink in downstream { sink.finish(totals) }
    }

    public var isDone: Bool { downstream.contains { $0.isDone } }
}

/// `--sort time`: holds every alert until the scan ends, then hands them to `output` ordered by
/// `eventTime` (alerts without one last; ties in the order found, so an event's rules stay together).
/// Alerts are held in memory up to `memoryBytes`; past that, they go to an unlinked temporary file
/// (mode 0600) and only their sort keys, 24 bytes each, stay in memory.
public final class TimeSortedAlerts: ScanSink {
    private struct Key {
        var time: Int64
        var order: Int
        /// Where the alert is: in `held`, or (offset, JSON length, record length) in the file.
        var place: Place
    }

    private enum Place {
        case held(Int)
        case spilled(offset: Int64, json: Int, record: Int)
    }

    private let output: AlertWriter
    private let memoryBytes: Int
    private var keys: [Key] = []
    private var held: [Finding?] = []
    private var heldBytes = 0
    private var spill: SpillFile?
    /// The first error of the spill file, reported at the end.
    public private(set) var failure: ObjectFailure?

    public init(output: AlertWriter, memoryBytes: Int = 64 << 20) {
        self.output = output
        self.memoryBytes = memoryBytes
    }

    public func finding(_ finding: Finding) {
        let time = finding.eventTime ?? .max
        if heldBytes < memoryBytes {
            keys.append(Key(time: time, order: keys.count, place: .held(held.count)))
            held.append(finding)
            heldBytes += 256 + finding.record.count
            return
        }
        do throws(ObjectFailure) {
            if spill == nil { spill = try SpillFile() }
            let json = FindingCodec.json(finding)
            let offset = try spill!.append(json + finding.record)
            keys.append(Key(time: time, order: keys.count, place: .spilled(offset: offset, json: json.count, record: finding.record.count)))
        } catch {
            failure = failure ?? error
        }
    }

    /// Writes everything, in order.
    public func finish(_ totals: ScanTotals) {
        keys.sort { ($0.time, $0.order) < ($1.time, $1.order) }
        for key in keys where !output.isDone {
            switch key.place {
            case .held(let index):
                output.finding(held[index]!)
                held[index] = nil
            case .spilled(let offset, let json, let record):
                do throws(ObjectFailure) {
                    let bytes = try spill!.read(at: offset, count: json + record)
                    guard let finding = try? FindingCodec.finding(json: Array(bytes[..<json]), record: Array(bytes[json...])) else {
                        throw ObjectFailure.spill(errno: EIO)
                    }
                    output.finding(finding)
                } catch {
                    failure = failure ?? error
                }
            }
        }
        output.end(.standardInput, ObjectOutcome())  // flushes what is left
    }

    public var isDone: Bool { output.isDone }
}
