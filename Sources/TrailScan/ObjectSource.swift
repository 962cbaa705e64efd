internal import Glibc
internal import Synchronization
internal import TrailS3

/// A log object to scan.
public enum ObjectRef: Sendable, Equatable {
    case file(String)
    case standardInput
    case s3(bucket: String, key: String)

    /// How messages and alerts name the object.
    public var name: String {
        switch self {
        case .file(let path): path
        case .standardInput: "<stdin>"
        case .s3(let bucket, let key): "s3://\(bucket)/\(key)"
        }
    }
}

/// `s3://bucket[/prefix]` split, or `nil` for anything else.
func s3Location(_ input: String) -> (bucket: String, prefix: String)? {
    guard input.hasPrefix("s3://") else { return nil }
    let rest = input.dropFirst(5)
    let bucket = rest.prefix { $0 != "/" }
    guard !bucket.isEmpty else { return nil }
    return (String(bucket), String(rest.dropFirst(bucket.count + 1)))
}

/// What the walk yields next.
enum WalkItem: Sendable {
    case scan(ObjectRef)
    /// Objects not scanned because of where they are; counted in the summary.
    case skip(count: Int)
    /// A folder that could not be read.
    case failure(String, cause: String)
}

/// The objects named on the command line — files, folders walked recursively, and `s3://bucket/prefix`
/// listings (see `CloudTrailLister`) — handed out one at a time to any number of workers, in the order
/// of the command line.
///
/// Folders are read one at a time and their entries sorted, so memory follows the depth and width of
/// the tree, not the number of files, and the order is the same on every run. In folders, files named
/// `*.json.gz` or `*.json` are taken; anything under `CloudTrail-Digest/` (and `CloudTrail-Insight/`
/// unless asked for) is skipped; symbolic links to folders are not followed. A file named explicitly
/// is always scanned.
final class ObjectSource: Sendable {
    private struct Walk {
        var pending: [String]
        /// Folders being walked, innermost last: the folder path, its sorted entries, the next index.
        var folders: [(path: String, entries: [String], next: Int)] = []
        /// The S3 listing in progress (listed a page at a time, under the lock).
        var lister: CloudTrailLister?
    }

    private let walk: Mutex<Walk>
    private let skippedFolders: Set<String>
    private let prune: @Sendable (String) -> Bool
    private let s3: S3Settings?
    private let listingFilter: ListingFilter

    /// - Parameters:
    ///   - inputs: paths from the command line; `-` is standard input.
    ///   - includeInsights: scan `CloudTrail-Insight/` folders too.
    ///   - prune: returns `true` for a file that cannot hold wanted records (it is skipped).
    init(
        inputs: [String], includeInsights: Bool, s3: S3Settings?, listingFilter: ListingFilter,
        prune: @escaping @Sendable (String) -> Bool
    ) {
        walk = Mutex(Walk(pending: inputs.reversed()))
        skippedFolders = includeInsights ? ["CloudTrail-Digest"] : ["CloudTrail-Digest", "CloudTrail-Insight"]
        self.prune = prune
        self.s3 = s3
        self.listingFilter = listingFilter
    }

    /// S3 requests made for listing so far.
    var listRequests: Int { walk.withLock { $0.lister?.requests ?? 0 } + finishedListRequests.withLock { $0 } }
    private let finishedListRequests = Mutex(0)

    func next() -> WalkItem? {
        walk.withLock { walk in
            while true {
                if let lister = walk.lister {
                    do throws(S3Error) {
                        if let object = try lister.next() {
                            return prune(object.key) ? .skip(count: 1) : .scan(.s3(bucket: lister.bucket, key: object.key))
                        }
                        finishedListRequests.withLock { $0 += lister.requests }
                        walk.lister = nil
                    } catch {
                        finishedListRequests.withLock { $0 += lister.requests }
                        walk.lister = nil
                        return .failure(error.resource, cause: error.description)
                    }
                } else if var folder = walk.folders.popLast() {
                    guard folder.next < folder.entries.count else { continue }
                    let name = folder.entries[folder.next]
                    folder.next += 1
                    walk.folders.append(folder)
                    let path = folder.path.hasSuffix("/") ? folder.path + name : folder.path + "/" + name
                    switch Self.kind(of: path, following: false) {
                    case .folder:
                        if let item = enter(path, into: &walk, skipping: skippedFolders.contains(name)) { return item }
                    case .file:
                        if name.hasSuffix(".json.gz") || name.hasSuffix(".json") {
                            return prune(path) ? .skip(count: 1) : .scan(.file(path))
                        }
                    case .other:
                        continue
                    }
                } else if let input = walk.pending.popLast() {
                    if input == "-" { return .scan(.standardInput) }
                    if let (bucket, prefix) = s3Location(input) {
                        guard let s3 else { return .failure(input, cause: "no S3 settings") }
                        do throws(S3Error) {
                            let client = try s3.makeClient()
                            walk.lister = CloudTrailLister(client: client, bucket: bucket, prefix: prefix, filter: listingFilter)
                        } catch {
                            return .failure(input, cause: error.description)
                        }
                        continue
                    }
                    if Self.kind(of: input, following: true) == .folder {
                        if let item = enter(input, into: &walk, skipping: false) { return item }
                    } else {
                        // Explicit files are scanned whatever their name; a missing one fails when opened.
                        return .scan(.file(input))
                    }
                } else {
                    return nil
                }
            }
        }
    }

    private func enter(_ path: String, into walk: inout Walk, skipping: Bool) -> WalkItem? {
        if skipping { return nil }  // digests, and Insights unless asked: not logs to scan, and not skipped by a filter
        do {
            walk.folders.append((path, try Self.entries(of: path), 0))
            return nil
        } catch {
            return .failure(path, cause: error.description)
        }
    }

    private enum Kind { case folder, file, other }

    private static func kind(of path: String, following: Bool) -> Kind {
        var info = stat()
        let rc = following ? stat(path, &info) : lstat(path, &info)
        guard rc == 0 else { return .other }
        switch info.st_mode & S_IFMT {
        case S_IFDIR: return .folder
        case S_IFREG: return .file
        case S_IFLNK:
            // A link to a file is followed; a link to a folder is not (no cycles).
            return kind(of: path, following: true) == .file ? .file : .other
        default: return .other
        }
    }

    static func entries(of path: String) throws(SystemError) -> [String] {
        guard let dir = opendir(path) else { throw SystemError(errno: errno) }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names.sorted()
    }
}

/// An `errno` with its message.
struct SystemError: Error, CustomStringConvertible {
    var errno: Int32
    var description: String { String(cString: strerror(errno)) }
}
