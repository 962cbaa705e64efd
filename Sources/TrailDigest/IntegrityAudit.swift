public import TrailScan
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

    public typealias Status = IntegrityStatus

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
        let chains = DigestChains(digests, audit: self)
        var results = chains.results
        for entry in chains.listed where entry.reported || entry.delivered.map(inWindow) ?? false {
            results.append(entry.judge(logs[entry.key] ?? LogObservation(location: entry.original, content: .missing)))
        }
        for key in listedLogs where chains.coverage[key] == nil {
            results.append(chains.uncovered(key, location: logs[key]?.location ?? key))
        }
        return results.sorted { ($0.time ?? .min, $0.location) < ($1.time ?? .min, $1.location) }
    }

    func inWindow(_ time: Int64) -> Bool {
        (since.map { time >= $0 } ?? true) && (until.map { time < $0 } ?? true)
    }

    func overlapsWindow(start: Int64, end: Int64) -> Bool {
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
