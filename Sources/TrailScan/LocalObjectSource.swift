internal import Glibc
internal import Synchronization

/// A log object to scan.
public enum ObjectRef: Sendable, Equatable {
    case file(String)
    case standardInput

    /// How messages and alerts name the object.
    public var name: String {
        switch self {
        case .file(let path): path
        case .standardInput: "<stdin>"
        }
    }
}

/// What the walk yields next.
enum WalkItem: Sendable {
    case scan(ObjectRef)
    /// Objects not scanned because of where they are; counted in the summary.
    case skip(count: Int)
    /// A folder that could not be read.
    case failure(String, cause: String)
}

/// The objects named on the command line, folders walked recursively, handed out one at a time to
/// any number of workers.
///
/// Folders are read one at a time and their entries sorted, so memory follows the depth and width of
/// the tree, not the number of files, and the order is the same on every run. In folders, files named
/// `*.json.gz` or `*.json` are taken; anything under `CloudTrail-Digest/` (and `CloudTrail-Insight/`
/// unless asked for) is skipped; symbolic links to folders are not followed. A file named explicitly
/// is always scanned.
final class LocalObjectSource: Sendable {
    private struct Walk: Sendable {
        var pending: [String]
        /// Folders being walked, innermost last: the folder path, its sorted entries, the next index.
        var folders: [(path: String, entries: [String], next: Int)] = []
    }

    private let walk: Mutex<Walk>
    private let skippedFolders: Set<String>
    private let prune: @Sendable (String) -> Bool

    /// - Parameters:
    ///   - inputs: paths from the command line; `-` is standard input.
    ///   - includeInsights: scan `CloudTrail-Insight/` folders too.
    ///   - prune: returns `true` for a file that cannot hold wanted records (it is skipped).
    init(inputs: [String], includeInsights: Bool, prune: @escaping @Sendable (String) -> Bool) {
        walk = Mutex(Walk(pending: inputs.reversed()))
        skippedFolders = includeInsights ? ["CloudTrail-Digest"] : ["CloudTrail-Digest", "CloudTrail-Insight"]
        self.prune = prune
    }

    func next() -> WalkItem? {
        walk.withLock { walk in
            while true {
                if var folder = walk.folders.popLast() {
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
        if skipping {
            let count = Self.countLogFiles(under: path)
            return count > 0 ? .skip(count: count) : nil
        }
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

    /// The log files (`*.json.gz`, `*.json`) under a skipped folder, so the summary can say how many.
    private static func countLogFiles(under path: String) -> Int {
        guard let names = try? entries(of: path) else { return 0 }
        return names.reduce(0) { count, name in
            let child = path + "/" + name
            switch kind(of: child, following: false) {
            case .folder: return count + countLogFiles(under: child)
            case .file: return count + (name.hasSuffix(".json.gz") || name.hasSuffix(".json") ? 1 : 0)
            case .other: return count
            }
        }
    }
}

/// An `errno` with its message.
struct SystemError: Error, CustomStringConvertible {
    var errno: Int32
    var description: String { String(cString: strerror(errno)) }
}
