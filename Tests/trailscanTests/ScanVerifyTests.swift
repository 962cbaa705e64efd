import Foundation
import Testing
import TrailS3
import TrailSigV4
import TrailTestSupport

/// `scan --verify`: the digests are read first, each log file is hashed as the scan inflates it, and
/// each alert carries its file's integrity; `--require-valid` withholds what the digests do not prove.
/// Over the generator's signed trail, offline and on S3.
@Suite struct ScanVerifyTests {
    typealias Trail = VerifyTests.Trail

    /// A trail with its newest signatures beside it, and one log file that has alerts changed by one
    /// byte of its content: that file and its alert count.
    static func trailWithOneEditedLog() throws -> (Trail, edited: String, alerts: Int) {
        let trail = try Trail()
        try trail.writeNewestSignatures()
        let plain = try alerts(try CLI.run(["scan", "--format", "jsonl", "-q", trail.copy.path]).stdout)
        let counts = trail.logKeys.map { key in (key, plain.count { $0["source"] as? String == trail.file(key).path }) }
        let (edited, count) = counts.first { $0.1 >= 2 }!
        var content = try CLI.gunzip(Data(contentsOf: trail.file(edited)))
        content[content.firstIndex(of: UInt8(ascii: "7"))!] = UInt8(ascii: "8")
        try CLI.gzip(content).write(to: trail.file(edited))
        return (trail, edited, count)
    }

