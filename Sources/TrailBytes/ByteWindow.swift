/// A reusable byte buffer with a read index and a write index, for a producer that appends bytes
/// (the decoder) and a consumer that takes complete units off the front (the record splitter).
///
///     +------------------+-------------------+-------------------+
///     | consumed bytes   | readable bytes    | writable bytes    |
///     +------------------+-------------------+-------------------+
///     0       <=     readerIndex   <=   writerIndex   <=    capacity   <=   maximumCapacity
///
/// `compact()` moves the readable bytes to the front; `reserveWritable(_:)` compacts and, only when
/// the readable bytes alone fill the buffer, doubles it up to `maximumCapacity`. Peak memory is
/// therefore bounded by the largest unit the consumer waits for, never by the length of the stream.
///
/// A window is owned by one worker and never shared: it is deliberately not `Sendable`.
public final class ByteWindow {
    /// Start of the allocation, `capacity` bytes.
    ///
    /// Invariant: the bytes below `writerIndex` were written by `write` or a `withWritableBytes` body;
    /// those above it may be uninitialized and are only ever handed out to be written. So a new
    /// allocation is not cleared first: clearing it cost a memset and a page fault per page of every
    /// window that grew (many S3 workers grow and shrink theirs around each large object).
    private var storage: UnsafeMutableRawPointer
    public private(set) var capacity: Int
    public private(set) var readerIndex = 0
    public private(set) var writerIndex = 0
    /// The capacity the window never grows beyond; `reserveWritable` throws instead.
    public let maximumCapacity: Int

    /// - Precondition: `0 < initialCapacity <= maximumCapacity`.
    public init(initialCapacity: Int = 1 << 20, maximumCapacity: Int) {
        precondition(initialCapacity > 0 && initialCapacity <= maximumCapacity)
        self.capacity = initialCapacity
        self.maximumCapacity = maximumCapacity
        self.storage = .allocate(byteCount: initialCapacity, alignment: 16)
    }

    deinit {
        storage.deallocate()
    }

    public var readableCount: Int { writerIndex - readerIndex }
    public var writableCount: Int { capacity - writerIndex }

    /// Calls `body` with the readable bytes.
    ///
    /// - warning: Do not let the pointer escape `body`: compaction and growth move the bytes.
    @inlinable
    public func withReadableBytes<R, E: Error>(_ body: (UnsafeRawBufferPointer) throws(E) -> R) throws(E) -> R {
        try body(readableBytes)
    }

    @usableFromInline
    var readableBytes: UnsafeRawBufferPointer {
        // Safe: 0 <= readerIndex <= writerIndex <= capacity, and the bytes below writerIndex are written.
        UnsafeRawBufferPointer(start: storage + readerIndex, count: writerIndex - readerIndex)
    }

    /// Calls `body` with the writable space; `body` returns how many bytes it wrote at its start.
    ///
    /// - warning: Do not let the pointer escape `body`.
    /// - Precondition: `body` returns a count between 0 and the size of the buffer it was given.
    public func withWritableBytes<E: Error>(_ body: (UnsafeMutableRawBufferPointer) throws(E) -> Int) throws(E) {
        let space = UnsafeMutableRawBufferPointer(start: storage + writerIndex, count: capacity - writerIndex)
        let written = try body(space)
        precondition(written >= 0 && written <= space.count, "wrote \(written) bytes into \(space.count)")
        writerIndex += written
    }

    /// Appends `bytes`, growing the window if needed.
    public func write(_ bytes: UnsafeRawBufferPointer) throws(ByteWindowError) {
        try reserveWritable(bytes.count)
        (storage + writerIndex).copyMemory(from: bytes.baseAddress!, byteCount: bytes.count)
        writerIndex += bytes.count
    }

    /// Marks `count` readable bytes as consumed.
    ///
    /// - Precondition: `count <= readableCount`.
    public func moveReaderIndex(forwardBy count: Int) {
        precondition(count >= 0 && count <= readableCount)
        readerIndex += count
        if readerIndex == writerIndex {
            readerIndex = 0
            writerIndex = 0
        }
    }

    /// Moves the readable bytes to the start of the buffer.
    public func compact() {
        guard readerIndex > 0 else { return }
        let count = readableCount
        if count > 0 {
            storage.copyMemory(from: storage + readerIndex, byteCount: count)  // memmove semantics
        }
        readerIndex = 0
        writerIndex = count
    }

    /// Makes at least `minimum` bytes writable, compacting first and then doubling the buffer.
    ///
    /// - Throws: `ByteWindowError` when that would take the window past `maximumCapacity`.
    public func reserveWritable(_ minimum: Int) throws(ByteWindowError) {
        if writableCount >= minimum { return }
        compact()
        if writableCount >= minimum { return }
        let needed = readableCount + minimum
        guard needed <= maximumCapacity else {
            throw ByteWindowError(requested: needed, maximumCapacity: maximumCapacity)
        }
        var newCapacity = capacity
        while newCapacity < needed { newCapacity = min(newCapacity * 2, maximumCapacity) }
        let newStorage = UnsafeMutableRawPointer.allocate(byteCount: newCapacity, alignment: 16)
        newStorage.copyMemory(from: storage, byteCount: writerIndex)
        storage.deallocate()
        storage = newStorage
        capacity = newCapacity
    }

    /// Forgets all bytes; keeps the allocation (up to `keepingCapacity`, to give memory back after one
    /// unusually large object).
    public func reset(keepingCapacity limit: Int = 8 << 20) {
        readerIndex = 0
        writerIndex = 0
        if capacity > limit {
            storage.deallocate()
            capacity = limit
            storage = .allocate(byteCount: limit, alignment: 16)
        }
    }
}

@available(*, unavailable)
extension ByteWindow: Sendable {}

/// A window had to grow past its maximum capacity: one unit (a CloudTrail record) is larger than allowed.
public struct ByteWindowError: Error, Equatable, Sendable {
    /// The capacity that would have been needed.
    public var requested: Int
    public var maximumCapacity: Int

    public init(requested: Int, maximumCapacity: Int) {
        self.requested = requested
        self.maximumCapacity = maximumCapacity
    }
}
