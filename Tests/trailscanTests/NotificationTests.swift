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
        #expect(run.stderr.contains("trailscan: notify slack: 56 alerts delivered\n"))
        #expect(run.stderr.contains("trailscan: notify webhook: 56 alerts delivered\n"))
        // The webhook gets each alert as scan prints it, once.
        #expect(hook.bodies == run.stdout.split(separator: "\n").map(String.init))
        let keys = hook.requests.map { $0.headers["idempotency-key"] ?? "" }
        #expect(Set(keys).count == 56 && keys.allSatisfy { $0.count == 64 })
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
        let evil = #"<!channel> *bold* <https://evil.example|x> \r\nX-Injected: 1 \u001b[31mred \u202egnp.exe"#
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
                #expect(!text.contains("\r") && !text.contains("\u{1B}") && !text.contains("\u{202E}"))
            }
            #expect(body.contains("&lt;!channel&gt;"))
        }
        // The webhook carries the log's value as JSON data: exactly the value, nothing more.
        let alert = Self.json(hook.bodies[0])
        #expect((alert["userAgent"] as? String) == "<!channel> *bold* <https://evil.example|x> \r\nX-Injected: 1 \u{1B}[31mred \u{202E}gnp.exe")
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
