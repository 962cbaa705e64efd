import ArgumentParser

@main
struct TrailScanCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "trailscan",
        abstract: "Audit AWS CloudTrail logs in bulk: console sign-ins and IAM privilege changes, across all regions.",
        discussion: """
            Exit status: 0 no alerts, 1 alerts, 2 at least one object could not be read (wins over 1), \
            64 usage error.
            """,
        version: "0.1.0",
        subcommands: [ScanCommand.self, RulesCommand.self],
        defaultSubcommand: ScanCommand.self
    )
}
