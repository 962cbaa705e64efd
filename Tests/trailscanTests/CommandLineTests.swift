import Foundation
import Synchronization
import Testing
import TrailS3
import TrailSigV4
import TrailTestSupport

/// Runs the built `trailscan` executable, as a user would.
struct Run {
    var status: Int32
    var stdout: String
    var stderr: String

    /// One (rule, eventID) pair per JSONL line of stdout.
    var alerts: [String] {
        stdout.split(separator: "\n").map { line in
            let object = try! JSONSerialization.jsonObject(with: Data(line.utf8)) as! [String: Any]
            return "\(object["rule"]!) \(object["eventID"]!)"
        }.sorted()
    }
}

enum CLI {
    /// The executable sits next to the test bundle in the build folder.
    static let executable: URL = {
        let testBinary = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        var folder = testBinary.deletingLastPathComponent()
        while !FileManager.default.fileExists(atPath: folder.appendingPathComponent("trailscan").path) {
            folder = folder.deletingLastPathComponent()
            precondition(folder.path != "/", "trailscan executable not found near \(testBinary.path)")
        }
        return folder.appendingPathComponent("trailscan")
    }()

    static let repository = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let fixtures = Bundle.module.resourceURL!.appendingPathComponent("Fixtures")
    static let sampleLogs = repository.appendingPathComponent("sample-logs").path

    /// - Parameter timeout: seconds after which the run is killed (SIGKILL): a scan that hangs then
    ///   fails its test instead of the whole suite.
    /// - Parameter shell: run `/bin/sh` with `arguments` instead of trailscan.
    static func run(
        _ arguments: [String], stdin: Data? = nil, environment: [String: String] = [:], timeout: Double? = nil, shell: Bool = false
    ) throws -> Run {
        let process = Process()
        process.executableURL = shell ? URL(fileURLWithPath: "/bin/sh") : executable
        process.arguments = arguments
        if !environment.isEmpty { process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 } }
        let out = Pipe(), err = Pipe(), input = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = input
        try process.run()
        let exited = DispatchSemaphore(value: 0)
        if let timeout {
            let pid = process.processIdentifier
            Thread {
                if exited.wait(timeout: .now() + timeout) == .timedOut { kill(pid, SIGKILL) }
            }.start()
        }
        defer { exited.signal() }
        if let stdin { input.fileHandleForWriting.write(stdin) }
        try input.fileHandleForWriting.close()
        // Read both pipes concurrently so neither can fill up and block the child.
        let errors = Collected()
        Thread {
            errors.data.withLock { $0 = err.fileHandleForReading.readDataToEndOfFile() }
            errors.done.signal()
        }.start()
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        errors.done.wait()
        return Run(status: process.terminationStatus, stdout: String(decoding: outData, as: UTF8.self),
                   stderr: String(decoding: errors.data.withLock { $0 }, as: UTF8.self))
    }

    /// Expected "rule eventID" lines of a fixture file, sorted, comments dropped.
    static func expected(_ name: String) throws -> [String] {
        try String(contentsOf: fixtures.appendingPathComponent(name), encoding: .utf8)
            .split(separator: "\n").filter { !$0.hasPrefix("#") && !$0.isEmpty }.map(String.init).sorted()
    }

    /// A fresh temporary folder.
    static func temporaryFolder() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("trailscan-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    static func gzip(_ data: Data) throws -> Data { try Shell.filter(data, through: "gzip -n -c") }

    static func gunzip(_ data: Data) throws -> Data { try Shell.filter(data, through: "gzip -d -c") }
}

/// Bytes collected by a reader thread, and the signal that it has finished.
final class Collected: Sendable {
    let data = Mutex(Data())
    let done = DispatchSemaphore(value: 0)
}

let rootLogin = """
    {"eventVersion":"1.08","userIdentity":{"type":"Root","arn":"arn:aws:iam::111122223333:root","accountId":"111122223333"},\
    "eventTime":"2026-03-01T09:03:00Z","eventSource":"signin.amazonaws.com","eventName":"ConsoleLogin","awsRegion":"us-east-1",\
    "sourceIPAddress":"203.0.113.9","userAgent":"Mozilla","responseElements":{"ConsoleLogin":"Success"},\
    "additionalEventData":{"MFAUsed":"Yes"},"eventID":"root-1","eventType":"AwsConsoleSignIn","recipientAccountId":"111122223333"}
    """
let noise = """
    {"eventVersion":"1.08","userIdentity":{"type":"AssumedRole"},"eventTime":"2026-03-01T09:00:00Z",\
    "eventSource":"ec2.amazonaws.com","eventName":"DescribeInstances","awsRegion":"eu-west-1","eventID":"n-1",\
    "recipientAccountId":"111122223333","readOnly":true}
    """

@Suite(.serialized) struct CommandLineTests {
    /// The summary's lists of the rules that fired and where.
    static func isSummaryList(_ line: Substring) -> Bool {
        line.hasPrefix("trailscan: rules fired (by severity): ") || line.hasPrefix("trailscan: accounts: ")
    }

    @Test func awsDocumentationExamplesGiveExactlyThePrescribedAlerts() throws {
        let run = try CLI.run(["scan", "--format", "jsonl", "-q", CLI.fixtures.appendingPathComponent("aws-doc-examples").path])
        #expect(run.status == 1)
        #expect(run.stderr == "")
        #expect(run.alerts == (try CLI.expected("aws-doc-examples/expected-alerts.txt")))
    }

    @Test func sampleLogsGiveTheirPlantedAlertsAndASummary() throws {
        let run = try CLI.run(["scan", "--format", "jsonl", CLI.sampleLogs])
        #expect(run.status == 1)
        #expect(run.alerts == (try CLI.expected("sample-logs-expected-alerts.txt")))
        #expect(run.stderr.hasPrefix("trailscan: 328 objects scanned, 0 skipped, 0 failed;"))
        #expect(run.stderr.contains("3900 records (2026-03-01T05:45:02Z to 2026-03-03T17:59:30Z)"))
        #expect(run.stderr.contains("trailscan: 62 alerts (6 critical, 22 high, 16 medium, 8 low, 10 info) in "))
    }

    /// The summary names the rules that fired (by severity) and where.
    @Test func theSummaryNamesTheRulesThatFiredAndWhere() throws {
        let run = try CLI.run(["scan", "--format", "jsonl", CLI.sampleLogs])
        let lines = run.stderr.split(separator: "\n")
        #expect(lines.count == 4)
        #expect(lines[2] == "trailscan: rules fired (by severity): iam.access-key.root 2, iam.policy.admin-attached 2, signin.root.success 2, root.activity 4, signin.no-mfa 4, cloudtrail.tampering 2, iam.access-key.for-other-user 2, iam.created-then-admin 2, iam.mfa.deactivated 2, iam.role.external-trust 2, and 15 more")
        #expect(lines[3] == "trailscan: accounts: 111122223333 62; regions: us-east-1 56, eu-west-1 6")
    }

    /// Nothing read is not a clean result: a filter that matches nothing says what the paths hold and
    /// exits 2 (`--allow-empty` accepts it); an account or region that cannot exist is a usage error.
    @Test func nothingReadIsNotSuccess() throws {
        let typo = try CLI.run(["scan", "--region", "eu-west1", CLI.sampleLogs])
        #expect(typo.status == 64 && typo.stderr.hasPrefix("Error: --region: 'eu-west1' is not an AWS region name (such as us-east-1 or eu-west-1).\n"))
        let account = try CLI.run(["scan", "--account", "11112222333", CLI.sampleLogs])
        #expect(account.status == 64 && account.stderr.hasPrefix("Error: --account: '11112222333' is not an AWS account id (12 digits).\n"))
        let absent = try CLI.run(["scan", "-q", "--region", "eu-north-2", CLI.sampleLogs])
        #expect(absent.status == 2 && absent.stdout.isEmpty)
        #expect(absent.stderr == "trailscan: no objects matched: 328 skipped by the filters; regions in these paths: ap-northeast-1, ap-northeast-2, ca-central-1, eu-central-1, eu-north-1, eu-west-1, eu-west-2, eu-west-3, us-east-1, us-east-2, us-west-1, us-west-2 (--allow-empty accepts an empty result)\n")
        #expect(try CLI.run(["scan", "-q", "--allow-empty", "--region", "eu-north-2", CLI.sampleLogs]).status == 0)
        let empty = try CLI.temporaryFolder()
        let nothing = try CLI.run(["scan", "-q", empty.path])
        #expect(nothing.status == 2 && nothing.stderr == "trailscan: no objects matched in \(empty.path) (--allow-empty accepts an empty result)\n")
    }

