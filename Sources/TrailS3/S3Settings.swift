internal import Foundation
internal import Glibc

/// How a scan reaches S3: plain settings, fixed before it starts; each worker makes its own client from
/// them, and what the workers share at run time (the fetch limiter) is made by the scan.
public struct S3Settings: Sendable {
    public var endpoint: S3Endpoint
    public var credentials: CredentialProvider
    public var retry: RetryPolicy
    /// The most objects fetched at once: each fetch has a worker with its own decoder, and a fetch
    /// waiting on the network costs no CPU, so this is independent of (and usually above) the number of
    /// cores. How many are in flight below it adapts to latency (a `FetchLimiter` made for each scan).
    public var maxFetches: Int
    /// A request that receives less than a byte a second for this long has stalled: it fails, and is
    /// retried as a timeout is.
    public var stallSeconds: Int

    public init(
        endpoint: S3Endpoint, credentials: CredentialProvider, retry: RetryPolicy = RetryPolicy(), maxFetches: Int = 64, stallSeconds: Int = 60
    ) {
        self.endpoint = endpoint
        self.credentials = credentials
        self.retry = retry
        self.maxFetches = maxFetches
        self.stallSeconds = stallSeconds
    }

    public func makeClient() throws(S3Error) -> S3Client {
        try S3Client(endpoint: endpoint, provider: credentials, stallSeconds: stallSeconds)
    }
}

/// When to try a failed request again, and after how long.
///
/// Attempt `n` (from 1) that fails with a retryable error (throttling, 5xx, timeouts, resets, truncated
/// bodies) is followed by attempt `n + 1` after `Retry-After` when the server gave one, else after a
/// "full jitter" delay: a uniformly random time in `[0, min(cap, base × 2^(n-1))]` (AWS Architecture
/// Blog, "Exponential Backoff And Jitter"). With the defaults: ≤ 0.2 s, ≤ 0.4 s, ≤ 0.8 s, ≤ 1.6 s.
public struct RetryPolicy: Sendable, Equatable {
    public var maxAttempts: Int
    public var base: Double
    public var cap: Double

    public init(maxAttempts: Int = 5, base: Double = 0.2, cap: Double = 20) {
        self.maxAttempts = maxAttempts
        self.base = base
        self.cap = cap
    }

    /// The delay before the attempt after failed attempt `attempt`, or `nil` when no attempt is left or
    /// the error is not worth retrying.
    public func delay(after attempt: Int, error: S3Error, random: (ClosedRange<Double>) -> Double = { .random(in: $0) }) -> Double? {
        guard error.isRetryable, attempt < maxAttempts else { return nil }
        if case .unavailable(let retryAfter?) = error.kind { return min(retryAfter, cap) }
        let ceiling = min(cap, base * Double(1 << min(attempt - 1, 30)))
        return random(0...ceiling)
    }

    /// Runs `request` until it succeeds or fails for good, sleeping between attempts as `delay` says.
    public func run<T>(_ request: () throws(S3Error) -> T) throws(S3Error) -> T {
        var attempt = 0
        while true {
            attempt += 1
            do throws(S3Error) {
                return try request()
            } catch {
                guard let delay = delay(after: attempt, error: error) else { throw error }
                usleep(useconds_t(delay * 1_000_000))
            }
        }
    }
}
