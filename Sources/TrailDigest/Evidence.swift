internal import Foundation
internal import Glibc
internal import Synchronization
internal import TrailBytes
public import TrailEvents
internal import TrailGzip
public import TrailS3
public import TrailScan

/// Gathers what `IntegrityAudit` checks from local copies and S3 prefixes in the CloudTrail layout: every
/// digest (with its signature, when the source keeps one), the log files listed in the window, and the
/// hash of every log file a digest in the window names.
///
/// Local copies: the folders are walked by bytes; a file under a `CloudTrail-Digest/` folder is a
/// digest, one under `CloudTrail/` a log file, and a digest's signature is read from a `.signature` file
/// beside it when there is one (hex, as S3 metadata holds it). S3: the CloudTrail-aware listing with the
/// digest folders, and each digest's `x-amz-meta-signature`. Files are matched by their key from
/// `AWSLogs/` on, so a copy made under another prefix or bucket verifies as the original.
public struct EvidenceCollector: Sendable {
    public var filter: RecordFilter
    public var s3: S3Settings?
    public var jobs: Int
    /// Largest uncompressed size of one file.
    public var maximumObjectBytes: Int

    public init(filter: RecordFilter, s3: S3Settings?, jobs: Int, maximumObjectBytes: Int) {
        self.filter = filter
        self.s3 = s3
        self.jobs = jobs
        self.maximumObjectBytes = maximumObjectBytes
    }

    /// What was gathered, ready for `IntegrityAudit.run`.
    public struct Evidence: Sendable {
        public var digests: [DigestObject] = []
        public var logs: [String: LogObservation] = [:]
        public var listedLogs: [String] = []
        /// Folders and prefixes that could not be listed: nothing below them is known.
        public var failures: [(location: String, reason: String)] = []
        public var requests = 0
    }

    /// Where a file is, in its source.
    private enum Place: Sendable, Hashable {
        case file(LocalPath)
        case s3(bucket: String, key: String)

        var name: String {
            switch self {
            case .file(let path): path.name
            case .s3(let bucket, let key): "s3://\(bucket)/\(key)"
            }
        }
    }

    /// A source's files, by layout key.
    private struct Listing {
        var digests: [String: Place] = [:]
        var logs: [String: Place] = [:]
        /// Where this source keeps `AWSLogs/`: the place of a file it does not list.
        var root: Place?
    }

    public func collect(_ inputs: [String]) -> Evidence {
        let (listing, evidence) = gatherDigests(inputs)
        return hashLogs(listing, evidence)
    }

    /// The digests only, for `scan --verify` (which hashes the log files as it scans them).
    public func collectDigests(_ inputs: [String]) -> Evidence { gatherDigests(inputs).evidence }

    /// The content of one object, read and hashed here: for an object the scan could not hash.
    public func hash(_ object: ObjectRef) -> LogObservation {
        switch object {
        case .file(let path): Reader(collector: self).hash(.file(path))
        case .s3(let bucket, let key): Reader(collector: self).hash(.s3(bucket: bucket, key: key))
        case .standardInput: LogObservation(location: object.name, content: .unreadable("standard input cannot be read again"))
        }
    }

    /// Lists the sources and reads every digest they hold.
    private func gatherDigests(_ inputs: [String]) -> (listing: Listing, evidence: Evidence) {
        var evidence = Evidence()
        var found = Listing()
        for input in inputs {
            if input.hasPrefix("s3://") {
                listS3(input, into: &found, evidence: &evidence)
            } else {
                walk(LocalPath(input), into: &found, evidence: &evidence)
            }
        }
        let listing = found
        let digestKeys = listing.digests.keys.sorted()
        let read = Mutex([DigestObject?](repeating: nil, count: digestKeys.count))
        forEach(digestKeys.count) { index, worker in
            let key = digestKeys[index]
            let object = worker.readDigest(at: listing.digests[key]!, layoutKey: key)
            read.withLock { $0[index] = object }
        }
        evidence.digests = read.withLock { $0 }.compactMap { $0 }
        return (listing, evidence)
    }

