internal import Glibc
internal import TrailMatch

/// A value that must never be shown — a webhook URL, a token, a password: written in the configuration
/// as itself, as `env:NAME` (an environment variable) or as `file:PATH` (a file's first line), and
/// resolved only when a message is sent. Its `description` names where it comes from, never the value.
public enum Secret: Sendable, Equatable, CustomStringConvertible {
    case literal(String)
    case environment(String)
    case file(String)

    init(_ text: String, at path: String) throws(PatternError) {
        if text.hasPrefix("env:") {
            let name = String(text.dropFirst(4))
            guard !name.isEmpty else { throw PatternError(path: path, reason: "env: needs a variable name") }
            self = .environment(name)
        } else if text.hasPrefix("file:") {
            let file = String(text.dropFirst(5))
            guard !file.isEmpty else { throw PatternError(path: path, reason: "file: needs a path") }
            self = .file(file)
        } else {
            self = .literal(text)
        }
    }

    public var description: String {
        switch self {
        case .literal: "(a value in the configuration)"
        case .environment(let name): "env:\(name)"
        case .file(let path): "file:\(path)"
        }
    }

    /// Why a secret cannot be resolved, naming where it was looked for (never a value).
    public struct Unresolved: Error, Equatable, CustomStringConvertible {
        public var description: String
    }

    /// The value: nonempty, without line ends or other control characters (it goes into headers and URLs).
    public func resolve() throws(Unresolved) -> String {
        let value: String
        switch self {
        case .literal(let text): value = text
        case .environment(let name):
            guard let text = getenv(name).map({ String(cString: $0) }), !text.isEmpty else {
                throw Unresolved(description: "the environment variable \(name) is not set")
            }
            value = text
        case .file(let path):
            guard let file = fopen(path, "r") else { throw Unresolved(description: "cannot read \(path): \(String(cString: strerror(errno)))") }
            defer { fclose(file) }
            var line: UnsafeMutablePointer<CChar>?
            var capacity = 0
            let count = getline(&line, &capacity, file)
            defer { free(line) }
            guard count > 0, let line else { throw Unresolved(description: "\(path) is empty") }
            value = String(cString: line).trimmingNewline
        }
        guard !value.isEmpty, !value.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) else {
            throw Unresolved(description: "\(self) is empty or holds a control character")
        }
        return value
    }
}

extension String {
    fileprivate var trimmingNewline: String {
        var text = self
        while text.hasSuffix("\n") || text.hasSuffix("\r") { text.removeLast() }
        return text
    }
}
