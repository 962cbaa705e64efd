internal import TrailScan
internal import Dispatch
internal import Synchronization
internal import TrailEvents
internal import TrailTime

/// The digest side of an audit: every digest checked — its place, its signature, its link to the one
/// before — and what each says of the log files it lists. What is left is to judge each log file
/// against its entry (`Listed.judge`), which `IntegrityAudit` does from files it reads and
/// `scan --verify` from the objects it scans.
struct DigestChains: Sendable {
    /// What was found about the digests themselves, in the window: their status, chain gaps, deleted ones.
    var results: [IntegrityResult] = []
    /// Every log file a digest lists, in chain order.
    var listed: [Listed] = []
    /// The last entry of `listed` for each layout key.
    var coverage: [String: Listed] = [:]
    /// The end of the newest digest of each account and region (`IntegrityAudit.area`): a log file
    /// delivered after it is not digested yet.
    var newestEnd: [String: Int64] = [:]

    /// A log file as a digest lists it.
    struct Listed: Sendable {
        /// Its layout key, and where the digest says it was delivered (`s3://bucket/key`).
        var key: String
        var original: String
        var hash: String
        var delivered: Int64?
        /// The digest listing it, and that digest's own status: only a valid digest proves a hash.
        var digest: String
        var digestStatus: IntegrityResult.Status
        /// The digest's hour overlaps the window.
        var reported: Bool

        /// The result for this file, given what reading it found.
        func judge(_ observed: LogObservation) -> IntegrityResult {
            var result = IntegrityResult(subject: .log, location: observed.location, status: .valid, digest: digest, time: delivered)
            switch observed.content {
            case .unreadable(let reason):
                result.status = .unreadable
                result.detail = reason
            case .missing:
                result.status = .deleted
                result.location = original
            case .corrupt(let reason) where digestStatus == .valid:
                result.status = .modified
                result.detail = "it no longer decodes: \(reason)"
            case .corrupt(let reason):
                result.status = .unverified
                result.detail = "its digest is \(digestStatus.rawValue); it no longer decodes: \(reason)"
            case .hashed(let found) where digestStatus != .valid:
                result.status = .unverified
                result.detail = "its digest is \(digestStatus.rawValue)\(found == hash ? "" : "; its hash also differs from the one recorded")"
            case .hashed(let found):
                if found != hash {
                    result.status = .modified
                    result.detail = "SHA-256 \(found), the digest records \(hash)"
                }
            }
            return result
        }
    }

