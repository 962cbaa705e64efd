import Foundation
import Testing
import TrailS3
import TrailSigV4
import TrailTestSupport

/// `trailscan verify` over a trail the generator writes with real signed digests (a test RSA key, signed
/// by Python's `cryptography`, checked by swift-crypto): offline on the copy, and on S3 with the
/// signatures in each digest's `x-amz-meta-signature`.
@Suite struct VerifyTests {
    /// A generated trail: one account, two regions, one day; an hourly digest chain per region.
    struct Trail {
        let root: URL
        let copy: URL
        let keys: String
        /// Each digest's signature (its S3 metadata), by key (`verify/AWSLogs/…`).
        let signatures: [String: String]

        init(key: String? = nil) throws {
            root = try CLI.temporaryFolder()
            copy = root.appendingPathComponent("copy")
            keys = root.appendingPathComponent("keys.json").path
            let generate = try CLI.run([
                "-c", "python3 \(CLI.repository.path)/scripts/generate_logs.py --out \(copy.path) --days 1 --accounts 1 --regions 2 --bucket trail --prefix verify/ "
                    + "--digest-key \(key ?? root.appendingPathComponent("key.pem").path) --public-keys-out \(keys) --signatures-out \(root.path)/signatures.json",
            ], shell: true)
            try #require(generate.status == 0, "\(generate.stderr)")
            signatures = try JSONDecoder().decode([String: String].self, from: Data(contentsOf: root.appendingPathComponent("signatures.json")))
        }

        /// The file of a key of the trail (`verify/AWSLogs/…`).
        func file(_ key: String) -> URL { copy.appendingPathComponent(String(key.dropFirst("verify/".count))) }

        var digestKeys: [String] { signatures.keys.sorted() }

        var logKeys: [String] {
            let files = FileManager.default.enumerator(at: copy, includingPropertiesForKeys: nil)!.compactMap { $0 as? URL }
            return files.map { "verify/" + $0.path.dropFirst(copy.path.count + 1) }.filter { $0.contains("/CloudTrail/") && $0.hasSuffix(".gz") }.sorted()
        }

        /// The newest digest of each region (the one no later digest signs).
        var newestDigests: [String] {
            Dictionary(grouping: digestKeys) { $0.components(separatedBy: "/CloudTrail-Digest/")[1].prefix { $0 != "/" } }.values.map { $0.max()! }.sorted()
        }

        /// Puts the newest digests' signatures beside them, as `<digest>.signature`.
        func writeNewestSignatures() throws {
            for key in newestDigests { try Data(signatures[key]!.utf8).write(to: URL(fileURLWithPath: file(key).path + ".signature")) }
        }

        /// `verify --format jsonl` of the copy: status by key (`verify/AWSLogs/…` for files the copy has).
        func verify(_ extra: [String] = []) throws -> (run: Run, statuses: [String: String]) {
            let run = try CLI.run(["verify", "--format", "jsonl", "--public-keys", keys] + extra + [copy.path])
            return (run, Self.statuses(run.stdout, root: copy.path + "/"))
        }

        static func statuses(_ jsonl: String, root: String) -> [String: String] {
            var statuses: [String: String] = [:]
            for line in jsonl.split(separator: "\n") {
                let object = try! JSONSerialization.jsonObject(with: Data(line.utf8)) as! [String: String]
                var location = object["location"]!
                if location.hasPrefix(root) { location = "verify/" + location.dropFirst(root.count) }
                if location.hasPrefix("s3://trail/") { location = String(location.dropFirst("s3://trail/".count)) }  // a deleted file
                statuses[location] = object["status"]!
            }
            return statuses
        }

        /// Every file valid, but these.
        func expected(_ changes: [String: String]) -> [String: String] {
            var all: [String: String] = [:]
            for key in digestKeys + logKeys { all[key] = "valid" }
            return all.merging(changes) { $1 }
        }
    }

