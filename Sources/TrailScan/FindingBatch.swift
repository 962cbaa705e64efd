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
    /// The records of the object that windowed rules count, in record order.
    public var observations: [Observation] = []

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
        observations = []
    }

    /// Moves what is held to the file.
    private mutating func spillHeld() throws(ObjectFailure) {
        if spill == nil { spill = try SpillFile() }
        var bytes: [UInt8] = []
        func length(_ value: Int) { for shift in 0..<4 { bytes.append(UInt8(truncatingIfNeeded: value >> (8 * shift))) } }
        for finding in held {
            let json = FindingCodec.json(finding)
            length(json.count)
            bytes.append(contentsOf: json)
            length(finding.record.count)
            bytes.append(contentsOf: finding.record)
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
        if let spill {
            var json: [UInt8]?
            try spill.forEachRecord { (bytes: [UInt8]) throws(ObjectFailure) in
                guard let text = json else { return json = bytes }
                json = nil
                // What this process wrote itself: it decodes, or the file was changed under it.
                guard let finding = try? FindingCodec.finding(json: text, record: bytes) else { throw ObjectFailure.spill(errno: EIO) }
                body(finding)
            }
        }
        held.forEach(body)
    }
}

/// An unlinked temporary file (mode 0600, gone when the last reference is) that bytes are appended to
/// and read back from: an object's findings that outgrew memory, alerts waiting to be sorted.
///
/// Sendable as an immutable descriptor: whoever fills it only appends (`write`), and reads (`pread`)
/// start once it has been handed over, never at the same time.
public final class SpillFile: Sendable {
    private let fd: Int32

    public init() throws(ObjectFailure) {
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

    /// Appends `bytes`; returns the offset they start at.
    @discardableResult
    public func append(_ bytes: [UInt8]) throws(ObjectFailure) -> Int64 {
        let start = Int64(lseek(fd, 0, SEEK_END))
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
        return start
    }

    /// `count` bytes from `offset`.
    public func read(at offset: Int64, count: Int) throws(ObjectFailure) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        var done = 0
        var failure: Int32 = 0
        bytes.withUnsafeMutableBytes { buffer in
            while done < count {
                let n = pread(fd, buffer.baseAddress! + done, count - done, off_t(offset) + off_t(done))
                if n < 0 && errno == EINTR { continue }
                guard n > 0 else {
                    failure = n == 0 ? EIO : errno
                    return
                }
                done += n
            }
        }
        if failure != 0 { throw .spill(errno: failure) }
        return bytes
    }

    /// Reads back each length-prefixed record in order.
    func forEachRecord(_ body: ([UInt8]) throws(ObjectFailure) -> Void) throws(ObjectFailure) {
        var offset: Int64 = 0
        let end = Int64(lseek(fd, 0, SEEK_END))
        while offset < end {
            let prefix = try read(at: offset, count: 4)
            let length = (0..<4).reduce(0) { $0 | Int(prefix[$1]) << (8 * $1) }
            try body(try read(at: offset + 4, count: length))
            offset += 4 + Int64(length)
        }
    }
}
