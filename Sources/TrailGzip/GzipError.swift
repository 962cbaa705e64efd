/// Why an object could not be decoded. Offsets and counts are in compressed bytes of the object.
public enum GzipError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The object has no bytes at all.
    case empty
    /// The input ended inside a gzip member.
    case truncated(afterBytes: Int)
    /// The first member's header is not a valid gzip header.
    case badHeader(reason: String)
    /// A member's CRC-32 trailer does not match its data (members are numbered from 1).
    case crcMismatch(member: Int)
    /// A member's ISIZE trailer does not match the length of its data.
    case lengthMismatch(member: Int)
    /// The deflate data is invalid.
    case corruptData(reason: String, atByte: Int)
    /// Bytes after a complete member that are not another gzip member.
    case trailingGarbage(atByte: Int)
    /// The object decodes to more than the allowed number of bytes.
    case limitExceeded(limit: Int)
    /// A plain (not gzip) object is longer than the allowed number of bytes.
    case plainLimitExceeded(limit: Int)
    /// zlib itself failed (out of memory, or a version mismatch); carries zlib's return code.
    case zlib(code: Int32)

    public var description: String {
        switch self {
        case .empty: "object is empty"
        case .truncated(let n): "gzip stream truncated after \(n) bytes"
        case .badHeader(let reason): "not a valid gzip header: \(reason)"
        case .crcMismatch(let member): "gzip CRC-32 mismatch in member \(member): the data is corrupt"
        case .lengthMismatch(let member): "gzip length (ISIZE) mismatch in member \(member): the data is corrupt"
        case .corruptData(let reason, let offset): "corrupt gzip data near byte \(offset): \(reason)"
        case .trailingGarbage(let offset): "trailing garbage after the gzip stream at byte \(offset)"
        case .limitExceeded(let limit):
            "decompressed size exceeds the limit of \(limit) bytes; possible gzip bomb"
        case .plainLimitExceeded(let limit): "the object is larger than the limit of \(limit) bytes"
        case .zlib(let code): "zlib error \(code)"
        }
    }
}
