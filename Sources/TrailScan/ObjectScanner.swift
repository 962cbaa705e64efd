internal import Crypto
internal import Glibc
internal import TrailBytes
internal import TrailEvents
internal import TrailGzip
internal import TrailMatch
internal import TrailS3
internal import TrailSigV4

/// One worker's machinery: reads an object, decodes it, cuts it into records, filters, matches,
/// suppresses, and turns each alert into a `Finding` in the object's batch. Everything here is owned by
/// one thread and reused from one object to the next, so the steady state allocates nothing per record
/// that matches no rule.
final class ObjectScanner {
    private let configuration: ScanConfiguration
    private let shared: ScanResources
    private let decoder: GzipDecoder
    private let window: ByteWindow
    private let splitter = RecordSplitter()
    private let matcher: RecordMatcher
    /// The fast path for small local gzip objects (nil if libdeflate could not allocate).
    private let inflater = WholeGzipInflater()
    /// A small object read whole (reused; `wholeObjectLimit` bytes).
    private let whole: UnsafeMutableRawBufferPointer
    /// Local objects up to this size are read whole and inflated with libdeflate when possible.
    static let wholeObjectLimit = 4 << 20
    /// The fast path declines objects that would decode to more than this (they stream, bounded).
    static let wholeOutputLimit = 16 << 20
    /// S3 bodies up to this size are held whole and go to the fast path; longer ones stream.
    static let wholeS3BodyLimit = 1 << 20
    /// An S3 body held whole (`bodyBytesKept` bytes, grown up to `wholeS3BodyLimit` for a larger body
    /// and shrunk back after it, so that the many S3 workers do not each keep a megabyte).
    private var body: UnsafeMutableRawBufferPointer
    private static let bodyBytesKept = 256 << 10
    private let input: UnsafeMutableRawBufferPointer
    private var matches: [Int] = []
    /// Whether objects are hashed as they are inflated (`scan --verify`), and the hash of the object
    /// being read: of every byte the decoder has put in the window.
    private let hashesContent: Bool
    private var contentHash = SHA256()
    /// The window capacity kept from one object to the next (more is given back after a large object).
    private let retainedWindowBytes: Int
    /// This worker's S3 client (for GETs, and for the listing tasks the worker takes on).
    let s3: WorkerS3Client
    /// Room in the window beyond the largest record, for the separators and whitespace around it; the
    /// limit itself is checked on each record's length.
    private static let windowSlack = 4096
    /// How much decoded data to ask for per decode step.
    private static let decodeStep = 256 << 10
    private static let readSize = 256 << 10

    init(configuration: ScanConfiguration, shared: ScanResources) {
        self.configuration = configuration
        self.shared = shared
        s3 = WorkerS3Client(configuration.s3)
        decoder = GzipDecoder(outputLimit: configuration.maximumObjectBytes)
        // The fast path's memory shared out among the workers, from 256 KiB (sixty-odd S3 workers) to
        // 8 MiB (one per core on local files).
        retainedWindowBytes = min(8 << 20, max(256 << 10, shared.fastPathMemory.total / configuration.workerCount))
        window = ByteWindow(
            initialCapacity: min(1 << 20, retainedWindowBytes, configuration.maximumRecordBytes),
            maximumCapacity: configuration.maximumRecordBytes + Self.windowSlack)
        input = .allocate(byteCount: Self.readSize, alignment: 16)
        whole = .allocate(byteCount: Self.wholeObjectLimit, alignment: 16)
        body = .allocate(byteCount: Self.bodyBytesKept, alignment: 16)
        matcher = shared.matcher
        hashesContent = shared.verification != nil
        matches.reserveCapacity(16)
    }

    deinit {
        input.deallocate()
        whole.deallocate()
        body.deallocate()
    }

