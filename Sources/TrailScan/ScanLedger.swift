internal import Glibc

/// Which version of an object a scan read: what tells a later run whether the object changed since.
public enum ObjectVersion: Sendable, Hashable, CustomStringConvertible {
    /// An S3 object's `ETag`, quoted, as S3 lists it and returns it with the object.
    case etag(String)
    /// A file's size in bytes and modification time in nanoseconds since 1970.
    case file(size: Int64, modified: Int64)

    init(_ info: stat) {
        self = .file(size: Int64(info.st_size), modified: Int64(info.st_mtim.tv_sec) * 1_000_000_000 + Int64(info.st_mtim.tv_nsec))
    }

    /// `etag "…"` or `size N mtime N`: how the state store keeps it.
    public var description: String {
        switch self {
        case .etag(let etag): "etag \(etag)"
        case .file(let size, let modified): "size \(size) mtime \(modified)"
        }
    }

    /// The inverse of `description`.
    public init?(_ text: String) {
        if text.hasPrefix("etag ") {
            self = .etag(String(text.dropFirst(5)))
            return
        }
        let parts = text.split(separator: " ")
        guard parts.count == 4, parts[0] == "size", parts[2] == "mtime", let size = Int64(parts[1]), let modified = Int64(parts[3])
        else { return nil }
        self = .file(size: size, modified: modified)
    }
}

/// What earlier runs scanned, consulted before each object is read (an incremental run, `--state`):
/// an object whose listed version was scanned to its end before is not read again.
///
/// Called from any worker thread, concurrently.
public protocol ScanLedger: Sendable {
    func hasScanned(_ object: ObjectRef, version: ObjectVersion) -> Bool
}

/// What an incremental run (`--state`) adds to a scan.
public struct IncrementalPlan: Sendable {
    /// Objects that failed in an earlier run: scanned first, whatever the listing window.
    public var retries: [ObjectRef]
    /// By input (as given on the command line): objects delivered before this time are not listed
    /// (`RecordFilter.deliveredSince`). An input without one is listed whole.
    public var deliveredSince: [String: Int64]
    public var ledger: any ScanLedger

    public init(retries: [ObjectRef], deliveredSince: [String: Int64], ledger: any ScanLedger) {
        self.retries = retries
        self.deliveredSince = deliveredSince
        self.ledger = ledger
    }
}