    /// Hashes the log files listed in the window, and every one a digest names.
    private func hashLogs(_ listing: Listing, _ evidence: Evidence) -> Evidence {
        var evidence = evidence
        evidence.listedLogs = listing.logs.keys.filter { key in
            guard let delivered = CloudTrailKey(path: key)?.deliveryTime else { return true }
            return (filter.since.map { delivered >= $0 } ?? true) && (filter.until.map { delivered < $0 } ?? true)
        }.sorted()
        var needed = Set(evidence.listedLogs)
        for object in evidence.digests {
            guard case .success(let digest) = object.content else { continue }
            for file in digest.logFiles { needed.insert(IntegrityAudit.layoutKey(of: file.key)) }
        }
        let wanted = needed.sorted()
        let observed = Mutex([String: LogObservation]())
        forEach(wanted.count) { index, worker in
            let key = wanted[index]
            let observation: LogObservation
            if let place = listing.logs[key] {
                observation = worker.hash(place)
            } else if case .s3(let bucket, let prefix)? = listing.root {
                // Named by a digest but not listed (delivered outside the listed days): ask for it.
                observation = worker.hash(.s3(bucket: bucket, key: prefix + key))
            } else {
                observation = LogObservation(location: key, content: .missing)
            }
            observed.withLock { $0[key] = observation }
        }
        evidence.logs = observed.withLock { $0 }
        return evidence
    }

    // MARK: - Listing

    private func walk(_ root: LocalPath, into listing: inout Listing, evidence: inout Evidence) {
        var stack = [root]
        while let path = stack.popLast() {
            var info = stat()
            guard path.withCString({ lstat($0, &info) }) == 0 else {
                evidence.failures.append((path.name, SystemError(errno: errno).description))
                continue
            }
            switch info.st_mode & S_IFMT {
            case S_IFDIR:
                do {
                    for name in try path.entries().reversed() { stack.append(path.appending(name)) }
                } catch {
                    evidence.failures.append((path.name, error.description))
                }
            case S_IFREG:
                let name = path.name
                guard name.hasSuffix(".json.gz") || name.hasSuffix(".json") else { continue }
                let key = IntegrityAudit.layoutKey(of: name)
                guard key.hasPrefix("AWSLogs/"), wanted(key) else { continue }
                if key.contains("/CloudTrail-Digest/") {
                    listing.digests[key] = .file(path)
                } else if key.contains("/CloudTrail/") {
                    listing.logs[key] = .file(path)
                }
            default:
                continue  // links and special files are not part of a trail's layout
            }
        }
    }

    private func listS3(_ input: String, into listing: inout Listing, evidence: inout Evidence) {
        let rest = input.dropFirst(5)
        let bucket = String(rest.prefix { $0 != "/" })
        let prefix = String(rest.dropFirst(bucket.count + 1))
        guard let s3 else { return }
        let client: S3Client
        do { client = try s3.makeClient() } catch {
            evidence.failures.append((input, error.description))
            return
        }
        var plan = ListingPlan(bucket: bucket, prefix: prefix, filter: filter, includeDigests: true)
        while !plan.isFinished {
            while let task = plan.takeTask() {
                do throws(S3Error) {
                    let page = try s3.retry.run { () throws(S3Error) in try client.list(task) }
                    plan.complete(task, page: page)
                } catch {
                    plan.abandon(task, error: error)
                }
            }
            while let item = plan.takeItem() {
                switch item {
                case .object(let bucket, let key, _):
                    let layout = IntegrityAudit.layoutKey(of: key)
                    guard wanted(layout) else { continue }
                    if listing.root == nil, key.hasSuffix(layout) {
                        listing.root = .s3(bucket: bucket, key: String(key.dropLast(layout.count)))
                    }
                    if layout.contains("/CloudTrail-Digest/") {
                        listing.digests[layout] = .s3(bucket: bucket, key: key)
                    } else if layout.contains("/CloudTrail/") {
                        listing.logs[layout] = .s3(bucket: bucket, key: key)
                    }
                case .failed(_, let failedPrefix, let error):
                    evidence.failures.append(("s3://\(bucket)/\(failedPrefix)", error.description))
                }
            }
        }
        if listing.root == nil { listing.root = .s3(bucket: bucket, key: prefix.isEmpty || prefix.hasSuffix("/") ? prefix : prefix + "/") }
        evidence.requests += plan.requests
    }