    /// Scans one object. Findings go to `findings` in record order, counts to `statistics` (with the
    /// content's hash, when hashing and read to its end). Findings made before an error are kept: a log
    /// truncated in its last record still reports the records before it.
    ///
    /// - Returns: the error that ended the object early, if any.
    func scan(_ object: ObjectRef, findings: inout FindingBatch, statistics: inout ObjectStatistics) -> ObjectFailure? {
        contentHash = SHA256()
        let failure = scanObject(object, findings: &findings, statistics: &statistics)
        if hashesContent && failure == nil { statistics.contentHash = SigV4Signer.hex(contentHash.finalize()) }
        return failure
    }

    /// Hashes the bytes the decoder has just added to the window: its last `count` readable bytes.
    private func hashDecoded(_ count: Int) {
        guard hashesContent, count > 0 else { return }
        window.withReadableBytes { contentHash.update(bufferPointer: UnsafeRawBufferPointer(rebasing: $0[($0.count - count)...])) }
    }

    private func scanObject(_ object: ObjectRef, findings: inout FindingBatch, statistics: inout ObjectStatistics) -> ObjectFailure? {
        decoder.reset()
        splitter.reset()
        window.reset(keepingCapacity: retainedWindowBytes)
        let fd: Int32
        /// The open file's status, `nil` for standard input.
        var info: stat?
        switch object {
        case .standardInput:
            fd = STDIN_FILENO
            splitter.acceptsConcatenatedDocuments = true  // cat *.json.gz | trailscan scan -
        case .file(let path):
            fd = path.withCString { open($0, O_RDONLY | O_CLOEXEC) }
            if fd < 0 { return .io(errno: errno) }
            var status = stat()
            if fstat(fd, &status) == 0 {
                info = status
                statistics.version = ObjectVersion(status)
            }
        case .s3(let bucket, let key):
            return scanS3(object, bucket: bucket, key: key, findings: &findings, statistics: &statistics)
        }
        defer { if fd != STDIN_FILENO { close(fd) } }

        if let info, let small = readWhole(fd, info) {
            return scanWhole(small, object: object, findings: &findings, statistics: &statistics)
        }
        let result: ObjectFailure?
        do {
            while true {
                let count = read(fd, input.baseAddress, input.count)
                if count < 0 {
                    if errno == EINTR { continue }
                    throw ObjectFailure.io(errno: errno)
                }
                if count == 0 { break }
                try feed(UnsafeRawBufferPointer(rebasing: input[..<count]), object: object, findings: &findings, statistics: &statistics)
            }
            do { try decoder.finish() } catch { throw ObjectFailure.gzip(error) }
            try drain(isFinal: true, object: object, findings: &findings, statistics: &statistics)
            result = nil
        } catch let error as ObjectFailure {
            result = error
        } catch {
            preconditionFailure("unexpected error \(error)")
        }
        statistics.compressedBytes += Int64(decoder.bytesIn)
        statistics.uncompressedBytes += Int64(decoder.bytesOut)
        return result
    }

    /// Reads a regular file of at most `wholeObjectLimit` bytes whole; `nil` for larger or other files
    /// (or on a read error: the streaming path then reports it).
    private func readWhole(_ fd: Int32, _ info: stat) -> UnsafeRawBufferPointer? {
        // A size of 0 may be a file that is not empty (procfs, sysfs): read it as a stream.
        guard info.st_mode & S_IFMT == S_IFREG, info.st_size > 0, info.st_size <= Self.wholeObjectLimit else { return nil }
        var count = 0
        while count < Int(info.st_size) {
            let n = read(fd, whole.baseAddress! + count, whole.count - count)
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { break }
            count += n
        }
        guard count == Int(info.st_size) else { return nil }
        return UnsafeRawBufferPointer(rebasing: whole[..<count])
    }