    init(_ digests: [DigestObject], audit: IntegrityAudit) {
        var parsed: [(object: DigestObject, digest: CloudTrailDigest)] = []
        for object in digests {
            switch object.content {
            case .success(let digest): parsed.append((object, digest))
            case .failure(let problem):
                let time = DigestName(layoutKey: object.layoutKey)?.time
                guard time.map(audit.inWindow) ?? true else { continue }
                switch problem {
                case .unreadable(let reason):
                    results.append(IntegrityResult(subject: .digest, location: object.location, status: .unreadable, detail: reason, time: time))
                case .invalid(let reason):
                    results.append(IntegrityResult(subject: .digest, location: object.location, status: .invalidFormat, detail: reason, time: time))
                }
            }
        }
        // The signature each digest's successor recorded for it.
        var recorded: [String: String] = [:]
        for (_, digest) in parsed {
            if let link = digest.previous { recorded[IntegrityAudit.layoutKey(of: link.key)] = link.signature }
        }
        // The signatures, checked on every core (an RSA verification each): by layout key.
        let (entries, signatures) = (parsed, recorded)
        let checked = Mutex([String: (IntegrityResult.Status, String?)]())
        DispatchQueue.concurrentPerform(iterations: min(entries.count, 64)) { slice in
            var found: [String: (IntegrityResult.Status, String?)] = [:]
            for index in stride(from: slice, to: entries.count, by: min(entries.count, 64)) {
                let (object, digest) = entries[index]
                found[object.layoutKey] = Self.check(object, digest, recordedSignature: signatures[object.layoutKey], keys: audit.keys)
            }
            checked.withLock { $0.merge(found) { first, _ in first } }
        }
        let checks = checked.withLock { $0 }
        var streams: [String: [(object: DigestObject, digest: CloudTrailDigest)]] = [:]
        for entry in parsed {
            let stream = DigestName(layoutKey: entry.object.layoutKey)?.stream ?? entry.object.layoutKey
            streams[stream, default: []].append(entry)
            let area = IntegrityAudit.area(ofDigest: entry.object.layoutKey)
            newestEnd[area] = max(newestEnd[area] ?? .min, entry.digest.endTime)
        }
        for (_, chain) in streams.sorted(by: { $0.key < $1.key }) {
            let ordered = chain.sorted { ($0.digest.endTime, $0.object.layoutKey) < ($1.digest.endTime, $1.object.layoutKey) }
            let present = Set(ordered.map(\.object.layoutKey))
            for (index, entry) in ordered.enumerated() {
                let (object, digest) = entry
                let reported = audit.overlapsWindow(start: digest.startTime, end: digest.endTime)
                let (status, detail) = checks[object.layoutKey]!
                if reported {
                    if let link = digest.previous {
                        let previousKey = IntegrityAudit.layoutKey(of: link.key)
                        let expectedEnd = DigestName(layoutKey: previousKey)?.time
                        // The previous digest is missing if it should be here: digests of this chain exist before
                        // it, or it falls inside the window asked for.
                        let insideWindow = if let expectedEnd, let since = audit.since { expectedEnd >= since } else { false }
                        if !present.contains(previousKey), index > 0 || insideWindow {
                            results.append(IntegrityResult(
                                subject: .digest, location: "s3://\(link.bucket)/\(link.key)", status: .deleted, digest: object.location,
                                detail: "the digest after it lists it as its previous one", time: expectedEnd))
                        }
                    } else if index > 0 {
                        let earlier = ordered[index - 1].digest
                        results.append(IntegrityResult(
                            subject: .digest, location: object.location, status: .gap,
                            detail: "a starting digest: no digests from \(UTC.iso8601(earlier.endTime)) to \(UTC.iso8601(digest.startTime)) (logging or validation was off)",
                            time: digest.startTime))
                    }
                    results.append(IntegrityResult(subject: .digest, location: object.location, status: status, detail: detail, time: digest.endTime))
                }
                for file in digest.logFiles {
                    let key = IntegrityAudit.layoutKey(of: file.key)
                    let entry = Listed(
                        key: key, original: "s3://\(file.bucket)/\(file.key)", hash: file.hash, delivered: CloudTrailKey(path: key)?.deliveryTime,
                        digest: object.location, digestStatus: status, reported: reported)
                    listed.append(entry)
                    coverage[key] = entry
                }
            }
        }
    }

    /// A digest's own status: in its place, and signed by a known key (with its own signature, or the
    /// one its successor recorded).
    private static func check(
        _ object: DigestObject, _ digest: CloudTrailDigest, recordedSignature: String?, keys: PublicKeyRing
    ) -> (IntegrityResult.Status, String?) {
        // Where it was read must be where it was delivered, from `AWSLogs/` on: a copy under another
        // bucket or prefix verifies, a digest put in another's place does not.
        if IntegrityAudit.layoutKey(of: digest.key) != object.layoutKey {
            return (.moved, "it records s3://\(digest.bucket)/\(digest.key)")
        }
        guard let signature = object.signature ?? recordedSignature else {
            return (.unsigned, "its signature is only in its S3 metadata: verify against S3, or put it in a .signature file beside it")
        }
        switch keys.verify(digest, signature: signature) {
        case .valid: return (.valid, nil)
        case .invalid:
            return (.signatureInvalid, object.signature == nil ? "the signature the next digest records does not match" : "its signature does not match")
        case .unknownKey: return (.publicKeyUnknown, "no public key has fingerprint \(digest.fingerprint)")
        }
    }

    /// The result for a log file no digest lists: `pending` if it was delivered after the newest digest
    /// of its account and region, else `not-covered`.
    func uncovered(_ key: String, location: String) -> IntegrityResult {
        let delivered = CloudTrailKey(path: key)?.deliveryTime
        if let delivered, let newest = newestEnd[IntegrityAudit.area(ofLog: key)], delivered >= newest {
            return IntegrityResult(subject: .log, location: location, status: .pending, detail: "delivered after the newest digest (\(UTC.iso8601(newest)))", time: delivered)
        }
        return IntegrityResult(subject: .log, location: location, status: .notCovered, detail: "no digest lists it", time: delivered)
    }
}
