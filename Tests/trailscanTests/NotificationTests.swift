import Foundation
import Glibc
import Synchronization
import Testing
import TrailTestSupport

/// An HTTP receiver for Slack and webhook posts: records every request and answers from a script
/// (`500`, `429` with `Retry-After`, …), then 200.
final class Receiver: Sendable {
    private final class Log: Sendable {
        let state = Mutex<(requests: [LoopbackHTTPServer.Request], script: [String])>(([], []))
    }

    private let log = Log()
    private let server: LoopbackHTTPServer

    init(script: [String] = []) {
        let log = log
        log.state.withLock { $0.script = script }
        server = LoopbackHTTPServer { request, connection in
            let answer: String = log.state.withLock { state in
                state.requests.append(request)
                return state.script.isEmpty ? "200 OK" : state.script.removeFirst()
            }
            if answer.hasPrefix("429") {
                connection.respond(answer, headers: ["Retry-After: 1"], body: Array("rate_limited".utf8))
            } else {
                connection.respond(answer, body: Array((answer.hasPrefix("2") ? "ok" : "no_service").utf8))
            }
        }
    }

    deinit { server.stop() }

    var url: String { server.endpoint }
    var requests: [LoopbackHTTPServer.Request] { log.state.withLock { $0.requests } }
    /// The bodies of every request, in order.
    var bodies: [String] { requests.map { String(decoding: $0.body, as: UTF8.self) } }
}

@Suite(.serialized) struct NotificationTests {
    /// A configuration file naming these destinations, in a fresh folder.
    static func configuration(_ destinations: [String], timezone: String? = nil) throws -> (folder: URL, path: String) {
        let folder = try CLI.temporaryFolder()
        let path = folder.appendingPathComponent("config.json").path
        let zone = timezone.map { "\"timezone\": \"\($0)\", " } ?? ""
        try "{\(zone)\"notify\": [\(destinations.joined(separator: ","))]}".write(toFile: path, atomically: true, encoding: .utf8)
        return (folder, path)
    }

