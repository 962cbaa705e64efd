import Foundation
import Testing
import TrailTestSupport

/// Faults of an S3 server that the retry and credential logic must survive: a stalled transfer, a
/// `Content-Length` that lies, credentials refused as expired in the middle of a scan. Each object is
/// scanned once or reported failed, in bounded time, and the exit status says which.
@Suite struct S3FaultTests {
    static let day = "AWSLogs/111122223333/CloudTrail/us-east-1/2026/03/01/"

    /// `count` objects of the day, each one root sign-in (`root-0`, `root-1`…), by key.
    static func objects(_ count: Int) throws -> [String: [UInt8]] {
        var objects: [String: [UInt8]] = [:]
        for index in 0..<count {
            let key = day + "111122223333_CloudTrail_us-east-1_20260301T01\(String(format: "%02d", index))Z_x\(index).json.gz"
            let record = rootLogin.replacingOccurrences(of: "root-1", with: "root-\(index)")
            objects[key] = [UInt8](try CLI.gzip(Data("{\"Records\":[\(record),\(noise)]}".utf8)))
        }
        return objects
    }

    static func alerts(_ indices: some Sequence<Int>) -> [String] {
        indices.flatMap { ["signin.root.success root-\($0)", "signin.success root-\($0)"] }.sorted()
    }

    /// Credentials for the fault server, which checks no signature.
    static let environment = ["AWS_ACCESS_KEY_ID": "AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY": "secret", "AWS_REGION": "us-east-1"]

    /// A transfer that stops half-way and holds the connection open (for 120 s) is abandoned after
    /// `--read-timeout` and retried; one that stalls on every attempt fails after its five. (Each stall
    /// costs about 6 s here: libcurl averages the speed over its last 5 s. Without the timeout the run
    /// would outlast its 120 s limit and be killed.)
    @Test func aStalledTransferIsAbandonedAndRetriedWithinItsBudget() throws {
        let objects = try Self.objects(2)
        let (once, always) = (objects.keys.sorted()[0], objects.keys.sorted()[1])
        let server = FaultServer(bucket: "faults", objects: objects, scripts: [once: [.stall], always: Array(repeating: .stall, count: 5)])
        defer { server.stop() }
        let run = try CLI.run(["scan", "--format", "jsonl", "--read-timeout", "1", "--endpoint-url", server.endpoint, "s3://faults/\(Self.day)"],
                              environment: Self.environment, timeout: 120)
        #expect(run.status == 2)
        #expect(run.alerts == Self.alerts([0]))
        #expect(run.stderr.hasPrefix("trailscan: s3://faults/\(always): network error: Timeout was reached: Operation too slow. Less than 1 bytes/sec transferred the last 1 seconds\n"),
                "\(run.stderr)")
        #expect(server.requestCounts[once] == 2 && server.requestCounts[always] == 5)
        #expect(try CLI.run(["scan", "--read-timeout", "0", "s3://faults/x"], environment: Self.environment).stderr
            .contains("--read-timeout must be between 1 and 3600 seconds."))
    }

    /// `Content-Length` too long (the body ends early) is a truncated transfer, retried; too short (more
    /// bytes follow than announced) leaves the object cut short, which its decoder reports by name.
    @Test func aContentLengthThatLiesIsRetriedOrReported() throws {
        let objects = try Self.objects(2)
        let (long, short) = (objects.keys.sorted()[0], objects.keys.sorted()[1])
        let server = FaultServer(bucket: "faults", objects: objects, scripts: [long: [.truncated, .truncated], short: [.shortLength]])
        defer { server.stop() }
        let run = try CLI.run(["scan", "--format", "jsonl", "--endpoint-url", server.endpoint, "s3://faults/\(Self.day)"],
                              environment: Self.environment, timeout: 60)
        #expect(run.status == 2)
        #expect(run.alerts == Self.alerts([0]))
        #expect(run.stderr.hasPrefix("trailscan: s3://faults/\(short): gzip stream truncated"), "\(run.stderr)")
        #expect(server.requestCounts[long] == 3 && server.requestCounts[short] == 1)
        #expect(run.stderr.contains("trailscan: 1 object scanned, 0 skipped, 1 failed;"), "\(run.stderr)")
    }

    /// Credentials from `credential_process` that S3 starts refusing as expired mid-scan, long before
    /// their stated expiry: eight workers are refused together, renew them once between them, and
    /// every object is scanned.
    @Test func credentialsRefusedAsExpiredMidScanAreRenewedOnceForAllWorkers() throws {
        let folder = try CLI.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let counter = folder.appendingPathComponent("count").path
        let script = folder.appendingPathComponent("creds.sh")
        try """
            n=$(cat \(counter) 2>/dev/null || echo 0); n=$((n+1)); echo $n > \(counter)
            printf '{"Version": 1, "AccessKeyId": "PROC%s", "SecretAccessKey": "s", "SessionToken": "t", "Expiration": "2099-01-01T00:00:00Z"}' $n
            """.write(to: script, atomically: true, encoding: .utf8)
        try "[profile proc]\ncredential_process = sh \(script.path)\n".write(to: folder.appendingPathComponent("config"), atomically: true, encoding: .utf8)
        let objects = try Self.objects(12)
        let server = FaultServer(bucket: "faults", objects: objects, scripts: [:], expiringKeys: ["PROC1": 3])
        defer { server.stop() }
        let run = try CLI.run(
            ["scan", "--format", "jsonl", "--profile", "proc", "--max-fetches", "8", "--endpoint-url", server.endpoint, "s3://faults/\(Self.day)"],
            environment: ["AWS_CONFIG_FILE": folder.appendingPathComponent("config").path, "AWS_SHARED_CREDENTIALS_FILE": folder.appendingPathComponent("none").path,
                          "AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": "", "AWS_REGION": "us-east-1"],
            timeout: 60)
        #expect(run.status == 1, "\(run.stderr)")
        #expect(run.alerts == Self.alerts(0..<12))
        #expect(run.stderr.contains("12 objects scanned, 0 skipped, 0 failed"), "\(run.stderr)")
        #expect(try String(contentsOfFile: counter, encoding: .utf8) == "2\n")  // the first credentials, and one renewal
        let counts = server.requestCounts
        // Three requests taken with the first credentials, the others of the 13 (a listing, 12 GETs) with
        // the renewed ones; the refused ones were signed again.
        #expect((counts["(signed with PROC1)"] ?? 0) > 3 && counts["(signed with PROC2)"] == 10, "\(counts)")
    }
}