    /// Text shows one block per event: every rule it triggered, highest severity first, and what the
    /// action acted on; JSON Lines stays one line per rule and record.
    @Test func textShowsOneBlockPerEventWithItsTarget() throws {
        let run = try CLI.run(["scan", "-q", "--color", "never", CLI.sampleLogs])
        let jsonl = try CLI.run(["scan", "-q", "--format", "jsonl", CLI.sampleLogs])
        let events = Set(jsonl.alerts.map { $0.split(separator: " ")[1] })
        // The windowed alerts (two: backup-bot made administrator, each day) come after the last object,
        // each a block of its own.
        #expect(run.stdout.components(separatedBy: "\n\n").filter { !$0.isEmpty }.count == events.count + 2)
        #expect(jsonl.alerts.count == 62 && events.count < 62)
        #expect(run.stdout.contains("""
            CRITICAL  Root user signed in to the console  [signin.root.success]
            HIGH      Console sign-in without MFA  [signin.no-mfa]
            INFO      Console sign-in  [signin.success]
              time        2026-03-01 09:03:00 UTC
              principal   Root  arn:aws:iam::111122223333:root
              source IP   203.0.113.24

            """))
        #expect(run.stdout.contains("""
            CRITICAL  AdministratorAccess attached  [iam.policy.admin-attached]
              time        2026-03-01 09:15:00 UTC
              principal   IAMUser  arn:aws:iam::111122223333:user/alice
              target      userName backup-bot, policyArn arn:aws:iam::aws:policy/AdministratorAccess

            """))
    }

    /// The configuration holds defaults for flags — minimum severity, format, colour, rule files (next to
    /// it) — that flags override; `--no-config` reads none.
    @Test func theConfigurationHoldsDefaults() throws {
        let folder = try CLI.temporaryFolder()
        try #"[{"id": "mine.attach", "severity": "critical", "title": "Policy attached", "pattern": {"detail": {"eventName": ["AttachUserPolicy"]}}}]"#
            .write(to: folder.appendingPathComponent("mine.json"), atomically: true, encoding: .utf8)
        let config = folder.appendingPathComponent("config.json").path
        try #"{"minSeverity": "critical", "format": "jsonl", "color": "never", "rules": ["mine.json"]}"#.write(toFile: config, atomically: true, encoding: .utf8)
        let run = try CLI.run(["scan", "-q", "--config", config, CLI.sampleLogs])
        #expect(run.status == 1)
        let rules = Set(run.alerts.map { String($0.split(separator: " ")[0]) })
        #expect(rules == ["iam.access-key.root", "iam.policy.admin-attached", "signin.root.success", "mine.attach"])
        let text = try CLI.run(["scan", "-q", "--config", config, "--format", "text", "--min-severity", "high", CLI.sampleLogs])
        #expect(text.stdout.hasPrefix("HIGH") || text.stdout.hasPrefix("CRITICAL"))
        #expect(text.stdout.contains("[signin.no-mfa]"))
        // The default configuration ($XDG_CONFIG_HOME/trailscan/config.json) applies unless --no-config.
        try FileManager.default.createDirectory(at: folder.appendingPathComponent("trailscan"), withIntermediateDirectories: true)
        try #"{"minSeverity": "critical"}"#.write(to: folder.appendingPathComponent("trailscan/config.json"), atomically: true, encoding: .utf8)
        let home = ["XDG_CONFIG_HOME": folder.path]
        #expect(try CLI.run(["scan", "-q", "--format", "jsonl", CLI.sampleLogs], environment: home).alerts.count == 6)
        let none = try CLI.run(["scan", "-q", "--no-config", "--format", "jsonl", CLI.sampleLogs], environment: home)
        #expect(none.alerts == (try CLI.expected("sample-logs-expected-alerts.txt")))
        try #"{"format": "yaml"}"#.write(toFile: config, atomically: true, encoding: .utf8)
        let bad = try CLI.run(["scan", "--config", config, CLI.sampleLogs])
        #expect(bad.status == 64 && bad.stderr.hasPrefix("Error: --config: \(config): at format: must be one of text, jsonl, template\n"))
    }

    /// A date without an offset is read in `--timezone` (midnight there); JSON errors in the files people
    /// edit give the line and column.
    @Test func datesAreReadInTheChosenZoneAndJSONErrorsSayWhere() throws {
        func rootSignIns(_ arguments: [String]) throws -> Int {
            try CLI.run(["scan", "-q", "--format", "jsonl"] + arguments + [CLI.sampleLogs]).alerts.filter { $0.hasPrefix("signin.root.success ") }.count
        }
        // The sample's root sign-ins are at 09:03 UTC on March 1 and 2; March 1 ends at 11:00 UTC on
        // March 2 in Pago Pago (UTC-11).
        #expect(try rootSignIns(["--until", "2026-03-01"]) == 1)
        #expect(try rootSignIns(["--until", "2026-03-01", "--timezone", "Pacific/Pago_Pago"]) == 2)
        let folder = try CLI.temporaryFolder()
        let rules = folder.appendingPathComponent("rules.json").path
        try "[\n  {\"id\": \"x\",\n   \"title\": \"t\",}\n]".write(toFile: rules, atomically: true, encoding: .utf8)
        let run = try CLI.run(["scan", "--rules", rules, CLI.sampleLogs])
        #expect(run.status == 64 && run.stderr.hasPrefix("Error: \(rules): invalid JSON at line 3, column 17 (byte 32): trailing comma\n"))
    }

    /// `rules test` takes the AWS CLI's spellings — `--event-pattern`, `file://`, inline JSON, `-` — and
    /// `--json` answers as `aws events test-event-pattern` does; a log's `{"Records": [...]}` tests each.
    @Test func rulesTestSpeaksTheAWSCLI() throws {
        let folder = try CLI.temporaryFolder()
        let log = folder.appendingPathComponent("log.json").path
        try "{\"Records\":[\(rootLogin),\(noise)]}".write(toFile: log, atomically: true, encoding: .utf8)
        let pattern = #"{"detail": {"userIdentity": {"type": ["Root"]}}}"#
        let each = try CLI.run(["rules", "test", "--event-pattern", pattern, "--record", "file://" + log])
        #expect(each.status == 0 && each.stdout == "0 root-1 true\n1 n-1 false\n")
        let json = try CLI.run(["rules", "test", "--event-pattern", pattern, "--record", log, "--json"])
        #expect(json.stdout == #"{"Result": true, "Records": [{"eventID": "root-1", "Result": true}, {"eventID": "n-1", "Result": false}]}"# + "\n")
        let piped = try CLI.run(["rules", "test", "--pattern", "-", "--event", #"{"detail-type": "x"}"#, "--json"], stdin: Data(#"{"detail-type": ["y"]}"#.utf8))
        #expect(piped.status == 1 && piped.stdout == "{\"Result\": false}\n")
        let bad = try CLI.run(["rules", "test", "--pattern", #"{"detail": [1}"#, "--event", "{}"])
        #expect(bad.status == 64 && bad.stderr.hasPrefix("Error: --pattern: invalid JSON at line 1, column 14 (byte 13): "))
        #expect(bad.stderr.contains("See 'trailscan rules test --help'"))
    }

    /// Standard input takes a stream of objects — gzip members or JSON documents one after another, as
    /// `cat *.json.gz | trailscan scan -` gives them — each a CloudTrail log.
    @Test func standardInputTakesConcatenatedObjects() throws {
        let first = try CLI.gzip(Data("{\"Records\":[\(rootLogin)]}".utf8))
        let second = try CLI.gzip(Data("{\"Records\":[\(rootLogin.replacingOccurrences(of: "root-1", with: "root-2"))]}".utf8))
        let gzipped = try CLI.run(["scan", "-q", "--format", "jsonl", "-"], stdin: first + second)
        #expect(gzipped.status == 1 && Set(gzipped.alerts.map { $0.split(separator: " ")[1] }) == ["root-1", "root-2"])
        let plain = try CLI.run(["scan", "-q", "--format", "jsonl", "-"],
                                stdin: Data("{\"Records\":[\(rootLogin)]}\n{\"Records\":[\(noise)]}\n".utf8))
        #expect(plain.status == 1 && plain.alerts.count == 2)
        let notALog = try CLI.run(["scan", "-q", "--format", "jsonl", "-"], stdin: Data("{\"Records\":[\(rootLogin)]}{\"x\":1}".utf8))
        #expect(notALog.status == 2 && notALog.alerts.count == 2)
        #expect(notALog.stderr == "trailscan: <stdin>: not a CloudTrail log: no \"Records\" array\n")
    }

    /// Shell completions offer the subcommands, the rule ids and the severities.
    @Test func completionsOfferRuleIdsAndSeverities() throws {
        for shell in ["bash", "zsh", "fish"] {
            let script = try CLI.run(["--generate-completion-script", shell])
            #expect(script.status == 0)
            for word in ["alerts", "notify", "signin.root.success", "iam.policy.admin-attached", "critical"] {
                #expect(script.stdout.contains(word), "\(shell): \(word)")
            }
        }
    }

    /// `--sort time` gives every alert, ordered by eventTime; not with a state.
    @Test func sortTimeOrdersAllAlerts() throws {
        let sorted = try CLI.run(["scan", "-q", "--sort", "time", "--format", "jsonl", CLI.sampleLogs])
        let times = sorted.stdout.split(separator: "\n").map { (try! JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any])["eventTime"] as! String }
        #expect(times.count == 62 && times == times.sorted())
        #expect(sorted.alerts == (try CLI.expected("sample-logs-expected-alerts.txt")))
        let withState = try CLI.run(["scan", "--sort", "time", "--state", "/tmp/unused.db", CLI.sampleLogs])
        #expect(withState.status == 64 && withState.stderr.hasPrefix("Error: --sort time cannot be used with --state"))
    }

    /// A user rule names what its action acts on (`target`); a path outside `$.detail.` is refused.
    @Test func userRulesDeclareTheirTargets() throws {
        let folder = try CLI.temporaryFolder()
        let rules = folder.appendingPathComponent("rules.json").path
        try #"[{"id": "admin-attach", "severity": "high", "title": "Policy attached", "target": ["$.detail.requestParameters.userName", "$.detail.requestParameters.policyArn"], "pattern": {"detail": {"eventName": ["AttachUserPolicy"]}}}]"#
            .write(toFile: rules, atomically: true, encoding: .utf8)
        let run = try CLI.run(["scan", "-q", "--no-builtin", "--rules", rules, CLI.sampleLogs])
        #expect(run.status == 1)
        #expect(run.stdout.contains("  target      userName backup-bot, policyArn arn:aws:iam::aws:policy/AdministratorAccess\n"))
        try #"[{"id": "r", "severity": "high", "title": "t", "target": ["requestParameters.userName"], "pattern": {"source": ["aws.iam"]}}]"#
            .write(toFile: rules, atomically: true, encoding: .utf8)
        let refused = try CLI.run(["scan", "--no-builtin", "--rules", rules, CLI.sampleLogs])
        #expect(refused.status == 64)
        #expect(refused.stderr.hasPrefix("Error: \(rules): rule 'r': \"target\": each path is $.detail. and the record's dotted field names"))
    }

    /// On a terminal, lines are cut to its width; in a file or a pipe, never.
    @Test func linesAreCutToTheTerminalOnlyOnATerminal() throws {
        let terminal = CLI.fixtures.appendingPathComponent("receivers/on_terminal.py").path
        let tty = try CLI.run(["-c", "python3 \(terminal) --columns 60 -- \(CLI.executable.path) scan -q --color never \(CLI.sampleLogs)"], shell: true)
        #expect(tty.stderr == "1")
        let lines = tty.stdout.replacingOccurrences(of: "\r\n", with: "\n").split(separator: "\n")
        #expect(!lines.isEmpty && lines.allSatisfy { $0.count <= 60 })
        #expect(lines.contains { $0.hasSuffix("…") })
        let piped = try CLI.run(["scan", "-q", "--color", "never", CLI.sampleLogs])
        #expect(piped.stdout.split(separator: "\n").contains { $0.count > 60 } && !piped.stdout.contains("…"))
    }

    /// On a terminal, stderr shows a progress line, redrawn in place, erased before the summary; Ctrl-C
    /// still gives the summary. Not on a pipe.
    @Test func progressShowsOnATerminalOnly() throws {
        let folder = try CLI.temporaryFolder()
        try CLI.gzip(Data("{\"Records\":[\(rootLogin)]}".utf8)).write(to: folder.appendingPathComponent("a.json.gz"))
        let fifo = folder.appendingPathComponent("open.json").path
        #expect(mkfifo(fifo, 0o600) == 0)
        // On a terminal, the scan of the folder and a FIFO kept open; once the progress line shows the
        // folder's alerts, Ctrl-C.
        let terminal = CLI.fixtures.appendingPathComponent("receivers/on_terminal.py").path
        let run = try CLI.run(["-c", "python3 \(terminal) --columns 200 --hold \(fifo) --interrupt-on \"1 critical 1 info\" -- \(CLI.executable.path) scan --format jsonl \(folder.path)/ \(fifo)"], shell: true)
        #expect(run.stderr == "130")
        #expect(run.stdout.contains("\r\u{1B}[K1/2 objects, ") || run.stdout.contains("\r\u{1B}[K1/2+ (listing…) objects, "), "\(run.stdout)")
        #expect(run.stdout.contains("alerts: 1 critical 1 info"))
        // Erased before the summary, which says it was interrupted.
        #expect(run.stdout.contains("\r\u{1B}[Ktrailscan: interrupted: the counts cover the objects read before it"))
        let piped = try CLI.run(["scan", CLI.sampleLogs])
        #expect(!piped.stderr.contains("\u{1B}[K"))
    }

    /// `--report`: one self-contained page a strict XML parser reads, whose figures are the JSON
    /// summary's, where a script planted in a log stays text; headless Chromium runs its script and
    /// renders it.
    @Test func theHTMLReportMatchesTheSummaryAndRendersInChromium() throws {
        let folder = try CLI.temporaryFolder()
        let planted = rootLogin.replacingOccurrences(of: "\"userAgent\":\"Mozilla\"", with: #""userAgent":"<script>alert(1)</script>&<b>x</b>""#)
        try CLI.gzip(Data("{\"Records\":[\(planted)]}".utf8)).write(to: folder.appendingPathComponent("planted.json.gz"))
        let report = folder.appendingPathComponent("report.html").path, summary = folder.appendingPathComponent("summary.json").path
        let run = try CLI.run(["scan", "-q", "--report", report, "--summary-out", summary, CLI.sampleLogs, folder.path])
        #expect(run.status == 1)
        let figures = """
            import json, sys, xml.dom.minidom
            page = xml.dom.minidom.parse(sys.argv[1])
            spans = {s.getAttribute("id") or s.getAttribute("data-severity"): int(s.getAttribute("data-count"))
                     for s in page.getElementsByTagName("span") if s.hasAttribute("data-count")}
            rules = {d.getAttribute("data-rule"): int(d.getAttribute("data-count"))
                     for d in page.getElementsByTagName("div") if d.hasAttribute("data-rule")}
            cells = [c.firstChild.data for c in page.getElementsByTagName("td") if c.firstChild is not None and c.firstChild.nodeType == c.TEXT_NODE]
            print(json.dumps({"spans": spans, "rules": rules, "scripts": len(page.getElementsByTagName("script")),
                              "planted": any("<script>alert(1)</script>&<b>x</b>" in c for c in cells)}))
            """
        let parsed = try CLI.run(["-c", "python3 -c '\(figures)' \(report)"], shell: true)
        #expect(parsed.status == 0, "\(parsed.stderr)")
        let page = try #require(try JSONSerialization.jsonObject(with: Data(parsed.stdout.utf8)) as? [String: Any])
        let json = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: summary))) as? [String: Any])
        let alerts = try #require(json["alerts"] as? [String: Any])
        // The JSON summary says what was scanned, how and when, and gives principals by their parts.
        let scan = try #require(json["scan"] as? [String: Any])
        #expect(scan["inputs"] as? [String] == [CLI.sampleLogs, folder.path] && scan["version"] as? String == "0.1.0")
        #expect(scan["started"] is String && scan["ended"] is String && scan["configuration"] is NSNull)
        let top = (alerts["topPrincipals"] as? [[String: Any]])?.first
        #expect(top?["arn"] as? String == "arn:aws:iam::111122223333:user/alice" && top?["type"] as? String == "IAMUser" && top?["count"] as? Int == 34)
        let spans = page["spans"] as? [String: Int] ?? [:]
        #expect(spans["total-alerts"] == alerts["total"] as? Int)
        let bySeverity = alerts["bySeverity"] as? [String: Int] ?? [:]
        #expect(!bySeverity.isEmpty && bySeverity.allSatisfy { spans[$0.key] == $0.value })
        #expect(page["rules"] as? [String: Int] == alerts["byRule"] as? [String: Int])
        #expect(page["scripts"] as? Int == 1, "only the page's own script")
        #expect(page["planted"] as? Bool == true, "the planted script is a cell's text")

        // Headless Chromium (Debian's chromium, which .ci/run installs) runs the page's script to its end
        // and renders it.
        let shot = folder.appendingPathComponent("report.png").path
        let chromium = "chromium --headless --no-sandbox --disable-gpu --hide-scrollbars"
        let dom = try CLI.run(["-c", "\(chromium) --dump-dom file://\(report) 2>/dev/null"], shell: true)
        #expect(dom.stdout.contains("data-ready=\"1\""), "the script ran")
        #expect(!dom.stdout.contains("<script>alert(1)"))
        _ = try CLI.run(["-c", "\(chromium) --window-size=1280,2400 --screenshot=\(shot) file://\(report) 2>/dev/null"], shell: true)
        let png = try Data(contentsOf: URL(fileURLWithPath: shot))
        #expect(png.starts(with: [0x89, 0x50, 0x4E, 0x47]) && png.count > 20_000)
    }

    /// `--summary-out` replaces only a regular file (atomically, through a symbolic link to its target);
    /// a FIFO is written in place; `-` is standard output; a path that cannot be written fails before
    /// anything is scanned.
    @Test func summaryOutWritesWhereItIsTold() throws {
        let folder = try CLI.temporaryFolder()
        let link = folder.appendingPathComponent("latest.json").path
        #expect(symlink("summaries/today.json", link) == 0)
        try FileManager.default.createDirectory(at: folder.appendingPathComponent("summaries"), withIntermediateDirectories: true)
        #expect(try CLI.run(["scan", "-q", "--summary-out", link, CLI.sampleLogs]).status == 1)
        #expect((try? FileManager.default.destinationOfSymbolicLink(atPath: link)) == "summaries/today.json")
        let written = try Data(contentsOf: folder.appendingPathComponent("summaries/today.json"))
        #expect((try JSONSerialization.jsonObject(with: written) as? [String: Any])?["alerts"] != nil)

        let fifo = folder.appendingPathComponent("summary.fifo").path
        #expect(mkfifo(fifo, 0o600) == 0)
        let received = Collected()
        Thread {
            received.data.withLock { $0 = FileHandle(forReadingAtPath: fifo)?.readDataToEndOfFile() ?? Data() }
            received.done.signal()
        }.start()
        #expect(try CLI.run(["scan", "-q", "--summary-out", fifo, CLI.sampleLogs]).status == 1)
        received.done.wait()
        #expect(String(decoding: received.data.withLock { $0 }, as: UTF8.self).hasPrefix("trailscan scan summary"))
        var info = stat()
        #expect(stat(fifo, &info) == 0 && info.st_mode & S_IFMT == S_IFIFO, "still a FIFO")

        let stdout = try CLI.run(["scan", "-q", "--format", "jsonl", "--summary-out", "-", CLI.sampleLogs])
        #expect(stdout.stdout.contains("4        192.0.2.33\n\nwindowed alerts\n  iam.created-then-admin at 2026-03-01T09:15:00Z: follows 1 creation"))
        let nowhere = try CLI.run(["scan", "--summary-out", folder.appendingPathComponent("missing/s.json").path, CLI.sampleLogs])
        #expect(nowhere.status == 64 && nowhere.stdout.isEmpty)
        #expect(nowhere.stderr.hasPrefix("Error: --summary-out: \(folder.path)/missing/s.json: cannot create it: No such file or directory\n"))
    }

    @Test func scanIsTheDefaultCommandAndTextIsTheDefaultFormat() throws {
        let run = try CLI.run(["-q", "--min-severity", "critical", "--timezone", "Asia/Tokyo", CLI.sampleLogs])
        #expect(run.status == 1)
        #expect(run.stdout.components(separatedBy: "\n\n").filter { !$0.isEmpty }.count == 6)
        #expect(run.stdout.hasPrefix("CRITICAL  Root user signed in to the console  [signin.root.success]\n"))
        #expect(run.stdout.contains("  time        2026-03-01 18:03:00 +09:00\n"))
    }

    @Test func anANSISequencePlantedInAUserAgentNeverReachesTheTerminal() throws {
        let run = try CLI.run(["scan", "-q", "--color", "never", CLI.sampleLogs])
        #expect(!run.stdout.contains("\u{1B}"))
        #expect(run.stdout.contains("user agent  Mozilla/5.0 \\x1B[2J\\x1B[31mpwned\\x1B[0m (X11; Linux x86_64)"))
    }

    /// Objects' alerts come out in listing order, whatever the number of workers and however their
    /// threads interleave: the same bytes on every run.
    @Test func outputIsByteIdenticalWhateverTheJobs() throws {
        let reference = try CLI.run(["scan", "--color", "never", "--jobs", "1", CLI.sampleLogs])
        #expect(reference.status == 1 && reference.stdout.utf8.count > 20_000)
        for jobs in ["1", "2", "8"] {
            for _ in 0..<5 {
                let run = try CLI.run(["scan", "--color", "never", "--jobs", jobs, CLI.sampleLogs])
                #expect(run.stdout == reference.stdout, "--jobs \(jobs)")
            }
            let jsonl = try CLI.run(["scan", "--format", "jsonl", "--jobs", jobs, CLI.sampleLogs])
            // The objects' alerts in sorted path order; the windowed ones after them, in eventTime order.
            let lines = jsonl.stdout.split(separator: "\n").map { try! JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any] }
            let sources = lines.filter { $0["evidence"] is NSNull }.map { $0["source"] as! String }
            #expect(sources == sources.sorted(), "objects in sorted path order with --jobs \(jobs)")
            let windowed = lines.drop { $0["evidence"] is NSNull }.map { $0["eventTime"] as! String }
            #expect(windowed.count == 2 && windowed == windowed.sorted() && lines.suffix(2).allSatisfy { !($0["evidence"] is NSNull) })
        }
    }

    @Test func exitCodeIsZeroWithoutAlerts() throws {
        let run = try CLI.run(["scan", "-q", "-"], stdin: Data("{\"Records\":[\(noise)]}".utf8))
        #expect(run.status == 0)
        #expect(run.stdout == "" && run.stderr == "")
    }

    @Test func standardInputMayBeGzip() throws {
        let object = try CLI.gzip(Data("{\"Records\":[\(noise),\(rootLogin)]}".utf8))
        let run = try CLI.run(["scan", "--format", "jsonl", "-"], stdin: object)
        #expect(run.status == 1)
        #expect(run.alerts == ["signin.root.success root-1", "signin.success root-1"])
        #expect(run.stdout.contains("\"source\":\"<stdin>\""))
        #expect(run.stderr.hasPrefix("trailscan: 1 object scanned, 0 skipped, 0 failed;"))
    }

    @Test func brokenObjectsAreReportedOneByOneAndTheRestIsScanned() throws {
        let folder = try CLI.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let good = try CLI.gzip(Data("{\"Records\":[\(rootLogin)]}".utf8))
        try good.write(to: folder.appendingPathComponent("a-good.json.gz"))
        let truncated = good.prefix(good.count / 2)  // inside the record: nothing from it is reported
        try truncated.write(to: folder.appendingPathComponent("b-truncated.json.gz"))
        let bad = "{\"Records\":[\(noise),{\"eventName\":\"x\",}]}"
        try Data(bad.utf8).write(to: folder.appendingPathComponent("c-bad.json"))
        let trailingComma = bad.utf8.count - 3  // reported at the "}" that follows the comma
        try Data("{\"digestStartTime\":\"2026-03-01T00:00:00Z\"}".utf8).write(to: folder.appendingPathComponent("d-digest.json"))
        try Data("not gzip, not json".utf8).write(to: folder.appendingPathComponent("e-garbage.json.gz"))
        try Data("ignored".utf8).write(to: folder.appendingPathComponent("notes.txt"))
        let summaryFile = folder.appendingPathComponent("summary.json").path
        let missing = folder.appendingPathComponent("missing.json.gz").path

        let run = try CLI.run(["scan", "--format", "jsonl", "--jobs", "3", "--summary-out", summaryFile, folder.path, missing])
        #expect(run.status == 2)  // failures win over alerts
        #expect(run.alerts == ["signin.root.success root-1", "signin.success root-1"])
        let p = folder.path
        let errorLines = run.stderr.split(separator: "\n").filter { !$0.hasPrefix("trailscan: 1 object") && !$0.contains(" alerts ") && !Self.isSummaryList($0) }
        #expect(Set(errorLines) == [
            "trailscan: \(p)/b-truncated.json.gz: gzip stream truncated after \(truncated.count) bytes",
            "trailscan: \(p)/c-bad.json: invalid JSON at byte \(trailingComma): trailing comma",
            "trailscan: \(p)/d-digest.json: not a CloudTrail log: no \"Records\" array",
            "trailscan: \(p)/e-garbage.json.gz: not a CloudTrail log: the document is not a JSON object",
            "trailscan: \(missing): No such file or directory",
        ])
        #expect(run.stderr.contains("trailscan: 1 object scanned, 0 skipped, 5 failed;"))

        let summary = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: summaryFile))) as! [String: Any]
        #expect((summary["objects"] as! [String: Int]) == ["scanned": 1, "skipped": 0, "failed": 5, "alreadyScanned": 0, "listRequests": 0])
        #expect((summary["failures"] as! [[String: String]]).count == 5)
        #expect((summary["records"] as! [String: Int])["scanned"] == 2)  // the good record and the noise before the bad one
    }

    @Test func limitsTurnBombsAndHugeRecordsIntoErrors() throws {
        let folder = try CLI.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let padding = String(repeating: " ", count: 2 << 20)  // 2 MiB of whitespace: compresses ~1000x
        try CLI.gzip(Data("{\"Records\":[\(rootLogin)\(padding)]}".utf8)).write(to: folder.appendingPathComponent("bomb.json.gz"))
        let bomb = try CLI.run(["scan", "-q", "--max-object-size", "1M", folder.path])
        #expect(bomb.status == 2)
        #expect(bomb.stderr == "trailscan: \(folder.path)/bomb.json.gz: decompressed size exceeds the limit of 1048576 bytes "
            + "(--max-object-size); possible gzip bomb\n")

        let huge = "{\"eventName\":\"x\",\"pad\":\"\(String(repeating: "y", count: 10_000))\"}"
        try Data("{\"Records\":[\(rootLogin),\(huge)]}".utf8).write(to: folder.appendingPathComponent("bomb.json.gz"))
        let record = try CLI.run(["scan", "--format", "jsonl", "-q", "--max-record-size", "4K", folder.path])
        #expect(record.status == 2)
        #expect(record.alerts == ["signin.root.success root-1", "signin.success root-1"])  // the record before it
        #expect(record.stderr == "trailscan: \(folder.path)/bomb.json.gz: a record is larger than the limit of 4096 bytes "
            + "(--max-record-size)\n")
    }

    @Test func usageErrorsExitWith64AndNameTheFlag() throws {
        for (arguments, message) in [
            (["scan", "--since", "last tuesday", "x"], "--since: 'last tuesday' is not a time"),
            (["scan", "--disable", "no.such.rule", "x"], "unknown rule id 'no.such.rule'"),
            (["scan", "--min-severity", "urgent", "x"], "'urgent' is not a severity"),
            (["scan", "--timezone", "Mars/Base", "x"], "--timezone: unknown time zone 'Mars/Base'"),
            (["scan", "--format", "xml", "x"], "--format"),
            (["scan", "--jobs", "0", "x"], "--jobs must be between 1 and 256"),
            (["scan", "--jobs", "1000000000", "x"], "--jobs must be between 1 and 256"),
            (["scan", "--max-fetches", "100000", "x"], "--max-fetches must be between 1 and 256"),
            (["scan", "--max-fetches", "0", "s3://b/"], "--max-fetches must be between 1 and 256"),
            (["scan", "--since", "2026-03-02", "--until", "2026-03-01", "x"], "--since must be before --until"),
            (["scan"], "Give at least one file or folder"),
            (["scan", "--no-such-flag", "x"], "--no-such-flag"),
        ] {
            let run = try CLI.run(arguments)
            #expect(run.status == 64, "\(arguments)")
            #expect(run.stderr.contains(message), "\(arguments): \(run.stderr)")
            #expect(run.stdout == "")
        }
    }

    @Test func filtersSelectRecordsAndPruneObjectsByTheirKeys() throws {
        let byAccount = try CLI.run(["scan", "--format", "jsonl", "--account", "444455556666", CLI.sampleLogs])
        #expect(byAccount.status == 0 && byAccount.stdout == "")
        #expect(byAccount.stderr.hasPrefix("trailscan: 108 objects scanned, 220 skipped, 0 failed;"))

        let byRegion = try CLI.run(["scan", "--format", "jsonl", "-q", "--region", "eu-west-1", CLI.sampleLogs])
        #expect(byRegion.alerts == (try CLI.expected("sample-logs-expected-alerts.txt")).filter {
            $0.hasPrefix("signin.no-mfa") || $0.hasPrefix("signin.success") || $0.hasPrefix("cloudtrail.tampering")
        }.filter { line in byRegion.alerts.contains(line) })
        #expect(byRegion.alerts.count == 6)  // bob's sign-in (no-mfa + success) and StopLogging, on two days

        let oneDay = try CLI.run(["scan", "--format", "jsonl", "--since", "2026-03-02", "--until", "2026-03-02", CLI.sampleLogs])
        #expect(oneDay.alerts.count == 31)
        #expect(oneDay.stderr.contains("(2026-03-02T05:45:05Z to 2026-03-02T23:59:59Z)") || oneDay.stderr.contains("(2026-03-02T"))
        let instants = try CLI.run(["scan", "--format", "jsonl", "-q", "--since", "2026-03-01T09:03:00Z", "--until", "2026-03-01T09:03:01Z", CLI.sampleLogs])
        #expect(Set(instants.alerts.map { $0.split(separator: " ")[0] }) == ["signin.root.success", "signin.no-mfa", "signin.success"])
    }

    @Test func aClosedStandardOutputEndsTheScanQuietly() throws {
        let errors = try CLI.temporaryFolder().appendingPathComponent("stderr.txt")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/bash")
        process.arguments = ["-c", "set -o pipefail; '\(CLI.executable.path)' scan --jobs 1 '\(CLI.sampleLogs)' 2>'\(errors.path)' | head -n 1 >/dev/null"]
        try process.run()
        process.waitUntilExit()
        #expect(process.terminationStatus == 1)  // alerts had been found; no error
        #expect(try String(contentsOf: errors, encoding: .utf8) == "")
    }

    // MARK: S3

    /// sample-logs uploaded once under `s3://trail/cli/` of the test server.
    static let uploaded: Result<S3TestServer, any Error> = Result {
        let server = try S3TestServer.shared.get()
        let client = try S3Client(endpoint: S3Endpoint(region: "us-east-1", customURL: server.endpoint),
                                  credentials: AWSCredentials(accessKeyID: S3TestServer.accessKey, secretAccessKey: S3TestServer.secretKey))
        let root = URL(fileURLWithPath: CLI.sampleLogs)
        for case let url as URL in FileManager.default.enumerator(at: root, includingPropertiesForKeys: nil)! where url.pathExtension == "gz" {
            let key = "cli/" + url.path.dropFirst(root.path.count + 1)
            try client.putObject(bucket: S3TestServer.bucket, key: key, bytes: [UInt8](try Data(contentsOf: url)))
        }
        return server
    }

    func s3Environment(secret: String = S3TestServer.secretKey) -> [String: String] {
        ["AWS_ACCESS_KEY_ID": S3TestServer.accessKey, "AWS_SECRET_ACCESS_KEY": secret, "AWS_REGION": "us-east-1"]
    }

    @Test func aBucketGivesTheSameAlertsAndCountsAsTheLocalFolder() throws {
        let server = try Self.uploaded.get()
        let local = try CLI.run(["scan", "--format", "jsonl", CLI.sampleLogs])
        let remote = try CLI.run(["scan", "--format", "jsonl", "--endpoint-url", server.endpoint, "s3://trail/cli/"], environment: s3Environment())
        #expect(remote.status == 1)
        #expect(remote.alerts == local.alerts)
        #expect(remote.alerts.count == 62)
        #expect(remote.stdout.contains("\"source\":\"s3://trail/cli/AWSLogs/111122223333/CloudTrail/us-east-1/2026/03/01/"))
        // Same counts: objects, bytes, records, span, alerts.
        func counts(_ digest: String) -> String {
            digest.replacingOccurrences(of: #"; \d+ S3 list requests?"#, with: "", options: .regularExpression)
                .replacingOccurrences(of: #" in [0-9.]+ s, [0-9.]+ MB/s"#, with: "", options: .regularExpression)
        }
        #expect(counts(remote.stderr) == counts(local.stderr))
        #expect(remote.stderr.contains("S3 list requests"))
    }

    /// An S3 listing is read by many workers at once, yet alerts come in key order, the same on every run.
    @Test func aBucketsAlertsComeInKeyOrderWhateverTheFetches() throws {
        let server = try Self.uploaded.get()
        var outputs: Set<String> = []
        for fetches in ["1", "4", "64"] {
            for _ in 0..<2 {
                let run = try CLI.run(["scan", "--format", "jsonl", "--max-fetches", fetches, "--endpoint-url", server.endpoint, "s3://trail/cli/"],
                                      environment: s3Environment())
                #expect(run.status == 1)
                outputs.insert(run.stdout)
            }
        }
        #expect(outputs.count == 1)
        let lines = outputs.first!.split(separator: "\n").map { try! JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any] }
        let sources = lines.filter { $0["evidence"] is NSNull }.map { $0["source"] as! String }
        #expect(lines.count == 62 && sources.count == 60 && sources == sources.sorted())
    }

    @Test func aOneDayWindowListsOnlyThoseDays() throws {
        let server = try Self.uploaded.get()
        let run = try CLI.run(["scan", "--format", "jsonl", "--endpoint-url", server.endpoint, "--since", "2026-03-02", "--until", "2026-03-02",
                               "--account", "111122223333", "s3://trail/cli/"], environment: s3Environment())
        // AWSLogs/, the accounts, the account's regions (12), then two day folders per region.
        #expect(run.stderr.contains("; 27 S3 list requests;"), "\(run.stderr)")
        #expect(run.stderr.hasPrefix("trailscan: 74 objects scanned"))
        #expect(run.alerts.count == 31)
    }

    @Test func listOnlyPrintsWhatWouldBeScanned() throws {
        let server = try Self.uploaded.get()
        let run = try CLI.run(["scan", "--list-only", "--endpoint-url", server.endpoint, "--region", "eu-west-1", "--account", "444455556666",
                               "s3://trail/cli/", CLI.sampleLogs + "/AWSLogs/444455556666/CloudTrail/eu-west-1/2026/03/01"], environment: s3Environment())
        #expect(run.status == 0 && run.stderr == "")
        let lines = run.stdout.split(separator: "\n")
        #expect(lines.count == 9 + 3)  // 3 days x 3 files in the bucket, then the local folder's 3 files
        #expect(lines.prefix(9).allSatisfy { $0.hasPrefix("s3://trail/cli/AWSLogs/444455556666/CloudTrail/eu-west-1/2026/03/0") })
        #expect(lines.suffix(3).allSatisfy { $0.hasPrefix(CLI.sampleLogs) })
    }

    @Test func aWrongSecretIsOneClearLineAndExit2() throws {
        let server = try Self.uploaded.get()
        let run = try CLI.run(["scan", "-q", "--endpoint-url", server.endpoint, "s3://trail/cli/"], environment: s3Environment(secret: "wrong"))
        #expect(run.status == 2)
        #expect(run.stderr == "trailscan: s3://trail/cli/: the request signature does not match (SignatureDoesNotMatch): check the secret access key\n")
    }

    @Test func everyInjectedFaultEndsScannedOnceOrListedAsFailed() throws {
        var objects: [String: [UInt8]] = [:]
        let names = ["slowdown-twice", "reset", "truncated", "slow", "always-503", "clean"]
        func key(_ name: String) -> String {
            "AWSLogs/111122223333/CloudTrail/us-east-1/2026/03/01/111122223333_CloudTrail_us-east-1_20260301T0100Z_\(name).json.gz"
        }
        for name in names {
            let records = [rootLogin.replacingOccurrences(of: "root-1", with: name)] + Array(repeating: noise, count: 300)
            objects[key(name)] = [UInt8](try CLI.gzip(Data("{\"Records\":[\(records.joined(separator: ","))]}".utf8)))
        }
        let server = FaultServer(bucket: "faults", objects: objects, scripts: [
            key("slowdown-twice"): [.slowDown(retryAfter: 0), .slowDown(retryAfter: 0)],
            key("reset"): [.resetMidBody],
            key("truncated"): [.truncated],
            key("slow"): [.slow],
            key("always-503"): Array(repeating: .slowDown(retryAfter: 0), count: 10),
        ])
        defer { server.stop() }
        let run = try CLI.run(["scan", "--format", "jsonl", "--jobs", "2", "--endpoint-url", server.endpoint, "s3://faults/"],
                              environment: s3Environment())
        #expect(run.status == 2)
        let expected = ["slowdown-twice", "reset", "truncated", "slow", "clean"].flatMap { ["signin.root.success \($0)", "signin.success \($0)"] }
        #expect(run.alerts == expected.sorted())  // each exactly once, though some were read twice or three times
        #expect(run.stderr.contains("trailscan: s3://faults/\(key("always-503")): S3 is unavailable or throttling (HTTP 503, SlowDown)\n"))
        #expect(run.stderr.contains("trailscan: 5 objects scanned, 0 skipped, 1 failed;"))
        let counts = server.requestCounts
        #expect(counts[key("slowdown-twice")] == 3 && counts[key("reset")] == 2 && counts[key("truncated")] == 2)
        #expect(counts[key("slow")] == 1 && counts[key("clean")] == 1 && counts[key("always-503")] == 5)
    }

    /// While one worker lists, the others wait for its page; they must wake up both when it arrives and
    /// when the listing fails for good.
    @Test func workersWaitingForAListingWakeWhenItEndsOrFails() throws {
        let key = "AWSLogs/111122223333/CloudTrail/us-east-1/2026/03/01/111122223333_CloudTrail_us-east-1_20260301T0100Z_x.json.gz"
        let object = [UInt8](try CLI.gzip(Data("{\"Records\":[\(rootLogin)]}".utf8)))
        let arguments = ["scan", "--format", "jsonl", "--max-fetches", "16"]

        let slow = FaultServer(bucket: "faults", objects: [key: object], scripts: [:], listingScript: [.slow])
        defer { slow.stop() }
        let listed = try CLI.run(arguments + ["--endpoint-url", slow.endpoint, "s3://faults/"], environment: s3Environment(), timeout: 60)
        #expect(listed.status == 1)
        #expect(listed.alerts == ["signin.root.success root-1", "signin.success root-1"])

        let failing = FaultServer(bucket: "faults", objects: [key: object], scripts: [:],
                                  listingScript: Array(repeating: .slowDown(retryAfter: 0), count: 10))
        defer { failing.stop() }
        let failed = try CLI.run(arguments + ["--endpoint-url", failing.endpoint, "s3://faults/"], environment: s3Environment(), timeout: 60)
        #expect(failed.status == 2)
        #expect(failed.stderr.hasPrefix("trailscan: s3://faults/: S3 is unavailable or throttling (HTTP 503, SlowDown)\n"), "\(failed.stderr)")
        #expect(failing.requestCounts[FaultServer.listing] == 5)
    }

    /// S3 bodies up to 1 MiB are held whole and inflated by libdeflate; longer ones stream through zlib
    /// as they arrive. Either way, every object must end as the same file ends on disk.
    @Test func brokenAndLargeObjectsInABucketEndAsTheSameFilesOnDisk() throws {
        var random = SplitMix(state: 7)
        func hex(_ count: Int) -> String {
            String((0..<count).map { _ in "0123456789abcdef".randomElement(using: &random)! })
        }
        // About 2.6 MB of random hex: 1.4 MB of gzip, past the 1 MiB that is held whole.
        let filler = (0..<10_000).map { index in
            noise.replacingOccurrences(of: "\"n-1\"", with: "\"n-\(index)\",\"requestParameters\":{\"blob\":\"\(hex(256))\"}")
        }
        let large = try CLI.gzip(Data("{\"Records\":[\(([rootLogin] + filler + [rootLogin.replacingOccurrences(of: "root-1", with: "root-2")]).joined(separator: ","))]}".utf8))
        #expect(large.count > 1 << 20)
        let small = try CLI.gzip(Data("{\"Records\":[\(noise),\(rootLogin)]}".utf8))
        let objects: [(String, Data)] = [
            ("a-large", large),
            ("b-small", small),
            ("c-truncated", small.prefix(small.count / 2)),
            ("d-large-truncated", large.prefix(large.count - 1000)),
            ("e-not-gzip", Data("not gzip, not json".utf8)),
            ("f-bad-json", try CLI.gzip(Data("{\"Records\":[\(noise),{\"eventName\":\"x\",}]}".utf8))),
            ("g-empty", Data()),
        ]
        let folder = try CLI.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let server = try S3TestServer.shared.get()
        let client = try S3Client(endpoint: S3Endpoint(region: "us-east-1", customURL: server.endpoint),
                                  credentials: AWSCredentials(accessKeyID: S3TestServer.accessKey, secretAccessKey: S3TestServer.secretKey))
        let day = "AWSLogs/111122223333/CloudTrail/us-east-1/2026/03/01"
        try FileManager.default.createDirectory(at: folder.appendingPathComponent(day), withIntermediateDirectories: true)
        for (name, bytes) in objects {
            try bytes.write(to: folder.appendingPathComponent("\(day)/\(name).json.gz"))
            try client.putObject(bucket: S3TestServer.bucket, key: "edge/\(day)/\(name).json.gz", bytes: [UInt8](bytes))
        }

        let local = try CLI.run(["scan", "--format", "jsonl", folder.path])
        let remote = try CLI.run(["scan", "--format", "jsonl", "--endpoint-url", server.endpoint, "s3://trail/edge/"], environment: s3Environment())
        #expect(remote.status == 2 && local.status == 2)
        #expect(remote.alerts == local.alerts)
        // root-1 is in a-large, b-small and d-large-truncated: reported once, found twice more (2 rules each).
        #expect(remote.alerts == ["signin.root.success root-1", "signin.root.success root-2", "signin.success root-1", "signin.success root-2"])
        #expect(remote.stderr.contains(", 4 already reported") && local.stderr.contains(", 4 already reported"))
        func errorLines(_ run: Run, _ base: String) -> [String] {
            run.stderr.split(separator: "\n").filter { !$0.contains(" scanned, ") && !$0.contains(" alerts ") && !Self.isSummaryList($0) }
                .map { $0.replacingOccurrences(of: base, with: "<base>") }.sorted()
        }
        #expect(errorLines(remote, "s3://trail/edge") == errorLines(local, folder.path))
        #expect(errorLines(remote, "s3://trail/edge").count == 5)
        #expect(remote.stderr.contains("trailscan: 2 objects scanned, 0 skipped, 5 failed;"))
    }

    /// Missing credentials are a setup problem, not a usage error: one line, exit 2, before any request.
    @Test func s3WithoutCredentialsIsOneLineAndExit2() throws {
        let run = try CLI.run(["scan", "s3://trail/"], environment: [
            "AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": "", "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent", "AWS_CONFIG_FILE": "/nonexistent",
        ])
        #expect(run.status == 2 && run.stderr.hasPrefix("trailscan: s3://trail/: no AWS credentials"), "\(run.stderr)")
        #expect(run.stderr.split(separator: "\n").count == 1)
    }

    /// The rough edges a new user hits: a mistyped subcommand, an S3 location written another way, a
    /// rule file that is not there (the subcommand's own usage, the OS's reason), sizes in MB.
    @Test func mistakesAreNamedWithTheirFix() throws {
        let typo = try CLI.run(["sacn", CLI.sampleLogs])
        #expect(typo.status == 64)
        #expect(typo.stderr.hasPrefix("Error: unknown subcommand 'sacn' (did you mean 'scan'?); to scan a path of that name, write ./sacn.\nUsage: trailscan scan "))
        for (location, hint) in [("S3://trail/AWSLogs/", "write S3 locations as s3://bucket/prefix"), ("s3:/trail", "write S3 locations as s3://bucket/prefix"),
                                 ("https://trail.s3.us-east-1.amazonaws.com/AWSLogs/", "give the bucket as s3://bucket/prefix")] {
            let run = try CLI.run(["scan", location])
            #expect(run.status == 64 && run.stderr.hasPrefix("Error: '\(location)': \(hint)"), "\(run.stderr)")
        }
        let missing = try CLI.run(["scan", "--rules", "/nonexistent/rules.json", CLI.sampleLogs])
        #expect(missing.status == 64)
        #expect(missing.stderr == """
            Error: --rules: cannot read '/nonexistent/rules.json': No such file or directory.
            Usage: trailscan scan [<options>] [<path> ...]
              See 'trailscan scan --help' for more information.

            """)
        #expect(try CLI.run(["scan", "-q", "--max-object-size", "10MB", "--max-record-size", "1MiB", CLI.sampleLogs]).status == 1)
    }

    // MARK: EventBridge rules, templates, rules test

    @Test func eventBridgeRulesRunUnchangedAndFlagExactlyTheirRecords() throws {
        let rules = CLI.fixtures.appendingPathComponent("eventbridge/rules.json").path
        let run = try CLI.run(["scan", "--no-builtin", "--rules", rules, "--format", "jsonl", "-q", CLI.sampleLogs])
        #expect(run.status == 1)
        // Each EventBridge rule flags what the equivalent built-in rules flag on the same logs.
        let builtin = try CLI.expected("sample-logs-expected-alerts.txt").map { $0.split(separator: " ").map(String.init) }
        func ids(_ rules: Set<String>) -> [String] { Set(builtin.filter { rules.contains($0[0]) }.map { $0[1] }).sorted() }
        var expected = ids(["signin.root.success", "signin.root.failure", "signin.root.password-recovery"]).map { "root-console-sign-in \($0)" }
        expected += ids(["iam.policy.admin-attached", "iam.policy.attached", "iam.policy.version-changed", "iam.denied-write"])
            .map { "iam-policy-changes \($0)" }
        expected += ids(["iam.access-key.created", "iam.access-key.root"]).map { "iam-access-key-created \($0)" }
        #expect(run.alerts == expected.sorted())
        #expect(run.alerts.count == 18)
    }

    @Test func anInputTransformerRendersOneMessagePerAlert() throws {
        let folder = CLI.fixtures.appendingPathComponent("eventbridge")
        let run = try CLI.run([
            "scan", "--no-builtin", "--rules", folder.appendingPathComponent("rules.json").path,
            "--template", folder.appendingPathComponent("transformer.json").path, "--format", "template", "-q",
            CLI.fixtures.appendingPathComponent("aws-doc-examples").path,
        ])
        #expect(run.status == 1)
        let lines = run.stdout.split(separator: "\n")
        // Root success and failure; CreateAccessKey; AttachUserPolicy and the refused AttachRolePolicy (the
        // EventBridge pattern does not look at errors).
        #expect(lines.count == 5)
        #expect(lines.contains(Substring(
            "\"AWSコンソールのサインインイベントが発生しました。    DetailType:AWS Console Sign In via CloudTrail    "
                + "ID:deb1e1f9-c99b-4612-8e9f-21f93b5d79c0    Time:2018-08-29T16:24:34Z    User-type:Root    "
                + "User-arn:arn:aws:iam::111122223333:root    sourceIPAddress:192.0.2.0    "
                + "userAgent:Mozilla/5.0 (Macintosh; Intel Mac OS X 10.12; rv:62.0) Gecko/20100101 Firefox/62.0    "
                + "responseElements:{\"ConsoleLogin\":\"Success\"}    additionalEventData:{\"LoginTo\":"
                + "\"https://console.aws.amazon.com/console/home?state=hashArgs%23&isauthcode=true\",\"MobileVersion\":\"No\","
                + "\"MFAUsed\":\"No\"}    \"")))
    }

    @Test func templatesNeverLetControlCharactersThrough() throws {
        let folder = try CLI.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let transformer = folder.appendingPathComponent("t.json")
        try Data(#"{"InputPathsMap":{"ua":"$.detail.userAgent"},"InputTemplate":"\"UA: <ua>\""}"#.utf8).write(to: transformer)
        let hostile = rootLogin.replacingOccurrences(of: "\"userAgent\":\"Mozilla\"", with: "\"userAgent\":\"x\\u001b[2Jy\"")
        let run = try CLI.run(["scan", "--template", transformer.path, "--format", "template", "-q", "-"],
                              stdin: Data("{\"Records\":[\(hostile)]}".utf8))
        #expect(run.stdout == "\"UA: x\\x1B[2Jy\"\n\"UA: x\\x1B[2Jy\"\n", "status \(run.status): \(run.stderr)")  // two built-in alerts, both escaped
    }

    @Test func ruleFilesMayBePipes() throws {
        let rules = try Data(contentsOf: CLI.fixtures.appendingPathComponent("eventbridge/rules.json"))
        let fromPipe = try CLI.run(["scan", "--no-builtin", "--rules", "/dev/stdin", "--format", "jsonl", "-q", CLI.sampleLogs], stdin: rules)
        #expect(fromPipe.status == 1 && fromPipe.alerts.count == 18, "\(fromPipe.stderr)")
    }

    @Test func ruleFilesWithErrorsAreRejectedBeforeScanning() throws {
        let folder = try CLI.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let file = folder.appendingPathComponent("bad.json")
        try Data(#"[{"id":"r1","severity":"high","title":"T","pattern":{"detail":{"eventName":[{"numeric":[">",1,">",2]}]}}}]"#.utf8).write(to: file)
        let run = try CLI.run(["scan", "--rules", file.path, CLI.sampleLogs])
        #expect(run.status == 64)
        #expect(run.stderr.contains("\(file.path): rule 'r1': pattern at detail.eventName[0].numeric: more than one lower bound"))
        #expect(run.stdout == "")
        let noTemplate = try CLI.run(["scan", "--format", "template", CLI.sampleLogs])
        #expect(noTemplate.status == 64 && noTemplate.stderr.contains("has no template of its own; give one with --template FILE"))
    }

    @Test func suppressionsSilenceAlertsAndTheSummaryCountsThem() throws {
        let folder = try CLI.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let config = folder.appendingPathComponent("config.json")
        try Data(#"{"suppress":[{"rules":["signin.no-mfa"],"sourceIPs":["192.0.2.0/24"],"reason":"office"},{"principals":["arn:aws:iam::*:user/alice"]}]}"#.utf8)
            .write(to: config)
        let summary = folder.appendingPathComponent("s.json").path
        let all = try CLI.run(["scan", "--format", "jsonl", "-q", CLI.sampleLogs])
        let run = try CLI.run(["scan", "--format", "jsonl", "--config", config.path, "--summary-out", summary, CLI.sampleLogs])
        // Expected: every alert of the plain run except alice's and bob's no-MFA sign-in from 192.0.2.33.
        var expected: [String] = []
        var suppressed: [String: Int] = [:]
        for line in all.stdout.split(separator: "\n") {
            let alert = try JSONSerialization.jsonObject(with: Data(line.utf8)) as! [String: Any]
            let principal = alert["principal"] as! [String: Any]
            let rule = alert["rule"] as! String
            if principal["arn"] as? String == "arn:aws:iam::111122223333:user/alice"
                || (rule == "signin.no-mfa" && alert["sourceIPAddress"] as? String == "192.0.2.33") {
                // A windowed rule's suppression keeps the records from being counted: no alert to silence.
                if alert["evidence"] is NSNull { suppressed[rule, default: 0] += 1 }
            } else {
                expected.append("\(rule) \(alert["eventID"]!)")
            }
        }
        #expect(run.alerts == expected.sorted())
        #expect(suppressed.values.reduce(0, +) == 34)
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: summary))) as! [String: Any]
        let counts = json["suppressed"] as! [String: Any]
        #expect(counts["total"] as? Int == 34)
        #expect((counts["byRule"] as! [String: Int]) == suppressed)
        // On each day alice created backup-bot and vendor-access, made backup-bot an administrator, gave it
        // a password, and signed in: records the windowed rules do not count.
        #expect((counts["windowRecordsByRule"] as! [String: Int])
            == ["iam.created-then-admin": 6, "iam.login-profile-then-login": 4, "signin.failures-then-success": 2])
        #expect(run.stderr.contains(", 34 suppressed, 12 records suppressed from windowed rules in "))

        try Data(#"{"suppress":[{"rules":["no.such.rule"],"accounts":["1"]}]}"#.utf8).write(to: config)
        let unknown = try CLI.run(["scan", "--config", config.path, CLI.sampleLogs])
        #expect(unknown.status == 64 && unknown.stderr.contains("suppression for unknown rule id 'no.such.rule'"))
    }

    @Test func rulesTestWorksLikeTestEventPattern() throws {
        let folder = try CLI.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        func file(_ name: String, _ text: String) throws -> String {
            let url = folder.appendingPathComponent(name)
            try Data(text.utf8).write(to: url)
            return url.path
        }
        let pattern = try file("p.json", #"{"detail-type":["AWS Console Sign In via CloudTrail"],"detail":{"userIdentity":{"type":["Root"]}}}"#)
        let record = try file("r.json", rootLogin)
        let event = try file("e.json", #"{"source":"aws.ec2","detail":{"state":"running"}}"#)
        let matched = try CLI.run(["rules", "test", "--pattern", pattern, "--record", record])
        #expect(matched.status == 0 && matched.stdout == "true\n")
        let notMatched = try CLI.run(["rules", "test", "--pattern", pattern, "--event", event])
        #expect(notMatched.status == 1 && notMatched.stdout == "false\n")
        let invalid = try CLI.run(["rules", "test", "--pattern", try file("bad.json", #"{"source":"aws.ec2"}"#), "--event", event])
        #expect(invalid.status == 64)
        #expect(invalid.stderr.contains("invalid event pattern: at source: match values must be in an array"))
    }

    @Test func rulesShowPrintsThePattern() throws {
        let run = try CLI.run(["rules", "show", "signin.root.success"])
        #expect(run.status == 0)
        #expect(run.stdout.hasPrefix("id           signin.root.success\nseverity     critical\n"))
        #expect(run.stdout.contains("\"userIdentity\": {\n      \"type\": [\"Root\"]"))
        let unknown = try CLI.run(["rules", "show", "nope"])
        #expect(unknown.status == 64)
    }

    @Test func rulesListsEveryBuiltinRule() throws {
        let run = try CLI.run(["rules"])
        #expect(run.status == 0)
        let ids = run.stdout.split(separator: "\n").filter { !$0.hasPrefix(" ") }.map { String($0.split(separator: " ")[0]) }
        #expect(ids.count == 45 && ids.first == "signin.root.success" && ids.last == "iam.login-profile-then-login")
        #expect(run.stdout.contains("signin.root.success               critical  Root user signed in to the console\n"))
        // The opt-in rule is listed when enabled.
        let optIn = try CLI.run(["rules", "--enable", "signin.new-source-ip"])
        #expect(optIn.stdout.split(separator: "\n").filter { !$0.hasPrefix(" ") }.last?.hasPrefix("signin.new-source-ip ") == true)
    }
}
