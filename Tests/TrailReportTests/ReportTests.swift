import Foundation
import Testing
import TrailBytes
import TrailEvents
import TrailMatch
@testable import TrailReport

/// Runs `body` on the first record of `{"Records":[recordJSON]}`.
func withRecord(_ recordJSON: String, _ body: (CloudTrailRecord) -> Void) {
    let splitter = RecordSplitter()
    let window = ByteWindow(initialCapacity: 4096, maximumCapacity: 1 << 20)
    Array("{\"Records\":[\(recordJSON)]}".utf8).withUnsafeBytes { try! window.write($0) }
    try! splitter.drain(window, isFinal: true) { body($0) }
}

let hostileLogin = """
    {"eventVersion":"1.08","userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::1:user/\\u001b]0;owned\\u0007x",\
    "userName":"x"},"eventTime":"2026-03-01T09:03:00Z","eventSource":"signin.amazonaws.com","eventName":"ConsoleLogin",\
    "awsRegion":"us-east-1","sourceIPAddress":"203.0.113.9","userAgent":"Mozilla \\u001b[2J\\u001b[31mred\\u202Eevil \\\\ ok",\
    "responseElements":{"ConsoleLogin":"Success"},"additionalEventData":{"MFAUsed":"No"},"eventID":"e-1",\
    "recipientAccountId":"111122223333"}
    """

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
    let rule = BuiltinRules.rule(id: "signin.no-mfa")!

    @Test func textAlertsShowNoRawControlCharacters() {
        var output: [UInt8] = []
        withRecord(hostileLogin) { record in
            TextFormat(clock: .utc, color: false).append(rule: rule, record: record, source: "logs/a.json.gz", to: &output)
        }
        let text = String(decoding: output, as: UTF8.self)
        #expect(!output.contains(0x1B) && !output.contains(0x07))
        #expect(!text.unicodeScalars.contains("\u{202E}"))
        #expect(text.contains("user agent  Mozilla \\x1B[2J\\x1B[31mred\\u{202E}evil \\\\ ok\n"))
        #expect(text.contains("principal   IAMUser  arn:aws:iam::1:user/\\x1B]0;owned\\x07x\n"))
        #expect(text.hasPrefix("HIGH  Console sign-in without MFA  [signin.no-mfa]\n  time        2026-03-01 09:03:00 UTC\n"))
        #expect(text.contains("  event       signin.amazonaws.com ConsoleLogin  result Success  MFA No\n"))
    }

    @Test func colourIsOnlyTheSeverityLabel() {
        var output: [UInt8] = []
        withRecord(hostileLogin) { record in
            TextFormat(clock: .utc, color: true).append(rule: rule, record: record, source: "x", to: &output)
        }
        #expect(output.filter { $0 == 0x1B }.count == 2)  // one colour on, one reset
        #expect(String(decoding: output, as: UTF8.self).hasPrefix("\u{1B}[1;31mHIGH\u{1B}[0m  "))
    }

    @Test func timesAreShownInTheChosenZone() {
        let march = EventTime.seconds("2026-03-01T09:03:00Z")!
        let july = EventTime.seconds("2026-07-01T09:03:00Z")!
        #expect(DisplayClock(timeZone: "Asia/Tokyo")!.format(march) == "2026-03-01 18:03:00 +09:00")
        #expect(DisplayClock(timeZone: "America/New_York")!.format(march).hasPrefix("2026-03-01 04:03:00 -05:00"))
        #expect(DisplayClock(timeZone: "America/New_York")!.format(july).hasPrefix("2026-07-01 05:03:00 -04:00"))
        #expect(DisplayClock(timeZone: "Asia/Kolkata")!.format(march) == "2026-03-01 14:33:00 +05:30")
        #expect(DisplayClock.utc.format(march) == "2026-03-01 09:03:00 UTC")
        #expect(DisplayClock(timeZone: "Mars/Olympus_Mons") == nil)
    }

    @Test func jsonLinesHaveExactlyTheDocumentedKeys() throws {
        var output: [UInt8] = []
        withRecord(hostileLogin) { record in
            JSONLinesFormat().append(rule: rule, record: record, source: "s3://bucket/key.json.gz", to: &output)
        }
        #expect(output.last == 0x0A && output.dropLast().contains(0x0A) == false)
        #expect(!output.contains(0x1B))
        let object = try #require(try JSONSerialization.jsonObject(with: Data(output)) as? [String: Any])
        #expect(Set(object.keys) == [
            "rule", "severity", "title", "eventID", "eventTime", "eventSource", "eventName", "awsRegion",
            "recipientAccountId", "principal", "sourceIPAddress", "userAgent", "mfaUsed", "source", "record",
        ])
        let principal = try #require(object["principal"] as? [String: Any])
        #expect(Set(principal.keys) == ["type", "arn", "userName"])
        #expect(object["rule"] as? String == "signin.no-mfa")
        #expect(object["severity"] as? String == "high")
        #expect(object["mfaUsed"] as? String == "No")
        #expect(object["source"] as? String == "s3://bucket/key.json.gz")
        #expect(object["userAgent"] as? String == "Mozilla \u{1B}[2J\u{1B}[31mred\u{202E}evil \\ ok")  // data, still escaped in JSON
        let inner = try #require(object["record"] as? [String: Any])
        #expect(inner["eventID"] as? String == "e-1")
    }

    @Test func absentFieldsAreNullAndMfaIsNullOutsideSignIns() throws {
        var output: [UInt8] = []
        withRecord("{\"eventSource\":\"iam.amazonaws.com\",\"eventName\":\"CreateUser\",\"userIdentity\":{\"type\":\"Root\"}}") { record in
            JSONLinesFormat().append(rule: rule, record: record, source: "f", to: &output)
        }
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
        withRecord(hostileLogin) { record in
            summary.countAlert(rule: BuiltinRules.rule(id: "signin.no-mfa")!, record: record)
            summary.countAlert(rule: BuiltinRules.rule(id: "signin.success")!, record: record)
        }
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
        #expect(markdown.contains("| bad\\|\\x1B.json.gz | gzip stream truncated after 18 bytes |"))
        #expect(!markdown.contains("\u{1B}"))
        let text = SummaryReport.render(summary(), as: .text)
        #expect(!text.contains("\u{1B}") && text.contains("alerts by rule\n"))
        #expect(SummaryReport.Format(path: "out.JSON") == .json && SummaryReport.Format(path: "r.md") == .markdown)
    }

    @Test func digestIsTwoLines() {
        let digest = SummaryReport.digest(summary())
        #expect(digest == """
            trailscan: 3 objects scanned, 0 skipped, 1 failed; 1.2 kB read, 9.0 MB of JSON; 42 records \
            (1970-01-01T00:00:50Z to 1970-01-01T00:01:40Z)
            trailscan: 2 alerts (1 high, 1 info) in 0.5 s, 18.0 MB/s

            """)
    }
}
