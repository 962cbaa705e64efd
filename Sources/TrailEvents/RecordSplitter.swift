public import TrailBytes
public import TrailJSON

/// Cuts a CloudTrail log object, `{"Records":[{…},{…},…]}`, into records as each one completes in a
/// decode window: the `iterate_many` idea of simdjson, applied to the elements of `Records`.
///
/// The splitter walks the outer object with a small state machine and hands every element of
/// `Records` to the `JSONParser`, which validates it strictly and builds its tape. A record that is
/// not complete yet stays in the window and is parsed again, from its start, once enough bytes have
/// arrived; to keep that linear for huge records, a retry waits until the readable bytes have doubled.
/// So memory is bounded by the largest record, not by the object.
///
/// Other members of the outer object are validated and skipped. The whole object is validated: a
/// syntax error anywhere, even after the last record, fails the object.
///
/// Not `Sendable`: one splitter (and its parser) per worker, reused across objects with `reset()`.
public final class RecordSplitter {
    private let parser: JSONParser

    private enum State: Equatable {
        case start
        /// After `{`: a key or `}`.
        case firstKey
        /// After `,` in the outer object: a key.
        case key
        /// After a key: `:`, then the value of `Records` or of another member.
        case colon(isRecords: Bool)
        case recordsValue
        case otherValue
        /// After `[`: a record or `]`.
        case firstRecord
        /// After `,` in `Records`: a record.
        case record
        /// After a record: `,` or `]`.
        case afterRecord
        /// After a member of the outer object: `,` or `}`.
        case afterMember
        /// After the outer `}`: only whitespace.
        case end
    }
    private var state = State.start
    private var sawRecords = false
    /// Readable bytes to wait for before parsing an incomplete value again (0: no wait).
    private var retryAt = 0

    /// Decoded bytes consumed before the window's reader index: the stream offset of `window[0]`.
    private(set) var streamOffset = 0
    /// Records found in the current object.
    public private(set) var recordCount = 0
    /// Whether another document may follow the first (`cat *.json.gz | trailscan scan -`: gzip members,
    /// or JSON documents, one after another); each must be a CloudTrail log. Set for the next object.
    public var acceptsConcatenatedDocuments = false

    public init(maximumDepth: Int = 512) {
        parser = JSONParser(maximumDepth: maximumDepth)
    }

    /// Prepares for the next object (one document, unless `acceptsConcatenatedDocuments` is set again).
    public func reset() {
        acceptsConcatenatedDocuments = false
        state = .start
        sawRecords = false
        retryAt = 0
        streamOffset = 0
        recordCount = 0
    }

    /// Consumes everything complete at the front of `window`, calling `body` for each record.
    ///
    /// - Parameter isFinal: no more bytes will come; then the object must be complete.
    /// - Throws: `CloudTrailFormatError` for invalid JSON or a document that is not a CloudTrail log.
    ///   Records before the error have been handed to `body`.
    public func drain(
        _ window: ByteWindow,
        isFinal: Bool,
        _ body: (borrowing CloudTrailRecord) -> Void
    ) throws(CloudTrailFormatError) {
        var consumed = 0
        defer {
            window.moveReaderIndex(forwardBy: consumed)
            streamOffset += consumed
        }
        try window.withReadableBytes { (bytes) throws(CloudTrailFormatError) in
            try step(bytes, consumed: &consumed, isFinal: isFinal, body)
        }
        if isFinal {
            guard state == .end else {
                throw .json(JSONError(offset: streamOffset + consumed, reason: .unexpectedEnd))
            }
            guard sawRecords else { throw .noRecords }
        }
    }

