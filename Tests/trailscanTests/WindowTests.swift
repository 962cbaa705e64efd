import Foundation
import Testing

/// The windowed and correlated rules end to end, on a CloudTrail folder written here: records spread
/// over accounts, regions, day folders and files, out of order; each rule with records that must and
/// must not trigger it; one file delivered too late; the same alerts whatever `--jobs`, whatever the
/// order of the files, and whether read in one run or in three with `--state`.
@Suite struct WindowTests {
    static let a = "111122223333"
    static let b = "444455556666"

    /// One file of the corpus: where it is, when it was delivered, what it holds.
    struct LogFile {
        var account: String
        var region: String
        /// `YYYYMMDDTHHMMZ`: the delivery minute of its CloudTrail name.
        var delivered: String
        var records: [String]

        var path: String {
            let day = delivered.prefix(8)
            return "AWSLogs/\(account)/CloudTrail/\(region)/\(day.prefix(4))/\(day.dropFirst(4).prefix(2))/\(day.suffix(2))/"
                + "\(account)_CloudTrail_\(region)_\(delivered)_\(abs(records.joined().hashValue % 100_000)).json"
        }
    }

    static func login(_ id: String, _ time: String, ok: Bool, type: String = "IAMUser", user: String?, ip: String,
                      account: String = a, region: String = "us-east-1") -> String {
        let name = user.map { #","userName":"\#($0)""# } ?? ""
        let arn = type == "Root" ? "arn:aws:iam::\(account):root" : "arn:aws:iam::\(account):user/\(user ?? "-")"
        let error = ok ? "" : #","errorMessage":"Failed authentication""#
        return #"{"eventVersion":"1.08","userIdentity":{"type":"\#(type)","principalId":"P","arn":"\#(arn)","accountId":"\#(account)"\#(name)},"#
            + #""eventTime":"\#(time)","eventSource":"signin.amazonaws.com","eventName":"ConsoleLogin","awsRegion":"\#(region)","#
            + #""sourceIPAddress":"\#(ip)","userAgent":"Mozilla/5.0","requestParameters":null,"#
            + #""responseElements":{"ConsoleLogin":"\#(ok ? "Success" : "Failure")"},"additionalEventData":{"MFAUsed":"Yes"}\#(error),"#
            + #""eventID":"\#(id)","eventType":"AwsConsoleSignIn","recipientAccountId":"\#(account)"}"#
    }

    static func iam(_ id: String, _ time: String, _ name: String, _ parameters: String, account: String = a) -> String {
        #"{"eventVersion":"1.08","userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::\#(account):user/admin","userName":"admin"},"#
            + #""eventTime":"\#(time)","eventSource":"iam.amazonaws.com","eventName":"\#(name)","awsRegion":"us-east-1","#
            + #""sourceIPAddress":"198.51.100.7","userAgent":"aws-cli/2","requestParameters":\#(parameters),"responseElements":null,"#
            + #""eventID":"\#(id)","eventType":"AwsApiCall","recipientAccountId":"\#(account)"}"#
    }

    static func minutes(_ start: String, plus seconds: Int) -> String {
        let formatter = ISO8601DateFormatter()
        return formatter.string(from: formatter.date(from: start)!.addingTimeInterval(TimeInterval(seconds)))
    }

    /// The corpus, file by file.
    static let files: [LogFile] = {
        var files: [LogFile] = []
        // signin.root.brute-force: 5 root failures in account A within 14 minutes, over two regions and
        // three files, a file's records out of order.
        files.append(LogFile(account: a, region: "us-east-1", delivered: "20240301T1010Z", records: [
            login("rb4", "2024-03-01T10:09:00Z", ok: false, type: "Root", user: nil, ip: "198.51.100.1")]))
        files.append(LogFile(account: a, region: "us-east-1", delivered: "20240301T1015Z", records: [
            login("rb3", "2024-03-01T10:06:00Z", ok: false, type: "Root", user: nil, ip: "198.51.100.1"),
            login("rb1", "2024-03-01T10:00:00Z", ok: false, type: "Root", user: nil, ip: "198.51.100.1")]))
        files.append(LogFile(account: a, region: "eu-west-1", delivered: "20240301T1020Z", records: [
            login("rb5", "2024-03-01T10:14:00Z", ok: false, type: "Root", user: nil, ip: "198.51.100.1", region: "eu-west-1"),
            login("rb2", "2024-03-01T10:03:00Z", ok: false, type: "Root", user: nil, ip: "198.51.100.1", region: "eu-west-1")]))
        // Account B: 4 within 15 minutes (one short), and a fifth delivered two hours late: not counted.
        files.append(LogFile(account: b, region: "us-east-1", delivered: "20240301T1020Z", records: (1...4).map {
            login("rbx\($0)", minutes("2024-03-01T10:00:00Z", plus: 180 * $0), ok: false, type: "Root", user: nil, ip: "198.51.100.2", account: b)
        }))
        files.append(LogFile(account: b, region: "us-east-1", delivered: "20240301T1200Z", records: [
            login("rbx5", "2024-03-01T10:05:00Z", ok: false, type: "Root", user: nil, ip: "198.51.100.2", account: b)]))
        // signin.brute-force.ip: 20 failures from 203.0.113.9 in 47.5 minutes, across midnight (two day
        // folders) and two regions; 19 from 203.0.113.10 do not.
        for half in 0..<2 {
            let region = half == 0 ? "us-east-1" : "eu-west-1"
            let ours = (0..<20).filter { $0 % 2 == half }
            let before = ours.filter { $0 < 8 }, after = ours.filter { $0 >= 8 }
            func records(_ indexes: [Int]) -> [String] {
                indexes.map { login("ip\($0 + 1)", minutes("2024-03-01T23:40:00Z", plus: 150 * $0), ok: false, user: "u\($0 % 3)",
                                    ip: "203.0.113.9", region: region) }
            }
            files.append(LogFile(account: a, region: region, delivered: "20240302T0000Z", records: records(before)))
            files.append(LogFile(account: a, region: region, delivered: "20240302T0035Z", records: records(after)))
        }
        files.append(LogFile(account: b, region: "us-east-1", delivered: "20240302T0100Z", records: (0..<19).map {
            login("iq\($0 + 1)", minutes("2024-03-02T00:00:00Z", plus: 180 * $0), ok: false, user: "v1", ip: "203.0.113.10", account: b)
        }))
        // signin.password-spray: 10 users of B in us-west-2 within 45 minutes; 9 users (12 failures) of A do not.
        files.append(LogFile(account: b, region: "us-west-2", delivered: "20240302T0550Z", records: (0..<10).reversed().map {
            login("sp\($0)", minutes("2024-03-02T05:00:00Z", plus: 300 * $0), ok: false, user: "s\($0)", ip: "192.0.2.\($0 + 1)",
                  account: b, region: "us-west-2")
        }))
        files.append(LogFile(account: a, region: "us-west-2", delivered: "20240302T0550Z", records: (0..<12).map {
            login("sq\($0)", minutes("2024-03-02T05:00:00Z", plus: 200 * $0), ok: false, user: "t\($0 % 9)", ip: "192.0.2.\($0 + 101)",
                  region: "us-west-2")
        }))
        // signin.failures-then-success: alice fails three times, then signs in; bob fails twice, then signs in.
        files.append(LogFile(account: a, region: "us-east-1", delivered: "20240303T0830Z", records: [
            login("ft-ok", "2024-03-03T08:25:00Z", ok: true, user: "alice", ip: "192.0.2.50"),
            login("ft1", "2024-03-03T08:00:00Z", ok: false, user: "alice", ip: "192.0.2.50"),
            login("ft3", "2024-03-03T08:20:00Z", ok: false, user: "alice", ip: "192.0.2.50"),
            login("fb1", "2024-03-03T08:01:00Z", ok: false, user: "bob", ip: "192.0.2.51"),
            login("fb2", "2024-03-03T08:02:00Z", ok: false, user: "bob", ip: "192.0.2.51"),
            login("fb-ok", "2024-03-03T08:03:00Z", ok: true, user: "bob", ip: "192.0.2.51")]))
        files.append(LogFile(account: a, region: "eu-west-1", delivered: "20240303T0815Z", records: [
            login("ft2", "2024-03-03T08:10:00Z", ok: false, user: "alice", ip: "192.0.2.50", region: "eu-west-1")]))
        // iam.created-then-admin: eve made administrator 3 hours after creation; frank 25.5 hours after.
        let admin = #""policyArn":"arn:aws:iam::aws:policy/AdministratorAccess""#
        files.append(LogFile(account: a, region: "us-east-1", delivered: "20240304T0105Z", records: [
            iam("ca1", "2024-03-04T01:00:00Z", "CreateUser", #"{"userName":"eve"}"#),
            iam("ca3", "2024-03-04T01:00:30Z", "CreateUser", #"{"userName":"frank"}"#)]))
        files.append(LogFile(account: a, region: "us-east-1", delivered: "20240304T0405Z", records: [
            iam("ca2", "2024-03-04T04:00:00Z", "AttachUserPolicy", #"{"userName":"eve",\#(admin)}"#)]))
        files.append(LogFile(account: a, region: "us-east-1", delivered: "20240305T0235Z", records: [
            iam("ca4", "2024-03-05T02:30:00Z", "AttachUserPolicy", #"{"userName":"frank",\#(admin)}"#)]))
        // iam.login-profile-then-login: a password for gina, and gina signs in an hour later.
        files.append(LogFile(account: a, region: "us-east-1", delivered: "20240305T0905Z", records: [
            iam("lp1", "2024-03-05T09:00:00Z", "CreateLoginProfile", #"{"userName":"gina","passwordResetRequired":false}"#)]))
        files.append(LogFile(account: a, region: "us-east-1", delivered: "20240305T1005Z", records: [
            login("lp2", "2024-03-05T10:00:00Z", ok: true, user: "gina", ip: "192.0.2.60")]))
        // signin.new-source-ip (opt-in): carol from one address twice, then from another.
        for (day, (id, ip)) in [("06", ("n1", "10.0.0.1")), ("07", ("n2", "10.0.0.1")), ("08", ("n3", "10.0.0.2"))] {
            files.append(LogFile(account: a, region: "us-east-1", delivered: "202403\(day)T0905Z", records: [
                login(id, "2024-03-\(day)T09:00:00Z", ok: true, user: "carol", ip: ip)]))
        }
        return files
    }()

    static let windowed: Set<String> = [
        "signin.root.brute-force", "signin.brute-force.ip", "signin.password-spray", "signin.failures-then-success",
        "iam.created-then-admin", "iam.login-profile-then-login", "signin.new-source-ip",
    ]

    /// `rule eventID count/distinct first..last [ids]` of each windowed alert, in order.
    static func windowedAlerts(_ run: Run) -> [String] {
        run.stdout.split(separator: "\n").compactMap { line -> String? in
            let object = try! JSONSerialization.jsonObject(with: Data(line.utf8)) as! [String: Any]
            guard let rule = object["rule"] as? String, windowed.contains(rule) else { return nil }
            let evidence = object["evidence"] as! [String: Any]
            let distinct = (evidence["distinct"] as? Int).map { "/\($0)" } ?? ""
            return "\(rule) \(object["eventID"]!) \(evidence["count"]!)\(distinct) \(evidence["first"]!)..\(evidence["last"]!) "
                + "\((evidence["eventIDs"] as! [String]).joined(separator: ","))"
        }.sorted()
    }

    static let expected = [
        "iam.created-then-admin ca2 2 2024-03-04T01:00:00Z..2024-03-04T04:00:00Z ca1,ca2",
        "iam.login-profile-then-login lp2 2 2024-03-05T09:00:00Z..2024-03-05T10:00:00Z lp1,lp2",
        "signin.brute-force.ip ip20 20 2024-03-01T23:40:00Z..2024-03-02T00:27:30Z "
            + (1...20).map { "ip\($0)" }.joined(separator: ","),
        "signin.failures-then-success ft-ok 4 2024-03-03T08:00:00Z..2024-03-03T08:25:00Z ft1,ft2,ft3,ft-ok",
        "signin.password-spray sp9 10/10 2024-03-02T05:00:00Z..2024-03-02T05:45:00Z " + (0..<10).map { "sp\($0)" }.joined(separator: ","),
        "signin.root.brute-force rb5 5 2024-03-01T10:00:00Z..2024-03-01T10:14:00Z rb1,rb2,rb3,rb4,rb5",
    ]

    static func write(_ files: [LogFile], to folder: URL) throws {
        for file in files {
            let url = folder.appendingPathComponent(file.path)
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try (#"{"Records":["# + file.records.joined(separator: ",") + "]}").write(to: url, atomically: true, encoding: .utf8)
        }
    }

    @Test func eachRuleOnRecordsThatMustAndMustNotTriggerIt() throws {
        let folder = try CLI.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        try Self.write(Self.files, to: folder)
        let run = try CLI.run(["scan", "--no-config", "--format", "jsonl", "--jobs", "1", folder.path])
        #expect(run.status == 1)
        #expect(Self.windowedAlerts(run) == Self.expected)
        // The late record, once, whatever number of rules would have counted it.
        #expect(run.stderr.contains("trailscan: windowed rules: 1 record not counted: delivered more than 1h after their eventTime"), "\(run.stderr)")
        // The alert of a count has no single record; a correlation's is its last record.
        let lines = run.stdout.split(separator: "\n").map { try! JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any] }
        let root = try #require(lines.first { $0["rule"] as? String == "signin.root.brute-force" })
        #expect(root["record"] is NSNull)
        #expect(root["recipientAccountId"] as? String == Self.a)
        #expect(root["awsRegion"] is NSNull)  // the records came from two regions
        #expect(root["detail"] as? String == "5 failed root sign-ins for recipientAccountId \(Self.a) within 15m")
        #expect(root["severity"] as? String == "high")
        let then = try #require(lines.first { $0["rule"] as? String == "signin.failures-then-success" })
        #expect((then["record"] as? [String: Any])?["eventID"] as? String == "ft-ok")
        #expect(then["detail"] as? String == "after 3 failed sign-ins for recipientAccountId \(Self.a), userIdentity.userName alice within 1h")

        // The summary lists them with their evidence, and counts what the windows counted.
        let summary = folder.appendingPathComponent("summary.json").path
        let markdown = folder.appendingPathComponent("summary.md").path
        _ = try CLI.run(["scan", "--no-config", "-q", "--summary-out", summary, folder.path])
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: summary))) as! [String: Any]
        let windows = try #require(json["windows"] as? [String: Any])
        #expect(windows["late"] as? Int == 1 && windows["pending"] as? Int == 0 && windows["latenessSeconds"] as? Int == 3600)
        #expect(windows["watermark"] is NSNull)
        #expect((windows["alerts"] as? [[String: Any]])?.map { "\($0["rule"]!) \($0["eventID"]!) \(($0["evidence"] as! [String: Any])["count"]!)" }.sorted()
            == Self.expected.map { $0.split(separator: " ").prefix(3).joined(separator: " ").replacingOccurrences(of: "/10", with: "") })
        _ = try CLI.run(["scan", "--no-config", "-q", "--summary-out", markdown, folder.path])
        #expect(try String(contentsOfFile: markdown, encoding: .utf8).contains(
            "| signin\\.root\\.brute\\-force | 2024-03-01T10:14:00Z | 5 failed root sign\\-ins for recipientAccountId 111122223333 within 15m | 5 records from "))

        let novelty = try CLI.run(["scan", "--no-config", "--format", "jsonl", "--enable", "signin.new-source-ip", folder.path])
        #expect(Self.windowedAlerts(novelty) == (Self.expected + [
            "signin.new-source-ip n3 3 2024-03-06T09:00:00Z..2024-03-08T09:00:00Z n1,n2,n3",
        ]).sorted())
    }

    @Test func theSameWhateverJobsOrOrder() throws {
        let folder = try CLI.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        try Self.write(Self.files, to: folder)
        let paths = Self.files.map { folder.appendingPathComponent($0.path).path }
        for arguments in [["--jobs", "8", folder.path], ["--jobs", "1"] + paths.reversed(), ["--jobs", "3"] + paths.shuffled()] {
            let run = try CLI.run(["scan", "--no-config", "--format", "jsonl"] + arguments)
            #expect(Self.windowedAlerts(run) == Self.expected, "\(arguments.prefix(2))")
        }
    }

    @Test func threeIncrementalRunsDecideWhatOneRunDoes() throws {
        let folder = try CLI.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let logs = folder.appendingPathComponent("logs")
        try FileManager.default.createDirectory(at: logs, withIntermediateDirectories: true)
        let sorted = Self.files.sorted { $0.delivered < $1.delivered }
        let batches = [sorted.filter { $0.delivered < "20240302T0010Z" },
                       sorted.filter { $0.delivered >= "20240302T0010Z" && $0.delivered < "20240304T0000Z" },
                       sorted.filter { $0.delivered >= "20240304T0000Z" }]
        var alerts: [[String]] = []
        var messages: [String] = []
        let scan = ["scan", "--no-config", "--format", "jsonl", "--enable", "signin.new-source-ip", "--since", "2024-03-01T00:00:00Z"]
        for batch in batches {
            try Self.write(batch, to: logs)
            let run = try CLI.run(scan + ["--state", folder.appendingPathComponent("split.db").path, logs.path])
            alerts.append(Self.windowedAlerts(run))
            messages.append(run.stderr)
        }
        // Each run decides the alerts whose records it has, up to its watermark: the brute force across
        // midnight, begun in the first run's files, is decided by the second; the sign-in after failures
        // (08:25) is within an hour of the second run's newest delivery (08:30), so the third decides it.
        #expect(alerts.map { $0.map { String($0.split(separator: " ")[0]) } } == [
            ["signin.root.brute-force"],
            ["signin.brute-force.ip", "signin.password-spray"],
            ["iam.created-then-admin", "iam.login-profile-then-login", "signin.failures-then-success"],
        ])
        #expect(messages[1].contains("trailscan: windowed rules: 1 alert end at or after 2024-03-03T07:30:00Z"), "\(messages[1])")
        // The last sign-in from a new address is within the lateness of the newest delivery (03-08 09:05):
        // a record still to come could precede it, so it waits for a later run.
        #expect(messages[2].contains("trailscan: windowed rules: 1 alert end at or after 2024-03-08T08:05:00Z"), "\(messages[2])")
        let one = try CLI.run(scan + ["--state", folder.appendingPathComponent("one.db").path, logs.path])
        #expect(alerts.flatMap { $0 }.sorted() == Self.windowedAlerts(one))
        #expect(alerts.flatMap { $0 }.sorted() == Self.expected)
        #expect(one.stderr.contains("trailscan: windowed rules: 1 alert end at or after 2024-03-08T08:05:00Z"))
        // A fourth run with nothing new repeats nothing.
        let again = try CLI.run(scan + ["--state", folder.appendingPathComponent("split.db").path, logs.path])
        #expect(Self.windowedAlerts(again).isEmpty)
        // A day later, the next delivery moves the watermark past it: decided, reported once.
        try Self.write([LogFile(account: Self.a, region: "us-east-1", delivered: "20240309T1205Z", records: [
            Self.login("n4", "2024-03-09T12:00:00Z", ok: true, user: "carol", ip: "10.0.0.2")])], to: logs)
        let later = try CLI.run(scan + ["--state", folder.appendingPathComponent("split.db").path, logs.path])
        #expect(Self.windowedAlerts(later) == ["signin.new-source-ip n3 3 2024-03-06T09:00:00Z..2024-03-08T09:00:00Z n1,n2,n3"])
    }

    @Test func thresholdsAndWindowsComeFromTheConfiguration() throws {
        let folder = try CLI.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        try Self.write(Self.files, to: folder.appendingPathComponent("logs"))
        let config = folder.appendingPathComponent("config.json").path
        // Four root failures are enough now (account B too), and 19 from one address.
        try #"{"parameters":{"signin.root.brute-force":{"threshold":4},"signin.brute-force.ip":{"threshold":19,"window":"2h"}}}"#
            .write(toFile: config, atomically: true, encoding: .utf8)
        let run = try CLI.run(["scan", "--config", config, "--format", "jsonl", folder.appendingPathComponent("logs").path])
        let found = Self.windowedAlerts(run).filter { $0.hasPrefix("signin.root.brute-force") || $0.hasPrefix("signin.brute-force.ip") }
            .map { $0.split(separator: " ").prefix(3).joined(separator: " ") }
        #expect(found == ["signin.brute-force.ip ip19 19", "signin.brute-force.ip iq19 19", "signin.root.brute-force rb4 4", "signin.root.brute-force rbx4 4"])
        for (text, message) in [
            (#"{"parameters":{"signin.root.brute-force":{"threshold":0}}}"#,
             "at parameters.signin.root.brute-force.threshold: must be a whole number from 1 to 1000000"),
            (#"{"parameters":{"signin.root.brute-force":{"window":"soon"}}}"#,
             "at parameters.signin.root.brute-force.window: must be a duration from 1s to 366d, such as 15m, 1h or 30d"),
            (#"{"parameters":{"iam.created-then-admin":{"threshold":2}}}"#,
             "at parameters.iam.created-then-admin.threshold: unknown parameter (known: window)"),
            (#"{"lateness":"x"}"#, "at lateness: 'x' is not a duration such as 30m, 1h or 2d"),
        ] {
            try text.write(toFile: config, atomically: true, encoding: .utf8)
            let refused = try CLI.run(["scan", "--config", config, folder.path])
            #expect(refused.status == 64)
            #expect(refused.stderr.contains("--config: \(config): \(message)"), "\(refused.stderr)")
        }
        // A lateness of 3 hours counts the late record: account B's fifth failure makes an alert.
        try #"{"lateness":"3h"}"#.write(toFile: config, atomically: true, encoding: .utf8)
        let late = try CLI.run(["scan", "--config", config, "--format", "jsonl", folder.appendingPathComponent("logs").path])
        #expect(Self.windowedAlerts(late).contains { $0.hasPrefix("signin.root.brute-force rbx4 5 2024-03-01T10:03:00Z..2024-03-01T10:12:00Z ") })
    }

    @Test func theTextAlertShowsTheEvidence() throws {
        let folder = try CLI.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        try Self.write(Self.files, to: folder)
        let run = try CLI.run(["scan", "--no-config", "--color", "never", "--enable", "signin.root.brute-force", "--min-severity", "critical",
                               "--timezone", "+09:00", folder.path])
        #expect(run.stdout.contains("""
            HIGH  Root sign-in brute force  [signin.root.brute-force]
              detail      5 failed root sign-ins for recipientAccountId 111122223333 within 15m
              evidence    5 records from 2024-03-01 19:00:00 +09:00 to 2024-03-01 19:14:00 +09:00 (window 15m): rb1, rb2, rb3, rb4, rb5
            """), "\(run.stdout)")
        // A template renders a count's alert from the fields its records share and its evidence.
        let transformer = folder.appendingPathComponent("transformer.json")
        try Data(#"{"InputPathsMap":{"n":"$.detail.evidence.count","a":"$.detail.recipientAccountId","r":"$.detail.awsRegion"},"InputTemplate":"\"<n> failures in <a> <r>\""}"#.utf8)
            .write(to: transformer)
        let templated = try CLI.run(["scan", "--no-config", "-q", "--format", "template", "--template", transformer.path,
                                     "--enable", "signin.root.brute-force", "--min-severity", "critical", folder.path])
        // (The other lines are the critical AdministratorAccess attachments, which have no evidence.) The
        // records came from two regions: the shared record has no awsRegion, as EventBridge leaves a path
        // that is not in the event.
        #expect(templated.stdout.split(separator: "\n").filter { !$0.hasPrefix(#"" failures"#) } == [#""5 failures in 111122223333 ""#],
                "\(templated.stdout)")
        let rules = try CLI.run(["rules"])
        #expect(rules.stdout.contains("parameter threshold: 5"))
        #expect(rules.stdout.contains("parameter window: 15m"))
    }
}