    /// `--account` and `--region`, from a layout key (`AWSLogs/[o-org/]account/CloudTrail[-Digest]/region/…`).
    private func wanted(_ key: String) -> Bool {
        let parts = key.split(separator: "/")
        guard let folder = parts.firstIndex(where: { $0 == "CloudTrail" || $0 == "CloudTrail-Digest" }), folder >= 2, folder + 1 < parts.count else {
            return true
        }
        let account = String(parts[folder - 1]), region = String(parts[folder + 1])
        return (filter.accounts.isEmpty || filter.accounts.contains(account)) && (filter.regions.isEmpty || filter.regions.contains(region))
    }

    // MARK: - Reading

    /// Runs `body` for indexes 0..<count on `jobs` threads, each with its own reader.
    private func forEach(_ count: Int, _ body: @Sendable (Int, Reader) -> Void) {
        let next = Atomic<Int>(0)
        DispatchQueue.concurrentPerform(iterations: max(1, min(jobs, count))) { _ in
            let reader = Reader(collector: self)
            while true {
                let index = next.add(1, ordering: .relaxed).oldValue
                guard index < count else { return }
                body(index, reader)
            }
        }
    }

    /// One thread's decoder, hasher and S3 client.
    private final class Reader {
        let collector: EvidenceCollector
        let hasher: ContentHasher
        private var client: S3Client?
        private var clientError: S3Error?
        private var buffer = [UInt8](repeating: 0, count: 1 << 18)
        /// A whole file, for the fast path.
        private var whole: [UInt8] = []

        init(collector: EvidenceCollector) {
            self.collector = collector
            hasher = ContentHasher(outputLimit: collector.maximumObjectBytes)
        }

        private func s3() throws(S3Error) -> S3Client {
            if let client { return client }
            if let clientError { throw clientError }
            guard let settings = collector.s3 else { throw S3Error(kind: .badResponse("no S3 settings"), resource: "s3") }
            do {
                let made = try settings.makeClient()
                client = made
                return made
            } catch {
                clientError = error
                throw error
            }
        }

        /// Streams a file's bytes to `body`; the S3 object's metadata, if any.
        private func read(_ place: Place, _ body: (UnsafeRawBufferPointer) throws(GzipError) -> Void) throws(ReadFailure) -> [String: String] {
            switch place {
            case .file(let path):
                let fd = path.withCString { open($0, O_RDONLY | O_CLOEXEC) }
                guard fd >= 0 else { throw errno == ENOENT ? .missing : .failed(SystemError(errno: errno).description) }
                defer { close(fd) }
                while true {
                    let count = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
                    if count < 0 {
                        if errno == EINTR { continue }
                        throw .failed(SystemError(errno: errno).description)
                    }
                    if count == 0 { return [:] }
                    let failure: GzipError? = buffer.withUnsafeBytes { raw in
                        do throws(GzipError) {
                            try body(UnsafeRawBufferPointer(rebasing: raw[..<count]))
                            return nil
                        } catch {
                            return error
                        }
                    }
                    if let failure { throw .corrupt(failure.description) }
                }
            case .s3(let bucket, let key):
                guard let retry = collector.s3?.retry else { throw .failed("no S3 settings") }
                var failure: GzipError?
                let metadata: [String: String]
                do throws(S3Error) {
                    metadata = try retry.run { () throws(S3Error) in
                        failure = nil
                        return try s3().getObject(bucket: bucket, key: key) { chunk in
                            do throws(GzipError) { try body(chunk) } catch { failure = error }
                            return failure == nil
                        }.metadata
                    }
                } catch {
                    if case .noSuchKey = error.kind { throw .missing }
                    throw .failed(error.description)
                }
                if let failure { throw .corrupt(failure.description) }
                return metadata
            }
        }

        private enum ReadFailure: Error {
            case missing
            /// I/O or S3: nothing is known of the content.
            case failed(String)
            /// The bytes arrived but do not decode (gzip): not the content that was hashed.
            case corrupt(String)
        }

