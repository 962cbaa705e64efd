internal import Glibc
internal import TrailMatch

/// One object's findings, in record order: held in memory up to a budget, and past it appended to an
/// unlinked temporary file (mode 0600, gone when the batch is), so that a hostile object of huge
/// records matching many rules costs disk, not memory, while it waits for its turn to be written out.
///
/// Made and filled by one worker, then handed whole to the consumer, which reads it once.
public struct FindingBatch: Sendable {
    private var held: [Finding] = []
    private var heldBytes = 0
    private let budget: Int
    private var spill: SpillFile?
    public private(set) var count = 0

    /// - Parameter budget: bytes of findings kept in memory before they go to the file.
    init(budget: Int) {
        self.budget = budget
    }

    public var isEmpty: Bool { count == 0 }

    mutating func append(_ finding: Finding) throws(ObjectFailure) {
        held.append(finding)
        heldBytes += finding.footprint
        count += 1
        if heldBytes > budget { try spillHeld() }
    }

    /// Forgets every finding (a failed attempt of an S3 GET, about to start over).
    mutating func removeAll() {
        held.removeAll()
        heldBytes = 0
        spill = nil
        count = 0
    }

    /// Moves what is held to the file.
    private mutating func spillHeld() throws(ObjectFailure) {
        if spill == nil { spill = try SpillFile() }
        var bytes: [UInt8] = []
        for finding in held {
            let start = bytes.count
            bytes.append(contentsOf: [0, 0, 0, 0])
            FindingCodec.encode(finding, to: &bytes)
            let length = UInt32(bytes.count - start - 4)
            for shift in 0..<4 { bytes[start + shift] = UInt8(truncatingIfNeeded: length >> (8 * shift)) }
        }
        try spill!.append(bytes)
        held.removeAll(keepingCapacity: false)
        heldBytes = 0
    }

    /// Calls `body` with each finding in order: those in the file first (they came first), then those
    /// held.
    ///
    /// - Throws: `ObjectFailure.spill` when the file cannot be read back.
    public func forEach(_ body: (Finding) -> Void) throws(ObjectFailure) {
        if let spill { try spill.forEachRecord { body(FindingCodec.decode($0)) } }
        held.forEach(body)
    }
}

/// An unlinked temporary file that findings are appended to and read back from once.
///
/// Sendable as an immutable descriptor: the worker that fills a batch only appends (`write`), and reads
/// (`pread`) start once the batch has been handed over, never at the same time.
final class SpillFile: Sendable {
    private let fd: Int32

    init() throws(ObjectFailure) {
        var template = Array((Self.directory + "/trailscan-findings-XXXXXX").utf8CString)
        let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }  // mode 0600
        guard fd >= 0 else { throw .spill(errno: errno) }
        _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        template.withUnsafeBufferPointer { _ = unlink($0.baseAddress!) }
        self.fd = fd
    }

    deinit { close(fd) }

    private static var directory: String {
        if let tmp = getenv("TMPDIR"), tmp.pointee != 0 { return String(cString: tmp) }
        return "/tmp"
    }

    func append(_ bytes: [UInt8]) throws(ObjectFailure) {
        var failure: Int32 = 0
        bytes.withUnsafeBytes { buffer in
            var offset = 0
            while offset < buffer.count {
                let written = write(fd, buffer.baseAddress! + offset, buffer.count - offset)
                if written < 0 {
                    if errno == EINTR { continue }
                    failure = errno
                    return
                }
                offset += written
            }
        }
        if failure != 0 { throw .spill(errno: failure) }
    }

    /// Reads back each length-prefixed record in order.
    func forEachRecord(_ body: ([UInt8]) -> Void) throws(ObjectFailure) {
        var offset: off_t = 0
        func read(_ count: Int) throws(ObjectFailure) -> [UInt8] {
            var bytes = [UInt8](repeating: 0, count: count)
            var done = 0
            var failure: Int32 = 0
            bytes.withUnsafeMutableBytes { buffer in
                while done < count {
                    let n = pread(fd, buffer.baseAddress! + done, count - done, offset + off_t(done))
                    if n < 0 && errno == EINTR { continue }
                    guard n > 0 else {
                        failure = n == 0 ? EIO : errno
                        return
                    }
                    done += n
                }
            }
            if failure != 0 { throw .spill(errno: failure) }
            offset += off_t(count)
            return bytes
        }
        let end = lseek(fd, 0, SEEK_END)
        while offset < end {
            let prefix = try read(4)
            let length = (0..<4).reduce(0) { $0 | Int(prefix[$1]) << (8 * $1) }
            body(try read(length))
        }
    }
}