    /// A small object in memory: libdeflate into the window when it can (and `FastPathMemory` has room
    /// for its output); otherwise the streaming path on the same bytes, which decides every error and
    /// limit.
    private func scanWhole(_ bytes: UnsafeRawBufferPointer, object: ObjectRef, findings: inout FindingBatch, statistics: inout ObjectStatistics) -> ObjectFailure? {
        let limit = min(configuration.maximumObjectBytes, Self.wholeOutputLimit)
        let room = WholeGzipInflater.outputRoom(for: bytes, outputLimit: limit)
        if let inflater, shared.fastPathMemory.take(room) {
            defer {
                window.reset(keepingCapacity: retainedWindowBytes)
                shared.fastPathMemory.give(room)
            }
            if let produced = inflater.inflate(bytes, into: window, outputLimit: room) {
                hashDecoded(produced)
                statistics.compressedBytes += Int64(bytes.count)
                statistics.uncompressedBytes += Int64(produced)
                do { try drain(isFinal: true, object: object, findings: &findings, statistics: &statistics) } catch { return error }
                return nil
            }
        }
        window.reset(keepingCapacity: retainedWindowBytes)
        let result: ObjectFailure?
        do throws(ObjectFailure) {
            var offset = 0
            repeat {
                let end = min(offset + Self.readSize, bytes.count)
                try feed(UnsafeRawBufferPointer(rebasing: bytes[offset..<end]), object: object, findings: &findings, statistics: &statistics)
                offset = end
            } while offset < bytes.count
            do { try decoder.finish() } catch { throw ObjectFailure.gzip(error) }
            try drain(isFinal: true, object: object, findings: &findings, statistics: &statistics)
            result = nil
        } catch {
            result = error
        }
        statistics.compressedBytes += Int64(decoder.bytesIn)
        statistics.uncompressedBytes += Int64(decoder.bytesOut)
        return result
    }

    /// Scans an S3 object. A body of at most `wholeS3BodyLimit` bytes is held whole and goes to the
    /// fast path once it has arrived complete; a longer one streams into the decoder as it arrives. A
    /// failed attempt that is worth retrying (see `RetryPolicy`) starts over from the first byte; what
    /// the failed attempt found is discarded, so no alert is reported twice.
    ///
    /// - Precondition: `findings` and `statistics` are empty (a new object).
    private func scanS3(_ object: ObjectRef, bucket: String, key: String, findings: inout FindingBatch, statistics: inout ObjectStatistics) -> ObjectFailure? {
        guard let settings = configuration.s3 else { return .s3(S3Error(kind: .other, message: "no S3 settings", resource: "s3://\(bucket)/\(key)")) }
        defer { resizeBody(to: Self.bodyBytesKept, keeping: 0) }
        var attempt = 0
        while true {
            attempt += 1
            decoder.reset()
            splitter.reset()
            window.reset(keepingCapacity: retainedWindowBytes)
            contentHash = SHA256()
            findings.removeAll()
            statistics = ObjectStatistics()
            var result: ObjectFailure?
            do throws(ObjectFailure) {
                let body = try fetch(object, bucket: bucket, key: key, findings: &findings, statistics: &statistics)
                if case .whole(let count) = body {
                    // Complete and checked against Content-Length: decoding it cannot call for a retry.
                    return scanWhole(UnsafeRawBufferPointer(rebasing: self.body[..<count]), object: object, findings: &findings, statistics: &statistics)
                }
                do { try decoder.finish() } catch { throw ObjectFailure.gzip(error) }
                try drain(isFinal: true, object: object, findings: &findings, statistics: &statistics)
            } catch {
                if case .s3(let s3Error) = error, let delay = settings.retry.delay(after: attempt, error: s3Error) {
                    usleep(useconds_t(delay * 1_000_000))
                    continue
                }
                result = error
            }
            // Final: keep what this attempt found (alerts of complete records survive a later failure).
            statistics.compressedBytes += Int64(decoder.bytesIn)
            statistics.uncompressedBytes += Int64(decoder.bytesOut)
            return result
        }
    }

    /// Where an S3 body went.
    private enum FetchedBody {
        /// Held whole in the first `count` bytes of `body`, not decoded yet.
        case whole(count: Int)
        /// Decoded as it arrived (records drained to the output; the decoder is not finished).
        case streamed
    }

