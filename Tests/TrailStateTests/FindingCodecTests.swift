import Testing
import TrailMatch
@testable import TrailScan

@Suite struct FindingCodecTests {
    /// Every field, including a path that is not UTF-8 and text that needs escaping, comes back equal.
    @Test func roundTripsEveryField() throws {
        let record = Array(#"{"eventID":"e-1","eventName":"ConsoleLogin"}"#.utf8)
        let findings = [
            Finding(
                ruleID: "signin.root.success", severity: .critical, title: "Root \"signed\" in\n", eventID: "e-1", eventTime: 1_772_355_780,
                eventTimeText: "2026-03-01T09:03:00Z", eventSource: "signin.amazonaws.com", eventName: "ConsoleLogin", account: "111122223333",
                region: "us-east-1", principal: .init(type: "Root", arn: "arn:aws:iam::111122223333:root", userName: nil),
                sourceIPAddress: "203.0.113.24", userAgent: "Mozilla/5.0 \u{1B}[31m\u{202E}", loginResult: "Success", mfaUsed: "No",
                errorCode: nil, errorMessage: "Failed authentication", targets: [.init(field: "requestParameters.userName", value: "ann")],
                object: .file(LocalPath(bytes: Array("logs/a".utf8) + [0xFF, 0x2F] + Array("b.json.gz".utf8))), record: record),
            Finding(ruleID: "r", severity: .info, title: "t", object: .s3(bucket: "trail", key: "AWSLogs/x y.json.gz"), record: []),
            Finding(ruleID: "r", severity: .low, title: "t", object: .standardInput, record: record),
        ]
        for finding in findings {
            let json = FindingCodec.json(finding)
            #expect(try FindingCodec.finding(json: json, record: finding.record) == finding)
        }
    }

    @Test func refusesWhatIsNotAFinding() {
        #expect(throws: FindingCodec.Malformed(reason: "severity is missing")) {
            try FindingCodec.finding(json: Array(#"{"rule":"r","title":"t","object":{"stdin":true}}"#.utf8), record: [])
        }
        #expect(throws: FindingCodec.Malformed(reason: "unknown severity 'dire'")) {
            try FindingCodec.finding(json: Array(#"{"rule":"r","severity":"dire","title":"t"}"#.utf8), record: [])
        }
    }
}
