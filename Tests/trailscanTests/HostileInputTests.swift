import Foundation
import Testing
import TrailEvents
import TrailMatch
import TrailReport
import TrailScan
import TrailTestSupport

/// A user agent built to do harm wherever it is shown (as the log writes it, and as the value it decodes to).
let hostileAgentJSON = #"Mozilla \u001b[2J \u001b]52;c;ZXZpbA==\u0007 \r\n <!channel> **bold** [x](javascript:alert(1)) ![i](http://evil/t.png) \u202egnp.exe"#
let hostileAgent = "Mozilla \u{1B}[2J \u{1B}]52;c;ZXZpbA==\u{07} \r\n <!channel> **bold** [x](javascript:alert(1)) ![i](http://evil/t.png) \u{202E}gnp.exe"
/// A root sign-in without MFA from that user agent, and an IAM user's sign-in whose name and ARN hold it.
let hostileRoot = rootLogin.replacingOccurrences(of: "\"Mozilla\"", with: "\"\(hostileAgentJSON)\"").replacingOccurrences(of: "\"MFAUsed\":\"Yes\"", with: "\"MFAUsed\":\"No\"")
let hostileUser = rootLogin.replacingOccurrences(of: #""type":"Root","arn":"arn:aws:iam::111122223333:root""#,
                                                 with: #""type":"IAMUser","userName":"\#(hostileAgentJSON)","arn":"arn:aws:iam::111122223333:user/\#(hostileAgentJSON)""#)
    .replacingOccurrences(of: "root-1", with: "user-1")

/// Defects a hostile-input probe found: each case ends with its exact outcome — a failure that says what
/// happened and an exit status that says it, or the exact alerts — never a hang or a silent drop.
@Suite struct HostileInputTests {
    /// Runs the binary with standard output sent to `/dev/full` (every write fails with ENOSPC), or closed.
    func runWithBrokenStdout(_ arguments: [String], closed: Bool = false) throws -> Run {
        let quoted = ([CLI.executable.path] + arguments).map { "'\($0)'" }.joined(separator: " ")
        return try CLI.run(["-c", "exec \(quoted) \(closed ? ">&-" : ">/dev/full")"], shell: true)
    }

    @Test func writeErrorsOnStandardOutputAreReportedAndExit2() throws {
        let scan = try runWithBrokenStdout(["scan", CLI.sampleLogs])
        #expect(scan.status == 2)
        #expect(scan.stderr.hasPrefix("trailscan: standard output: No space left on device; the alerts are incomplete\n"), "\(scan.stderr)")
        #expect(scan.stderr.contains(" objects scanned"))  // the summary still comes
        let closed = try runWithBrokenStdout(["scan", "--format", "jsonl", CLI.sampleLogs], closed: true)
        #expect(closed.status == 2)
        #expect(closed.stderr.hasPrefix("trailscan: standard output: Bad file descriptor; the alerts are incomplete\n"))
        let list = try runWithBrokenStdout(["scan", "--list-only", CLI.sampleLogs])
        #expect(list.status == 2 && list.stderr == "trailscan: standard output: No space left on device\n")
        let rules = try runWithBrokenStdout(["rules"])
        #expect(rules.status == 2 && rules.stderr == "trailscan: standard output: No space left on device\n")
    }

    /// A listing that lies — the same continuation token again, an HTML page, XML cut short, an empty
    /// body — fails for its prefix (retried when it may be passing), in bounded time, with exit 2.
    @Test func listingsThatLieFailTheirPrefix() throws {
        let key = "AWSLogs/111122223333/CloudTrail/us-east-1/2026/03/01/111122223333_CloudTrail_us-east-1_20260301T0100Z_x.json.gz"
        let object = [UInt8](try CLI.gzip(Data("{\"Records\":[\(rootLogin)]}".utf8)))
        let contents = "<Contents><Key>\(key)</Key><Size>\(object.count)</Size></Contents>"
        let looping = "<ListBucketResult><IsTruncated>true</IsTruncated><NextContinuationToken>again</NextContinuationToken>\(contents)</ListBucketResult>"
        let loops = FaultServer(bucket: "faults", objects: [key: object], scripts: [:], listingScript: Array(repeating: .body(looping), count: 100))
        defer { loops.stop() }
        let looped = try CLI.run(["scan", "--format", "jsonl", "--endpoint-url", loops.endpoint, "s3://faults/\(key.prefix(62))"],
                                 environment: S3FaultTests.environment, timeout: 60)
        #expect(looped.status == 2)
        #expect(looped.alerts == ["signin.root.success root-1", "signin.success root-1"])  // the first page's object
        #expect(looped.stderr.hasPrefix("trailscan: s3://faults/\(key.prefix(62)): unusable response: the server repeated the continuation token it was given\n"),
                "\(looped.stderr)")
        #expect(loops.requestCounts[FaultServer.listing] == 2)

        let cut = "<ListBucketResult><IsTruncated>false</IsTruncated>\(contents)<Contents><Key>AWSLogs/x"
        for (body, reason) in [
            ("<html><body>Service Temporarily Unavailable</body></html>", "the root element is <html>, not <ListBucketResult>"),
            (cut, "invalid XML: the document ends inside <Key> at byte \(cut.utf8.count)"),
            ("", "the body is empty"),
            ("<ListBucketResult><IsTruncated>true</IsTruncated>\(contents)</ListBucketResult>", "IsTruncated is true but NextContinuationToken is missing"),
        ] {
            let server = FaultServer(bucket: "faults", objects: [key: object], scripts: [:], listingScript: Array(repeating: .body(body), count: 10))
            defer { server.stop() }
            let run = try CLI.run(["scan", "-q", "--endpoint-url", server.endpoint, "s3://faults/\(key.prefix(62))"], environment: S3FaultTests.environment, timeout: 60)
            #expect(run.status == 2, "\(body)")
            #expect(run.stdout == "")
            #expect(run.stderr.hasPrefix("trailscan: s3://faults/\(key.prefix(62)): unusable response: not a complete ListObjectsV2 result: \(reason)"),
                    "\(run.stderr)")
            #expect(server.requestCounts[FaultServer.listing] == 5)  // retried, then reported
        }
    }

    /// The issue's "done": a root sign-in whose user agent (and a user's name and ARN) hold an ANSI
    /// escape, an OSC 52 clipboard write, CR/LF, a Slack mention, Markdown emphasis, a link, a remote
    /// image and a bidi override renders harmlessly in text, JSON Lines, both kinds of template, the
    /// Markdown summary and the HTML report (the notifications are checked in `NotificationTests`
    /// and `SNSAndEmailTests`).
    @Test func aHostileUserAgentRendersHarmlesslyInEveryOutput() throws {
        let folder = try CLI.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let logs = folder.appendingPathComponent("logs.json")
        try Data("{\"Records\":[\(hostileRoot),\(hostileUser)]}".utf8).write(to: logs)
        func harmless(_ text: String, _ what: String) {
            for raw in ["\u{1B}", "\u{07}", "\r", "\u{202E}", "\n <!channel>"] { #expect(!text.contains(raw), "\(what): \(raw.debugDescription)") }
        }
        let text = try CLI.run(["scan", logs.path])
        #expect(text.status == 1)
        harmless(text.stdout, "text")
        #expect(text.stdout.contains(#"  user agent  Mozilla \x1B[2J \x1B]52;c;ZXZpbA==\x07 \x0D\x0A <!channel> **bold** [x](javascript:alert(1)) ![i](http://evil/t.png) \u{202E}gnp.exe"# + "\n"))

        let jsonl = try CLI.run(["scan", "--format", "jsonl", logs.path])
        harmless(jsonl.stdout, "jsonl")
        for line in jsonl.stdout.split(separator: "\n") where line.contains(#""eventID":"root-1""#) {
            let alert = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            #expect(alert["userAgent"] as? String == hostileAgent)  // the data itself, escaped as JSON
        }

        let stringTemplate = folder.appendingPathComponent("string.json"), jsonTemplate = folder.appendingPathComponent("object.json")
        try Data(#"{"InputPathsMap":{"ua":"$.detail.userAgent"},"InputTemplate":"Root sign-in from <ua>"}"#.utf8).write(to: stringTemplate)
        try Data(#"{"InputPathsMap":{"ua":"$.detail.userAgent"},"InputTemplate":"{\"ua\": \"<ua>\", \"raw\": <ua>}"}"#.utf8).write(to: jsonTemplate)
        let string = try CLI.run(["scan", "--format", "template", "--template", stringTemplate.path, "--enable", "signin.root.success", "--min-severity", "critical", logs.path])
        harmless(string.stdout, "string template")
        #expect(string.stdout.hasPrefix(#"Root sign-in from Mozilla \x1B[2J \x1B]52;c;ZXZpbA==\x07 \x0D\x0A <!channel>"#), "\(string.stdout)")
        let object = try CLI.run(["scan", "--format", "template", "--template", jsonTemplate.path, "--enable", "signin.root.success", "--min-severity", "critical", logs.path])
        harmless(object.stdout, "JSON template")
        let rendered = try #require(try JSONSerialization.jsonObject(with: Data(object.stdout.utf8)) as? [String: Any])
        #expect(rendered["ua"] as? String == hostileAgent && rendered["raw"] as? String == hostileAgent)

        let markdown = folder.appendingPathComponent("summary.md"), report = folder.appendingPathComponent("report.html")
        _ = try CLI.run(["scan", "-q", "--summary-out", markdown.path, "--report", report.path, logs.path])
        let md = try String(contentsOf: markdown, encoding: .utf8)
        harmless(md, "Markdown")
        for markup in ["**bold**", "[x](javascript:", "![i](", "<!channel>"] { #expect(!md.contains(markup), "Markdown: \(markup)") }
        #expect(md.contains(#"\*\*bold\*\* \[x\]\(javascript\:alert\(1\)\) \!\[i\]\(http\:\/\/evil\/t\.png\)"#))
        let html = try String(contentsOf: report, encoding: .utf8)
        harmless(html, "HTML")
        #expect(!html.contains("<!channel>") && !html.contains("javascript:alert(1)\"") && html.contains("&lt;!channel&gt;"))
    }

    /// Documents built to break a parser, each scanned end to end: the exact first line on standard
    /// error (the object and its cause, or nothing), the exit status, and the alerts of the records
    /// that were whole before the problem.
    @Test func hostileDocumentsEndInTheirExactOutcome() throws {
        let folder = try CLI.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let alerts = ["signin.root.success root-1", "signin.success root-1"]
        let head = "{\"Records\":[\(rootLogin),{\"a\":"
        let agent = rootLogin.range(of: "Mozilla")!.lowerBound.utf16Offset(in: rootLogin) + 12  // in a document `{"Records":[` + rootLogin
        func document(_ record: String) -> [UInt8] { Array("{\"Records\":[\(record)]}".utf8) }
        func agented(_ bytes: [UInt8]) -> [UInt8] {
            Array(#"{"Records":["#.utf8) + Array(rootLogin.replacingOccurrences(of: "Mozilla", with: "\u{1}").utf8).split(separator: 1, omittingEmptySubsequences: false)
                .joined(separator: bytes) + Array("]}".utf8)
        }
        let cases: [(name: String, bytes: [UInt8], status: Int32, error: String?, alerts: [String])] = [
            ("bom", [0xEF, 0xBB, 0xBF] + document(rootLogin), 2,
             "invalid JSON at byte 0: a byte order mark, which JSON texts do not carry (RFC 8259, section 8.1)", []),
            ("deep", Array((head + String(repeating: "[", count: 1_000_000) + String(repeating: "]", count: 1_000_000) + "}]}").utf8), 2,
             "invalid JSON at byte \(head.utf8.count + 511): nesting deeper than 512 levels", alerts),
            ("records-object", Array(#"{"Records":{}}"#.utf8), 2, "not a CloudTrail log: \"Records\" at byte 11 is not an array", []),
            ("records-string", Array(#"{"Records":"x"}"#.utf8), 2, "not a CloudTrail log: \"Records\" at byte 11 is not an array", []),
            ("records-number", Array(#"{"Records":1}"#.utf8), 2, "not a CloudTrail log: \"Records\" at byte 11 is not an array", []),
            ("records-null", Array(#"{"Records":null}"#.utf8), 2, "not a CloudTrail log: \"Records\" at byte 11 is not an array", []),
            ("records-true", Array(#"{"Records":true}"#.utf8), 2, "not a CloudTrail log: \"Records\" at byte 11 is not an array", []),
            ("records-element", Array("{\"Records\":[\(rootLogin),1]}".utf8), 2,
             "not a CloudTrail log: the record at byte \(13 + rootLogin.utf8.count) is not a JSON object", alerts),
            ("records-missing", Array("{\"Other\":[\(rootLogin)]}".utf8), 2, "not a CloudTrail log: no \"Records\" array", []),
            ("top-array", Array("[\(rootLogin)]".utf8), 2, "not a CloudTrail log: the document is not a JSON object", []),
            ("records-empty", Array(#"{"Records":[]}"#.utf8), 0, nil, []),
            ("trailing-data", document(rootLogin) + Array(" x".utf8), 2,
             "invalid JSON at byte \(document(rootLogin).count + 1): unexpected data after the end of the document", alerts),
            // Two Records arrays: the records of both are scanned (none can hide behind the other).
            ("records-twice", Array("{\"Records\":[\(rootLogin)],\"Records\":[\(rootLogin.replacingOccurrences(of: "root-1", with: "root-2"))]}".utf8), 1, nil,
             alerts + ["signin.root.success root-2", "signin.success root-2"]),
            // A repeated member: the last counts, for the matcher as for the field view (root, not a sign-in).
            ("key-twice", document(rootLogin.replacingOccurrences(of: #""eventName":"ConsoleLogin""#, with: #""eventName":"ConsoleLogin","eventName":"GetObject""#)),
             1, nil, ["root.activity root-1"]),
            ("nul-raw", agented([0x4D, 0x00]), 2, "invalid JSON at byte \(agent + 1): raw control character byte 0x00 in string", []),
            ("nul-escaped", agented(Array(#"M\u0000"#.utf8)), 1, nil, alerts),
            ("lone-surrogate", agented(Array(#"M\uD800"#.utf8)), 1, nil, alerts),
            ("utf8-overlong", agented([0x4D, 0xC0, 0xAF]), 2, "invalid JSON at byte \(agent + 1): invalid UTF-8", []),
            ("utf8-surrogate", agented([0x4D, 0xED, 0xA0, 0x80]), 2, "invalid JSON at byte \(agent + 1): invalid UTF-8", []),
            ("utf8-cut", agented([0x4D, 0xE2, 0x82]), 2, "invalid JSON at byte \(agent + 1): invalid UTF-8", []),
            ("utf8-beyond", agented([0x4D, 0xF4, 0x90, 0x80, 0x80]), 2, "invalid JSON at byte \(agent + 1): invalid UTF-8", []),
        ]
        for item in cases {
            let file = folder.appendingPathComponent(item.name + ".json")
            try Data(item.bytes).write(to: file)
            let run = try CLI.run(["scan", "--format", "jsonl", file.path], timeout: 60)
            #expect(run.status == item.status, "\(item.name): \(run.stderr)")
            let first = run.stderr.split(separator: "\n").first.map(String.init) ?? ""
            #expect(first == (item.error.map { "trailscan: \(file.path): \($0)" } ?? first).description, "\(item.name)")
            if item.error == nil { #expect(first.hasPrefix("trailscan: 1 object scanned, 0 skipped, 0 failed"), "\(item.name): \(first)") }
            #expect(run.alerts == item.alerts.sorted(), "\(item.name)")
        }
    }

    /// A gzip object cut at every offset, all in one folder: each one fails by name with its cause, the
    /// run counts every one, and what was whole before the cut still alerts.
    @Test func anObjectTruncatedAtEveryOffsetFailsByNameEachTime() throws {
        let folder = try CLI.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let whole = [UInt8](try CLI.gzip(Data("{\"Records\":[\(rootLogin),\(noise)]}".utf8)))
        for cut in 0..<whole.count {
            try Data(whole.prefix(cut)).write(to: folder.appendingPathComponent(String(format: "cut-%04d.json.gz", cut)))
        }
        let run = try CLI.run(["scan", "--format", "jsonl", "--allow-empty", folder.path], timeout: 120)
        #expect(run.status == 2)
        let lines = run.stderr.split(separator: "\n")
        let failures = lines.filter { $0.hasPrefix("trailscan: \(folder.path)/cut-") }
        #expect(failures.count == whole.count, "\(run.stderr)")
        let causes = Set(failures.map { $0.split(separator: ": ").dropFirst(2).joined(separator: ": ").replacing(/\ after \d+ bytes/, with: "") })
        #expect(causes.isSubset(of: ["object is empty", "gzip stream truncated", "not gzip data (bad header)",
                                     "gzip stream truncated in the header", "gzip stream truncated in the trailer"]), "\(causes)")
        #expect(lines.contains { $0.hasPrefix("trailscan: 0 objects scanned, 0 skipped, \(whole.count) failed;") }, "\(run.stderr)")
        #expect(Set(run.alerts).isSubset(of: ["signin.root.success root-1", "signin.success root-1"]))
    }

    /// A corrupt CRC or ISIZE trailer (the data itself intact) fails the object, and every record before
    /// it still raises its alerts — the same records whatever the object's size, and on both paths.
    @Test(arguments: [1, 600, 12_000])
    func corruptTrailersKeepEveryRecordAtEverySize(logins: Int) throws {
        let folder = try CLI.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let records = (0..<logins).map { rootLogin.replacingOccurrences(of: "root-1", with: "root-\($0)") + "," + noise }
        let good = try CLI.gzip(Data("{\"Records\":[\(records.joined(separator: ","))]}".utf8))
        var crc = good, length = good
        crc[crc.count - 8] ^= 0xFF
        length[length.count - 1] ^= 0xFF
        try crc.write(to: folder.appendingPathComponent("crc.json.gz"))
        try length.write(to: folder.appendingPathComponent("length.json.gz"))
        for fastPath in [nil, 0] as [Int?] {
            let configuration = ScanConfiguration(
                jobs: 2, maximumObjectBytes: 1 << 30, maximumRecordBytes: 1 << 20, filter: RecordFilter(),
                rules: RuleSet(BuiltinRules.all.filter { $0.id == "signin.root.success" }), fastPathBytes: fastPath)
            let alerts = FindingCollector(), summary = SummaryCollector()
            ScanPipeline.run(inputs: [folder.path], configuration: configuration, sinks: [alerts, summary])
            #expect(alerts.lines.count == 2 * logins, "fast path \(fastPath == nil)")
            #expect(summary.summary.failures.map(\.cause) == [
                "gzip CRC-32 mismatch in member 1: the data is corrupt", "gzip length (ISIZE) mismatch in member 1: the data is corrupt",
            ])
        }
    }

    @Test func aBadHeaderChecksumIsRejectedOnBothPaths() throws {
        let folder = try CLI.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        var object = [UInt8](try CLI.gzip(Data("{\"Records\":[\(rootLogin)]}".utf8)))
        object[3] |= 0x02  // FHCRC: a CRC-16 of the header follows it, here a wrong one
        object.insert(contentsOf: [0xDE, 0xAD], at: 10)
        try Data(object).write(to: folder.appendingPathComponent("fhcrc.json.gz"))
        let run = try CLI.run(["scan", "-q", "--format", "jsonl", folder.path])
        #expect(run.status == 2 && run.stdout == "")
        #expect(run.stderr == "trailscan: \(folder.path)/fhcrc.json.gz: not a valid gzip header: header crc mismatch\n")
    }

    /// `rules test` and `scan` agree on an `eventName` that is an array.
    @Test func anArrayEventNameMatchesAsItDoesInRulesTest() throws {
        let record = """
            {"eventSource":"iam.amazonaws.com","eventName":["CreateUser","Other"],"eventID":"array-1","eventTime":"2026-03-01T09:00:00Z",\
            "userIdentity":{"type":"IAMUser"},"recipientAccountId":"111122223333"}
            """
        let scan = try CLI.run(["scan", "--format", "jsonl", "-q", "-"], stdin: Data("{\"Records\":[\(record)]}".utf8))
        #expect(scan.alerts == ["iam.user.created array-1"])
        let folder = try CLI.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let recordFile = folder.appendingPathComponent("record.json"), patternFile = folder.appendingPathComponent("pattern.json")
        try Data(record.utf8).write(to: recordFile)
        try Data(#"{"detail":{"eventSource":["iam.amazonaws.com"],"eventName":["CreateUser"]}}"#.utf8).write(to: patternFile)
        let test = try CLI.run(["rules", "test", "--pattern", patternFile.path, "--record", recordFile.path])
        #expect(test.stdout == "true\n")
    }

    /// A JSON template's output is the JSON its author wrote, with only the values varying, whatever a
    /// log value holds (a quote that would end the string and add a key, an ANSI escape, a bidi override).
    @Test func aJSONTemplateStaysTheAuthorsJSON() throws {
        let folder = try CLI.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let template = folder.appendingPathComponent("t.json")
        try Data(#"{"InputPathsMap":{"ua":"$.detail.userAgent","who":"$.detail.userIdentity"},"InputTemplate":"{\"severity\": \"critical\", \"ua\": \"<ua>\", \"who\": \"<who>\", \"raw\": <ua>}"}"#.utf8).write(to: template)
        let hostile = "x\\\",\\\"severity\\\":\\\"none\\u001b[2J\\u202e"
        let record = rootLogin.replacingOccurrences(of: "\"userAgent\":\"Mozilla\"", with: "\"userAgent\":\"\(hostile)\"")
        let run = try CLI.run(["scan", "-q", "--format", "template", "--template", template.path, "--enable", "signin.root.success",
                               "--min-severity", "critical", "-"], stdin: Data("{\"Records\":[\(record)]}".utf8))
        #expect(run.status == 1)
        #expect(!run.stdout.contains("\u{1B}") && !run.stdout.unicodeScalars.contains("\u{202E}"))
        let object = try #require(try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any])
        #expect(Set(object.keys) == ["severity", "ua", "who", "raw"])
        #expect(object["severity"] as? String == "critical")
        #expect(object["ua"] as? String == "x\",\"severity\":\"none\u{1B}[2J\u{202E}")
        #expect(object["raw"] as? String == "x\",\"severity\":\"none\u{1B}[2J\u{202E}")
        #expect((object["who"] as? String)?.hasPrefix("{\"type\":\"Root\"") == true)
    }

    @Test func ruleIDsAndTitlesFromFilesNeverReachTheTerminalRaw() throws {
        let folder = try CLI.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let rules = folder.appendingPathComponent("rules.json")
        try Data(#"[{"id":"evil\u001b[31m","severity":"high","title":"T\u001b]0;owned\u0007","pattern":{"detail":{"eventName":["ConsoleLogin"]}}}]"#.utf8)
            .write(to: rules)
        let scan = try CLI.run(["scan", "-q", "--no-builtin", "--rules", rules.path, "-"], stdin: Data("{\"Records\":[\(rootLogin)]}".utf8))
        #expect(scan.status == 1)
        #expect(scan.stdout.hasPrefix("HIGH  T\\x1B]0;owned\\x07  [evil\\x1B[31m]\n"))
        let list = try CLI.run(["rules", "--no-builtin", "--rules", rules.path])
        #expect(list.status == 0 && list.stdout.hasPrefix("evil\\x1B[31m  high      T\\x1B]0;owned\\x07\n"))
        let show = try CLI.run(["rules", "show", "--no-builtin", "--rules", rules.path, "evil\u{1B}[31m"])
        #expect(show.stdout.hasPrefix("id           evil\\x1B[31m\n"))
        for output in [scan.stdout, list.stdout, show.stdout, show.stderr] { #expect(!output.contains("\u{1B}")) }
    }

    @Test func limitsAndTimesMeanWhatTheySay() throws {
        let folder = try CLI.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        // --max-record-size 4K admits a record of exactly 4096 bytes, not one more.
        func record(_ size: Int) -> String {
            let base = "{\"eventName\":\"x\",\"pad\":\"\"}"
            return "{\"eventName\":\"x\",\"pad\":\"\(String(repeating: "y", count: size - base.utf8.count))\"}"
        }
        try Data("{\"Records\":[\(record(4096))]}".utf8).write(to: folder.appendingPathComponent("exact.json"))
        #expect(try CLI.run(["scan", "-q", "--max-record-size", "4K", folder.appendingPathComponent("exact.json").path]).status == 0)
        try Data("{\"Records\":[\(record(4097))]}".utf8).write(to: folder.appendingPathComponent("over.json"))
        let over = try CLI.run(["scan", "-q", "--max-record-size", "4K", folder.appendingPathComponent("over.json").path])
        #expect(over.status == 2 && over.stderr.hasSuffix("a record is larger than the limit of 4096 bytes (--max-record-size)\n"))
        // A plain object over the size limit is not called a gzip bomb.
        let plain = try CLI.run(["scan", "-q", "--max-object-size", "1K", folder.appendingPathComponent("exact.json").path])
        #expect(plain.stderr.hasSuffix(": the object is larger than the limit of 1024 bytes (--max-object-size)\n"))
        // A file whose size stat does not know is read, not called empty.
        let proc = try CLI.run(["scan", "-q", "/proc/self/status"])
        #expect(proc.status == 2 && proc.stderr.hasPrefix("trailscan: /proc/self/status: invalid JSON at byte 0"), "\(proc.stderr)")
        // Dates that do not exist are refused, in flags and in records.
        let since = try CLI.run(["scan", "--since", "2025-02-30", "x"])
        #expect(since.status == 64 && since.stderr.contains("--since: '2025-02-30' is not a time"))
        let february = rootLogin.replacingOccurrences(of: "2026-03-01T09:03:00Z", with: "2026-02-30T09:03:00Z")
        let shown = try CLI.run(["scan", "-q", "--min-severity", "critical", "-"], stdin: Data("{\"Records\":[\(february)]}".utf8))
        #expect(shown.stdout.contains("  time        2026-02-30T09:03:00Z\n"))
        // POSIX-style zone names are refused; fixed offsets are taken as written.
        let posix = try CLI.run(["scan", "--timezone", "UTC+5", "x"])
        #expect(posix.status == 64 && posix.stderr.contains("--timezone: unknown time zone 'UTC+5'"))
        let offset = try CLI.run(["scan", "-q", "--timezone", "+09:00", "--min-severity", "critical", "-"], stdin: Data("{\"Records\":[\(rootLogin)]}".utf8))
        #expect(offset.stdout.contains("  time        2026-03-01 18:03:00 +09:00\n"))
        // Records with an offset in eventTime are inside a window that contains the instant.
        let tokyo = rootLogin.replacingOccurrences(of: "2026-03-01T09:03:00Z", with: "2026-03-01T18:03:00+09:00")
        let window = try CLI.run(["scan", "-q", "--format", "jsonl", "--since", "2026-03-01T09:00:00Z", "--until", "2026-03-01T09:05:00Z", "-"],
                                 stdin: Data("{\"Records\":[\(tokyo)]}".utf8))
        #expect(window.alerts == ["signin.root.success root-1", "signin.success root-1"])
    }

    /// Every entry of a walked folder is scanned, walked, or counted by why it was not.
    @Test func entriesNotScannedAreCountedByReason() throws {
        let folder = try CLI.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let logs = folder.appendingPathComponent("logs")
        try FileManager.default.createDirectory(at: logs, withIntermediateDirectories: true)
        try Data("{\"Records\":[\(rootLogin)]}".utf8).write(to: logs.appendingPathComponent("a.json"))
        try Data("notes".utf8).write(to: logs.appendingPathComponent("README.txt"))
        #expect(mkfifo(logs.appendingPathComponent("pipe.json").path, 0o600) == 0)
        #expect(symlink(folder.path, logs.appendingPathComponent("loop").path) == 0)
        #expect(symlink(folder.appendingPathComponent("gone").path, logs.appendingPathComponent("gone.json.gz").path) == 0)
        let run = try CLI.run(["scan", "--format", "jsonl", logs.path], timeout: 30)
        #expect(run.status == 1)
        #expect(run.alerts == ["signin.root.success root-1", "signin.success root-1"])
        #expect(run.stderr.hasPrefix("trailscan: 1 object scanned, 0 skipped, 0 failed; 4 entries ignored (1 not named *.json.gz or *.json, "
            + "1 symbolic link to a folder (not followed), 1 symbolic link to nothing, 1 not a regular file (FIFO, socket, device));"), "\(run.stderr)")
    }

    /// A file name that is not UTF-8 is walked, opened and named by its bytes (shown as `\xHH`), in a
    /// folder and on the command line.
    @Test func fileNamesThatAreNotUTF8AreScanned() throws {
        let folder = try CLI.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let name = Array("log-".utf8) + [0xFF, 0xC3] + Array(".json".utf8)  // 0xFF and a cut-off sequence
        let path = Array(folder.path.utf8) + [0x2F] + name
        let fd = (path + [0]).withUnsafeBufferPointer { $0.withMemoryRebound(to: CChar.self) { open($0.baseAddress!, O_WRONLY | O_CREAT, 0o600) } }
        #expect(fd >= 0)
        let document = Array("{\"Records\":[\(rootLogin)]}".utf8)
        #expect(write(fd, document, document.count) == document.count)
        close(fd)
        let walked = try CLI.run(["scan", "--min-severity", "critical", "-q", folder.path])
        #expect(walked.status == 1)
        #expect(walked.stdout.contains("  object      \(folder.path)/log-\\xFF\\xC3.json\n"), "\(walked.stdout)")
        let named = try CLI.run(["-c", "exec '\(CLI.executable.path)' scan -q --min-severity critical \"$(printf '\(folder.path)/log-\\377\\303.json')\""], shell: true)
        #expect(named.status == 1 && named.stderr == "")
        #expect(named.stdout.contains("  object      \(folder.path)/log-\\xFF\\xC3.json\n"))
    }

    /// A path of more than 4 KiB inside a scanned folder is named in a failure, not passed over.
    @Test func pathsTooLongToOpenAreReportedByName() throws {
        let folder = try CLI.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        var fd = open(folder.path, O_RDONLY | O_DIRECTORY)
        let name = String(repeating: "d", count: 250)
        for _ in 0..<17 {  // 17 x 251 bytes: past PATH_MAX, built one level at a time
            #expect(mkdirat(fd, name, 0o700) == 0)
            let next = openat(fd, name, O_RDONLY | O_DIRECTORY)
            close(fd)
            fd = next
        }
        close(fd)
        let run = try CLI.run(["scan", "-q", folder.path], timeout: 30)
        #expect(run.status == 2)
        #expect(run.stderr.hasSuffix(": File name too long\n") && run.stderr.hasPrefix("trailscan: \(folder.path)/ddd"), "\(run.stderr)")
    }

    /// Credentials never appear in any output: not in alerts, failures, summaries or listings, whether
    /// the requests succeed or are refused.
    @Test func credentialsNeverAppearInAnyOutput() throws {
        let server = try CommandLineTests.uploaded.get()  // sample-logs under s3://trail/cli/
        let folder = try CLI.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let token = "SESSIONTOKEN-planted-3f9a"
        var outputs: [String] = []
        for secret in [S3TestServer.secretKey, "WRONGSECRET-planted-77c1"] {
            var environment = ["AWS_ACCESS_KEY_ID": S3TestServer.accessKey, "AWS_SECRET_ACCESS_KEY": secret, "AWS_REGION": "us-east-1"]
            if secret != S3TestServer.secretKey { environment["AWS_SESSION_TOKEN"] = token }  // the test server takes no tokens
            for (index, extra) in [["--format", "jsonl"], ["--list-only"], ["--summary-out", folder.appendingPathComponent("s.json").path],
                                   ["--summary-out", folder.appendingPathComponent("s.md").path]].enumerated() {
                let run = try CLI.run(["scan", "--endpoint-url", server.endpoint] + extra + ["s3://trail/no-such-prefix/", "s3://trail/cli/"],
                                      environment: environment, timeout: 120)
                outputs += [run.stdout, run.stderr]
                #expect(run.status == (secret == S3TestServer.secretKey ? (index == 1 ? 0 : 1) : 2), "\(extra) \(run.stderr)")
            }
        }
        for file in ["s.json", "s.md"] {
            outputs.append((try? String(contentsOf: folder.appendingPathComponent(file), encoding: .utf8)) ?? "")
        }
        for output in outputs {
            for planted in [S3TestServer.secretKey, "WRONGSECRET-planted-77c1", token] {
                #expect(!output.contains(planted))
            }
        }
    }

    /// Under a time window, a record whose eventTime cannot be read is left out — and said to be.
    @Test func recordsWithoutATimeAreCountedUnderATimeWindow() throws {
        let timeless = rootLogin.replacingOccurrences(of: "\"eventTime\":\"2026-03-01T09:03:00Z\",", with: "")
        let garbled = rootLogin.replacingOccurrences(of: "2026-03-01T09:03:00Z", with: "yesterday").replacingOccurrences(of: "root-1", with: "root-2")
        let run = try CLI.run(["scan", "--since", "2026-01-01", "-"], stdin: Data("{\"Records\":[\(timeless),\(garbled),\(noise)]}".utf8))
        #expect(run.status == 0 && run.stdout == "")
        #expect(run.stderr.contains("; 1 record (2026-03-01T09:00:00Z to 2026-03-01T09:00:00Z); 2 records without a readable eventTime, left out by the time window\n"),
                "\(run.stderr)")
    }

    /// SIGTERM and SIGINT stop the scan, write the summary marked as interrupted, and exit 128 + the
    /// signal; a second SIGINT ends it at once. The scan reads standard input, which the test keeps open,
    /// so it is still running whenever the signal comes.
    @Test(arguments: [(SIGTERM, 1), (SIGINT, 1), (SIGINT, 2)])
    func signalsEndTheScanWithASummary(signal: Int32, count: Int) throws {
        let process = Process()
        process.executableURL = CLI.executable
        process.arguments = ["scan", "--format", "jsonl", "-"]
        let input = Pipe(), output = Pipe(), errors = Pipe()
        process.standardInput = input
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        input.fileHandleForWriting.write(Data("{\"Records\":[\(rootLogin),".utf8))
        // The handlers are in place once the process no longer takes the signal's default action.
        let deadline = Date().addingTimeInterval(20)
        while !Self.handles(process.processIdentifier, signal), Date() < deadline { usleep(10_000) }
        for _ in 0..<count {
            kill(process.processIdentifier, signal)
            usleep(100_000)
        }
        let stderr = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        try input.fileHandleForWriting.close()
        #expect(process.terminationStatus == 128 + signal)
        if count == 1 {
            #expect(stderr.hasPrefix("trailscan: interrupted: the counts cover the objects read before it\ntrailscan: 0 objects scanned"), "\(stderr)")
        }
        #expect(output.fileHandleForReading.readDataToEndOfFile().isEmpty)
    }

    /// Whether `/proc/<pid>/status` shows `signal` as ignored or caught (Dispatch's signal sources on
    /// Linux install a handler in place of the `SIG_IGN` the command sets first).
    static func handles(_ pid: Int32, _ signal: Int32) -> Bool {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return false }
        return status.split(separator: "\n").contains { line in
            guard line.hasPrefix("SigIgn:") || line.hasPrefix("SigCgt:"),
                  let mask = UInt64(line.dropFirst(7).trimmingCharacters(in: .whitespaces), radix: 16)
            else { return false }
            return mask & (1 << UInt64(signal - 1)) != 0
        }
    }

}

/// Memory bounds, asserted from the scanning process's own peak RSS (not under AddressSanitizer, whose
/// shadow memory and quarantine are counted in it).
@Suite(.enabled(if: dlsym(dlopen(nil, RTLD_NOW), "__asan_init") == nil)) struct MemoryBoundTests {
    /// Peak RSS in KiB of one run of trailscan, read by a Python parent from `getrusage` (its only child).
    func peakKiB(_ arguments: [String]) throws -> (status: Int32, kib: Int) {
        let script = """
            import resource, subprocess, sys
            status = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode
            print(status, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
            """
        let run = try CLI.run(["-c", "exec python3 -c '\(script)' '\(CLI.executable.path)' " + arguments.map { "'\($0)'" }.joined(separator: " ")], shell: true)
        let parts = run.stdout.split(separator: " ").map { Int($0.trimmingCharacters(in: .whitespacesAndNewlines)) ?? -1 }
        return (Int32(parts[0]), parts[1])
    }

    /// Root sign-ins with 4 MB user agents: each matches three rules, and JSON Lines repeat the record per
    /// alert. The alerts of one object used to be held in memory (about 33 MB a record here, 400 MB in
    /// all); past their budget they now wait in a temporary file.
    @Test func hugeAlertsOfOneObjectDoNotGrowMemory() throws {
        let folder = try CLI.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let agent = String(repeating: "A", count: 4 << 20)
        let records = (0..<12).map { index in
            rootLogin.replacingOccurrences(of: "\"Mozilla\"", with: "\"\(agent)\"").replacingOccurrences(of: "root-1", with: "root-\(index)")
                .replacingOccurrences(of: "\"MFAUsed\":\"Yes\"", with: "\"MFAUsed\":\"No\"")
        }
        let object = folder.appendingPathComponent("huge.json.gz")
        try CLI.gzip(Data("{\"Records\":[\(records.joined(separator: ","))]}".utf8)).write(to: object)
        for format in ["jsonl", "text"] {
            let (status, kib) = try peakKiB(["scan", "-q", "--format", format, object.path])
            #expect(status == 1)
            #expect(kib < 200 << 10, "peak RSS \(kib / 1024) MiB with --format \(format)")
        }
    }

    /// A 100 MB string in a record (a 100 kB gzip): the record is refused at the limit, with the record
    /// before it reported, and the window never grows past the limit.
    @Test func aHundredMegabyteStringStopsAtTheRecordLimit() throws {
        let folder = try CLI.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let huge = rootLogin.replacingOccurrences(of: "Mozilla", with: String(repeating: "A", count: 100 << 20)).replacingOccurrences(of: "root-1", with: "root-2")
        let object = folder.appendingPathComponent("huge.json.gz")
        try CLI.gzip(Data("{\"Records\":[\(rootLogin),\(huge)]}".utf8)).write(to: object)
        let run = try CLI.run(["scan", "--format", "jsonl", object.path], timeout: 120)
        #expect(run.status == 2)
        #expect(run.stderr.hasPrefix("trailscan: \(object.path): a record is larger than the limit of 67108864 bytes (--max-record-size)\n"))
        #expect(run.alerts == ["signin.root.success root-1", "signin.success root-1"])
        let (status, kib) = try peakKiB(["scan", "-q", object.path])
        #expect(status == 2)
        #expect(kib < 256 << 10, "peak RSS \(kib / 1024) MiB")  // the 64 MiB window and its growth, not 100 MB and copies
    }

    /// A rule file of 300,000 values: its compiled form is built once and shared by every worker. Each
    /// worker used to compile its own copy (206 MiB with one job, 627 MiB with eight, release build).
    @Test func compiledRulesCostTheirMemoryOnceWhateverTheJobs() throws {
        let folder = try CLI.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let values = (0..<300_000).map { "\"Event\($0)\"" }.joined(separator: ",")
        let rules = folder.appendingPathComponent("rules.json")
        try (#"[{"id":"user.list","severity":"low","title":"A long list","pattern":{"detail":{"eventName":["# + values + "]}}}]")
            .write(to: rules, atomically: true, encoding: .utf8)
        let one = try peakKiB(["scan", "-q", "--jobs", "1", "--rules", rules.path, CLI.sampleLogs])
        let eight = try peakKiB(["scan", "-q", "--jobs", "8", "--rules", rules.path, CLI.sampleLogs])
        #expect(one.status == 1 && eight.status == 1)
        #expect(eight.kib - one.kib < 40 << 10, "peak RSS \(one.kib / 1024) MiB with 1 job, \(eight.kib / 1024) MiB with 8")
    }
}