    /// GETs the object: holds the body in `body` while it fits in `wholeS3BodyLimit`, then streams it
    /// (what was held first) into the decoder. A decoding error stops the transfer and is thrown as it is.
    private func fetch(
        _ object: ObjectRef, bucket: String, key: String, findings: inout FindingBatch, statistics: inout ObjectStatistics
    ) throws(ObjectFailure) -> FetchedBody {
        var decodeError: ObjectFailure?
        let limiter = shared.fetchLimiter
        limiter.acquire()
        let start = ContinuousClock.now
        var latency: Double?
        var throttled = false
        defer { limiter.release(latency: latency, throttled: throttled) }
        var held = 0
        var streaming = false
        do throws(S3Error) {
            statistics.version = try s3.client().getObject(bucket: bucket, key: key) { chunk in
                if latency == nil { latency = Self.seconds(ContinuousClock.now - start) }
                if !streaming {
                    if held + chunk.count <= Self.wholeS3BodyLimit {
                        if held + chunk.count > body.count {
                            resizeBody(to: min(Self.wholeS3BodyLimit, max(2 * body.count, held + chunk.count)), keeping: held)
                        }
                        // Safe: held + chunk.count <= body.count.
                        UnsafeMutableRawBufferPointer(rebasing: body[held..<(held + chunk.count)]).copyMemory(from: chunk)
                        held += chunk.count
                        return true
                    }
                    streaming = true
                }
                do throws(ObjectFailure) {
                    if held > 0 {
                        try feed(UnsafeRawBufferPointer(rebasing: body[..<held]), object: object, findings: &findings, statistics: &statistics)
                        held = 0
                    }
                    try feed(chunk, object: object, findings: &findings, statistics: &statistics)
                    return true
                } catch {
                    decodeError = error
                    return false
                }
            }.etag.map(ObjectVersion.etag)
        } catch {
            if case .unavailable = error.kind { throttled = true }
            throw .s3(error)
        }
        if let decodeError { throw decodeError }
        return streaming ? .streamed : .whole(count: held)
    }

    /// Reallocates `body` with room for `count` bytes, keeping its first `kept` bytes; a no-op if it
    /// already has that size.
    private func resizeBody(to count: Int, keeping kept: Int) {
        guard body.count != count else { return }
        let resized = UnsafeMutableRawBufferPointer.allocate(byteCount: count, alignment: 16)
        resized.copyMemory(from: UnsafeRawBufferPointer(rebasing: body[..<kept]))
        body.deallocate()
        body = resized
    }

