internal import Foundation
internal import TrailEvents
internal import TrailTime

/// A digest file as a source holds it.
public struct DigestObject: Sendable {
    /// Where it was read: a path or `s3://bucket/key`.
    public var location: String
    /// Its key from `AWSLogs/` on: how digests, links and log files are matched whatever the prefix a
    /// copy was made under.
    public var layoutKey: String
    /// The parsed digest, or why it could not be read (`unreadable`) or parsed (`invalid`).
    public var content: Result<CloudTrailDigest, Problem>
    /// Its own signature: from the object's S3 metadata, or a `.signature` file beside a copy.
    public var signature: String?

    public enum Problem: Error, Sendable, Equatable {
        case unreadable(String)
        case invalid(String)
    }

    public init(location: String, layoutKey: String, content: Result<CloudTrailDigest, Problem>, signature: String?) {
        self.location = location
        self.layoutKey = layoutKey
        self.content = content
        self.signature = signature
    }
}

/// A log file a source holds, and what reading it found.
public struct LogObservation: Sendable, Equatable {
    public enum Content: Sendable, Equatable {
        /// The hex SHA-256 of its uncompressed content.
        case hashed(String)
        case missing
        /// Its bytes do not decode: whatever they hold is not the content that was hashed.
        case corrupt(String)
        case unreadable(String)
    }

    public var location: String
    public var content: Content

    public init(location: String, content: Content) {
        self.location = location
        self.content = content
    }
}

/// What was found about one file (or one gap in a chain).
public struct IntegrityResult: Sendable, Equatable {
    public enum Subject: String, Sendable { case digest, log }

    public enum Status: String, Sendable, CaseIterable {
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

    public var subject: Subject
    public var location: String
    public var status: Status
    /// The digest that proves (or fails to prove) this result.
    public var digest: String?
    public var detail: String?
    /// Delivery time (digest end time, or the log's delivery minute), for ordering; nil when unknown.
    public var time: Int64?
}

/// Checks digests, their chain, and the log files they list, as `aws cloudtrail validate-logs` does —
/// over whatever a source holds, online or a copy.
///
/// A digest's signature comes from its S3 metadata or, for every digest but a chain's newest, from the
/// next digest's `previousDigestSignature`: so a copy made with no metadata verifies up to its newest
/// digest with no AWS access. Chains are per trail, account and region (the digest's folder and name
/// without its timestamp).
public struct IntegrityAudit: Sendable {
    public var keys: PublicKeyRing
    /// Report digests whose hour overlaps, and log files delivered in, [since, until).
    public var since: Int64?
    public var until: Int64?

    public init(keys: PublicKeyRing, since: Int64? = nil, until: Int64? = nil) {
        self.keys = keys
        self.since = since
        self.until = until
    }

