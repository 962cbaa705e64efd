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
            let (rules, templates) = try ruleOptions.allRules()
            guard let rule = rules.first(where: { $0.id == id }) else {
                throw ValidationError("unknown rule id '\(TerminalText.escaped(id))' (trailscan rules lists them)")
            }
            var text = "id           \(TerminalText.escaped(rule.id))\nseverity     \(rule.severity.name)\n"
            text += "title        \(TerminalText.escaped(rule.title))\n"
            text += "description  \(TerminalText.escaped(rule.description))\n"
            let pattern = rule.pattern.json.prettyPrinted.split(separator: "\n").map { TerminalText.escaped($0, backslashes: false) }
            text += "pattern\n" + pattern.joined(separator: "\n") + "\n"
            if let template = templates[rule.id] {
                text += "template     \(TerminalText.escaped(template.template, backslashes: false))\n"
            }
            try writeStandardOutput(text)
        }
    }

    struct Test: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Test an event pattern against an event, like 'aws events test-event-pattern'.",
            discussion: "Prints true or false. Exit status: 0 matches, 1 does not match, 64 invalid pattern or input.")

        @Option(help: ArgumentHelp("The EventBridge event pattern (JSON).", valueName: "file"))
        var pattern: String

        @Option(help: ArgumentHelp("A whole EventBridge event (JSON).", valueName: "file"))
        var event: String?

        @Option(help: ArgumentHelp("A CloudTrail record (JSON), matched in the envelope EventBridge would give it.", valueName: "file"))
        var record: String?

        func validate() throws {
            guard (event == nil) != (record == nil) else { throw ValidationError("Give exactly one of --event and --record.") }
        }

        func run() throws {
            let compiled: EventPattern
            do { compiled = try EventPattern(try readJSON(pattern, flag: "--pattern")) } catch let error as PatternError {
                throw ValidationError("--pattern: \(pattern): invalid event pattern: \(error)")
            }
            let subject: JSONValue
            if let event {
                subject = try readJSON(event, flag: "--event")
            } else {
                let record = try readJSON(record!, flag: "--record")
                guard case .object = record else { throw ValidationError("--record: a CloudTrail record is a JSON object.") }
                subject = Envelope.event(for: record)
            }
            let matched = compiled.matches(event: subject)
            try writeStandardOutput(matched ? "true\n" : "false\n")
            throw ExitCode(matched ? 0 : 1)
        }
    }
}
