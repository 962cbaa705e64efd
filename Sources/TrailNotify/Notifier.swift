internal import Glibc
public import TrailReport
public import TrailS3
public import TrailScan

/// Where alerts wait for their destinations: the state store's outbox with `--state` (they wait across
/// runs), or memory for one run (`MemoryOutbox`). An alert leaves a destination's queue only once that
/// receiver accepted it.
public protocol NotificationOutbox: AnyObject {
    /// The alerts waiting for `destination`, in the order they were found.
    func pending(for destination: String) throws -> [(id: Int64, finding: Finding)]
    /// The receiver accepted these alerts (`receipt`: what it answered).
    func delivered(_ ids: [Int64], to destination: String, receipt: String, at time: Int64) throws
    /// A try failed; the alerts stay pending (`reason`: what the receiver said).
    func failed(_ ids: [Int64], at destination: String, reason: String, at time: Int64) throws
}

/// What one destination got in a delivery round.
public struct DeliveryReport: Sendable, Equatable {
    public var destination: String
    /// Alerts delivered, and the messages that carried them.
    public var delivered = 0
    public var messages = 0
    /// Alerts still pending after the round, and why the last try failed.
    public var pending = 0
    public var reason: String?
    /// What the receiver answered the last message it accepted.
    public var receipt: String?
    /// Of `pending`, alerts of aggregation windows that have not closed yet (sent once they have).
    public var held = 0

    public init(destination: String) {
        self.destination = destination
    }

    /// Alerts that could not be delivered (not counting those held for their window).
    public var undelivered: Int { pending - held }
}

/// Sends what waits in an outbox to each destination: grouped into notices (one per alert, or per
/// rule, account and window), each sent with up to `attempts` tries — after a failure that another try
/// can cure, capped exponential backoff with jitter, or what the receiver asked (`Retry-After`, at most
/// 30 s). A receiver that refuses for good, or is still failing after the last try, gets nothing more
/// this round: its alerts stay pending, for the next run when the outbox is the state's.
public final class Notifier {
    private let destinations: [Destination]
    private let clock: DisplayClock
    private let aggregation: Aggregation
    private let credentials: CredentialProvider?
    private let holdOpenWindows: Bool
    private let pause: (Double) -> Void
    private let accepted: () -> Void
    static let attempts = 4

    public static func sleep(_ seconds: Double) { usleep(useconds_t(seconds * 1_000_000)) }

    /// - Parameters:
    ///   - aggregation: for destinations without their own (`--aggregate`).
    ///   - credentials: for SNS.
    ///   - holdOpenWindows: keep the alerts of an aggregation window that has not ended for a later
    ///     round (with `--state`); without a later round, everything is sent.
    ///   - accepted: called when a receiver has accepted a message, before the outbox records it (tests
    ///     stop the process there).
    public init(
        destinations: [Destination], clock: DisplayClock, aggregation: Aggregation, credentials: CredentialProvider?, holdOpenWindows: Bool,
        pause: @escaping (Double) -> Void = Notifier.sleep, accepted: @escaping () -> Void = {}
    ) {
        self.destinations = destinations
        self.clock = clock
        self.aggregation = aggregation
        self.credentials = credentials
        self.holdOpenWindows = holdOpenWindows
        self.pause = pause
        self.accepted = accepted
    }

    /// One round: every destination's pending alerts, in the order found.
    public func deliver(from outbox: NotificationOutbox, now: Int64) throws -> [DeliveryReport] {
        var reports: [DeliveryReport] = []
        for destination in destinations {
            var report = DeliveryReport(destination: destination.name)
            let pending = try outbox.pending(for: destination.name)
            let (notices, held) = Notice.group(pending, by: destination.aggregation ?? aggregation, now: now, holdOpen: holdOpenWindows)
            report.held = held
            report.pending = pending.count
            guard !notices.isEmpty else {
                reports.append(report)
                continue
            }
            let courier: Courier
            do { courier = try Courier(destination: destination, clock: clock, credentials: credentials) } catch {
                report.reason = error.reason
                reports.append(report)
                continue
            }
            for notice in notices {
                switch send(notice, with: courier) {
                case .success(let receipt):
                    accepted()
                    try outbox.delivered(notice.ids, to: destination.name, receipt: receipt, at: Int64(time(nil)))
                    report.delivered += notice.ids.count
                    report.messages += 1
                    report.receipt = receipt
                    report.pending -= notice.ids.count
                case .failure(let error):
                    try outbox.failed(notice.ids, at: destination.name, reason: error.reason, at: Int64(time(nil)))
                    report.reason = error.reason
                }
                if report.reason != nil { break }  // the receiver is down or refuses: the rest waits
            }
            reports.append(report)
        }
        return reports
    }

    /// Sends one notice, trying again while that can help.
    private func send(_ notice: Notice, with courier: Courier) -> Result<String, DeliveryError> {
        var attempt = 0
        while true {
            attempt += 1
            do throws(DeliveryError) {
                return .success(try courier.send(notice))
            } catch {
                guard !error.isPermanent, attempt < Self.attempts else { return .failure(error) }
                let backoff = 0.5 * Double(1 << (attempt - 1)) * Double.random(in: 0.75...1.25)
                pause(min(30, max(error.retryAfter ?? 0, backoff)))
            }
        }
    }
}

@available(*, unavailable)
extension Notifier: Sendable {}

/// The outbox of a run without `--state`: a sink that queues each alert (after duplicates are dropped)
/// for every destination that takes it; a round then sends them, once.
public final class MemoryOutbox: ScanSink, NotificationOutbox {
    private let destinations: [Destination]
    private var queues: [String: [(id: Int64, finding: Finding)]] = [:]
    private var nextID: Int64 = 1

    public init(destinations: [Destination]) {
        self.destinations = destinations
    }

    public func finding(_ finding: Finding) {
        for destination in destinations where destination.accepts(finding) { enqueue(finding, for: destination.name) }
        nextID += 1
    }

    /// Queues an alert for one destination whatever its filters (`trailscan notify --test`).
    public func enqueue(_ finding: Finding, for destination: String) {
        queues[destination, default: []].append((nextID, finding))
    }

    public func pending(for destination: String) -> [(id: Int64, finding: Finding)] { queues[destination] ?? [] }

    public func delivered(_ ids: [Int64], to destination: String, receipt: String, at time: Int64) {
        let sent = Set(ids)
        queues[destination]?.removeAll { sent.contains($0.id) }
    }

    public func failed(_ ids: [Int64], at destination: String, reason: String, at time: Int64) {}
}