    private static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) * 1e-18
    }

    /// Decodes one chunk of input, draining complete records whenever the window has new bytes.
    private func feed(
        _ chunk: UnsafeRawBufferPointer, object: ObjectRef, findings: inout FindingBatch, statistics: inout ObjectStatistics
    ) throws(ObjectFailure) {
        if shared.cancellation.isCancelled { throw .interrupted }
        var rest = chunk
        repeat {
            let room = min(Self.decodeStep, window.maximumCapacity - window.readableCount)
            guard room > 0 else { throw .recordTooLarge(limit: configuration.maximumRecordBytes) }
            do { try window.reserveWritable(room) } catch { throw .recordTooLarge(limit: configuration.maximumRecordBytes) }
            let used: Int
            let held = window.readableCount
            do { used = try decoder.decode(rest, into: window) } catch { throw .gzip(error) }
            hashDecoded(window.readableCount - held)
            rest = UnsafeRawBufferPointer(rebasing: rest[used...])
            try drain(isFinal: false, object: object, findings: &findings, statistics: &statistics)
        } while !rest.isEmpty || decoder.mayHaveBufferedOutput
    }

    private func drain(isFinal: Bool, object: ObjectRef, findings: inout FindingBatch, statistics: inout ObjectStatistics) throws(ObjectFailure) {
        let filter = configuration.filter
        let rules = configuration.rules
        let matcher = matcher
        let suppressions = configuration.suppressions
        let recordLimit = configuration.maximumRecordBytes
        let delivered = CloudTrailKey(path: object.name).map(\.deliveryTime)
        var failure: ObjectFailure?
        do throws(CloudTrailFormatError) {
            try splitter.drain(window, isFinal: isFinal) { record in
                guard failure == nil else { return }
                guard record.bytes.count <= recordLimit else {
                    failure = .recordTooLarge(limit: recordLimit)
                    return
                }
                let eventTime = record.eventTimeSeconds
                guard filter.accepts(record, eventTime: eventTime) else {
                    statistics.recordsFilteredOut += 1
                    if eventTime == nil && filter.hasTimeWindow { statistics.recordsWithoutTime += 1 }
                    return
                }
                statistics.records += 1
                if let eventTime { statistics.noteEventTime(eventTime) }
                matches.removeAll(keepingCapacity: true)
                matcher.evaluate(record, into: &matches)
                guard !matches.isEmpty else { return }
                var bytes: [UInt8]?  // copied once, shared by the record's findings
                for index in matches {
                    let entry = rules.entries[index]
                    let rule = rules.rules[entry.rule]
                    if let role = entry.role, let window = rule.window {
                        guard !suppressions.suppresses(ruleID: rule.id, record: record) else {
                            statistics.recordsSuppressedByRule[rule.id, default: 0] += 1
                            continue
                        }
                        guard let eventTime, let eventID = record.string(.eventID) else {
                            statistics.noteUnjudged(rule.id, record, "no eventID or no RFC 3339 eventTime to place it in time")
                            continue
                        }
                        // A record without the key's fields belongs to no group: it cannot count.
                        guard let key = window.key(of: record, role: role) else { continue }
                        var finding: Finding?
                        if Observation.keepsFinding(window, role) {
                            if bytes == nil { bytes = Array(record.bytes) }
                            finding = Finding(rule: rule, record: record, bytes: bytes!, object: object)
                        }
                        findings.observations.append(Observation(
                            ruleID: rule.id, role: role, key: key, member: window.member.flatMap { Window.value(at: $0, in: record) },
                            eventTime: eventTime, eventID: eventID, delivered: delivered, account: record.string(.recipientAccountId),
                            region: record.string(.awsRegion), sourceIPAddress: record.string(.sourceIPAddress),
                            principalType: record.string(.userIdentityType), userName: record.string(.userIdentityUserName),
                            object: object, finding: finding))
                        continue
                    }
                    var detail: String?, severity: Severity?
                    if let check = rule.check {
                        switch check.evaluate(record) {
                        case .pass: continue
                        case .alert(let found, let level): (detail, severity) = (found, level)
                        case .unreadable(let reason):
                            statistics.noteUnjudged(rule.id, record, reason)
                            continue
                        }
                    }
                    if suppressions.suppresses(ruleID: rule.id, record: record) {
                        statistics.suppressedByRule[rule.id, default: 0] += 1
                        continue
                    }
                    if bytes == nil { bytes = Array(record.bytes) }
                    do throws(ObjectFailure) {
                        try findings.append(Finding(rule: rule, record: record, bytes: bytes!, object: object, detail: detail, severity: severity))
                    } catch {
                        failure = error
                        return
                    }
                }
            }
        } catch {
            throw .format(error)
        }
        if let failure { throw failure }
    }
}

@available(*, unavailable)
extension ObjectScanner: Sendable {}

/// One thread's S3 client, made on first use (a worker that only reads local files never makes one).
final class WorkerS3Client {
    private let settings: S3Settings?
    private var made: S3Client?

    init(_ settings: S3Settings?) {
        self.settings = settings
    }

    func client() throws(S3Error) -> S3Client {
        if let made { return made }
        guard let settings else { throw S3Error(kind: .other, message: "no S3 settings", resource: "s3") }
        let client = try settings.makeClient()
        made = client
        return client
    }
}

@available(*, unavailable)
extension WorkerS3Client: Sendable {}
