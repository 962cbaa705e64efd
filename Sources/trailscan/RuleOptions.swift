import ArgumentParser
import Foundation
import TrailJSON
import TrailMatch
import TrailReport

/// Which rules a command works with: the built-in pack and rule files, narrowed by enable/disable and
/// a minimum severity. Shared by `scan` and `rules`.
struct RuleOptions: ParsableArguments {
    @Option(name: .customLong("rules"), help: ArgumentHelp("A JSON file of rules in EventBridge pattern syntax; repeatable.", valueName: "file"),
            completion: .file(extensions: ["json"]))
    var ruleFiles: [String] = []

    @Flag(help: "Leave out the built-in rules.")
    var noBuiltin = false

    @Option(name: .customLong("enable"), help: ArgumentHelp("Run this rule even if it is off or below --min-severity; repeatable.", valueName: "id"),
            completion: .list(BuiltinRules.all.map(\.id)))
    var enabledRules: [String] = []

    @Option(name: .customLong("disable"), help: ArgumentHelp("Do not run this rule; repeatable.", valueName: "id"),
            completion: .list(BuiltinRules.all.map(\.id)))
    var disabledRules: [String] = []

    @Option(
        help: ArgumentHelp("Run only rules of at least this severity: info, low, medium, high, critical.", valueName: "level"),
        completion: .list(Severity.allCases.map(\.name)), transform: severityArgument)
    var minSeverity: Severity?

    /// Every rule known (built-in and from files), before selection, with the templates rule files give.
    ///
    /// - Parameter configured: rule files the configuration names, read before those of `--rules`.
    func allRules(configured: [String] = []) throws -> (rules: [Rule], templates: [String: InputTransformer]) {
        var rules = noBuiltin ? [] : BuiltinRules.all
        var templates: [String: InputTransformer] = [:]
        for file in configured + ruleFiles {
            let entries: [RuleFile.Entry]
            do {
                entries = try RuleFile.parse(try readFile(file, flag: "--rules"), file: file)
            } catch let error as RuleFile.Error {
                throw ValidationError(error.description)
            }
            for entry in entries {
                if rules.contains(where: { $0.id == entry.rule.id }) {
                    throw ValidationError("\(file): rule '\(entry.rule.id)': this id is already taken (built-in or another file)")
                }
                rules.append(entry.rule)
                if let template = entry.template { templates[entry.rule.id] = template }
            }
        }
        return (rules, templates)
    }

    /// The rules that run.
    func selectedRules() throws -> (rules: [Rule], templates: [String: InputTransformer]) {
        try select(from: try allRules())
    }

    /// The rules of `known` that run.
    ///
    /// - Parameter severity: the minimum severity when `--min-severity` is not given (the configuration's).
    func select(
        from known: (rules: [Rule], templates: [String: InputTransformer]), severity: Severity? = nil
    ) throws -> (rules: [Rule], templates: [String: InputTransformer]) {
        let (rules, templates) = known
        let selection = RuleSelection(enable: enabledRules, disable: disabledRules, minimumSeverity: minSeverity ?? severity ?? .info)
        do {
            let selected = try selection.apply(to: rules)
            guard !selected.isEmpty else { throw ValidationError("No rules to run: check --rules, --no-builtin and --min-severity.") }
            return (selected, templates)
        } catch let error as UnknownRuleError {
            throw ValidationError(error.description)
        }
    }
}

/// The value of `--min-severity`.
func severityArgument(_ text: String) throws -> Severity {
    guard let severity = Severity(name: text) else {
        throw ValidationError("'\(text)' is not a severity (info, low, medium, high, critical).")
    }
    return severity
}

/// The bytes of a file named by a flag, or a usage error naming the flag, the file and the OS's reason.
/// Read to its end, so pipes work too (`--rules <(generate-rules)`).
func readFile(_ path: String, flag: String) throws -> [UInt8] {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { throw ValidationError("\(flag): cannot read '\(path)': \(String(cString: strerror(errno))).") }
    defer { close(fd) }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 1 << 16)
    while true {
        let count = read(fd, &chunk, chunk.count)
        if count < 0 && errno == EINTR { continue }
        guard count >= 0 else { throw ValidationError("\(flag): cannot read '\(path)': \(String(cString: strerror(errno))).") }
        if count == 0 { return bytes }
        bytes += chunk[..<count]
    }
}

/// A JSON file named by a flag, parsed, or a usage error naming the flag, the file and the byte.
func readJSON(_ path: String, flag: String) throws -> JSONValue {
    let bytes = try readFile(path, flag: flag)
    do {
        return try JSONValue(parsing: bytes)
    } catch {
        throw ValidationError("\(flag): \(path): \(error.description(in: bytes))")
    }
}

/// Writes `text` to standard output; a failed write other than the reader going away (a full disk, a
/// closed descriptor) is one line on stderr and exit status 2.
func writeStandardOutput(_ text: String) throws {
    OutputWriter.standardOutput.write(text)
    try checkStandardOutput()
}

/// Exit status 2, after one line on stderr, if writing to standard output failed (not `EPIPE`).
func checkStandardOutput() throws {
    if let failure = OutputWriter.standardOutput.failure {
        OutputWriter.standardError.write("trailscan: standard output: \(failure.message)\n")
        throw ExitCode(2)
    }
}