/// A finding as bytes, for the spill file: fields in declaration order, strings as a 4-byte length
/// (0xFFFFFFFF for nil) and UTF-8, integers as 8 little-endian bytes.
enum FindingCodec {
    static func encode(_ f: Finding, to out: inout [UInt8]) {
        func int(_ value: Int64) { for shift in 0..<8 { out.append(UInt8(truncatingIfNeeded: value >> (8 * shift))) } }
        func length(_ value: Int) { for shift in 0..<4 { out.append(UInt8(truncatingIfNeeded: value >> (8 * shift))) } }
        func bytes(_ value: [UInt8]) { length(value.count); out.append(contentsOf: value) }
        func string(_ value: String?) {
            guard let value else { return length(0xFFFF_FFFF) }
            bytes(Array(value.utf8))
        }
        string(f.ruleID); out.append(UInt8(f.severity.rawValue)); string(f.title); string(f.eventID)
        if let time = f.eventTime { out.append(1); int(time) } else { out.append(0) }
        for text in [f.eventTimeText, f.eventSource, f.eventName, f.account, f.region, f.principal.type, f.principal.arn,
                     f.principal.userName, f.sourceIPAddress, f.userAgent, f.loginResult, f.mfaUsed, f.errorCode, f.errorMessage] {
            string(text)
        }
        length(f.targets.count)
        for target in f.targets { string(target.field); string(target.value) }
        switch f.object {
        case .file(let path): out.append(0); bytes(path.bytes)
        case .standardInput: out.append(1)
        case .s3(let bucket, let key): out.append(2); string(bucket); string(key)
        }
        bytes(f.record)
    }

    static func decode(_ data: [UInt8]) -> Finding {
        var at = 0
        func byte() -> UInt8 { defer { at += 1 }; return data[at] }
        func int() -> Int64 { (0..<8).reduce(Int64(0)) { $0 | Int64(byte()) << (8 * $1) } }
        func length() -> Int { (0..<4).reduce(0) { $0 | Int(byte()) << (8 * $1) } }
        func bytes() -> [UInt8] {
            let count = length()
            defer { at += count }
            return Array(data[at..<(at + count)])
        }
        func string() -> String? {
            let count = length()
            guard count != 0xFFFF_FFFF else { return nil }
            defer { at += count }
            return String(decoding: data[at..<(at + count)], as: UTF8.self)
        }
        let ruleID = string()!, severity = Severity(rawValue: Int(byte()))!, title = string()!, eventID = string()
        let eventTime: Int64? = byte() == 1 ? int() : nil
        let texts = (0..<14).map { _ in string() }
        let targets = (0..<length()).map { _ in Finding.Target(field: string()!, value: string()!) }
        let object: ObjectRef
        switch byte() {
        case 0: object = .file(LocalPath(bytes: bytes()))
        case 1: object = .standardInput
        default: object = .s3(bucket: string()!, key: string()!)
        }
        return Finding(
            ruleID: ruleID, severity: severity, title: title, eventID: eventID, eventTime: eventTime, eventTimeText: texts[0],
            eventSource: texts[1], eventName: texts[2], account: texts[3], region: texts[4],
            principal: .init(type: texts[5], arn: texts[6], userName: texts[7]), sourceIPAddress: texts[8], userAgent: texts[9],
            loginResult: texts[10], mfaUsed: texts[11], errorCode: texts[12], errorMessage: texts[13], targets: targets,
            object: object, record: bytes())
    }
}
