import ArgumentParser
import TrailMatch
import TrailScan

struct RulesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rules",
        abstract: "List the built-in rules: id, severity, title and what each one flags."
    )

    func run() throws {
        let rules = BuiltinRules.all
        let idWidth = rules.map(\.id.count).max() ?? 0
        var text = ""
        for rule in rules {
            let id = rule.id + String(repeating: " ", count: idWidth - rule.id.count)
            let severity = rule.severity.name + String(repeating: " ", count: 8 - rule.severity.name.count)
            text += "\(id)  \(severity)  \(rule.title)\n"
            text += String(repeating: " ", count: idWidth + 12) + rule.description + "\n"
        }
        OutputWriter.standardOutput.write(text)
    }
}
