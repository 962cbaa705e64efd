import Foundation
import Testing
import TrailGzip
import TrailMatch
@testable import TrailReport
import TrailS3
import TrailScan
import TrailTime

/// A no-MFA console sign-in whose attacker-chosen fields hold terminal escapes and a bidi override.
let hostileLogin = Finding(
    ruleID: "signin.no-mfa", severity: .high, title: "Console sign-in without MFA", eventID: "e-1",
    eventTime: UTC.seconds(rfc3339: "2026-03-01T09:03:00Z"), eventTimeText: "2026-03-01T09:03:00Z",
    eventSource: "signin.amazonaws.com", eventName: "ConsoleLogin", account: "111122223333", region: "us-east-1",
    principal: .init(type: "IAMUser", arn: "arn:aws:iam::1:user/\u{1B}]0;owned\u{07}x", userName: "x"),
    sourceIPAddress: "203.0.113.9", userAgent: "Mozilla \u{1B}[2J\u{1B}[31mred\u{202E}evil \\ ok",
    loginResult: "Success", mfaUsed: "No", object: .file("logs/a.json.gz"),
    record: Array(#"{"eventID":"e-1","userAgent":"Mozilla \u001b[2J"}"#.utf8))

func formatted(_ finding: Finding, _ format: some AlertFormat) -> [UInt8] {
    var output: [UInt8] = []
    format.append(finding, to: &output)
    return output
}

@Suite struct TerminalTextTests {
    @Test func controlAndBidiCharactersAreEscaped() {
        #expect(TerminalText.escaped("a\u{1B}[31mb") == "a\\x1B[31mb")
        #expect(TerminalText.escaped("tab\there\nnew\u{7F}") == "tab\\x09here\\x0Anew\\x7F")
        #expect(TerminalText.escaped("\u{9B}31m") == "\\u{009B}31m")
        #expect(TerminalText.escaped("abc\u{202E}fed") == "abc\\u{202E}fed")
        #expect(TerminalText.escaped("C:\\x1B") == "C:\\\\x1B")  // a literal backslash cannot fake an escape
        #expect(TerminalText.escaped("日本 é") == "日本 é")
    }
}

@Suite struct AlertFormatTests {
    @Test func textAlertsShowNoRawControlCharacters() {
        let output = formatted(hostileLogin, TextFormat(clock: .utc, color: false))
        let text = String(decoding: output, as: UTF8.self)
        #expect(!output.contains(0x1B) && !output.contains(0x07))
        #expect(!text.unicodeScalars.contains("\u{202E}"))
        #expect(text.contains("user agent  Mozilla \\x1B[2J\\x1B[31mred\\u{202E}evil \\\\ ok\n"))
        #expect(text.contains("principal   IAMUser  arn:aws:iam::1:user/\\x1B]0;owned\\x07x\n"))
        #expect(text.hasPrefix("HIGH  Console sign-in without MFA  [signin.no-mfa]\n  time        2026-03-01 09:03:00 UTC\n"))
        #expect(text.contains("  event       signin.amazonaws.com ConsoleLogin  result Success  MFA No\n"))
    }

    @Test func colourIsOnlyTheSeverityLabel() {
        let output = formatted(hostileLogin, TextFormat(clock: .utc, color: true))
        #expect(output.filter { $0 == 0x1B }.count == 2)  // one colour on, one reset
        #expect(String(decoding: output, as: UTF8.self).hasPrefix("\u{1B}[1;31mHIGH\u{1B}[0m  "))
    }

    @Test func timesAreShownInTheChosenZone() {
        let march = UTC.seconds(rfc3339: "2026-03-01T09:03:00Z")!
        let july = UTC.seconds(rfc3339: "2026-07-01T09:03:00Z")!
        #expect(DisplayClock(timeZone: "Asia/Tokyo")!.format(march) == "2026-03-01 18:03:00 +09:00")
        #expect(DisplayClock(timeZone: "America/New_York")!.format(march).hasPrefix("2026-03-01 04:03:00 -05:00"))
        #expect(DisplayClock(timeZone: "America/New_York")!.format(july).hasPrefix("2026-07-01 05:03:00 -04:00"))
        #expect(DisplayClock(timeZone: "Asia/Kolkata")!.format(march) == "2026-03-01 14:33:00 +05:30")
        #expect(DisplayClock.utc.format(march) == "2026-03-01 09:03:00 UTC")
        #expect(DisplayClock(timeZone: "Mars/Olympus_Mons") == nil)
    }

    @Test func jsonLinesHaveExactlyTheDocumentedKeys() throws {
        var finding = hostileLogin
        finding.object = .s3(bucket: "bucket", key: "key.json.gz")
        let output = formatted(finding, JSONLinesFormat())
        #expect(output.last == 0x0A && output.dropLast().contains(0x0A) == false)
        #expect(!output.contains(0x1B))
        let object = try #require(try JSONSerialization.jsonObject(with: Data(output)) as? [String: Any])
        #expect(Set(object.keys) == [
            "rule", "severity", "title", "eventID", "eventTime", "eventSource", "eventName", "awsRegion",
            "recipientAccountId", "principal", "sourceIPAddress", "userAgent", "detail", "evidence", "mfaUsed", "source", "record",
        ])
        let principal = try #require(object["principal"] as? [String: Any])
        #expect(Set(principal.keys) == ["type", "arn", "userName"])
        #expect(object["rule"] as? String == "signin.no-mfa")
        #expect(object["severity"] as? String == "high")
        #expect(object["mfaUsed"] as? String == "No")
        #expect(object["source"] as? String == "s3://bucket/key.json.gz")
        #expect(object["userAgent"] as? String == "Mozilla \u{1B}[2J\u{1B}[31mred\u{202E}evil \\ ok")  // data, still escaped in JSON
        let inner = try #require(object["record"] as? [String: Any])
        #expect(inner["eventID"] as? String == "e-1" && inner["userAgent"] as? String == "Mozilla \u{1B}[2J")
    }

    @Test func absentFieldsAreNullAndMfaIsNullOutsideSignIns() throws {
        let finding = Finding(
            ruleID: "iam.user.created", severity: .medium, title: "IAM user created", eventSource: "iam.amazonaws.com",
            eventName: "CreateUser", principal: .init(type: "Root"), object: .file("f"),
            record: Array(#"{"eventSource":"iam.amazonaws.com","eventName":"CreateUser","userIdentity":{"type":"Root"}}"#.utf8))
        let output = formatted(finding, JSONLinesFormat())
        let object = try #require(try JSONSerialization.jsonObject(with: Data(output)) as? [String: Any])
        #expect(object["mfaUsed"] is NSNull && object["eventID"] is NSNull && object["sourceIPAddress"] is NSNull)
        let principal = try #require(object["principal"] as? [String: Any])
        #expect(principal["type"] as? String == "Root" && principal["arn"] is NSNull && principal["userName"] is NSNull)
    }
}

@Suite struct SummaryTests {
    func summary() -> ScanSummary {
        var summary = ScanSummary()
        summary.objectsScanned = 3
        summary.objectsFailed = 1
        summary.compressedBytes = 1200
        summary.uncompressedBytes = 9_000_000
        summary.records = 42
        summary.elapsedSeconds = 0.5
        var success = hostileLogin
        success.ruleID = "signin.success"
        success.severity = .info
        summary.countAlert(hostileLogin)
        summary.countAlert(success)
        summary.noteEventTime(100)
        summary.noteEventTime(50)
        summary.failures = [.init(source: "bad|\u{1B}.json.gz", cause: "gzip stream truncated after 18 bytes")]
        return summary
    }

    @Test func mergingAddsEverything() {
        var total = summary()
        total += summary()
        #expect(total.objectsScanned == 6 && total.alerts == 4 && total.failures.count == 2)
        #expect(total.alertsByRule == ["signin.no-mfa": 2, "signin.success": 2])
        #expect(total.firstEventTime == 50 && total.lastEventTime == 100)
    }

    @Test func jsonSummaryIsValidAndComplete() throws {
        let text = SummaryReport.render(summary(), as: .json)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
        let alerts = try #require(object["alerts"] as? [String: Any])
        #expect(alerts["total"] as? Int == 2)
        #expect((alerts["bySeverity"] as? [String: Int]) == ["high": 1, "info": 1])
        #expect((alerts["byAccount"] as? [String: Int]) == ["111122223333": 2])
        let failures = try #require(object["failures"] as? [[String: String]])
        #expect(failures == [["source": "bad|\u{1B}.json.gz", "cause": "gzip stream truncated after 18 bytes"]])
        #expect((object["eventTime"] as? [String: String]) == ["first": "1970-01-01T00:00:50Z", "last": "1970-01-01T00:01:40Z"])
        #expect(object["throughputMBps"] as? Double == 18.0)
    }

    @Test func markdownAndTextEscapeWhatCameFromLogs() {
        let markdown = SummaryReport.render(summary(), as: .markdown)
        #expect(markdown.contains("| bad\\|\\\\x1B\\.json\\.gz | gzip stream truncated after 18 bytes |"))
        #expect(!markdown.contains("\u{1B}"))
        let text = SummaryReport.render(summary(), as: .text)
        #expect(!text.contains("\u{1B}") && text.contains("alerts by rule\n"))
        #expect(SummaryReport.Format(path: "out.JSON") == .json && SummaryReport.Format(path: "r.md") == .markdown)
    }

    /// A log value can add no emphasis, link, image, HTML or table cell to a rendered Markdown summary.
    @Test func markdownEscapesEveryMarkupCharacter() {
        var s = ScanSummary()
        var finding = hostileLogin
        finding.principal = .init(type: "IAMUser", arn: "**bold** [x](javascript:alert(1)) ![i](http://evil/t.png) <b>|`_~#")
        s.countAlert(finding)
        let markdown = SummaryReport.render(s, as: .markdown)
        #expect(markdown.contains(##"| 1 | IAMUser  \*\*bold\*\* \[x\]\(javascript\:alert\(1\)\) \!\[i\]\(http\:\/\/evil\/t\.png\) \<b\>\|\`\_\~\# |"##),
                "\(markdown)")
    }

    /// Two lines of counts, then — when something fired — the rules (by severity) and where.
    @Test func digestCountsThenNamesWhatFired() {
        let digest = SummaryReport.digest(summary())
        #expect(digest == """
            trailscan: 3 objects scanned, 0 skipped, 1 failed; 1.2 kB read, 9.0 MB of JSON; 42 records \
            (1970-01-01T00:00:50Z to 1970-01-01T00:01:40Z)
            trailscan: 2 alerts (1 high, 1 info) in 0.5 s, 18.0 MB/s
            trailscan: rules fired (by severity): signin.no-mfa 1, signin.success 1
            trailscan: accounts: 111122223333 2; regions: us-east-1 2

            """)
        var quiet = summary()
        quiet.alerts = 0
        #expect(SummaryReport.digest(quiet).split(separator: "\n").count == 2)
    }
}

let denied = S3Error(kind: .accessDenied, status: 403, code: "AccessDenied", resource: "s3://b/p/")

/// The sinks, driven with fixed objects and findings as the pipeline would drive them.
@Suite struct SinkTests {
    /// Writes to a pipe and returns what came out.
    func captured(_ body: (OutputWriter) -> Void) -> String {
        var fds: [Int32] = [0, 0]
        pipe(&fds)
        body(OutputWriter(fd: fds[1]))
        close(fds[1])
        let data = FileHandle(fileDescriptor: fds[0], closeOnDealloc: true).readDataToEndOfFile()
        return String(decoding: data, as: UTF8.self)
    }

    @Test func alertWriterWritesEachFindingInOrder() {
        var second = hostileLogin
        second.eventID = "e-2"
        let text = captured { writer in
            let sink = AlertWriter(format: JSONLinesFormat(), writer: writer)
            sink.begin(hostileLogin.object)
            sink.finding(hostileLogin)
            sink.finding(second)
            sink.end(hostileLogin.object, ObjectOutcome())
            #expect(!sink.isDone)
        }
        let ids = text.split(separator: "\n").map { line in
            (try! JSONSerialization.jsonObject(with: Data(line.utf8)) as! [String: Any])["eventID"] as! String
        }
        #expect(ids == ["e-1", "e-2"])
    }

    /// `--sort time` orders by eventTime (ties as found, no time last), the same whether the alerts
    /// stayed in memory or went to the spill file.
    @Test(arguments: [64 << 20, 600])
    func timeSortedAlertsAreInTimeOrder(memoryBytes: Int) {
        let times: [Int64?] = [500, 100, nil, 300, 100, 200, 900, nil, 50]
        let text = captured { writer in
            let sink = TimeSortedAlerts(output: AlertWriter(format: JSONLinesFormat(), writer: writer), memoryBytes: memoryBytes)
            for (index, time) in times.enumerated() {
                var finding = hostileLogin
                finding.eventID = "e-\(index)"
                finding.eventTime = time
                finding.record = Array(#"{"eventID":"e-\#(index)"}"#.utf8)
                sink.finding(finding)
            }
            sink.finish(ScanTotals())
            #expect(sink.failure == nil)
        }
        let ids = text.split(separator: "\n").map { line in
            (try! JSONSerialization.jsonObject(with: Data(line.utf8)) as! [String: Any])["eventID"] as! String
        }
        #expect(ids == ["e-8", "e-1", "e-4", "e-5", "e-3", "e-0", "e-6", "e-2", "e-7"])
        #expect(text.contains(#""record":{"eventID":"e-6"}"#))
    }

    @Test func summaryAndFailureLinesComeFromOutcomes() {
        var statistics = ObjectStatistics()
        statistics.records = 7
        statistics.compressedBytes = 100
        statistics.suppressedByRule = ["signin.success": 2]
        let summary = SummaryCollector(describe: { "cause: \($0)" })
        let lines = captured { writer in
            let failures = FailureLineWriter(writer: writer)
            for sink in [summary, failures] as [any ScanSink] {
                sink.begin(.file("good.json.gz"))
                sink.finding(hostileLogin)
                sink.end(.file("good.json.gz"), ObjectOutcome(statistics: statistics))
                sink.end(.file("bad\u{1B}.json.gz"), ObjectOutcome(failure: .gzip(.truncated(afterBytes: 18))))
                sink.listingFailed("s3://b/p/", .s3(denied))
                var totals = ScanTotals()
                totals.skipped.count = 3
                sink.finish(totals)
            }
        }
        #expect(lines == """
            trailscan: bad\\x1B.json.gz: gzip stream truncated after 18 bytes
            trailscan: s3://b/p/: \(denied.description)

            """)
        let s = summary.summary
        #expect(s.objectsScanned == 1 && s.objectsFailed == 2 && s.objectsSkipped == 3)
        #expect(s.records == 7 && s.compressedBytes == 100 && s.alerts == 1 && s.alertsSuppressed == 2)
        #expect(s.failures.map(\.cause) == ["cause: gzip stream truncated after 18 bytes", "cause: \(denied)"])
    }
}
