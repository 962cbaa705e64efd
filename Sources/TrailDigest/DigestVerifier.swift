internal import Synchronization
internal import TrailGzip
internal import TrailEvents
public import TrailScan

/// `scan --verify`: judges each scanned object against the digests read before the scan, from the hash
/// the scan took while inflating it — the log bytes are read once.
///
/// An object the scan could not read to its end has no hash: a gzip error means its bytes are not what
/// was digested (`modified`); an object that inflates but is not a CloudTrail log (invalid JSON, a
/// record over the size limit) is read again by a `ContentHasher` here, since its bytes may still be
/// the digested ones.
public final class DigestVerifier: ObjectVerifier {
    private let chains: DigestChains
    private let audit: IntegrityAudit
    private let collector: EvidenceCollector
    /// Log files delivered from this time on that a digest lists and the scan did not see are missing.
    private let missingFrom: Int64?
    /// Layout keys of the objects the scan saw (read, or skipped as scanned by an earlier run).
    private let seen = Mutex<Set<String>>([])

    /// - Parameters:
    ///   - digests: the digests `EvidenceCollector.collectDigests` found.
    ///   - audit: the keys and the window.
    ///   - collector: reads an object again when the scan could not hash it.
    ///   - missingFrom: from when on (within the audit's window) the scan listed every input in full, so
    ///     that a digested log file it did not see is missing (`nil`: the window's start).
    public init(digests: [DigestObject], audit: IntegrityAudit, collector: EvidenceCollector, missingFrom: Int64? = nil) {
        self.missingFrom = missingFrom
        chains = DigestChains(digests, audit: audit)
        self.audit = audit
        self.collector = collector
    }

    /// Whether any digest was found: with none, nothing can be proven.
    public var hasDigests: Bool { !chains.newestEnd.isEmpty || !chains.results.isEmpty }

    public func integrity(of object: ObjectRef, outcome: ObjectOutcome) -> SourceIntegrity {
        let key = IntegrityAudit.layoutKey(of: object.name)
        seen.withLock { _ = $0.insert(key) }
        let result: IntegrityResult
        if let entry = chains.coverage[key] {
            result = entry.judge(LogObservation(location: object.name, content: content(of: object, outcome)))
        } else {
            result = chains.uncovered(key, location: object.name)
        }
        return SourceIntegrity(status: result.status, digest: result.digest, detail: result.detail)
    }

    public func noteAlreadyScanned(_ object: ObjectRef) {
        let key = IntegrityAudit.layoutKey(of: object.name)
        seen.withLock { _ = $0.insert(key) }
    }

    /// What the scan found of the object's content.
    private func content(of object: ObjectRef, _ outcome: ObjectOutcome) -> LogObservation.Content {
        if let hash = outcome.statistics.contentHash { return .hashed(hash) }
        switch outcome.failure {
        case .gzip(.limitExceeded(_)), .gzip(.plainLimitExceeded(_)):
            return .unreadable(outcome.failure!.description)
        case .gzip(let error):
            return .corrupt(error.description)
        case .format, .recordTooLarge:
            return collector.hash(object).content
        case let failure?:
            return .unreadable(failure.description)
        case nil:
            preconditionFailure("an object read to its end without a content hash: the scan was not hashing")
        }
    }

    /// After the scan: what was found about the digests in the window (signatures, chain gaps, deleted
    /// digests), and the log files digests list, delivered in the window, that the scan did not find
    /// (`deleted`). In delivery order.
    public func closingResults() -> [IntegrityResult] {
        let seen = seen.withLock { $0 }
        var results = chains.results
        var judged: Set<String> = []
        for entry in chains.listed where !seen.contains(entry.key) {
            guard let delivered = entry.delivered, audit.inWindow(delivered), missingFrom.map({ delivered >= $0 }) ?? true else { continue }
            guard judged.insert(entry.key).inserted else { continue }
            results.append(entry.judge(LogObservation(location: entry.original, content: .missing)))
        }
        return results.sorted { ($0.time ?? .min, $0.location) < ($1.time ?? .min, $1.location) }
    }
}
