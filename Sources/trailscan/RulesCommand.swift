import ArgumentParser
import TrailJSON
import TrailMatch
import TrailReport

struct RulesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rules",
        abstract: "List, show and test rules.",
        subcommands: [List.self, Show.self, Test.self],
        defaultSubcommand: List.self
    )

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List the rules that would run: id, severity, title and what each one flags.")

        @OptionGroup var ruleOptions: RuleOptions

        func run() throws {
            let rules = try ruleOptions.selectedRules().rules
            let ids = rules.map { TerminalText.escaped($0.id) }
            let idWidth = ids.map(\.count).max() ?? 0
            var text = ""
            for (rule, escapedID) in zip(rules, ids) {
                let id = escapedID + String(repeating: " ", count: idWidth - escapedID.count)
                let severity = rule.severity.name + String(repeating: " ", count: 8 - rule.severity.name.count)
                text += "\(id)  \(severity)  \(TerminalText.escaped(rule.title))\n"
                if !rule.description.isEmpty {
                    text += String(repeating: " ", count: idWidth + 12) + TerminalText.escaped(rule.description) + "\n"
                }
                for parameter in (rule.check?.parameters ?? []) + (rule.window?.parameters ?? []) {
                    text += String(repeating: " ", count: idWidth + 12) + "parameter \(parameter.name): \(parameter.value)\n"
                }
            }
            try writeStandardOutput(text)
        }
    }

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print a rule with its EventBridge pattern.")

        @Argument(help: "The rule's id.")
        var id: String

        @OptionGroup var ruleOptions: RuleOptions

        func run() throws {
            do { try perform() } catch let error as ValidationError { throw usageError(error, of: Self.self) }
        }

        private func perform() throws {
            let (rules, templates) = try ruleOptions.allRules()
            guard let rule = rules.first(where: { $0.id == id }) else {
                throw ValidationError("unknown rule id '\(TerminalText.escaped(id))' (trailscan rules lists them)")
            }
            var text = "id           \(TerminalText.escaped(rule.id))\nseverity     \(rule.severity.name)\n"
            text += "title        \(TerminalText.escaped(rule.title))\n"
            text += "description  \(TerminalText.escaped(rule.description))\n"
            let pattern = rule.pattern.json.prettyPrinted.split(separator: "\n").map { TerminalText.escaped($0, backslashes: false) }
            text += "pattern\n" + pattern.joined(separator: "\n") + "\n"
            if let check = rule.check {
                text += "check        \(check.explanation)\n"
                for parameter in check.parameters { text += "parameter    \(parameter.name): \(parameter.value)\n" }
            }
            if let window = rule.window {
                text += "window       \(window.explanation)\n"
                if let then = window.then {
                    let pattern = then.pattern.json.prettyPrinted.split(separator: "\n").map { TerminalText.escaped($0, backslashes: false) }
                    text += "then pattern\n" + pattern.joined(separator: "\n") + "\n"
                }
                for parameter in window.parameters { text += "parameter    \(parameter.name): \(parameter.value)\n" }
            }
            if let template = templates[rule.id] {
                text += "template     \(TerminalText.escaped(template.template, backslashes: false))\n"
            }
            try writeStandardOutput(text)
        }
    }

    struct Test: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Test an event pattern against an event, like 'aws events test-event-pattern'.",
            discussion: """
                Each value is a file, file://PATH, inline JSON or - (standard input), as the AWS CLI takes them. \
                Prints true or false ({"Result": true} with --json); a {"Records": [...]} file given as --record \
                tests each record, one line each. Exit status: 0 matches (any record), 1 does not match, 64 \
                invalid pattern or input.
                """)

        @Option(name: [.customLong("pattern"), .customLong("event-pattern")], help: ArgumentHelp("The EventBridge event pattern (JSON).", valueName: "json"))
        var pattern: String

        @Option(help: ArgumentHelp("A whole EventBridge event (JSON).", valueName: "json"))
        var event: String?

        @Option(help: ArgumentHelp("A CloudTrail record, or a log's {\"Records\": [...]} (JSON), matched in the envelope EventBridge would give it.", valueName: "json"))
        var record: String?

        @Flag(help: "Print {\"Result\": true|false}, as 'aws events test-event-pattern' does.")
        var json = false

        func validate() throws {
            guard (event == nil) != (record == nil) else { throw ValidationError("Give exactly one of --event and --record.") }
        }

        func run() throws {
            do { try perform() } catch let error as ValidationError { throw usageError(error, of: Self.self) }
        }

        private func perform() throws {
            let compiled: EventPattern
            do { compiled = try EventPattern(try Self.argument(pattern, flag: "--pattern")) } catch let error as PatternError {
                throw ValidationError("--pattern: invalid event pattern: \(error)")
            }
            if let event {
                let matched = compiled.matches(event: try Self.argument(event, flag: "--event"))
                try writeStandardOutput(json ? "{\"Result\": \(matched)}\n" : "\(matched)\n")
                throw ExitCode(matched ? 0 : 1)
            }
            let given = try Self.argument(record!, flag: "--record")
            guard case .object = given else { throw ValidationError("--record: a CloudTrail record is a JSON object.") }
            guard case .array(let records)? = given["Records"] else {
                let matched = compiled.matches(event: Envelope.event(for: given))
                try writeStandardOutput(json ? "{\"Result\": \(matched)}\n" : "\(matched)\n")
                throw ExitCode(matched ? 0 : 1)
            }
            // A log: each record in turn.
            var lines: [String] = [], results: [String] = [], any = false
            for (index, record) in records.enumerated() {
                let matched = compiled.matches(event: Envelope.event(for: record))
                any = any || matched
                var id: [UInt8] = []
                JSONString.appendQuoted(record["eventID"].flatMap { if case .string(let text) = $0 { text } else { nil } } ?? "", to: &id)
                let eventID = String(decoding: id, as: UTF8.self)
                lines.append("\(index) \(TerminalText.escaped(String(eventID.dropFirst().dropLast()))) \(matched)")
                results.append("{\"eventID\": \(eventID), \"Result\": \(matched)}")
            }
            try writeStandardOutput(json ? "{\"Result\": \(any), \"Records\": [\(results.joined(separator: ", "))]}\n" : lines.joined(separator: "\n") + "\n")
            throw ExitCode(any ? 0 : 1)
        }

        /// A JSON value given as the AWS CLI takes one: `file://PATH`, inline JSON, `-` for standard input,
        /// or a path.
        static func argument(_ value: String, flag: String) throws -> JSONValue {
            let trimmed = value.drop { $0 == " " || $0 == "\n" || $0 == "\t" }
            if trimmed.first == "{" || trimmed.first == "[" {
                do { return try JSONValue(parsing: value) } catch {
                    throw ValidationError("\(flag): \(error.description(in: Array(value.utf8)))")
                }
            }
            if value == "-" { return try readJSON("/dev/stdin", flag: flag) }
            return try readJSON(value.hasPrefix("file://") ? String(value.dropFirst(7)) : value, flag: flag)
        }
    }
}
