import Foundation
import Glibc
import Testing
import TrailS3
import TrailSigV4
import TrailTestSupport

/// Scheduled scans (`--state`), run as cron runs them, against a local folder and the S3 server: only
/// what is new, every alert once, across late files, duplicate deliveries, a lock conflict, `kill -9`
/// at each point of an object's commit, and a failed object retried once it is fixed.
@Suite(.serialized) struct ScheduledScanTests {
    /// Where a scenario delivers log objects, and how a scan reads them.
    struct Trail {
        var source: String
        var arguments: [String]
        var environment: [String: String]
        var put: (String, Data) throws -> Void
    }

    static let account = "111122223333"

    /// A CloudTrail object with one root console sign-in per event id, named as delivered `secondsAgo`
    /// ago (in that day's folder).
    static func object(_ ids: [String], secondsAgo: Int64, unique: String) throws -> (key: String, body: Data) {
        let delivered = Int64(Date().timeIntervalSince1970) - secondsAgo
        let stamp = Self.stamp(delivered)
        let day = "\(stamp.prefix(4))/\(stamp.dropFirst(4).prefix(2))/\(stamp.dropFirst(6).prefix(2))"
        let records = ids.map { id in
            rootLogin.replacingOccurrences(of: "\"root-1\"", with: "\"\(id)\"")
                .replacingOccurrences(of: "2026-03-01T09:03:00Z", with: Self.iso(delivered - 60))
        }
        let key = "AWSLogs/\(account)/CloudTrail/us-east-1/\(day)/\(account)_CloudTrail_us-east-1_\(stamp)_\(unique).json.gz"
        return (key, try CLI.gzip(Data("{\"Records\":[\(records.joined(separator: ","))]}".utf8)))
    }

