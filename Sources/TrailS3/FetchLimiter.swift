internal import Dispatch
internal import Synchronization

/// How many GETs may be in flight, adapted to what the network and the server answer.
///
/// The limit follows the latency of GETs (time to the first byte of the body), in the manner of TCP
/// Vegas and Netflix's gradient limiter: while GETs are answered about as fast as the fastest seen, the
/// server is not queueing them and more at once means more objects per second, so the limit grows (by
/// its square root per batch, and at first by doubling); when latency rises well above that floor, requests are queueing (a busy
/// server, or our own cores saturated by decoding), so the limit shrinks in proportion. Throttling
/// (503 SlowDown) halves it. A batch is as many GETs as the limit, so the limit moves about once per
/// round trip of the whole window.
///
/// On a 20 ms round trip the limit climbs from 8 to a cap of 64 in three batches; on loopback, where
/// decoding dominates, it settles where latency starts to rise.
struct ConcurrencyControl: Sendable, Equatable {
    public let minimum: Double
    public let maximum: Double
    public private(set) var limit: Double
    /// The lowest latency seen: the round trip without queueing. Drifts up 1% per batch so that a
    /// changed path is learnt again.
    public private(set) var floor: Double = .infinity
    /// Doubling the limit once per batch, like TCP's slow start, until the first batch that queues or
    /// is throttled; from then on the gradient law above.
    public private(set) var isStartingUp = true
    private var batchLatency: Double = 0
    private var batchCount = 0
    private var throttled = false

    /// Latency up to this multiple of the floor counts as no queueing.
    static let tolerance = 2.0

    public init(maximum: Int, initial: Int = 8) {
        minimum = 1
        self.maximum = Double(max(1, maximum))
        limit = min(Double(max(1, maximum)), Double(initial))
    }

    /// Records one GET: its seconds to the first byte, or that it was throttled.
    public mutating func record(latency: Double?, throttled: Bool) {
        if throttled {
            if !self.throttled { limit = max(minimum, (limit / 2).rounded(.down)) }  // once per batch
            self.throttled = true
        }
        if let latency {
            floor = min(floor, latency)
            batchLatency += latency
        }
        batchCount += 1
        guard batchCount >= max(4, Int(limit)) else { return }
        if self.throttled {
            isStartingUp = false
        } else if batchLatency > 0 {
            let average = batchLatency / Double(batchCount)
            if isStartingUp && average <= Self.tolerance * floor {
                limit = min(maximum, limit * 2)
            } else {
                isStartingUp = false
                let gradient = min(1, max(0.5, Self.tolerance * floor / average))
                limit = min(maximum, max(minimum, limit * gradient + limit.squareRoot()))
            }
        }
        floor *= 1.01
        batchLatency = 0
        batchCount = 0
        self.throttled = false
    }
}

/// The gate in front of S3 GETs: workers call `acquire` before a GET and `release` after it, and no
/// more than `ConcurrencyControl.limit` are in flight. Shared by all workers of a scan.
///
/// A worker that cannot start waits on a semaphore; whoever frees room (a release, or a limit that
/// grew) hands the permit over inside the lock before signalling, so no wake-up is lost or spurious.
public final class FetchLimiter: Sendable {
    private struct State {
        var control: ConcurrencyControl
        var inFlight = 0
        var waiting = 0

        /// Grants permits to waiting workers while there is room; returns how many to wake.
        mutating func grant() -> Int {
            let room = max(0, Int(control.limit) - inFlight)
            let granted = min(room, waiting)
            waiting -= granted
            inFlight += granted
            return granted
        }
    }
    private let state: Mutex<State>
    private let wakeUp = DispatchSemaphore(value: 0)

    public init(maximum: Int) {
        state = Mutex(State(control: ConcurrencyControl(maximum: maximum)))
    }

    /// Waits until one more GET may start.
    public func acquire() {
        let started = state.withLock { state in
            if state.inFlight < Int(state.control.limit) {
                state.inFlight += 1
                return true
            }
            state.waiting += 1
            return false
        }
        if !started { wakeUp.wait() }  // the permit was granted before the signal
    }

    /// Ends a GET started with `acquire`, with its latency to the first byte (`nil` when it failed
    /// first) and whether S3 throttled it.
    public func release(latency: Double?, throttled: Bool) {
        let woken = state.withLock { state in
            state.inFlight -= 1
            state.control.record(latency: latency, throttled: throttled)
            return state.grant()
        }
        for _ in 0..<woken { wakeUp.signal() }
    }

    /// The current limit.
    public var limit: Int { state.withLock { Int($0.control.limit) } }
}
