import ArgumentParser
import Foundation
import TrailMatch
import TrailNotify
import TrailReport
import TrailScan

/// `trailscan notify --test NAME`: sends a sample alert to one destination of the configuration, to
/// check a setup (URL, token, topic, mail server) before a scan depends on it.
struct NotifyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "notify",
        abstract: "Check a notification destination of the configuration: send it a sample alert.",
        discussion: "The sample is a root console sign-in with event ID trailscan-test-<time>; the destination's filters do not apply to it."
    )

    @Option(help: ArgumentHelp("The destination to send the sample to (its name in the configuration's notify list).", valueName: "name"))
    var test: String

    @Option(help: ArgumentHelp("Configuration file (default: $XDG_CONFIG_HOME/trailscan/config.json or ~/.config/trailscan/config.json).", valueName: "file"))
    var config: String?

    @Option(help: ArgumentHelp("Time zone of the message's times (default: the configuration's timezone, else UTC).", valueName: "zone"))
    var timezone: String?

    @Option(help: ArgumentHelp("AWS profile, for an SNS destination.", valueName: "name"))
    var profile: String?

    func run() throws {
        do { try perform() } catch let error as ValidationError { throw usageError(error, of: Self.self) }
    }

    private func perform() throws {
        signal(SIGPIPE, SIG_IGN)
        guard let file = try ConfigurationFile.load(config) else {
            throw ValidationError("no configuration file: give --config FILE (its notify list names the destinations).")
        }
        let zone = timezone ?? file.timezone ?? "UTC"
        guard let clock = DisplayClock(timeZone: zone) else { throw ValidationError("--timezone: unknown time zone '\(zone)'.") }
        let notifications = try Notifications(
            destinations: file.destinations, chosen: [test], disabled: false, clock: clock, aggregation: .none, profile: profile, region: nil,
            configPath: file.path)
        let outbox = MemoryOutbox(destinations: notifications.destinations)
        outbox.enqueue(Self.sample(now: Int64(Date().timeIntervalSince1970)), for: test)
        throw ExitCode(notifications.deliver(from: outbox, pendingStays: false, quiet: false) ? 0 : 2)
    }

    /// A root console sign-in, as CloudTrail records one.
    static func sample(now: Int64) -> Finding {
        let id = "trailscan-test-\(now)"
        let time = ISO8601DateFormatter().string(from: Date(timeIntervalSince1970: TimeInterval(now)))
        let record = #"{"eventVersion":"1.08","userIdentity":{"type":"Root","arn":"arn:aws:iam::111122223333:root","accountId":"111122223333"},"eventTime":"\#(time)","eventSource":"signin.amazonaws.com","eventName":"ConsoleLogin","awsRegion":"us-east-1","sourceIPAddress":"203.0.113.24","userAgent":"trailscan notify --test","responseElements":{"ConsoleLogin":"Success"},"additionalEventData":{"MFAUsed":"No"},"eventID":"\#(id)","eventType":"AwsConsoleSignIn","recipientAccountId":"111122223333"}"#
        return Finding(
            ruleID: "trailscan.test", severity: .info, title: "trailscan test message (a sample root sign-in)", eventID: id, eventTime: now,
            eventTimeText: time, eventSource: "signin.amazonaws.com", eventName: "ConsoleLogin", account: "111122223333", region: "us-east-1",
            principal: .init(type: "Root", arn: "arn:aws:iam::111122223333:root"), sourceIPAddress: "203.0.113.24",
            userAgent: "trailscan notify --test", loginResult: "Success", mfaUsed: "No", object: .standardInput, record: Array(record.utf8))
    }
}