    @Test func aCopyWithItsNewestSignaturesVerifiesOffline() throws {
        let trail = try Trail()
        try trail.writeNewestSignatures()
        let (run, statuses) = try trail.verify()
        #expect(run.status == 0, "\(run.stderr)")
        #expect(statuses == trail.expected([:]))
        #expect(run.stderr == "trailscan verify: \(trail.digestKeys.count) digest results (\(trail.digestKeys.count) valid), \(trail.logKeys.count) log files (\(trail.logKeys.count) valid)\n")
        let text = try CLI.run(["verify", "--public-keys", trail.keys, trail.copy.path])
        #expect(text.status == 0 && text.stdout == "")
    }

    /// Without their signatures, the newest digests prove nothing, and neither do the log files they
    /// list; everything before them verifies from the chain alone.
    @Test func theNewestDigestsOfACopyAreUnsignedWithoutTheirSignatures() throws {
        let trail = try Trail()
        let (run, statuses) = try trail.verify()
        #expect(run.status == 3)
        var changes: [String: String] = [:]
        for key in trail.newestDigests { changes[key] = "unsigned" }
        for log in trail.logKeys where log.contains("T1800Z") { changes[log] = "unverified" }
        #expect(statuses == trail.expected(changes))
        let text = try CLI.run(["verify", "--public-keys", trail.keys, trail.copy.path])
        let newest = trail.file(trail.newestDigests[0]).path
        #expect(text.stdout.contains("UNSIGNED           digest \(newest): its signature is only in its S3 metadata: verify against S3, or put it in a .signature file beside it\n"))
    }

    /// One byte changed in the content of one log file: that file, and only it, is modified, with the
    /// digest that proves it. A file whose gzip bytes were changed no longer decodes: modified too.
    @Test func oneChangedByteInOneLogFileIsReportedModifiedWithItsDigest() throws {
        let trail = try Trail()
        try trail.writeNewestSignatures()
        let (edited, corrupted) = (trail.logKeys[0], trail.logKeys[1])
        var content = try CLI.gunzip(Data(contentsOf: trail.file(edited)))
        let at = content.firstIndex(of: UInt8(ascii: "7"))!
        content[at] = UInt8(ascii: "8")
        try CLI.gzip(content).write(to: trail.file(edited))
        var bytes = try Data(contentsOf: trail.file(corrupted))
        bytes[bytes.count / 2] ^= 0x01
        try bytes.write(to: trail.file(corrupted))
        let (run, statuses) = try trail.verify()
        #expect(run.status == 3)
        #expect(statuses == trail.expected([edited: "modified", corrupted: "modified"]))
        let text = try CLI.run(["verify", "--public-keys", trail.keys, trail.copy.path])
        let digest = trail.digestKeys.first { key in
            (try? CLI.gunzip(Data(contentsOf: trail.file(key))))
                .map { String(decoding: $0, as: UTF8.self).contains(edited) } ?? false
        }!
        #expect(text.stdout.hasPrefix("MODIFIED           log    \(trail.file(edited).path)  (digest \(trail.file(digest).path)): SHA-256 "), "\(text.stdout)")
    }

    /// A deleted log file is named where the digest says it was; a deleted digest is named by the one
    /// after it, and the one before it, whose signature only the deleted one held, is left unsigned.
    @Test func deletedFilesAndDigestsAreNamed() throws {
        let trail = try Trail()
        try trail.writeNewestSignatures()
        let log = trail.logKeys[2]
        try FileManager.default.removeItem(at: trail.file(log))
        let chain = trail.digestKeys.filter { $0.contains("/us-east-2/") }
        let (deleted, before) = (chain[5], chain[4])
        try FileManager.default.removeItem(at: trail.file(deleted))
        let (run, statuses) = try trail.verify()
        #expect(run.status == 3)
        var changes = [log: "deleted", deleted: "deleted", before: "unsigned"]
        for other in trail.logKeys where other.contains("/us-east-2/") && trailListed(trail, before, other) { changes[other] = "unverified" }
        #expect(statuses == trail.expected(changes))
    }

    private func trailListed(_ trail: Trail, _ digest: String, _ log: String) -> Bool {
        String(decoding: (try? CLI.gunzip(Data(contentsOf: trail.file(digest)))) ?? Data(), as: UTF8.self).contains(log)
    }