    static func json(_ text: String) -> [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any]) ?? [:]
    }

    /// A log folder with one object of these records.
    static func logs(_ records: [String]) throws -> URL {
        let folder = try CLI.temporaryFolder()
        try CLI.gzip(Data("{\"Records\":[\(records.joined(separator: ","))]}".utf8)).write(to: folder.appendingPathComponent("a.json.gz"))
        return folder
    }

    /// Every alert of the sample logs reaches the webhook as exactly its JSON line, with a stable
    /// idempotency key, and Slack as Block Kit within Slack's limits; the root sign-in's Slack message
    /// is what `Fixtures/notify/slack-root-sign-in.json` holds (Asia/Tokyo).
    @Test func sampleLogsToSlackAndAWebhook() throws {
        let slack = Receiver(), hook = Receiver()
        let (_, config) = try Self.configuration([
            #"{"slack": {"url": "env:TEST_SLACK_URL"}}"#,
            #"{"webhook": {"url": "\#(hook.url)/alerts", "headers": {"Authorization": "env:TEST_HOOK_TOKEN"}}}"#,
        ], timezone: "Asia/Tokyo")
        let secretPath = "/services/T0SECRET/B0SECRET/tokentokentoken"
        let environment = ["TEST_SLACK_URL": slack.url + secretPath, "TEST_HOOK_TOKEN": "Bearer hook-secret-4711"]
        let run = try CLI.run(["scan", "--format", "jsonl", "--config", config, CLI.sampleLogs], environment: environment)
        #expect(run.status == 1)
        #expect(run.stderr.contains("trailscan: notify slack: 62 alerts delivered\n"))
        #expect(run.stderr.contains("trailscan: notify webhook: 62 alerts delivered\n"))
        // The webhook gets each alert as scan prints it, once.
        #expect(hook.bodies == run.stdout.split(separator: "\n").map(String.init))
        let keys = hook.requests.map { $0.headers["idempotency-key"] ?? "" }
        #expect(Set(keys).count == 62 && keys.allSatisfy { $0.count == 64 })
        #expect(hook.requests.allSatisfy { $0.headers["authorization"] == "Bearer hook-secret-4711" && $0.headers["content-type"] == "application/json" })
        #expect(slack.requests.allSatisfy { $0.path == secretPath })
        for body in slack.bodies {
            let message = Self.json(body)
            let blocks = message["blocks"] as? [[String: Any]] ?? []
            #expect(!blocks.isEmpty && blocks.count <= 50)
            #expect((message["text"] as? String).map { !$0.isEmpty && $0.count <= 3000 } == true)
        }
        let root = try #require(slack.bodies.first { $0.contains("cac7ac1b-495f-4594-a5a2-244348d41751") && $0.contains("Root user signed in") })
        let expected = try String(contentsOf: CLI.fixtures.appendingPathComponent("notify/slack-root-sign-in.json"), encoding: .utf8)
        #expect(root == expected.trimmingCharacters(in: .newlines))
        // No secret on any output.
        for output in [run.stdout, run.stderr] {
            #expect(!output.contains("tokentokentoken") && !output.contains("hook-secret-4711"))
        }
    }

    /// Log values built to do harm render as text in every message: no mention, link, formatting,
    /// header or escape sequence reaches a receiver from a log.
    @Test func hostileLogValuesRenderHarmlessly() throws {
        let slack = Receiver(), hook = Receiver()
        let evil = #"<!channel> *bold* **bold** <https://evil.example|x> \r\nX-Injected: 1 \u001b[31mred \u001b]52;c;ZXZpbA==\u0007 \u202egnp.exe"#
        let record = rootLogin.replacingOccurrences(of: "\"userAgent\":\"Mozilla\"", with: "\"userAgent\":\"\(evil)\"")
            .replacingOccurrences(of: "\"accountId\":\"111122223333\"}", with: "\"accountId\":\"111122223333\",\"userName\":\"\(evil)\"}")
        let logs = try Self.logs([record])
        let (_, config) = try Self.configuration([#"{"slack": {"url": "\#(slack.url)/s"}}"#, #"{"webhook": {"url": "\#(hook.url)/w"}}"#])
        let run = try CLI.run(["scan", "-q", "--format", "jsonl", "--config", config, logs.path])
        #expect(run.status == 1)
        #expect(!slack.bodies.isEmpty)
        for body in slack.bodies {
            let message = Self.json(body)
            let texts = (message["blocks"] as? [[String: Any]] ?? []).flatMap { block -> [String] in
                let fields = (block["fields"] as? [[String: Any]] ?? []) + (block["elements"] as? [[String: Any]] ?? [])
                return ([block["text"] as? [String: Any]].compactMap { $0 } + fields).compactMap { $0["text"] as? String }
            } + [message["text"] as? String ?? ""]
            for text in texts {
                #expect(!text.contains("<!channel>") && !text.contains("<https://") && !text.contains("*bold*"))
                #expect(!text.contains("\r") && !text.contains("\u{1B}") && !text.contains("\u{07}") && !text.contains("\u{202E}"))
            }
            #expect(body.contains("&lt;!channel&gt;"))
        }
        // The webhook carries the log's value as JSON data: exactly the value, nothing more.
        let alert = Self.json(hook.bodies[0])
        #expect((alert["userAgent"] as? String) == "<!channel> *bold* **bold** <https://evil.example|x> \r\nX-Injected: 1 \u{1B}[31mred \u{1B}]52;c;ZXZpbA==\u{07} \u{202E}gnp.exe")
        #expect(hook.bodies.allSatisfy { !$0.contains("\u{1B}") && !$0.contains("\u{202E}") && !$0.contains("\r") })  // escaped as JSON
        #expect(hook.requests.allSatisfy { $0.headers["x-injected"] == nil })
    }

    /// With a state: a receiver answering 500 three times then 200 gets each alert exactly once; one
    /// that is down for a whole run gets everything on the next run, and nothing twice after that.
    @Test func deliveryWithAStateSurvivesErrorsAndOutages() throws {
        let logs = try Self.logs([rootLogin, rootLogin.replacingOccurrences(of: "root-1", with: "root-2")])
        let folder = try CLI.temporaryFolder()
        let state = folder.appendingPathComponent("state.db").path
        let flaky = Receiver(script: ["500 Internal Server Error", "500 Internal Server Error", "500 Internal Server Error"])
        // A port nobody listens on: the receiver is down.
        let down = "http://127.0.0.1:1/down/planted-secret-8472"
        let (_, config) = try Self.configuration([
            #"{"name": "flaky", "webhook": {"url": "\#(flaky.url)/w"}}"#, #"{"name": "later", "webhook": {"url": "env:TEST_LATER_URL"}}"#,
        ])
        let first = try CLI.run(["scan", "-q", "--state", state, "--since", "2020-01-01", "--config", config, logs.path],
                                environment: ["TEST_LATER_URL": down])
        #expect(first.status == 2)
        let alerts = Set(try CLI.run(["scan", "-q", "--format", "jsonl", logs.path]).alerts)
        // Three 500s, then each alert once.
        #expect(flaky.requests.count == 3 + alerts.count)
        #expect(Set(flaky.bodies.dropFirst(3)).count == alerts.count)
        #expect(first.stderr.contains("trailscan: notify later: 0 alerts delivered; \(alerts.count) not delivered: "))
        #expect(first.stderr.contains("(they stay pending for the next run)"))
        let pending = try CLI.run(["alerts", "--state", state, "--format", "jsonl"])
        // The first alert was tried (and failed); the rest waited, as the receiver was down.
        let lines = pending.stdout.split(separator: "\n")
        #expect(lines.count == alerts.count)
        #expect(lines.allSatisfy { $0.contains(#""flaky":{"status":"delivered","at":""#) && $0.contains(#""later":{"status":"pending","attempts":"#) })
        #expect(lines.first?.contains(#""later":{"status":"pending","attempts":1,"error":"Couldn't connect to server"#) == true)

        let back = Receiver()
        let second = try CLI.run(["scan", "-q", "--state", state, "--config", config, logs.path], environment: ["TEST_LATER_URL": back.url + "/w"])
        #expect(second.status == 0)
        #expect(back.requests.count == alerts.count)
        #expect(flaky.requests.count == 3 + alerts.count, "nothing twice")
        let third = try CLI.run(["scan", "-q", "--state", state, "--config", config, logs.path], environment: ["TEST_LATER_URL": back.url + "/w"])
        #expect(third.status == 0 && back.requests.count == alerts.count)
        // No secret in any output, nor in the state.
        for run in [first, second, third] { #expect(!(run.stdout + run.stderr).contains("planted-secret")) }
        for file in [state, state + "-wal"] {
            let bytes = (try? Data(contentsOf: URL(fileURLWithPath: file))) ?? Data()
            #expect(bytes.range(of: Data("planted-secret".utf8)) == nil)
        }
    }

    /// `kill -9` between a receiver accepting a message and the state recording it: the next run sends
    /// that one message again, with the same idempotency key, and every other alert once.
    @Test func aKillDuringDeliveryResendsOnlyTheMessageInFlight() throws {
        let logs = try Self.logs([rootLogin, rootLogin.replacingOccurrences(of: "root-1", with: "root-2")])
        let state = try CLI.temporaryFolder().appendingPathComponent("state.db").path
        let hook = Receiver()
        let (_, config) = try Self.configuration([#"{"webhook": {"url": "\#(hook.url)/w"}}"#])
        let killed = try CLI.run(["scan", "-q", "--state", state, "--since", "2020-01-01", "--config", config, logs.path],
                                 environment: ["TRAILSCAN_TEST_KILL": "accepted:2"])
        #expect(killed.status == SIGKILL)
        #expect(hook.requests.count == 2)
        let next = try CLI.run(["scan", "-q", "--state", state, "--config", config, logs.path])
        #expect(next.status == 0, "\(next.stderr)")
        let keys = hook.requests.map { $0.headers["idempotency-key"] ?? "" }
        let alerts = try CLI.run(["scan", "-q", "--format", "jsonl", logs.path]).alerts.count
        #expect(keys.count == alerts + 1)
        #expect(Set(keys).count == alerts)
        #expect(keys[1] == keys[2], "the message in flight, again, with its key")
    }

    /// `trailscan notify --test NAME` sends one sample; an unknown name is a usage error naming the
    /// destinations there are.
    @Test func notifyTestSendsASample() throws {
        let hook = Receiver()
        let (_, config) = try Self.configuration([#"{"name": "ops", "webhook": {"url": "\#(hook.url)/w"}, "minSeverity": "critical"}"#])
        let run = try CLI.run(["notify", "--test", "ops", "--config", config])
        #expect(run.status == 0)
        #expect(run.stderr == "trailscan: notify ops: 1 alert delivered (HTTP 200)\n")
        #expect(hook.requests.count == 1 && hook.bodies[0].contains(#""rule":"trailscan.test""#))
        let unknown = try CLI.run(["notify", "--test", "slack", "--config", config])
        #expect(unknown.status == 64)
        #expect(unknown.stderr.contains("no notification destination 'slack' in \(config) (known: ops)."))
    }

    /// With a state, an aggregation window still open at the end of a run is held, not sent in part;
    /// a later run sends it (here, one that no longer aggregates), once.
    @Test func anOpenWindowIsHeldForALaterRun() throws {
        let now = Date()
        let iso = ISO8601DateFormatter().string(from: now.addingTimeInterval(-60))
        let logs = try Self.logs([rootLogin.replacingOccurrences(of: "2026-03-01T09:03:00Z", with: iso)])
        let state = try CLI.temporaryFolder().appendingPathComponent("state.db").path
        let hook = Receiver()
        let (_, config) = try Self.configuration([#"{"webhook": {"url": "\#(hook.url)/w"}}"#])
        let held = try CLI.run(["scan", "--state", state, "--since", "1d", "--aggregate", "12h", "--config", config, logs.path])
        #expect(held.status == 1)
        #expect(hook.requests.isEmpty)
        #expect(held.stderr.contains("trailscan: notify webhook: 0 alerts delivered; 2 held until their aggregation window closes\n"))
        let later = try CLI.run(["scan", "-q", "--state", state, "--config", config, logs.path])
        #expect(later.status == 0 && hook.requests.count == 2)
        #expect(try CLI.run(["scan", "-q", "--state", state, "--config", config, logs.path]).status == 0 && hook.requests.count == 2)
    }

    /// A destination's own template: its newlines stay, trailscan's time variables are there, and a
    /// newline or escape sequence from a log is shown escaped.
    @Test func templatesKeepTheirLinesAndEscapeTheLogs() throws {
        let record = rootLogin.replacingOccurrences(of: "\"arn:aws:iam::111122223333:root\"", with: #""arn:aws:iam::111122223333:root\r\nInjected: \u001b[2J""#)
        let logs = try Self.logs([record])
        let hook = Receiver()
        let template = #"{"InputPathsMap": {"who": "$.detail.userIdentity.arn"}, "InputTemplate": "Sign-in by <who>\nat <trailscan.event.time> (<trailscan.event.time-utc>)"}"#
        let (_, config) = try Self.configuration([#"{"webhook": {"url": "\#(hook.url)/w"}, "rules": ["signin.root.success"], "template": \#(template)}"#],
                                                 timezone: "Asia/Tokyo")
        #expect(try CLI.run(["scan", "-q", "--config", config, logs.path]).status == 1)
        #expect(hook.bodies == [#"Sign-in by arn:aws:iam::111122223333:root\x0D\x0AInjected: \x1B[2J"# + "\nat 2026-03-01 18:03:00 +09:00 (2026-03-01 09:03:00 UTC)"])
        #expect(hook.requests.first?.headers["content-type"] == "text/plain; charset=utf-8")
    }

    /// 429 with Retry-After is waited out and retried; a refusal (404) is one line with what the
    /// receiver said, and exit 2.
    @Test func throttlingIsRetriedAndRefusalsAreReported() throws {
        let logs = try Self.logs([rootLogin])
        let throttled = Receiver(script: ["429 Too Many Requests"])
        let gone = Receiver(script: Array(repeating: "404 Not Found", count: 10))
        let (_, config) = try Self.configuration([#"{"name": "t", "slack": {"url": "\#(throttled.url)/s"}}"#, #"{"name": "g", "slack": {"url": "\#(gone.url)/s"}}"#])
        let run = try CLI.run(["scan", "-q", "--config", config, logs.path])
        #expect(run.status == 2)
        #expect(throttled.requests.count == 3)  // 429, then the two alerts of the root sign-in
        #expect(gone.requests.count == 1, "a refusal is not retried")
        #expect(run.stderr.contains("trailscan: notify g: 0 alerts delivered; 2 not delivered: HTTP 404: no_service\n"))
    }

    /// Aggregated, seven sign-ins by three users in one 5-minute window are one message that names
    /// all three, with each time and source IP.
    @Test func aggregationKeepsEveryName() throws {
        let users = ["alice", "bob", "carol", "alice", "bob", "alice", "carol"]
        let records = users.enumerated().map { index, user in
            #"{"eventVersion":"1.08","userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::111122223333:user/\#(user)","accountId":"111122223333","userName":"\#(user)"},"eventTime":"2026-03-01T09:0\#(index % 5):\#(10 + index)Z","eventSource":"signin.amazonaws.com","eventName":"ConsoleLogin","awsRegion":"us-east-1","sourceIPAddress":"198.51.100.\#(index + 1)","userAgent":"Mozilla","responseElements":{"ConsoleLogin":"Success"},"additionalEventData":{"MFAUsed":"No"},"eventID":"agg-\#(index)","eventType":"AwsConsoleSignIn","recipientAccountId":"111122223333"}"#
        }
        #expect(records.count == 7)
        let logs = try Self.logs(records)
        let slack = Receiver()
        let (_, config) = try Self.configuration([#"{"slack": {"url": "\#(slack.url)/s"}, "rules": ["signin.no-mfa"]}"#])
        let run = try CLI.run(["scan", "-q", "--aggregate", "5m", "--config", config, logs.path])
        #expect(run.status == 1)
        #expect(slack.requests.count == 1)
        let body = slack.bodies.first ?? ""
        for user in ["alice", "bob", "carol"] { #expect(body.contains("user/\(user)")) }
        #expect(body.contains("*7 alerts*"))
        #expect((1...7).allSatisfy { body.contains("198.51.100.\($0) ") || body.contains("198.51.100.\($0)\\n") || body.contains("198.51.100.\($0)\"") })
        #expect(run.stderr == "")
    }
}

/// A receiver that runs as a process of its own (moto_server, aiosmtpd), stopped by its pid.
final class ServerProcess: Sendable {
    let pid: Int32

    init(_ arguments: [String], log: URL) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = arguments
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        process.standardOutput = try FileHandle(forWritingTo: log)
        process.standardError = process.standardOutput
        try process.run()
        pid = process.processIdentifier
    }

    /// SIGKILL, and waits for it: a process the test runner spawns inherits the runner thread's signal
    /// mask, in which SIGTERM is blocked, so a SIGTERM would stay pending and the server run on.
    deinit {
        kill(pid, SIGKILL)
        var status: Int32 = 0
        waitpid(pid, &status, 0)
    }

    /// Waits (up to 30 s) until `ready` is true.
    static func wait(_ ready: () -> Bool) -> Bool {
        for _ in 0..<300 {
            if ready() { return true }
            usleep(100_000)
        }
        return false
    }
}

@Suite(.serialized) struct SNSAndEmailTests {
    static let receivers = CLI.fixtures.appendingPathComponent("receivers")

    /// moto_server with an SNS topic, an SQS queue subscribed to it, and request authentication on.
    struct SNS {
        let server: ServerProcess
        let endpoint: String, key: String, secret: String, topic: String, queue: String

        init(in folder: URL) throws {
            let port = Loopback.freePort()
            endpoint = "http://127.0.0.1:\(port)"
            server = try ServerProcess(["moto_server", "-H", "127.0.0.1", "-p", "\(port)"], log: folder.appendingPathComponent("moto.log"))
            let endpoint = endpoint
            #expect(ServerProcess.wait { (try? CLI.run(["-c", "python3 -c 'import urllib.request; urllib.request.urlopen(\"\(endpoint)/moto-api/\")'"], shell: true).status) == 0 }, "moto_server did not start")
            let setup = try CLI.run(["-c", "python3 \(SNSAndEmailTests.receivers.path)/moto_sns.py setup \(endpoint)"], shell: true)
            #expect(setup.status == 0, "\(setup.stderr)")
            let aws = NotificationTests.json(setup.stdout)
            key = aws["accessKey"] as? String ?? ""
            secret = aws["secretKey"] as? String ?? ""
            topic = aws["topicArn"] as? String ?? ""
            queue = aws["queueUrl"] as? String ?? ""
        }

        var environment: [String: String] {
            ["AWS_ENDPOINT_URL_SNS": endpoint, "AWS_ACCESS_KEY_ID": key, "AWS_SECRET_ACCESS_KEY": secret, "AWS_REGION": "us-east-1"]
        }

        /// What was published since the last read: subject, message and attributes of each.
        func read() throws -> [[String: Any]] {
            let read = try CLI.run(["-c", "python3 \(SNSAndEmailTests.receivers.path)/moto_sns.py read \(endpoint) \(key) '\(secret)' '\(queue)'"], shell: true)
            return read.stdout.split(separator: "\n").map { NotificationTests.json(String($0)) }
        }
    }

    /// aiosmtpd requiring STARTTLS and AUTH (user `alerts`), writing what it accepts to a folder.
    struct SMTP {
        let server: ServerProcess
        let port: Int, caFile: String
        let mail: URL

        init(in folder: URL, password: String) throws {
            mail = folder.appendingPathComponent("mail-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: mail, withIntermediateDirectories: true)
            let log = mail.appendingPathComponent("smtp.log")
            server = try ServerProcess(["python3", "\(SNSAndEmailTests.receivers.path)/smtp_server.py", mail.path, password], log: log)
            var started: [String: Any] = [:]
            #expect(ServerProcess.wait {
                started = NotificationTests.json((try? String(contentsOf: log, encoding: .utf8))?.split(separator: "\n").first.map(String.init) ?? "")
                return started["port"] != nil
            }, "the SMTP server did not start: \(log.path)")
            port = started["port"] as? Int ?? 0
            caFile = started["caFile"] as? String ?? ""
        }

        func destination(rules: [String]) -> String {
            let list = rules.map { "\"\($0)\"" }.joined(separator: ", ")
            return #"{"email": {"url": "smtp://127.0.0.1:\#(port)", "username": "alerts", "password": "env:TEST_SMTP_PASSWORD", "from": "trailscan@example.com", "to": ["secops@example.com"], "caFile": "\#(caFile)"}, "rules": [\#(list)]}"#
        }

        /// Every message received, in order: subject, from, to, header names, decoded body.
        func messages() throws -> [[String: Any]] {
            let parse = """
                import email, email.policy, glob, json, sys
                for path in sorted(glob.glob(sys.argv[1] + "/*.eml"), key=lambda p: int(p.rsplit("/", 1)[1].split(".")[0])):
                    m = email.message_from_bytes(open(path, "rb").read(), policy=email.policy.default)
                    print(json.dumps({"subject": str(m["Subject"]), "from": str(m["From"]), "to": str(m["To"]), "headers": list(m.keys()),
                                      "body": m.get_content()}))
                """
            return try CLI.run(["-c", "python3 -c '\(parse)' \(mail.path)"], shell: true).stdout.split(separator: "\n").map { NotificationTests.json(String($0)) }
        }
    }

    /// The root sign-in of the sample logs, published to an SNS topic of moto_server with request
    /// authentication on, read back through an SQS subscription: subject, text and attributes; a wrong
    /// secret is one clear line and exit 2.
    @Test func snsPublishesWhatEmailSubscribersRead() throws {
        let sns = try SNS(in: try CLI.temporaryFolder())
        let (_, config) = try NotificationTests.configuration([#"{"sns": {"topicArn": "\#(sns.topic)"}, "rules": ["signin.root.*"]}"#])
        let run = try CLI.run(["scan", "-q", "--timezone", "Asia/Tokyo", "--config", config, CLI.sampleLogs], environment: sns.environment)
        #expect(run.status == 1, "\(run.stderr)")
        let messages = try sns.read()
        let rootAlerts = try CLI.expected("sample-logs-expected-alerts.txt").filter { $0.hasPrefix("signin.root.") }
        #expect(messages.count == rootAlerts.count)
        let root = try #require(messages.first { ($0["Message"] as? String)?.contains("cac7ac1b-495f-4594-a5a2-244348d41751") == true && ($0["Subject"] as? String)?.contains("signed in") == true })
        #expect(root["Subject"] as? String == "[CRITICAL] Root user signed in to the console (111122223333)")
        let expected = try String(contentsOf: CLI.fixtures.appendingPathComponent("notify/sns-root-sign-in.txt"), encoding: .utf8)
        #expect(root["Message"] as? String == expected.replacingOccurrences(of: "<sample-logs>", with: CLI.sampleLogs))
        let attributes = root["MessageAttributes"] as? [String: [String: String]] ?? [:]
        #expect(attributes["severity"]?["Value"] == "critical" && attributes["rule"]?["Value"] == "signin.root.success")

        var wrong = sns.environment
        wrong["AWS_SECRET_ACCESS_KEY"] = "wrong-planted-secret"
        let refused = try CLI.run(["scan", "-q", "--config", config, CLI.sampleLogs], environment: wrong)
        #expect(refused.status == 2)
        #expect(refused.stderr.hasPrefix("trailscan: notify sns: 0 alerts delivered; \(rootAlerts.count) not delivered: SNS SignatureDoesNotMatch: "))
        #expect(refused.stderr.split(separator: "\n").count == 1 && !refused.stderr.contains("wrong-planted-secret"))
    }

    /// Email through an SMTP server that requires STARTTLS and AUTH: the root sign-in as a readable
    /// mail with a UTF-8 subject; log data cannot add a header; a wrong password is one line, exit 2.
    @Test func emailIsReadableAndCannotBeInjected() throws {
        let smtp = try SMTP(in: try CLI.temporaryFolder(), password: "smtp-planted-secret")
        let (_, config) = try NotificationTests.configuration([smtp.destination(rules: ["signin.root.success"])])
        let password = ["TEST_SMTP_PASSWORD": "smtp-planted-secret"]
        let run = try CLI.run(["scan", "-q", "--timezone", "Asia/Tokyo", "--config", config, CLI.sampleLogs], environment: password)
        #expect(run.status == 1, "\(run.stderr)")
        let received = try smtp.messages()
        #expect(received.count == 2)  // the two root sign-ins of the sample logs
        let root = try #require(received.first { ($0["body"] as? String)?.contains("cac7ac1b-495f-4594-a5a2-244348d41751") == true })
        #expect(root["subject"] as? String == "[trailscan] CRITICAL: Root user signed in to the console (111122223333)")
        #expect(root["from"] as? String == "trailscan@example.com" && root["to"] as? String == "secops@example.com")
        let expected = try String(contentsOf: CLI.fixtures.appendingPathComponent("notify/sns-root-sign-in.txt"), encoding: .utf8)
        #expect((root["body"] as? String)?.replacingOccurrences(of: "\r\n", with: "\n") == expected.replacingOccurrences(of: "<sample-logs>", with: CLI.sampleLogs))

        // A log value with CR/LF and a would-be header stays in the body, escaped.
        let evil = #"Mozilla\r\nBcc: victim@example.com\r\nX-Injected: 1"#
        let logs = try NotificationTests.logs([rootLogin.replacingOccurrences(of: "\"userAgent\":\"Mozilla\"", with: "\"userAgent\":\"\(evil)\"")])
        #expect(try CLI.run(["scan", "-q", "--config", config, logs.path], environment: password).status == 1)
        let injected = try #require(try smtp.messages().last)
        let headers = injected["headers"] as? [String] ?? []
        #expect(!headers.contains("Bcc") && !headers.contains("X-Injected"))
        #expect((injected["body"] as? String)?.contains(#"User agent  Mozilla\x0D\x0ABcc: victim@example.com\x0D\x0AX-Injected: 1"#) == true)

        let denied = try CLI.run(["scan", "-q", "--config", config, logs.path], environment: ["TEST_SMTP_PASSWORD": "not-the-password"])
        #expect(denied.status == 2)
        #expect(denied.stderr.hasPrefix("trailscan: notify email: 0 alerts delivered; 1 not delivered: SMTP: Login denied"))
        for output in [run, denied] { #expect(!(output.stdout + output.stderr).contains("smtp-planted-secret") && !(output.stdout + output.stderr).contains("not-the-password")) }
    }

    /// The hostile root sign-in of `HostileInputTests` reaches SNS and email as plain, escaped text: no
    /// control, bidi or header line from the log in a subject, a header or a body.
    @Test func aHostileUserAgentReachesSNSAndEmailHarmlessly() throws {
        let folder = try CLI.temporaryFolder()
        let sns = try SNS(in: folder)
        let smtp = try SMTP(in: folder, password: "smtp-secret")
        let (_, config) = try NotificationTests.configuration([#"{"sns": {"topicArn": "\#(sns.topic)"}, "rules": ["signin.root.success"]}"#,
                                                               smtp.destination(rules: ["signin.root.success"])])
        let logs = try NotificationTests.logs([hostileRoot])
        let run = try CLI.run(["scan", "-q", "--config", config, logs.path], environment: sns.environment.merging(["TEST_SMTP_PASSWORD": "smtp-secret"]) { $1 })
        #expect(run.status == 1, "\(run.stderr)")
        let escaped = #"Mozilla \x1B[2J \x1B]52;c;ZXZpbA==\x07 \x0D\x0A <!channel> **bold** [x](javascript:alert(1)) ![i](http://evil/t.png) \u{202E}gnp.exe"#
        let published = try #require(try sns.read().first)
        let mail = try #require(try smtp.messages().last)
        for text in [published["Subject"] as? String, published["Message"] as? String, mail["subject"] as? String, mail["body"] as? String].map({ $0 ?? "" }) {
            #expect(!text.contains("\u{1B}") && !text.contains("\u{07}") && !text.contains("\u{202E}") && !text.contains("\n <!channel>"))
        }
        #expect((published["Message"] as? String)?.contains("User agent  \(escaped)\n") == true)
        #expect((mail["body"] as? String)?.contains("User agent  \(escaped)") == true)
        #expect((mail["headers"] as? [String] ?? []).allSatisfy { !$0.contains("channel") })
    }

    /// The issue's "done": cron runs with a state and the four destinations deliver every new alert to
    /// each receiver exactly once — across a mail server down for a run, a restart, and new logs.
    @Test func fourDestinationsWithAStateDeliverEachAlertOnce() throws {
        let folder = try CLI.temporaryFolder()
        let sns = try SNS(in: folder)
        let slack = Receiver(), hook = Receiver()
        let logs = folder.appendingPathComponent("logs")
        try FileManager.default.createDirectory(at: logs, withIntermediateDirectories: true)
        func deliver(_ ids: [String], as name: String) throws {
            let records = ids.map { rootLogin.replacingOccurrences(of: "root-1", with: $0) }
            try CLI.gzip(Data("{\"Records\":[\(records.joined(separator: ","))]}".utf8)).write(to: logs.appendingPathComponent("\(name).json.gz"))
        }
        let rules = ["signin.root.success"]
        // The mail server's port is known before it runs: down for the first run.
        let smtpPort = Loopback.freePort()
        func configuration(email: String) throws -> String {
            try NotificationTests.configuration([
                #"{"slack": {"url": "\#(slack.url)/s"}, "rules": ["signin.root.success"]}"#,
                #"{"webhook": {"url": "\#(hook.url)/w"}, "rules": ["signin.root.success"]}"#,
                #"{"sns": {"topicArn": "\#(sns.topic)"}, "rules": ["signin.root.success"]}"#, email,
            ], timezone: "Asia/Tokyo").path
        }
        let state = folder.appendingPathComponent("state.db").path
        var environment = sns.environment
        environment["TEST_SMTP_PASSWORD"] = "pw-4711"
        func scan(_ config: String) throws -> Run { try CLI.run(["scan", "-q", "--state", state, "--since", "2020-01-01", "--config", config, logs.path], environment: environment) }

        try deliver(["r-1", "r-2"], as: "a")
        let down = try configuration(email: #"{"email": {"url": "smtp://127.0.0.1:\#(smtpPort)", "username": "alerts", "password": "env:TEST_SMTP_PASSWORD", "from": "trailscan@example.com", "to": ["secops@example.com"]}, "rules": ["signin.root.success"]}"#)
        let first = try scan(down)
        #expect(first.status == 2)
        #expect(first.stderr.contains("trailscan: notify email: 0 alerts delivered; 2 not delivered: SMTP: "))

        let smtp = try SMTP(in: folder, password: "pw-4711")
        let up = try configuration(email: smtp.destination(rules: rules))
        try deliver(["r-3"], as: "b")
        let second = try scan(up)
        #expect(second.status == 1, "\(second.stderr)")
        let third = try scan(up)
        #expect(third.status == 0 && third.stderr.isEmpty)

        let ids = ["r-1", "r-2", "r-3"]
        func eventIDs(_ texts: [String]) -> [String] { texts.compactMap { text in ids.first { text.contains("\"eventID\":\"\($0)\"") || text.contains("Event ID    \($0)") || text.contains("\\n\($0)\"") || text.contains("*Event ID*\\n\($0)") } }.sorted() }
        #expect(eventIDs(slack.bodies) == ids)
        #expect(eventIDs(hook.bodies) == ids)
        #expect(eventIDs(try sns.read().map { $0["Message"] as? String ?? "" }) == ids)
        #expect(eventIDs(try smtp.messages().map { $0["body"] as? String ?? "" }) == ids)
    }
}
