import Foundation
import Testing
import TrailJSON
import TrailMatch
@testable import TrailNotify
import TrailReport
import TrailScan

@Suite struct NotifyTests {
    static func finding(_ id: String, rule: String = "signin.no-mfa", account: String = "111122223333", time: Int64?) -> Finding {
        Finding(ruleID: rule, severity: .high, title: "Console sign-in without MFA", eventID: id, eventTime: time, account: account,
                principal: .init(type: "IAMUser", arn: "arn:aws:iam::\(account):user/\(id)"), object: .standardInput, record: [])
    }

    /// Windows are on eventTime, per rule and account; an open window waits when asked to; an alert
    /// without a time goes alone.
    @Test func aggregationGroupsByRuleAccountAndWindow() {
        let base: Int64 = 1_772_355_600  // 2026-03-01T09:00:00Z, a multiple of 300
        let alerts: [(id: Int64, finding: Finding)] = [
            (1, Self.finding("a", time: base + 10)), (2, Self.finding("b", time: base + 299)), (3, Self.finding("c", time: base + 300)),
            (4, Self.finding("d", account: "444455556666", time: base + 20)), (5, Self.finding("e", rule: "signin.root.success", time: base + 30)),
            (6, Self.finding("f", time: nil)),
        ]
        let (notices, held) = Notice.group(alerts, by: .window(seconds: 300), now: base + 400, holdOpen: false)
        #expect(held == 0)
        #expect(notices.map(\.ids) == [[1, 2], [3], [4], [5], [6]])
        #expect(notices[0].window?.start == base && notices[0].window?.end == base + 300)
        #expect(notices[4].window == nil)
        // At base + 400 the window [base + 300, base + 600) is open: held for a later run.
        let (open, waiting) = Notice.group(alerts, by: .window(seconds: 300), now: base + 400, holdOpen: true)
        #expect(waiting == 1 && open.map(\.ids) == [[1, 2], [4], [5], [6]])
        #expect(Notice.group(alerts, by: .none, now: 0, holdOpen: true).notices.count == 6)
        // Keys are stable and differ per alert or window.
        #expect(notices[0].key == Notice(findings: notices[0].findings, window: notices[0].window).key)
        #expect(Set(notices.map(\.key)).count == 5)
    }

    @Test func subjectsAndEscapes() {
        #expect(Messages.encodedWords("plain subject") == "plain subject")
        let encoded = Messages.encodedWords("Anmeldung ohne MFA: Jürgen \r\nBcc: x")
        #expect(!encoded.contains("\r\nBcc") && encoded.split(separator: "\r\n").allSatisfy { $0.count <= 76 })
        var notice = Notice(findings: [Self.finding("a", time: 0)])
        notice.findings[0].title = "Sign-in by Jürgen\r\n" + String(repeating: "x", count: 200)
        let subject = Messages.snsSubject(notice)
        #expect(subject.count <= 99 && subject.unicodeScalars.allSatisfy { $0.value >= 0x20 && $0.value < 0x7F })
        #expect(Messages.mrkdwn("<!here> & *x* _y_ ~z~ `q`") == "&lt;!here&gt; &amp; \u{200B}*x\u{200B}* \u{200B}_y\u{200B}_ \u{200B}~z\u{200B}~ \u{200B}`q\u{200B}`")
    }