    /// A signature that does not match, and keys that are not CloudTrail's (a digest signed by a key the
    /// list does not hold), are refused.
    @Test func anAlteredSignatureAndAnUnknownKeyAreRefused() throws {
        let trail = try Trail()
        try trail.writeNewestSignatures()
        let newest = trail.newestDigests[0]
        var signature = Array(trail.signatures[newest]!.utf8)
        signature[10] = signature[10] == UInt8(ascii: "0") ? UInt8(ascii: "1") : UInt8(ascii: "0")
        try Data(signature).write(to: URL(fileURLWithPath: trail.file(newest).path + ".signature"))
        let (run, statuses) = try trail.verify()
        #expect(run.status == 3)
        var changes = [newest: "signature-invalid"]
        for log in trail.logKeys where trailListed(trail, newest, log) { changes[log] = "unverified" }
        #expect(statuses == trail.expected(changes))

        let other = try Trail()
        let (foreign, foreignStatuses) = try trail.verify(["--public-keys", other.keys])
        #expect(foreign.status == 3)
        #expect(Set(trail.digestKeys.map { foreignStatuses[$0] }) == ["public-key-unknown"])
        #expect(Set(trail.logKeys.map { foreignStatuses[$0] }) == ["unverified"])
    }

    /// A log file that no digest lists, delivered while digests were written, is not covered; one
    /// delivered after the newest digest is pending, which is no failure.
    @Test func logFilesNoDigestListsAreReported() throws {
        let trail = try Trail()
        try trail.writeNewestSignatures()
        let model = trail.logKeys[0]
        let day = (model as NSString).deletingLastPathComponent
        let late = day + "/111122223333_CloudTrail_us-east-1_20260301T2350Z_pendingpendingpe.json.gz"
        try FileManager.default.copyItem(at: trail.file(model), to: trail.file(late))
        let (pending, pendingStatuses) = try trail.verify()
        #expect(pending.status == 0, "\(pending.stdout)")
        #expect(pendingStatuses == trail.expected([late: "pending"]))

        let extra = day + "/111122223333_CloudTrail_us-east-1_20260301T1230Z_extraextraextrae.json.gz"
        try FileManager.default.copyItem(at: trail.file(model), to: trail.file(extra))
        let (run, statuses) = try trail.verify()
        #expect(run.status == 3)
        #expect(statuses == trail.expected([late: "pending", extra: "not-covered"]))
        // Outside the window asked for, it is not looked at.
        let (window, windowStatuses) = try trail.verify(["--until", "2026-03-01T12:00:00Z"])
        #expect(window.status == 0 && windowStatuses[extra] == nil)
    }

    // MARK: S3

