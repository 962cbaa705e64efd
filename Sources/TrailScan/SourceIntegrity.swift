/// What CloudTrail's digest files say of a log file or a digest: the vocabulary `trailscan verify`
/// reports in, and `scan --verify` marks alerts with.
public enum IntegrityStatus: String, Sendable, CaseIterable {
    /// Digest: signed by a known key, in its place, linked to its predecessor. Log: the hash its
    /// valid digest records.
    case valid
    /// A log file whose content no longer has the hash its digest records.
    case modified
    /// A file a digest lists (a log, or the previous digest) that the source does not hold.
    case deleted
    /// A log file delivered while digests were written that no digest lists.
    case notCovered = "not-covered"
    /// A log file newer than the newest digest of its account and region: not digested yet.
    case pending
    case signatureInvalid = "signature-invalid"
    case publicKeyUnknown = "public-key-unknown"
    /// No signature to check: the newest digest's lives only in its S3 metadata.
    case unsigned
    /// A digest read from elsewhere (from `AWSLogs/` on) than where it says it was delivered.
    case moved
    /// A digest that is not a CloudTrail digest file (not gzip JSON, a field missing).
    case invalidFormat = "invalid-format"
    /// A starting digest after an earlier one: no digests in between (logging or validation off).
    case gap
    /// Its digest is not valid, so a log file's hash proves nothing.
    case unverified
    /// Could not be read (I/O, S3): nothing is known.
    case unreadable

    /// An integrity failure: evidence missing, changed, or unproven.
    public var isIntegrityFailure: Bool {
        switch self {
        case .valid, .pending, .gap, .unreadable: false
        default: true
        }
    }
}

/// What digest validation found about the log file an object is: its status, the digest that proves
/// it (or fails to), and why, in words. Set by `scan --verify` on each object's outcome and on each of
/// its findings.
public struct SourceIntegrity: Sendable, Equatable {
    public var status: IntegrityStatus
    /// The digest file's location (a path or `s3://bucket/key`), when one lists the object.
    public var digest: String?
    /// Why it is not valid (`SHA-256 …, the digest records …`); from file names and hashes, not from the
    /// log's records, but still escaped by every sink (file names are attacker-controlled too).
    public var detail: String?

    public init(status: IntegrityStatus, digest: String? = nil, detail: String? = nil) {
        self.status = status
        self.digest = digest
        self.detail = detail
    }
}

/// Judges each object of a scan against digest files (`scan --verify`): made before the scan from the
/// digests, asked once per object as soon as a worker has read it.
public protocol ObjectVerifier: Sendable {
    /// The integrity of a scanned object: `outcome.contentHash` is the SHA-256 of its uncompressed
    /// content when it was read to its end, `nil` when its scan stopped early (then `outcome.failure`).
    func integrity(of object: ObjectRef, outcome: ObjectOutcome) -> SourceIntegrity

    /// An object not read because an earlier run scanned this version (`--state`): it is still there.
    func noteAlreadyScanned(_ object: ObjectRef)
}

/// Digest validation during a scan (`scan --verify`): every object is hashed as it is inflated and
/// judged by `verifier` as soon as it is read, and the verdict marks its outcome and its findings.
public struct ScanVerification: Sendable {
    public var verifier: any ObjectVerifier
    /// `--require-valid`: the findings and counted records of an object the digests do not prove are
    /// withheld, and the object fails with `ObjectFailure.unproven` (so `--state` tries it again).
    public var requireValid: Bool

    public init(verifier: any ObjectVerifier, requireValid: Bool) {
        self.verifier = verifier
        self.requireValid = requireValid
    }

    /// Judges a scanned object and marks what it found.
    func judge(_ object: ObjectRef, _ outcome: inout ObjectOutcome, _ findings: inout FindingBatch) {
        let integrity = verifier.integrity(of: object, outcome: outcome)
        outcome.integrity = integrity
        if requireValid && integrity.status != .valid {
            let withheld = findings.count
            findings.removeAll()
            findings.observations = []
            outcome.observations = []
            outcome.failure = outcome.failure ?? .unproven(integrity, alertsWithheld: withheld)
            return
        }
        for index in outcome.observations.indices where outcome.observations[index].finding != nil {
            outcome.observations[index].finding!.integrity = integrity
        }
    }
}