    @Test func configurationErrorsNameThePlace() throws {
        func parse(_ text: String) throws -> [Destination] { try Destination.all(configuration: try JSONValue(parsing: text)) }
        #expect(throws: PatternError(path: "notify[0].sns.topicArn", reason: "'x' is not an SNS topic ARN (arn:aws:sns:<region>:<account>:<name>)")) {
            try parse(#"{"notify": [{"sns": {"topicArn": "x"}}]}"#)
        }
        #expect(throws: PatternError(path: "notify[0]", reason: "give exactly one of slack, webhook, sns, email")) {
            try parse(#"{"notify": [{"slack": {"url": "https://a"}, "webhook": {"url": "https://b"}}]}"#)
        }
        #expect(throws: PatternError(path: "notify[0].email.url", reason: "must start with smtp:// (STARTTLS) or smtps://")) {
            try parse(#"{"notify": [{"email": {"url": "mail.example.com", "from": "a@b", "to": ["c@d"]}}]}"#)
        }
        #expect(throws: PatternError(path: "notify[1].name", reason: "'slack' names two destinations")) {
            try parse(#"{"notify": [{"slack": {"url": "env:A"}}, {"name": "slack", "slack": {"url": "env:B"}}]}"#)
        }
        let destinations = try parse(#"{"notify": [{"slack": {"url": "env:A"}}, {"slack": {"url": "file:/x"}, "rules": ["signin.*"], "minSeverity": "high"}]}"#)
        #expect(destinations.map(\.name) == ["slack", "slack-2"])
        #expect(destinations[1].accepts(Self.finding("a", time: 0)) && !destinations[1].accepts(Self.finding("a", rule: "iam.user.created", time: 0)))
    }

    /// A secret names where it comes from, never its value; a missing one says where it was looked for.
    @Test func secretsNeverShowTheirValue() throws {
        setenv("TRAILSCAN_TEST_SECRET", "s3cr3t-value", 1)
        let secret = try Secret("env:TRAILSCAN_TEST_SECRET", at: "x")
        #expect(try secret.resolve() == "s3cr3t-value")
        #expect(secret.description == "env:TRAILSCAN_TEST_SECRET")
        #expect(try Secret("https://hooks.slack.com/services/T/B/secret", at: "x").description == "(a value in the configuration)")
        #expect(throws: Secret.Unresolved(description: "the environment variable TRAILSCAN_NOT_SET is not set")) {
            try Secret("env:TRAILSCAN_NOT_SET", at: "x").resolve()
        }
        setenv("TRAILSCAN_TEST_SECRET", "line\r\nX-Injected: 1", 1)
        #expect(throws: Secret.Unresolved(description: "env:TRAILSCAN_TEST_SECRET is empty or holds a control character")) { try secret.resolve() }
    }
}

/// A windowed alert's evidence reaches every message, in the display zone, escaped like any log value.
@Suite struct EvidenceMessageTests {
    @Test func evidenceInTheTextAndSlackMessages() throws {
        let first: Int64 = 1_772_355_600  // 2026-03-01T09:00:00Z
        var finding = NotifyTests.finding("rb5", rule: "signin.root.brute-force", time: first + 840)
        finding.detail = "5 failed root sign-ins for recipientAccountId 111122223333 within 15m"
        finding.evidence = Finding.Evidence(count: 5, window: 900, first: first, last: first + 840,
                                            eventIDs: ["rb1", "rb2\u{1B}[2J", "rb3", "<!here>", "rb5"])
        let clock = try #require(DisplayClock(timeZone: "+09:00"))
        let text = Messages.text(Notice(findings: [finding]), clock: clock, template: nil)
        #expect(text.contains("Evidence    5 records from 2026-03-01 18:00:00 +09:00 to 2026-03-01 18:14:00 +09:00 (window 15m): rb1, rb2\\x1B[2J, rb3, <!here>, rb5\n"), "\(text)")
        let slack = String(decoding: Messages.slack(Notice(findings: [finding]), clock: clock, template: nil), as: UTF8.self)
        #expect(slack.contains(#"*Evidence*\n5 records from 2026-03-01 18:00:00 +09:00 to 2026-03-01 18:14:00 +09:00 (window 15m): rb1, rb2\\x1B[2J, rb3, &lt;!here&gt;, rb5"#), "\(slack)")
    }
}

/// `scan --verify`: an alert from a log file that is not valid says so in every message; a valid one
/// adds nothing. The file name in the detail is escaped like any log value.
@Suite struct IntegrityMessageTests {
    @Test func aModifiedLogFileIsNamedInTheTextAndSlackMessages() throws {
        var finding = NotifyTests.finding("m1", time: 1_772_355_600)
        let clock = try #require(DisplayClock(timeZone: "UTC"))
        finding.integrity = SourceIntegrity(status: .valid, digest: "d.json.gz")
        #expect(!Messages.text(Notice(findings: [finding]), clock: clock, template: nil).contains("Integrity"))
        finding.integrity = SourceIntegrity(status: .modified, digest: "AWSLogs/<!here>/d.json.gz", detail: "SHA-256 ab, the digest records cd")
        let text = Messages.text(Notice(findings: [finding]), clock: clock, template: nil)
        #expect(text.hasSuffix("Integrity   MODIFIED: SHA-256 ab, the digest records cd (digest AWSLogs/<!here>/d.json.gz)\n"), "\(text)")
        let slack = String(decoding: Messages.slack(Notice(findings: [finding]), clock: clock, template: nil), as: UTF8.self)
        #expect(slack.contains(#"*Integrity of its log file*\nMODIFIED: SHA-256 ab, the digest records cd (digest AWSLogs/&lt;!here&gt;/d.json.gz)"#), "\(slack)")
    }
}