    /// The same trail uploaded with each digest's signature in its metadata verifies against S3 with no
    /// signature file; a modified log file and an altered signature give what the copy gives.
    @Test func theS3CopyAgreesWithTheOfflineCopy() throws {
        let server = try S3TestServer.shared.get()
        let trail = try Trail()
        let client = try S3Client(endpoint: S3Endpoint(region: "us-east-1", customURL: server.endpoint),
                                  credentials: AWSCredentials(accessKeyID: S3TestServer.accessKey, secretAccessKey: S3TestServer.secretKey))
        let environment = ["AWS_ACCESS_KEY_ID": S3TestServer.accessKey, "AWS_SECRET_ACCESS_KEY": S3TestServer.secretKey, "AWS_REGION": "us-east-1"]
        for key in trail.digestKeys + trail.logKeys {
            let metadata = trail.signatures[key].map { ["signature": $0, "signature-algorithm": "SHA256withRSA"] } ?? [:]
            try client.putObject(bucket: S3TestServer.bucket, key: key, bytes: [UInt8](try Data(contentsOf: trail.file(key))), metadata: metadata)
        }
        func verifyS3() throws -> (Run, [String: String]) {
            let run = try CLI.run(["verify", "--format", "jsonl", "--public-keys", trail.keys, "--endpoint-url", server.endpoint, "s3://trail/verify/"],
                                  environment: environment)
            return (run, Trail.statuses(run.stdout, root: "s3://trail/verify/"))
        }
        let (run, statuses) = try verifyS3()
        #expect(run.status == 0, "\(run.stdout)\(run.stderr)")
        #expect(statuses == trail.expected([:]))

        let edited = trail.logKeys[3]
        var content = try CLI.gunzip(Data(contentsOf: trail.file(edited)))
        content[content.firstIndex(of: UInt8(ascii: "7"))!] = UInt8(ascii: "8")
        try client.putObject(bucket: S3TestServer.bucket, key: edited, bytes: [UInt8](try CLI.gzip(content)))
        try CLI.gzip(content).write(to: trail.file(edited))
        let altered = trail.digestKeys[2]
        try client.putObject(bucket: S3TestServer.bucket, key: altered, bytes: [UInt8](try Data(contentsOf: trail.file(altered))),
                             metadata: ["signature": String(trail.signatures[altered]!.reversed())])
        let (changed, changedStatuses) = try verifyS3()
        #expect(changed.status == 3)
        #expect(changedStatuses[edited] == "modified")
        #expect(changedStatuses[altered] == "signature-invalid")
        // Offline, the altered metadata does not exist: the next digest's record of the signature holds.
        try trail.writeNewestSignatures()
        let (_, offline) = try trail.verify()
        #expect(offline[edited] == "modified" && offline[altered] == "valid")
        var agreeing = changedStatuses
        agreeing[altered] = nil
        for log in trail.logKeys where trailListed(trail, altered, log) { agreeing[log] = nil }
        #expect(agreeing.allSatisfy { offline[$0.key] == $0.value })
    }

    // MARK: ListPublicKeys

    /// Without --public-keys, the keys come from CloudTrail's ListPublicKeys in each digest's region,
    /// signed with SigV4 (the test server recomputes the signature with botocore), every page; a refused
    /// signature is one line naming the call, and exit 2.
    @Test func theKeysComeFromListPublicKeysInEachRegion() throws {
        let trail = try Trail()
        try trail.writeNewestSignatures()
        let port = Loopback.freePort()
        let log = trail.root.appendingPathComponent("requests.log").path
        let server = try ServerProcess(
            ["python3", CLI.repository.appendingPathComponent("Tests/trailscanTests/Fixtures/cloudtrail_keys_server.py").path,
             String(port), trail.keys, "AKIDKEYS", "keys-secret", log],
            log: trail.root.appendingPathComponent("server.log"))
        #expect(ServerProcess.wait { Loopback.accepts(port: port) }, "the ListPublicKeys server did not start")
        let endpoint = "http://127.0.0.1:\(port)"
        defer { withExtendedLifetime(server) {} }
        let run = try CLI.run(["verify", "--cloudtrail-endpoint-url", endpoint, trail.copy.path],
                              environment: ["AWS_ACCESS_KEY_ID": "AKIDKEYS", "AWS_SECRET_ACCESS_KEY": "keys-secret"])
        #expect(run.status == 0, "\(run.stderr)")
        let requests = try String(contentsOfFile: log, encoding: .utf8).split(separator: "\n").map { $0.split(separator: " ").prefix(2).joined(separator: " ") }
        let target = "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.ListPublicKeys"
        #expect(requests == ["us-east-1 \(target)", "us-east-1 \(target)", "us-east-2 \(target)", "us-east-2 \(target)"])

        let refused = try CLI.run(["verify", "--cloudtrail-endpoint-url", endpoint, trail.copy.path],
                                  environment: ["AWS_ACCESS_KEY_ID": "AKIDKEYS", "AWS_SECRET_ACCESS_KEY": "wrong"])
        #expect(refused.status == 2)
        #expect(refused.stdout == "")
        #expect(refused.stderr == "trailscan: ListPublicKeys in us-east-1: HTTP 400 InvalidSignatureException: The request signature we calculated does not match the signature you provided. (or give --public-keys FILE)\n")
    }
}
