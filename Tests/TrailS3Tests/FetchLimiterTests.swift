import Testing
import Synchronization
@testable import TrailS3

/// The control law of the adaptive GET concurrency, fed latencies as a network would give them.
@Suite struct ConcurrencyControlTests {
    /// Feeds `batches` batches of GETs all answered in `latency` seconds.
    func feed(_ control: inout ConcurrencyControl, latency: Double, batches: Int) {
        for _ in 0..<batches {
            for _ in 0..<max(4, Int(control.limit)) { control.record(latency: latency, throttled: false) }
        }
    }

    @Test func growsToTheCapWhileLatencyStaysAtItsFloor() {
        var control = ConcurrencyControl(maximum: 64)
        #expect(control.limit == 8)
        var limits: [Double] = []
        for _ in 0..<12 {
            feed(&control, latency: 0.020, batches: 1)
            limits.append(control.limit)
        }
        #expect(Array(limits.prefix(3)) == [16, 32, 64])  // doubling at first
        #expect(limits.dropFirst(2).allSatisfy { $0 == 64 })  // never past the cap, never shrinking while nothing queues
        #expect(control.isStartingUp)
    }

    @Test func theFirstQueueingBatchEndsTheDoublingForGood() {
        var control = ConcurrencyControl(maximum: 256)
        feed(&control, latency: 0.020, batches: 2)
        #expect(control.limit == 32 && control.isStartingUp)
        feed(&control, latency: 0.050, batches: 1)  // 2.5 times the floor: queueing
        #expect(!control.isStartingUp)
        // The gradient law: 32 × (2 × floor / 50 ms) + √32, the floor being the 20 ms seen last batch,
        // drifted up 1% at its end.
        let floor = 0.020 * 1.01
        #expect(abs(control.limit - (32 * (2 * floor / 0.050) + 32.0.squareRoot())) < 0.001)
        let before = control.limit
        feed(&control, latency: 0.020, batches: 1)  // calm again: grows by the square root only
        #expect(abs(control.limit - (before + before.squareRoot())) < 0.001)
    }

    @Test func shrinksWhenRequestsQueueAndSettlesAboveTheMinimum() {
        var control = ConcurrencyControl(maximum: 64)
        feed(&control, latency: 0.001, batches: 12)
        #expect(control.limit == 64)
        // Latency ten times the floor: the server (or our own cores) is queueing.
        feed(&control, latency: 0.010, batches: 1)
        #expect(control.limit < 64 * 0.5 + 64.0.squareRoot() + 0.001)
        feed(&control, latency: 0.010, batches: 20)
        #expect(control.limit >= control.minimum)
        #expect(control.limit < 20)
    }

    @Test func throttlingHalvesTheLimitOncePerBatch() {
        var control = ConcurrencyControl(maximum: 64)
        feed(&control, latency: 0.020, batches: 12)
        #expect(control.limit == 64)
        for _ in 0..<10 { control.record(latency: nil, throttled: true) }  // ten 503s in one batch
        #expect(control.limit == 32)
        // The batch ends (32 GETs in all) without growth: it was throttled.
        for _ in 0..<22 { control.record(latency: 0.020, throttled: false) }
        #expect(control.limit == 32)
        control.record(latency: nil, throttled: true)  // the next batch
        #expect(control.limit == 16)
    }

    @Test func aLimitOfOneStaysOne() {
        var control = ConcurrencyControl(maximum: 1)
        feed(&control, latency: 0.020, batches: 5)
        #expect(control.limit == 1)
        control.record(latency: nil, throttled: true)
        #expect(control.limit == 1)
    }
}

/// The gate itself: never more GETs in flight than the limit, and every waiting worker gets through.
@Suite struct FetchLimiterTests {
    @Test func neverLetsMoreThanTheLimitThroughAndLosesNoWorker() async {
        let limiter = FetchLimiter(maximum: 3)
        let counter = InFlightCounter()
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<12 {
                group.addTask {
                    for _ in 0..<20 {
                        limiter.acquire()
                        counter.enter()
                        counter.leave()
                        limiter.release(latency: 0.001, throttled: false)
                    }
                }
            }
        }
        #expect(counter.peak <= 3)
        #expect(counter.total == 240)
    }
}

/// Counts workers between `enter` and `leave`, and the most at once.
final class InFlightCounter: Sendable {
    private let state = Mutex((now: 0, peak: 0, total: 0))
    func enter() { state.withLock { $0.now += 1; $0.peak = max($0.peak, $0.now); $0.total += 1 } }
    func leave() { state.withLock { $0.now -= 1 } }
    var peak: Int { state.withLock { $0.peak } }
    var total: Int { state.withLock { $0.total } }
}