        func hash(_ place: Place) -> LogObservation {
            if case .file(let path) = place, let observation = hashWhole(path) { return observation }
            hasher.reset()
            do throws(ReadFailure) {
                _ = try read(place) { (chunk) throws(GzipError) in try hasher.update(chunk) }
                do throws(GzipError) {
                    return LogObservation(location: place.name, content: .hashed(try hasher.finish()))
                } catch {
                    return LogObservation(location: place.name, content: .corrupt(error.description))
                }
            } catch {
                switch error {
                case .missing: return LogObservation(location: place.name, content: .missing)
                case .failed(let reason): return LogObservation(location: place.name, content: .unreadable(reason))
                case .corrupt(let reason): return LogObservation(location: place.name, content: .corrupt(reason))
                }
            }
        }

        /// A local file small enough to hold whole: read in one piece and hashed on the fast path; `nil`
        /// for a larger one (streamed instead).
        private func hashWhole(_ path: LocalPath) -> LogObservation? {
            let fd = path.withCString { open($0, O_RDONLY | O_CLOEXEC) }
            guard fd >= 0 else { return nil }  // the streaming path names the error
            defer { close(fd) }
            var info = stat()
            guard fstat(fd, &info) == 0, info.st_size <= ContentHasher.wholeInputLimit else { return nil }
            let size = Int(info.st_size)
            if whole.count < size + 1 { whole = [UInt8](repeating: 0, count: max(size + 1, 2 * whole.count)) }
            var held = 0
            while true {
                let count = whole.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress! + held, $0.count - held) }
                if count < 0 {
                    if errno == EINTR { continue }
                    return LogObservation(location: path.name, content: .unreadable(SystemError(errno: errno).description))
                }
                if count == 0 { break }
                held += count
                guard held < whole.count else { return nil }  // it grew while being read: stream it
            }
            let hasher = hasher
            return whole.withUnsafeBytes { raw in
                do throws(GzipError) {
                    return LogObservation(location: path.name, content: .hashed(try hasher.hash(whole: UnsafeRawBufferPointer(rebasing: raw[..<held]))))
                } catch {
                    return LogObservation(location: path.name, content: .corrupt(error.description))
                }
            }
        }

        func readDigest(at place: Place, layoutKey: String) -> DigestObject {
            let decoder = GzipDecoder(outputLimit: 64 << 20)
            let window = ByteWindow(initialCapacity: 1 << 16, maximumCapacity: 1 << 16)
            var content: [UInt8] = []
            func drain() {
                window.withReadableBytes { content.append(contentsOf: $0) }
                window.moveReaderIndex(forwardBy: window.readableCount)
            }
            var signature: String?
            do throws(ReadFailure) {
                let metadata = try read(place) { (chunk) throws(GzipError) in
                    var rest = chunk
                    repeat {
                        let used = try decoder.decode(rest, into: window)
                        rest = UnsafeRawBufferPointer(rebasing: rest[used...])
                        drain()
                    } while !rest.isEmpty || decoder.mayHaveBufferedOutput
                }
                signature = metadata["signature"]
                do { try decoder.finish() } catch {
                    return DigestObject(location: place.name, layoutKey: layoutKey, content: .failure(.invalid(error.description)), signature: nil)
                }
            } catch {
                let problem: DigestObject.Problem = switch error {
                case .missing: .unreadable("it disappeared while being read")
                case .failed(let reason): .unreadable(reason)
                case .corrupt(let reason): .invalid(reason)
                }
                return DigestObject(location: place.name, layoutKey: layoutKey, content: .failure(problem), signature: nil)
            }
            if case .file(let path) = place { signature = Self.sidecar(path) }
            let parsed: Result<CloudTrailDigest, DigestObject.Problem>
            do { parsed = .success(try CloudTrailDigest(parsing: content)) } catch { parsed = .failure(.invalid(error.reason)) }
            return DigestObject(location: place.name, layoutKey: layoutKey, content: parsed, signature: signature)
        }

        /// The hex signature in `<digest>.signature`, when there is one.
        private static func sidecar(_ path: LocalPath) -> String? {
            let sidecar = LocalPath(bytes: path.bytes + Array(".signature".utf8))
            guard let text = try? String(contentsOfFile: sidecar.name, encoding: .utf8) else { return nil }
            let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
            return trimmed.isEmpty ? nil : trimmed
        }
    }
}