    /// - Parameters:
    ///   - digests: every digest file the source holds (also outside the window: they carry signatures).
    ///   - logs: log files by layout key: those listed in the window and those the digests name.
    ///   - listedLogs: layout keys of the log files the source holds in the window (to find uncovered ones).
    /// - Returns: results in delivery order.
    public func run(digests: [DigestObject], logs: [String: LogObservation], listedLogs: [String]) -> [IntegrityResult] {
        var results: [IntegrityResult] = []
        var parsed: [(object: DigestObject, digest: CloudTrailDigest)] = []
        for object in digests {
            switch object.content {
            case .success(let digest): parsed.append((object, digest))
            case .failure(let problem):
                let time = DigestName(layoutKey: object.layoutKey)?.time
                guard time.map(inWindow) ?? true else { continue }
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
            if let link = digest.previous { recorded[Self.layoutKey(of: link.key)] = link.signature }
        }
        var covered: Set<String> = []
        var newestEnd: [String: Int64] = [:]  // by account/region folder
        var streams: [String: [(object: DigestObject, digest: CloudTrailDigest)]] = [:]
        for entry in parsed {
            let stream = DigestName(layoutKey: entry.object.layoutKey)?.stream ?? entry.object.layoutKey
            streams[stream, default: []].append(entry)
            let area = Self.area(ofDigest: entry.object.layoutKey)
            newestEnd[area] = max(newestEnd[area] ?? .min, entry.digest.endTime)
        }
        for (_, chain) in streams {
            let ordered = chain.sorted { ($0.digest.endTime, $0.object.layoutKey) < ($1.digest.endTime, $1.object.layoutKey) }
            let present = Set(ordered.map(\.object.layoutKey))
            for (index, entry) in ordered.enumerated() {
                let (object, digest) = entry
                let reported = overlapsWindow(start: digest.startTime, end: digest.endTime)
                var status = IntegrityResult.Status.valid
                var detail: String?
                // Where it was read must be where it was delivered, from `AWSLogs/` on: a copy under another
                // bucket or prefix verifies, a digest put in another's place does not.
                if Self.layoutKey(of: digest.key) != object.layoutKey {
                    status = .moved
                    detail = "it records s3://\(digest.bucket)/\(digest.key)"
                } else if let signature = object.signature ?? recorded[object.layoutKey] {
                    switch keys.verify(digest, signature: signature) {
                    case .valid: break
                    case .invalid:
                        status = .signatureInvalid
                        detail = object.signature == nil ? "the signature the next digest records does not match" : "its signature does not match"
                    case .unknownKey:
                        status = .publicKeyUnknown
                        detail = "no public key has fingerprint \(digest.fingerprint)"
                    }
                } else {
                    status = .unsigned
                    detail = "its signature is only in its S3 metadata: verify against S3, or put it in a .signature file beside it"
                }
                if reported {
                    if let link = digest.previous {
                        let previousKey = Self.layoutKey(of: link.key)
                        let expectedEnd = DigestName(layoutKey: previousKey)?.time
                        // The previous digest is missing if it should be here: digests of this chain exist before
                        // it, or it falls inside the window asked for.
                        let insideWindow = if let expectedEnd, let since { expectedEnd >= since } else { false }
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
                    let key = Self.layoutKey(of: file.key)
                    covered.insert(key)
                    let delivered = CloudTrailKey(path: key)?.deliveryTime
                    guard reported || delivered.map(inWindow) ?? false else { continue }
                    let observed = logs[key] ?? LogObservation(location: "s3://\(file.bucket)/\(file.key)", content: .missing)
                    var result = IntegrityResult(subject: .log, location: observed.location, status: .valid, digest: object.location, time: delivered)
                    switch observed.content {
                    case .unreadable(let reason):
                        result.status = .unreadable
                        result.detail = reason
                    case .missing:
                        result.status = .deleted
                        result.location = "s3://\(file.bucket)/\(file.key)"
                    case .corrupt(let reason) where status == .valid:
                        result.status = .modified
                        result.detail = "it no longer decodes: \(reason)"
                    case .corrupt(let reason):
                        result.status = .unverified
                        result.detail = "its digest is \(status.rawValue); it no longer decodes: \(reason)"
                    case .hashed(let hash) where status != .valid:
                        result.status = .unverified
                        result.detail = "its digest is \(status.rawValue)\(hash == file.hash ? "" : "; its hash also differs from the one recorded")"
                    case .hashed(let hash):
                        if hash != file.hash {
                            result.status = .modified
                            result.detail = "SHA-256 \(hash), the digest records \(file.hash)"
                        }
                    }
                    results.append(result)
                }
            }
        }
        for key in listedLogs where !covered.contains(key) {
            let delivered = CloudTrailKey(path: key)?.deliveryTime
            let location = logs[key]?.location ?? key
            if let delivered, let newest = newestEnd[Self.area(ofLog: key)], delivered >= newest {
                results.append(IntegrityResult(subject: .log, location: location, status: .pending, detail: "delivered after the newest digest (\(UTC.iso8601(newest)))", time: delivered))
            } else {
                results.append(IntegrityResult(subject: .log, location: location, status: .notCovered, detail: "no digest lists it", time: delivered))
            }
        }
        return results.sorted { ($0.time ?? .min, $0.location) < ($1.time ?? .min, $1.location) }
    }

    private func inWindow(_ time: Int64) -> Bool {
        (since.map { time >= $0 } ?? true) && (until.map { time < $0 } ?? true)
    }

    private func overlapsWindow(start: Int64, end: Int64) -> Bool {
        (since.map { end >= $0 } ?? true) && (until.map { start < $0 } ?? true)
    }

    /// A key from `AWSLogs/` on (the whole key when it has no such folder).
    public static func layoutKey(of key: String) -> String {
        if key.hasPrefix("AWSLogs/") { return key }
        guard let range = key.range(of: "/AWSLogs/") else { return key }
        return String(key[key.index(after: range.lowerBound)...])
    }

    /// `AWSLogs/[org/]account/` + region, for a digest key (`…/CloudTrail-Digest/<region>/…`).
    static func area(ofDigest key: String) -> String { area(key, folder: "/CloudTrail-Digest/") }

    /// The same for a log key (`…/CloudTrail/<region>/…`).
    static func area(ofLog key: String) -> String { area(key, folder: "/CloudTrail/") }

    private static func area(_ key: String, folder: String) -> String {
        guard let range = key.range(of: folder) else { return key }
        let region = key[range.upperBound...].prefix { $0 != "/" }
        return key[..<range.lowerBound] + "/" + region
    }
}

/// A digest's name: `<account>_CloudTrail-Digest_<region>_<trail>_<home region>_<YYYYMMDDTHHMMSSZ>.json.gz`
/// (an optional `_backfill` before the extension), in its day folder.
struct DigestName {
    /// The chain it belongs to: its region folder and its name without the timestamp.
    var stream: String
    /// Its end time, from the name.
    var time: Int64

    init?(layoutKey: String) {
        let parts = layoutKey.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count >= 5, var name = parts.last, name.hasSuffix(".json.gz") else { return nil }
        name = name.dropLast(".json.gz".count)
        if name.hasSuffix("_backfill") { name = name.dropLast("_backfill".count) }
        guard let underscore = name.lastIndex(of: "_") else { return nil }
        let stamp = name[name.index(after: underscore)...]
        guard let time = UTC.seconds(basic: String(stamp)) else { return nil }
        self.time = time
        stream = parts.dropLast(4).joined(separator: "/") + "/" + name[..<underscore]
    }
}