    static func alerts(_ jsonl: String) throws -> [[String: Any]] {
        try jsonl.split(separator: "\n").map { try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any] }
    }

    /// The digest that lists a log file, by its key.
    static func digest(listing log: String, in trail: Trail) -> String {
        trail.digestKeys.first { key in
            (try? CLI.gunzip(Data(contentsOf: trail.file(key)))).map { String(decoding: $0, as: UTF8.self).contains(log) } ?? false
        }!
    }

    @Test func eachAlertCarriesItsFilesIntegrityAndTheModifiedFileIsNamed() throws {
        let (trail, edited, count) = try Self.trailWithOneEditedLog()
        let run = try CLI.run(["scan", "--verify", "--public-keys", trail.keys, "--format", "jsonl", trail.copy.path])
        #expect(run.status == 3, "\(run.stderr)")
        let alerts = try Self.alerts(run.stdout)
        let plain = try Self.alerts(try CLI.run(["scan", "--format", "jsonl", "-q", trail.copy.path]).stdout)
        #expect(alerts.count == plain.count)
        let editedPath = trail.file(edited).path
        let digestPath = trail.file(Self.digest(listing: edited, in: trail)).path
        var marked = 0
        for alert in alerts {
            let integrity = alert["integrity"] as! [String: Any]
            if alert["source"] as? String == editedPath {
                marked += 1
                #expect(integrity["status"] as? String == "modified")
                #expect(integrity["digest"] as? String == digestPath)
                #expect((integrity["detail"] as? String)?.hasPrefix("SHA-256 ") == true)
            } else {
                #expect(integrity["status"] as? String == "valid")
            }
        }
        #expect(marked == count)
        #expect(run.stderr.contains("trailscan: \(editedPath): integrity modified: SHA-256 "))
        #expect(run.stderr.contains("(digest \(digestPath))\n"))
        #expect(run.stderr.contains("trailscan: integrity: log files scanned: \(trail.logKeys.count - 1) valid, 1 modified; digests: \(trail.digestKeys.count) valid; \(count) alerts from log files not proven valid\n"))

        let report = trail.root.appendingPathComponent("report.html").path
        let summary = trail.root.appendingPathComponent("summary.json").path
        let text = try CLI.run(["scan", "--verify", "--public-keys", trail.keys, "-q", "--report", report, "--summary-out", summary, trail.copy.path])
        let integrity = (try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: summary))) as! [String: Any])["integrity"] as! [String: Any]
        #expect(integrity["logFiles"] as? [String: Int] == ["valid": trail.logKeys.count - 1, "modified": 1])
        #expect(integrity["digests"] as? [String: Int] == ["valid": trail.digestKeys.count])
        #expect(integrity["alertsUnproven"] as? Int == count && integrity["missingLogFiles"] as? Int == 0 && integrity["objectsUnproven"] as? Int == 0)
        let page = try String(contentsOfFile: report, encoding: .utf8)
        #expect(page.components(separatedBy: " — log file integrity MODIFIED (digest \(digestPath))").count - 1 == count)
        #expect(text.stdout.components(separatedBy: "  integrity   MODIFIED  digest \(digestPath): SHA-256 ").count - 1 >= 1)
    }

    @Test func requireValidWithholdsTheAlertsOfTheModifiedFile() throws {
        let (trail, edited, count) = try Self.trailWithOneEditedLog()
        let run = try CLI.run(["scan", "--verify", "--require-valid", "--public-keys", trail.keys, "--format", "jsonl", trail.copy.path])
        #expect(run.status == 3)
        let plain = try Self.alerts(try CLI.run(["scan", "--format", "jsonl", "-q", trail.copy.path]).stdout)
        let alerts = try Self.alerts(run.stdout)
        #expect(alerts.count == plain.count - count)
        #expect(!alerts.contains { $0["source"] as? String == trail.file(edited).path })
        // Withheld as found in the file, before alerts repeated by duplicate records are dropped.
        let line = run.stderr.split(separator: "\n").first { $0.hasPrefix("trailscan: \(trail.file(edited).path): integrity modified: SHA-256 ") }
        let withheld = line.flatMap { $0.firstMatch(of: /\(digest (.+)\); its (\d+) alerts are not reported$/) }
        #expect(withheld.map { String($0.1) } == trail.file(Self.digest(listing: edited, in: trail)).path, "\(run.stderr)")
        #expect(withheld.flatMap { Int($0.2) }.map { $0 > 0 } == true)
        #expect(run.stderr.contains(", 1 failed;"))
    }

    /// A log file delivered after the newest digest is pending: marked, not a failure. With
    /// --require-valid it is held back: a failure of this run without --state (exit 3), and with --state
    /// a deferral that the next run takes up again (exit 1 for the other alerts).
    @Test func aFileNotDigestedYetIsPendingAndHeldBackUntilItIs() throws {
        let trail = try Trail()
        try trail.writeNewestSignatures()
        let source = try trail.logKeys.first { key in try !CLI.run(["scan", "--format", "jsonl", "-q", trail.file(key).path]).stdout.isEmpty }!
        let late = source.replacingOccurrences(of: "/2026/03/01/", with: "/2026/03/02/")
            .replacingOccurrences(of: #"_2026030\dT\d{4}Z_"#, with: "_20260302T0300Z_", options: .regularExpression)
        try FileManager.default.createDirectory(at: trail.file(late).deletingLastPathComponent(), withIntermediateDirectories: true)
        // Its own records (new event IDs), not duplicates of the source's, which would be reported once.
        let records = String(decoding: try CLI.gunzip(Data(contentsOf: trail.file(source))), as: UTF8.self)
        try CLI.gzip(Data(records.replacingOccurrences(of: #""eventID":""#, with: #""eventID":"late-"#).utf8)).write(to: trail.file(late))
        let marked = try CLI.run(["scan", "--verify", "--public-keys", trail.keys, "--format", "jsonl", trail.copy.path])
        #expect(marked.status == 1, "\(marked.stderr)")
        let lateAlerts = try Self.alerts(marked.stdout).filter { $0["source"] as? String == trail.file(late).path }
        #expect(!lateAlerts.isEmpty && lateAlerts.allSatisfy { ($0["integrity"] as! [String: Any])["status"] as? String == "pending" })

        let held = try CLI.run(["scan", "--verify", "--require-valid", "--public-keys", trail.keys, "-q", trail.copy.path])
        #expect(held.status == 3)
        #expect(held.stderr.contains("trailscan: \(trail.file(late).path): not covered by a digest yet: delivered after the newest digest ("))
        #expect(held.stderr.contains(lateAlerts.count == 1 ? "; its alert is not reported until it is\n" : "; its \(lateAlerts.count) alerts are not reported until it is\n"))

        let state = trail.root.appendingPathComponent("state.db").path
        let first = try CLI.run(["scan", "--verify", "--require-valid", "--public-keys", trail.keys, "--state", state, "--since", "2026-03-01", "-q", "--format", "jsonl", trail.copy.path])
        #expect(first.status == 1, "\(first.stderr)")
        #expect(!first.stdout.contains(trail.file(late).path))
        let second = try CLI.run(["scan", "--verify", "--require-valid", "--public-keys", trail.keys, "--state", state, "--since", "2026-03-01", "-q", "--format", "jsonl", trail.copy.path])
        #expect(second.stderr.contains("trailscan: \(trail.file(late).path): not covered by a digest yet"), "the held-back file is tried again: \(second.stderr)")
        #expect(second.stdout == "")
    }

    /// Digest files that are not digests prove nothing: the scan does not start, and the line says which.
    @Test func withoutAValidDigestNothingIsScanned() throws {
        let run = try CLI.run(["scan", "--verify", "-q", CLI.sampleLogs])
        #expect(run.status == 2 && run.stdout == "")
        #expect(run.stderr == "trailscan: the one digest file found is not a valid digest, so no key can be looked up (or give --public-keys FILE): \(CLI.sampleLogs)/AWSLogs/111122223333/CloudTrail-Digest/us-east-1/2026/03/01/111122223333_CloudTrail-Digest_us-east-1_org-trail_us-east-1_20260301T0100Z.json.gz: digestS3Object is missing or not a string\n")
    }

    /// The same trail on S3, digests carrying their signatures in their metadata: the same marks.
    @Test func onS3TheMarksAgreeWithTheCopy() throws {
        let server = try S3TestServer.shared.get()
        let (trail, edited, count) = try Self.trailWithOneEditedLog()
        let client = try S3Client(endpoint: S3Endpoint(region: "us-east-1", customURL: server.endpoint),
                                  credentials: AWSCredentials(accessKeyID: S3TestServer.accessKey, secretAccessKey: S3TestServer.secretKey))
        let prefix = "scan-verify-\(UUID().uuidString.prefix(8))/"
        for key in trail.digestKeys + trail.logKeys {
            let metadata = trail.signatures[key].map { ["signature": $0, "signature-algorithm": "SHA256withRSA"] } ?? [:]
            try client.putObject(bucket: S3TestServer.bucket, key: prefix + key.dropFirst("verify/".count), bytes: [UInt8](try Data(contentsOf: trail.file(key))), metadata: metadata)
        }
        let environment = ["AWS_ACCESS_KEY_ID": S3TestServer.accessKey, "AWS_SECRET_ACCESS_KEY": S3TestServer.secretKey, "AWS_REGION": "us-east-1"]
        let run = try CLI.run(["scan", "--verify", "--public-keys", trail.keys, "--endpoint-url", server.endpoint, "--format", "jsonl", "s3://\(S3TestServer.bucket)/\(prefix)"],
                              environment: environment)
        #expect(run.status == 3, "\(run.stderr)")
        let location = "s3://\(S3TestServer.bucket)/\(prefix)\(edited.dropFirst("verify/".count))"
        let alerts = try Self.alerts(run.stdout)
        let statuses = alerts.map { ($0["source"] as! String == location, ($0["integrity"] as! [String: Any])["status"] as! String) }
        #expect(statuses.filter { $0.0 }.count == count && statuses.allSatisfy { $0.0 ? $0.1 == "modified" : $0.1 == "valid" })
        #expect(run.stderr.contains("digests: \(trail.digestKeys.count) valid"))
    }
}