    static func stamp(_ seconds: Int64) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyyMMdd'T'HHmm'Z'"
        return formatter.string(from: Date(timeIntervalSince1970: TimeInterval(seconds)))
    }

    static func iso(_ seconds: Int64) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.timeZone = TimeZone(identifier: "UTC")
        return formatter.string(from: Date(timeIntervalSince1970: TimeInterval(seconds)))
    }

    /// The rules one root sign-in triggers, from a scan without state.
    static let rulesPerEvent: [String] = {
        let folder = try! CLI.temporaryFolder()
        let (_, body) = try! object(["probe"], secondsAgo: 0, unique: "probe")
        try! body.write(to: folder.appendingPathComponent("probe.json.gz"))
        return try! CLI.run(["scan", "--format", "jsonl", "-q", folder.path]).alerts.map { String($0.split(separator: " ")[0]) }
    }()

    /// "rule eventID" lines expected for these events, sorted as `Run.alerts` sorts them.
    static func expected(_ ids: [String]) -> [String] {
        ids.flatMap { id in rulesPerEvent.map { "\($0) \(id)" } }.sorted()
    }

    /// The whole scenario; each step says what it checks.
    static func scenario(_ trail: Trail, state: String) throws {
        func scan(kill point: String? = nil, _ extra: [String] = []) throws -> Run {
            var environment = trail.environment
            if let point { environment["TRAILSCAN_TEST_KILL"] = "\(point):1" }
            return try CLI.run(["scan", "--format", "jsonl", "--state", state] + trail.arguments + extra + [trail.source], environment: environment)
        }
        func deliver(_ ids: [String], secondsAgo: Int64, unique: String) throws -> String {
            let (key, body) = try object(ids, secondsAgo: secondsAgo, unique: unique)
            try trail.put(key, body)
            return key
        }

        // The first run covers the look-back window and says so.
        _ = try deliver(["e-a"], secondsAgo: 600, unique: "A")
        _ = try deliver(["e-b1", "e-b2"], secondsAgo: 3600, unique: "B")
        let first = try scan()
        #expect(first.status == 1)
        #expect(first.stderr.contains("first scan with this state: reading objects delivered since"))
        #expect(first.alerts == expected(["e-a", "e-b1", "e-b2"]))

        // A late file in the folder of two days ago (inside the look-back) and a second delivery of an
        // event already reported: only the new events, each once.
        _ = try deliver(["e-c"], secondsAgo: 47 * 3600, unique: "C")
        _ = try deliver(["e-b1", "e-d"], secondsAgo: 300, unique: "D")
        let second = try scan()
        #expect(second.status == 1)
        #expect(second.alerts == expected(["e-c", "e-d"]))
        #expect(second.stderr.contains("2 objects scanned, 0 skipped, 0 failed, 2 already scanned"))
        #expect(second.stderr.contains(", \(rulesPerEvent.count) already reported"))
        let quiet = try scan()
        #expect(quiet.status == 0 && quiet.stdout.isEmpty)
        #expect(quiet.stderr.contains("0 objects scanned, 0 skipped, 0 failed, 4 already scanned"))

        // kill -9 at each point of an object with new alerts; the next run reports exactly what is due.
        for point in ["recorded", "committed", "written"] {
            _ = try deliver(["e-\(point)"], secondsAgo: 120, unique: point)
            let killed = try scan(kill: point)
            #expect(killed.status == SIGKILL, "\(point)")
            // Alerts are written only once committed; at `written` they were, and the outbox rows not deleted.
            #expect(killed.alerts == (point == "written" ? expected(["e-\(point)"]) : []), "\(point)")
            let next = try scan()
            #expect(next.status == 1, "\(point)")
            #expect(next.alerts == expected(["e-\(point)"]), "\(point)")
            if point == "recorded" {
                #expect(next.stderr.contains("1 object scanned"), "uncommitted: the object is scanned again")
            } else {
                #expect(next.stderr.contains("0 objects scanned"), "committed: not scanned again")
                #expect(next.stderr.contains("\(rulesPerEvent.count) left unsent by an interrupted run"), "\(point)")
            }
            let after = try scan()
            #expect(after.status == 0 && after.stdout.isEmpty, "\(point)")
        }

        // A truncated object fails, stays pending, and is retried once fixed.
        let (key, whole) = try object(["e-f"], secondsAgo: 60, unique: "F")
        try trail.put(key, whole.prefix(whole.count / 2))
        let failed = try scan()
        #expect(failed.status == 2)
        #expect(failed.stderr.contains("\(key): gzip stream truncated"))
        #expect(try scan().status == 2, "retried on every run until it succeeds")
        try trail.put(key, whole)
        let fixed = try scan()
        #expect(fixed.status == 1)
        #expect(fixed.alerts == expected(["e-f"]))
        #expect(try scan().status == 0)

        // A file delivered later than the look-back is not listed by a scheduled run; a run with --since
        // lists from there, reads only what it has not read, and reports only what is new.
        _ = try deliver(["e-g"], secondsAgo: 5 * 86_400, unique: "G")
        let missed = try scan()
        #expect(missed.status == 0 && missed.stdout.isEmpty)
        let caughtUp = try scan(kill: nil, ["--since", "7d"])
        #expect(caughtUp.status == 1)
        #expect(caughtUp.alerts == expected(["e-g"]))
        #expect(caughtUp.stderr.contains("1 object scanned, 0 skipped, 0 failed, 8 already scanned"))

        // The history holds each alert once.
        let history = try CLI.run(["alerts", "--state", state, "--format", "jsonl"])
        #expect(history.status == 0)
        #expect(history.alerts == expected(["e-a", "e-b1", "e-b2", "e-c", "e-d", "e-recorded", "e-committed", "e-written", "e-f", "e-g"]))
        #expect(history.stdout.split(separator: "\n").allSatisfy { $0.contains("\"firstSeen\":\"") })
    }

    @Test func localFolder() throws {
        let folder = try CLI.temporaryFolder()
        let logs = folder.appendingPathComponent("logs")
        let trail = Trail(source: logs.path, arguments: [], environment: [:]) { key, body in
            let url = logs.appendingPathComponent(key)
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try body.write(to: url)
        }
        try Self.scenario(trail, state: folder.appendingPathComponent("state.db").path)
        // The state and its lock are private.
        for name in ["state.db", "state.db.lock"] {
            let mode = try FileManager.default.attributesOfItem(atPath: folder.appendingPathComponent(name).path)[.posixPermissions] as? Int
            #expect(mode == 0o600, "\(name)")
        }
    }

    @Test func bucket() throws {
        let server = try S3TestServer.shared.get()
        let client = try S3Client(endpoint: S3Endpoint(region: "us-east-1", customURL: server.endpoint),
                                  credentials: AWSCredentials(accessKeyID: S3TestServer.accessKey, secretAccessKey: S3TestServer.secretKey))
        let prefix = "incremental-\(UUID().uuidString)/"
        let trail = Trail(
            source: "s3://\(S3TestServer.bucket)/\(prefix)", arguments: ["--endpoint-url", server.endpoint],
            environment: ["AWS_ACCESS_KEY_ID": S3TestServer.accessKey, "AWS_SECRET_ACCESS_KEY": S3TestServer.secretKey, "AWS_REGION": "us-east-1"]
        ) { key, body in
            try client.putObject(bucket: S3TestServer.bucket, key: prefix + key, bytes: [UInt8](body))
        }
        try Self.scenario(trail, state: try CLI.temporaryFolder().appendingPathComponent("state.db").path)
    }

    /// A second run while one holds the state exits at once with 75, touching nothing.
    @Test func aSecondRunWhileOneHoldsTheStateExits75() throws {
        let folder = try CLI.temporaryFolder()
        let state = folder.appendingPathComponent("state.db").path
        let fifo = folder.appendingPathComponent("blocked.json").path
        #expect(mkfifo(fifo, 0o600) == 0)
        // The state exists (a first run made it), so the holder below only reads it before it blocks.
        #expect(try CLI.run(["scan", "-q", "--allow-empty", "--state", state, CLI.sampleLogs]).status == 0)
        // The first run takes the lock, then blocks opening the FIFO until something writes to it.
        let holder = Process()
        holder.executableURL = CLI.executable
        holder.arguments = ["scan", "-q", "--format", "jsonl", "--state", state, fifo]
        holder.standardOutput = FileHandle.nullDevice
        holder.standardError = FileHandle.nullDevice
        try holder.run()
        let lock = state + ".lock"
        var held = ""
        for _ in 0..<500 where !held.hasPrefix("pid \(holder.processIdentifier) since ") {
            usleep(10_000)
            held = (try? String(contentsOfFile: lock, encoding: .utf8)) ?? ""
        }
        #expect(held.hasPrefix("pid \(holder.processIdentifier) since "))
        let before = try Data(contentsOf: URL(fileURLWithPath: state))

        let second = try CLI.run(["scan", "--state", state, folder.path])
        #expect(second.status == 75)
        let since = held.split(separator: " ")[3].trimmingCharacters(in: .newlines)
        #expect(second.stderr == "trailscan: \(state): another scan holds the state (pid \(holder.processIdentifier), since \(since))\n")
        #expect(second.stdout.isEmpty)
        #expect(try Data(contentsOf: URL(fileURLWithPath: state)) == before)

        // Unblock the first run: it finishes normally.
        let (_, body) = try Self.object(["e-fifo"], secondsAgo: 0, unique: "fifo")
        let writer = FileHandle(forWritingAtPath: fifo)!
        writer.write(body)
        try writer.close()
        holder.waitUntilExit()
        #expect(holder.terminationStatus == 1)
    }

    /// SIGTERM during a run with a state: what was handed out is committed, the summary is written
    /// (marked interrupted), exit 143, and the run is recorded as interrupted; the next run goes on from
    /// there. The run's second input is a FIFO the test keeps open, so it is still running when the
    /// signal comes.
    @Test func sigtermCommitsWhatWasHandedOutAndExits143() throws {
        let (folder, logs, _) = try Self.folderWithOneLog("e-term")
        let state = folder.appendingPathComponent("state.db").path
        let fifo = folder.appendingPathComponent("open.json").path
        #expect(mkfifo(fifo, 0o600) == 0)
        let process = Process()
        process.executableURL = CLI.executable
        process.arguments = ["scan", "--format", "jsonl", "--state", state, logs.path, fifo]
        let output = Pipe(), errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        let writer = FileHandle(forWritingAtPath: fifo)!  // opens once the run opens its end
        writer.write(Data("{\"Records\":[".utf8))
        // The first object's alerts are out, so they were committed.
        var alerts = Data()
        while alerts.filter({ $0 == 0x0A }).count < Self.rulesPerEvent.count { alerts += output.fileHandleForReading.availableData }
        kill(process.processIdentifier, SIGTERM)
        let stderr = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        try writer.close()
        #expect(process.terminationStatus == 143)
        #expect(stderr.contains("trailscan: interrupted: the counts cover the objects read before it\ntrailscan: 1 object scanned"), "\(stderr)")
        #expect(Run(status: 0, stdout: String(decoding: alerts, as: UTF8.self), stderr: "").alerts == Self.expected(["e-term"]))
        let recorded = try CLI.run(["-c", "python3 -c \"import sqlite3; print(sqlite3.connect('\(state)').execute('SELECT interrupted, exit_status FROM runs').fetchall())\""], shell: true)
        #expect(recorded.stdout == "[(1, 143)]\n")
        let next = try CLI.run(["scan", "--format", "jsonl", "--state", state, logs.path])
        #expect(next.status == 0 && next.stdout.isEmpty)
        #expect(next.stderr.contains("0 objects scanned, 0 skipped, 0 failed, 1 already scanned"))
    }

    /// An object that failed and then vanished fails once more, by name, and is then forgotten: a cron
    /// job does not exit 2 forever over a file that was deleted.
    @Test func aFailedObjectThatVanishesIsRetriedOnceMore() throws {
        let (folder, logs, body) = try Self.folderWithOneLog("e-gone")
        let state = folder.appendingPathComponent("state.db").path
        let broken = logs.appendingPathComponent("broken.json.gz")
        try body.prefix(body.count / 2).write(to: broken)
        #expect(try CLI.run(["scan", "-q", "--state", state, logs.path]).status == 2)
        try FileManager.default.removeItem(at: broken)
        let vanished = try CLI.run(["scan", "-q", "--state", state, logs.path])
        #expect(vanished.status == 2)
        #expect(vanished.stderr == "trailscan: \(broken.path): No such file or directory\n")
        let forgotten = try CLI.run(["scan", "-q", "--state", state, logs.path])
        #expect(forgotten.status == 0 && forgotten.stderr.isEmpty)
    }

    /// `trailscan alerts` selects as `scan` does: by rule (globs), severity, account and event time.
    @Test func theHistorySelectsByRuleSeverityAccountAndTime() throws {
        let state = try CLI.temporaryFolder().appendingPathComponent("state.db").path
        #expect(try CLI.run(["scan", "-q", "--state", state, "--since", "2026-01-01", CLI.sampleLogs]).status == 1)
        let all = try CLI.expected("sample-logs-expected-alerts.txt")
        func history(_ arguments: [String]) throws -> [String] {
            let run = try CLI.run(["alerts", "--state", state, "--format", "jsonl"] + arguments)
            #expect(run.status == 0 && run.stderr.isEmpty)
            return run.alerts
        }
        #expect(try history([]) == all)
        #expect(try history(["--rule", "signin.root*", "--rule", "iam.access-key.created"])
            == all.filter { $0.hasPrefix("signin.root") || $0.hasPrefix("iam.access-key.created ") })
        let stateless = { (arguments: [String]) in try CLI.run(["scan", "-q", "--format", "jsonl"] + arguments + [CLI.sampleLogs]).alerts }
        #expect(try history(["--min-severity", "high"]) == (try stateless(["--min-severity", "high"])))
        #expect(try history(["--account", "444455556666"]) == (try stateless(["--account", "444455556666"])))
        #expect(try history(["--since", "2026-03-02", "--until", "2026-03-02"]) == (try stateless(["--since", "2026-03-02", "--until", "2026-03-02"])))
        let text = try CLI.run(["alerts", "--state", state, "--rule", "signin.root.success", "--timezone", "Asia/Tokyo"])
        #expect(text.stdout.contains("  time        2026-03-01 18:03:00 +09:00\n"))
        #expect(text.stdout.contains("\n  first seen  "))
    }

    /// A fresh folder with `logs/` holding one object of one root sign-in.
    static func folderWithOneLog(_ id: String) throws -> (folder: URL, logs: URL, body: Data) {
        let folder = try CLI.temporaryFolder()
        let logs = folder.appendingPathComponent("logs")
        try FileManager.default.createDirectory(at: logs, withIntermediateDirectories: true)
        let (_, body) = try Self.object([id], secondsAgo: 60, unique: id)
        try body.write(to: logs.appendingPathComponent("\(id).json.gz"))
        return (folder, logs, body)
    }

    /// A state that cannot be used: one line naming the file and the cause, exit 2, nothing scanned.
    @Test func aStateThatCannotBeUsedIsOneClearErrorAndExit2() throws {
        let (folder, logs, _) = try Self.folderWithOneLog("e-x")

        let corrupt = folder.appendingPathComponent("corrupt.db").path
        try Data(String(repeating: "not a database ", count: 400).utf8).write(to: URL(fileURLWithPath: corrupt))
        let damaged = try CLI.run(["scan", "--state", corrupt, logs.path])
        #expect(damaged.status == 2)
        #expect(damaged.stdout.isEmpty)
        #expect(damaged.stderr == "trailscan: \(corrupt): not a trailscan state file (file is not a database); move it away to start a new one\n")

        let newer = folder.appendingPathComponent("newer.db").path
        #expect(try CLI.run(["scan", "-q", "--state", newer, logs.path]).status == 1)
        let bump = try CLI.run(["-c", "python3 -c \"import sqlite3; c = sqlite3.connect('\(newer)'); c.execute('PRAGMA user_version = 7'); c.commit()\""], shell: true)
        #expect(bump.status == 0, "\(bump.stderr)")
        let refused = try CLI.run(["scan", "--state", newer, logs.path])
        #expect(refused.status == 2)
        #expect(refused.stderr == "trailscan: \(newer): the state was written by a newer trailscan (schema version 7; this one knows up to 2): run that version, or start a new state file\n")

        let history = try CLI.run(["alerts", "--state", folder.appendingPathComponent("missing.db").path])
        #expect(history.status == 2)
        #expect(history.stderr.hasSuffix("missing.db: no such state file (a scan with --state creates it)\n"))
    }

    /// A read-only state file (and folder): the run cannot record, so it scans nothing.
    @Test func aReadOnlyStateIsRefused() throws {
        let (folder, logs, body) = try Self.folderWithOneLog("e-ro")
        let state = folder.appendingPathComponent("state.db").path
        #expect(try CLI.run(["scan", "-q", "--state", state, logs.path]).status == 1)
        try body.write(to: logs.appendingPathComponent("ro2.json.gz"))
        // As root, file modes do not stop writes: run as nobody, who owns a file it may only read, in
        // a folder it may not write.
        let nobody: [String]
        if getuid() == 0 {
            for path in [state, state + ".lock"] { #expect(chown(path, 65534, 65534) == 0) }
            nobody = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
        } else {
            nobody = []
        }
        #expect(chmod(state, 0o400) == 0)
        #expect(chmod(folder.path, 0o555) == 0)
        defer { chmod(folder.path, 0o755) }
        let command = (nobody + [CLI.executable.path, "scan", "--state", state, logs.path]).map { "'\($0)'" }.joined(separator: " ")
        let run = try CLI.run(["-c", command], shell: true)
        #expect(run.status == 2)
        #expect(run.stdout.isEmpty)
        #expect(run.stderr == "trailscan: \(state): the state cannot be written: the file, its folder (SQLite writes its journal beside it) or the file system is read-only\n")
    }
}