    private func step(
        _ bytes: UnsafeRawBufferPointer,
        consumed i: inout Int,
        isFinal: Bool,
        _ body: (borrowing CloudTrailRecord) -> Void
    ) throws(CloudTrailFormatError) {
        let n = bytes.count
        func fail(_ reason: JSONError.Reason, at offset: Int) -> CloudTrailFormatError {
            .json(JSONError(offset: streamOffset + offset, reason: reason))
        }
        while true {
            i = JSONParser.skipWhitespace(bytes, from: i)
            guard i < n else { return }
            let c = bytes[i]
            switch state {
            case .start:
                guard c == 0x7B else {  // {
                    throw isValueStart(c) ? .notAnObject : fail(streamOffset + i == 0 && c == 0xEF ? .byteOrderMark : .unexpectedByte(c), at: i)
                }
                state = .firstKey
                i += 1
            case .firstKey, .key:
                if c == 0x7D {  // }
                    guard state == .firstKey else { throw fail(.trailingComma, at: i) }
                    state = .end
                    i += 1
                    continue
                }
                guard c == 0x22 else { throw fail(.expectedKey, at: i) }
                guard let end = try parse(bytes, at: i, isFinal: isFinal) else { return }
                let isRecords = parser.withTape { tape in
                    Self.recordsKey.withUnsafeBytes { key in
                        JSONString.equals(tape[0], in: UnsafeRawBufferPointer(rebasing: bytes[i...]), to: key)
                    }
                }
                state = .colon(isRecords: isRecords)
                i += end
            case .colon(let isRecords):
                guard c == 0x3A else { throw fail(.expectedColon, at: i) }  // :
                state = isRecords ? .recordsValue : .otherValue
                i += 1
            case .recordsValue:
                guard c == 0x5B else {  // [
                    throw isValueStart(c) ? .recordsNotArray(atByte: streamOffset + i) : fail(.unexpectedByte(c), at: i)
                }
                sawRecords = true
                state = .firstRecord
                i += 1
            case .otherValue:
                guard let end = try parse(bytes, at: i, isFinal: isFinal) else { return }
                state = .afterMember
                i += end
            case .firstRecord, .record:
                if c == 0x5D {  // ]
                    guard state == .firstRecord else { throw fail(.trailingComma, at: i) }
                    state = .afterMember
                    i += 1
                    continue
                }
                guard c == 0x7B else {
                    throw isValueStart(c) ? .recordNotObject(atByte: streamOffset + i) : fail(.unexpectedByte(c), at: i)
                }
                guard let end = try parse(bytes, at: i, isFinal: isFinal) else { return }
                let recordBytes = UnsafeRawBufferPointer(rebasing: bytes[i..<(i + end)])
                parser.withTape { tape in
                    body(CloudTrailRecord(bytes: recordBytes, tape: tape))
                }
                recordCount += 1
                state = .afterRecord
                i += end
            case .afterRecord:
                if c == 0x2C {  // ,
                    state = .record
                } else if c == 0x5D {
                    state = .afterMember
                } else {
                    throw fail(.expectedCommaOrEnd(close: 0x5D), at: i)
                }
                i += 1
            case .afterMember:
                if c == 0x2C {
                    state = .key
                } else if c == 0x7D {
                    state = .end
                } else {
                    throw fail(.expectedCommaOrEnd(close: 0x7D), at: i)
                }
                i += 1
            case .end:
                // Another log after this one: it too must hold a Records array.
                guard acceptsConcatenatedDocuments, c == 0x7B else { throw fail(.trailingData, at: i) }
                guard sawRecords else { throw .noRecords }
                sawRecords = false
                state = .firstKey
                i += 1
            }
        }
    }

    /// Parses the value at `bytes[start...]`. Returns its length, or `nil` when it is not complete
    /// yet (or when not enough new bytes have arrived since the last try to make another worthwhile).
    private func parse(_ bytes: UnsafeRawBufferPointer, at start: Int, isFinal: Bool) throws(CloudTrailFormatError) -> Int? {
        let available = bytes.count - start
        if !isFinal && available < retryAt { return nil }
        do {
            switch try parser.parseValue(UnsafeRawBufferPointer(rebasing: bytes[start...]), isFinal: isFinal) {
            case .complete(let end):
                retryAt = 0
                return end
            case .incomplete:
                // Wait for twice as many bytes: re-parsing stays linear in the value's size.
                retryAt = available * 2
                return nil
            }
        } catch {
            throw .json(error.offset(by: streamOffset + start))
        }
    }

    /// Whether `byte` can start a JSON value (for a clearer message than "unexpected byte").
    private func isValueStart(_ byte: UInt8) -> Bool {
        switch byte {
        case 0x22, 0x5B, 0x7B, 0x2D, 0x30...0x39, 0x74, 0x66, 0x6E: true
        default: false
        }
    }

    private static let recordsKey: [UInt8] = Array("Records".utf8)
}

@available(*, unavailable)
extension RecordSplitter: Sendable {}

/// Why an object is not a readable CloudTrail log. Offsets are in decoded bytes of the object.
public enum CloudTrailFormatError: Error, Equatable, Sendable, CustomStringConvertible {
    case json(JSONError)
    case notAnObject
    case noRecords
    case recordsNotArray(atByte: Int)
    case recordNotObject(atByte: Int)

    public var description: String {
        switch self {
        case .json(let error): error.description
        case .notAnObject: "not a CloudTrail log: the document is not a JSON object"
        case .noRecords: "not a CloudTrail log: no \"Records\" array"
        case .recordsNotArray(let offset): "not a CloudTrail log: \"Records\" at byte \(offset) is not an array"
        case .recordNotObject(let offset): "not a CloudTrail log: the record at byte \(offset) is not a JSON object"
        }
    }
}
