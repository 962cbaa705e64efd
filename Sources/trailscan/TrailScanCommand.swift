import ArgumentParser
import Foundation
import Glibc

@main
struct TrailScanCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "trailscan",
        abstract: "Audit AWS CloudTrail logs in bulk: console sign-ins and IAM privilege changes, across all regions.",
        discussion: """
            Exit status: 0 no alerts, 1 alerts, 2 at least one object could not be read or a notification \
            could not be delivered (wins over 1), \
            64 usage error, 75 another scan holds the --state file; verify: 3 an integrity failure.
            """,
        version: "0.1.0",
        subcommands: [ScanCommand.self, AlertsCommand.self, NotifyCommand.self, RulesCommand.self, VerifyCommand.self],
        defaultSubcommand: ScanCommand.self
    )

    static func main() {
        reserveStandardDescriptors()
        main(nil)
    }

    /// Started with standard input, output or error closed (`trailscan … >&-`), the process would hand
    /// that descriptor number to the next file it opens — a log it scans — and alerts written to
    /// "standard output" would go there. Each closed one is taken by `/dev/null` opened the other way
    /// round (read-only for output), so writing to it fails with EBADF and is reported.
    private static func reserveStandardDescriptors() {
        for (fd, flags) in [(STDIN_FILENO, O_WRONLY), (STDOUT_FILENO, O_RDONLY), (STDERR_FILENO, O_RDONLY)] {
            guard fcntl(fd, F_GETFD) == -1, errno == EBADF else { continue }
            let reserved = open("/dev/null", flags)
            if reserved >= 0 && reserved != fd {
                dup2(reserved, fd)
                close(reserved)
            }
        }
    }
}

/// A usage error found once a subcommand runs (a rule file, the configuration): printed as the argument
/// parser prints its own, with that subcommand's usage, and exit status 64.
func usageError(_ error: ValidationError, of command: any ParsableCommand.Type) -> ExitCode {
    let name = command.configuration.commandName ?? ""
    var text = "Error: \(error.message)\n"
    text += "Usage: \(TrailScanCommand.usageString(for: command).trimmingCharacters(in: .whitespacesAndNewlines))\n"
    let path = TrailScanCommand.usageString(for: command).split(separator: " ").dropFirst().prefix { !$0.hasPrefix("[") && !$0.hasPrefix("<") && !$0.hasPrefix("-") }
    text += "  See 'trailscan \(path.isEmpty ? name : path.joined(separator: " ")) --help' for more information.\n"
    FileHandle.standardError.write(Data(text.utf8))
    return ExitCode(64)
}
