import Foundation
import Synchronization
import Testing
import TrailEvents
import TrailMatch
import TrailReport
import TrailScan

/// The whole-object fast path (libdeflate) against streaming (zlib) at the level of a whole scan: with
/// the fast path's memory set to nothing every object streams, and the scan must report the same alerts,
/// the same failures and the same counts to the byte.
@Suite struct FastPathTests {
    func scan(_ inputs: [String], fastPathBytes: Int?) throws -> (alerts: [String], summary: ScanSummary) {
        let configuration = ScanConfiguration(
            jobs: 2, maximumObjectBytes: 1 << 30, maximumRecordBytes: 1 << 20, filter: RecordFilter(),
            rules: RuleSet(try RuleSelection().apply(to: BuiltinRules.all)), fastPathBytes: fastPathBytes)
        let alerts = FindingCollector(), summary = SummaryCollector()
        ScanPipeline.run(inputs: inputs, configuration: configuration, sinks: [alerts, summary])
        var total = summary.summary
        total.elapsedSeconds = 0
        total.failures.sort { $0.source < $1.source }
        return (alerts.lines.sorted(), total)
    }

    @Test func streamingEveryObjectGivesTheSameScan() throws {
        let folder = try CLI.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let good = try CLI.gzip(Data("{\"Records\":[\(noise),\(rootLogin)]}".utf8))
        let objects: [(String, Data)] = [
            ("truncated", good.prefix(good.count - 9)),
            ("bad-crc", good.prefix(good.count - 8) + Data([0, 0, 0, 0]) + good.suffix(4)),
            ("two-members", good + good),
            ("trailing-garbage", good + Data("x".utf8)),
            ("bad-json", try CLI.gzip(Data("{\"Records\":[\(noise),{\"eventName\":\"x\",}]}".utf8))),
        ]
        for (name, bytes) in objects { try bytes.write(to: folder.appendingPathComponent("\(name).json.gz")) }
        let inputs = [CLI.sampleLogs, folder.path]

        let fast = try scan(inputs, fastPathBytes: nil)
        let streamed = try scan(inputs, fastPathBytes: 0)
        #expect(fast.alerts == streamed.alerts)
        #expect(fast.summary == streamed.summary)
        #expect(fast.summary.objectsScanned == 328)
        #expect(fast.summary.failures.map { "\($0.source.split(separator: "/").last!): \($0.cause)" } == [
            "bad-crc.json.gz: gzip CRC-32 mismatch in member 1: the data is corrupt",
            "bad-json.json.gz: invalid JSON at byte 284: trailing comma",
            "trailing-garbage.json.gz: trailing garbage after the gzip stream at byte 370",
            "truncated.json.gz: gzip stream truncated after 361 bytes",
            "two-members.json.gz: invalid JSON at byte 738: unexpected data after the end of the document",
        ])
        // sample-logs' 60, then two from each object whose records were complete before its error — the
        // one with a corrupt CRC too: its data decodes before the trailer is found wrong.
        #expect(fast.summary.alerts == 60 + 4 * 2)
    }
}

/// `scan --verify` hashes each object as the scan inflates it: on the fast path and streaming, the hash
/// is the SHA-256 of the uncompressed content (`gunzip -c | sha256sum`), and an object that fails to
/// decode has none.
@Suite struct ContentHashTests {
    final class HashRecorder: ObjectVerifier {
        let hashes = Mutex<[String: String?]>([:])
        func integrity(of object: ObjectRef, outcome: ObjectOutcome) -> SourceIntegrity {
            hashes.withLock { $0[object.name] = .some(outcome.statistics.contentHash) }
            return SourceIntegrity(status: .valid)
        }
        func noteAlreadyScanned(_ object: ObjectRef) {}
    }

    @Test func theScanHashesTheUncompressedContentOnEitherPath() throws {
        let folder = try CLI.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let content = Data("{\"Records\":[\(noise),\(rootLogin)]}".utf8)
        let good = try CLI.gzip(content)
        try good.write(to: folder.appendingPathComponent("good.json.gz"))
        try content.write(to: folder.appendingPathComponent("plain.json"))
        try good.prefix(good.count - 9).write(to: folder.appendingPathComponent("truncated.json.gz"))
        let listing = try CLI.run(["-c", "cp -r \(CLI.sampleLogs) \(folder.path)/sample && cd \(folder.path) && for f in $(find . -name '*.json*' -not -path '*CloudTrail-Digest*' -not -path '*CloudTrail-Insight*' | sort); do case $f in *.gz) gunzip -c $f 2>/dev/null;; *) cat $f;; esac | sha256sum | sed \"s|-|$f|\"; done"], shell: true)
        var expected: [String: String?] = [:]
        for line in listing.stdout.split(separator: "\n") {
            let parts = line.split(separator: " ", omittingEmptySubsequences: true)
            expected[folder.path + parts[1].dropFirst(1)] = .some(String(parts[0]))
        }
        expected[folder.path + "/truncated.json.gz"] = .some(nil)
        #expect(expected.count > 300)
        for fastPathBytes in [nil, 0] {
            let recorder = HashRecorder()
            let configuration = ScanConfiguration(
                jobs: 2, maximumObjectBytes: 1 << 30, maximumRecordBytes: 1 << 20, filter: RecordFilter(),
                rules: RuleSet(try RuleSelection().apply(to: BuiltinRules.all)), fastPathBytes: fastPathBytes)
            ScanPipeline.run(inputs: [folder.path], configuration: configuration, sinks: [SummaryCollector()],
                             verification: ScanVerification(verifier: recorder, requireValid: false))
            let recorded = recorder.hashes.withLock { $0 }
            let wrong = expected.keys.filter { recorded[$0] != expected[$0] }.sorted()
            #expect(wrong.isEmpty && recorded.count == expected.count,
                    "fast path bytes \(String(describing: fastPathBytes)): \(wrong.prefix(3).map { "\($0): \(String(describing: recorded[$0]))" })")
        }
    }
}

/// Keeps every finding's JSON line.
final class FindingCollector: ScanSink {
    private(set) var lines: [String] = []

    func finding(_ finding: Finding) {
        var line: [UInt8] = []
        JSONLinesFormat().append(finding, to: &line)
        lines.append(String(decoding: line, as: UTF8.self))
    }
}
