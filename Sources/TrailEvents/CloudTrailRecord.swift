internal import Glibc
public import TrailJSON
internal import TrailTime

/// The CloudTrail fields that rules, filters and reports read, by where they sit in a record.
public enum CloudTrailField: Int, CaseIterable, Sendable {
    case eventTime, eventSource, eventName, awsRegion, sourceIPAddress, userAgent
    case errorCode, errorMessage, eventID, eventType, readOnly, recipientAccountId
    case userIdentity, requestParameters, responseElements, additionalEventData
    case userIdentityType, userIdentityArn, userIdentityUserName, userIdentityInvokedBy
    case userIdentityAccountId, userIdentityPrincipalId
    case consoleLoginResult  // responseElements.ConsoleLogin
    case mfaUsed  // additionalEventData.MFAUsed
    case policyArn  // requestParameters.policyArn
    case policyName  // requestParameters.policyName

    /// The field's path in the record, e.g. `["userIdentity", "type"]`.
    public var path: [String] {
        switch self {
        case .userIdentityType: ["userIdentity", "type"]
        case .userIdentityArn: ["userIdentity", "arn"]
        case .userIdentityUserName: ["userIdentity", "userName"]
        case .userIdentityInvokedBy: ["userIdentity", "invokedBy"]
        case .userIdentityAccountId: ["userIdentity", "accountId"]
        case .userIdentityPrincipalId: ["userIdentity", "principalId"]
        case .consoleLoginResult: ["responseElements", "ConsoleLogin"]
        case .mfaUsed: ["additionalEventData", "MFAUsed"]
        case .policyArn: ["requestParameters", "policyArn"]
        case .policyName: ["requestParameters", "policyName"]
        default: ["\(self)"]
        }
    }

    /// The dotted path, e.g. `userIdentity.type`.
    public var name: String { path.joined(separator: ".") }
}

/// Where each `CloudTrailField` sits on a record's tape: a token index, or -1 when absent.
///
/// Found in one pass over the record's top-level members (and the members of the four objects that
/// hold nested fields), comparing keys in place; values are not touched.
public struct CloudTrailFields: Sendable {
    @usableFromInline
    var slots = InlineArray<32, Int32>(repeating: -1)

    /// Whether the slots are every value at each field's path, as EventBridge flattens a record: false
    /// when a top-level key has a dot in it (`"userIdentity.type"` names the same field as the nested
    /// one) or when an object that holds nested fields is an array instead. Rule matching then walks
    /// the record's paths rather than trusting the slots. CloudTrail writes neither.
    public private(set) var isExact = true

    /// The token index of `field`, or `nil` when the record does not have it.
    @inlinable
    public subscript(field: CloudTrailField) -> Int? {
        let slot = slots[field.rawValue]
        return slot < 0 ? nil : Int(slot)
    }

    init(tape: JSONTape, bytes: UnsafeRawBufferPointer) {
        guard tape.count > 0, tape[0].kind == .object else { return }
        let keys = FieldKeyTables.shared  // one reference count per record, none per key
        collect(keys.topLevel, in: 0, tape: tape, bytes: bytes)
        collect(keys.userIdentity, in: .userIdentity, tape: tape, bytes: bytes)
        collect(keys.responseElements, in: .responseElements, tape: tape, bytes: bytes)
        collect(keys.additionalEventData, in: .additionalEventData, tape: tape, bytes: bytes)
        collect(keys.requestParameters, in: .requestParameters, tape: tape, bytes: bytes)
    }

    /// Fills the slots of `table`'s fields from the members of `parent`, when it is an object.
    @inline(__always)
    private mutating func collect(_ table: FieldKeyTable, in parent: CloudTrailField, tape: JSONTape, bytes: UnsafeRawBufferPointer) {
        guard let object = self[parent] else { return }
        switch tape[object].kind {
        case .object: collect(table, in: object, tape: tape, bytes: bytes)
        case .array: isExact = false
        default: break
        }
    }

    @inline(__always)
    private mutating func collect(_ table: FieldKeyTable, in object: Int, tape: JSONTape, bytes: UnsafeRawBufferPointer) {
        let topLevel = object == 0
        tape.forEachMember(of: object) { key, value in
            if let field = table.field(named: tape[key], in: bytes) {
                slots[field.rawValue] = Int32(truncatingIfNeeded: value)  // the last duplicate wins
            } else if topLevel && isExact && Self.hasDot(tape[key], in: bytes) {
                isExact = false
            }
            return true
        }
    }

    /// Whether an object key contains a `.` (decoded: `\u002e` is one too).
    @inline(__always)
    private static func hasDot(_ token: JSONToken, in bytes: UnsafeRawBufferPointer) -> Bool {
        if token.isEscaped { return JSONString.bytes(of: token, in: bytes).contains(0x2E) }
        guard !token.range.isEmpty else { return false }
        return memchr(bytes.baseAddress! + token.range.lowerBound, 0x2E, token.range.count) != nil
    }
}

/// The key tables of `CloudTrailFields`, by the object the keys are in.
final class FieldKeyTables: Sendable {
    static let shared = FieldKeyTables()

    let topLevel = FieldKeyTable([
        "eventTime": .eventTime, "eventSource": .eventSource, "eventName": .eventName,
        "awsRegion": .awsRegion, "sourceIPAddress": .sourceIPAddress, "userAgent": .userAgent,
        "errorCode": .errorCode, "errorMessage": .errorMessage, "eventID": .eventID,
        "eventType": .eventType, "readOnly": .readOnly, "recipientAccountId": .recipientAccountId,
        "userIdentity": .userIdentity, "requestParameters": .requestParameters,
        "responseElements": .responseElements, "additionalEventData": .additionalEventData,
    ])
    let userIdentity = FieldKeyTable([
        "type": .userIdentityType, "arn": .userIdentityArn, "userName": .userIdentityUserName,
        "invokedBy": .userIdentityInvokedBy, "accountId": .userIdentityAccountId,
        "principalId": .userIdentityPrincipalId,
    ])
    let responseElements = FieldKeyTable(["ConsoleLogin": .consoleLoginResult])
    let additionalEventData = FieldKeyTable(["MFAUsed": .mfaUsed])
    let requestParameters = FieldKeyTable(["policyArn": .policyArn, "policyName": .policyName])
}

/// The member names of one object that map to `CloudTrailField`s, looked up in an open-addressing
/// hash table keyed by a key's length and first and last bytes: most keys of a record cost one probe
/// and, when the slot is taken, one comparison in whole 8-byte words.
struct FieldKeyTable: Sendable {
    private struct Entry: Sendable {
        let key: StaticString
        let field: CloudTrailField
    }
    private let entries: [Entry]
    /// Entry index + 1 per slot; 0 marks an empty slot. A power of two, at least four times the entries,
    /// so probes are short.
    private let slots: [UInt8]

    init(_ keys: KeyValuePairs<StaticString, CloudTrailField>) {
        precondition(keys.count < 255)
        var size = 8
        while size < keys.count * 4 { size *= 2 }
        var slots = [UInt8](repeating: 0, count: size)
        for (index, (key, _)) in keys.enumerated() {
            precondition(key.utf8CodeUnitCount > 0)
            let bytes = key.utf8Start
            var slot = Self.hash(length: key.utf8CodeUnitCount, first: bytes[0], last: bytes[key.utf8CodeUnitCount - 1]) & (size - 1)
            while slots[slot] != 0 { slot = (slot + 1) & (size - 1) }
            slots[slot] = UInt8(index + 1)
        }
        self.entries = keys.map { Entry(key: $0.key, field: $0.value) }
        self.slots = slots
    }

    @inline(__always)
    private static func hash(length: Int, first: UInt8, last: UInt8) -> Int {
        (length &* 31) ^ (Int(first) &* 7) ^ (Int(last) &* 3)
    }

    /// The field whose key `token` (an object key of the tape parsed from `bytes`) names, if any.
    /// Escaped keys (AWS writes none) are decoded and compared with each key.
    @inline(__always)
    func field(named token: JSONToken, in bytes: UnsafeRawBufferPointer) -> CloudTrailField? {
        entries.withUnsafeBufferPointer { entries in
            if token.isEscaped {
                return entries.first { entry in
                    JSONString.equals(token, in: bytes, to: UnsafeRawBufferPointer(start: entry.key.utf8Start, count: entry.key.utf8CodeUnitCount))
                }?.field
            }
            let length = token.range.count
            guard length > 0 else { return nil }
            let name = bytes.baseAddress! + token.range.lowerBound
            let hash = Self.hash(length: length, first: name.load(as: UInt8.self), last: name.load(fromByteOffset: length - 1, as: UInt8.self))
            return slots.withUnsafeBufferPointer { slots in
                let mask = slots.count - 1
                var slot = hash & mask
                while slots[slot] != 0 {
                    let entry = entries[Int(slots[slot]) - 1]
                    if entry.key.utf8CodeUnitCount == length && Self.equal(name, UnsafeRawPointer(entry.key.utf8Start), length) {
                        return entry.field
                    }
                    slot = (slot + 1) & mask
                }
                return nil
            }
        }
    }

    /// Whether the `length` bytes at `a` and `b` are equal: compared in (overlapping) 8-byte words when
    /// there are at least 8, byte by byte otherwise. Reads only inside both ranges.
    @inline(__always)
    private static func equal(_ a: UnsafeRawPointer, _ b: UnsafeRawPointer, _ length: Int) -> Bool {
        guard length >= 8 else {
            for i in 0..<length where a.load(fromByteOffset: i, as: UInt8.self) != b.load(fromByteOffset: i, as: UInt8.self) {
                return false
            }
            return true
        }
        var offset = 0
        while true {
            if a.loadUnaligned(fromByteOffset: offset, as: UInt64.self) != b.loadUnaligned(fromByteOffset: offset, as: UInt64.self) {
                return false
            }
            if offset == length - 8 { return true }
            offset = min(offset + 8, length - 8)
        }
    }
}

/// One CloudTrail record, borrowed from the decode window: its JSON text, its tape and its fields.
///
/// - warning: A record is valid only inside the `RecordSplitter.drain` callback that received it. Copy
///   out (`string(_:)`, `Array(bytes)`) whatever must outlive the call.
public struct CloudTrailRecord {
    /// The record's JSON text, exactly as in the log.
    public let bytes: UnsafeRawBufferPointer
    public let tape: JSONTape
    public let fields: CloudTrailFields

    init(bytes: UnsafeRawBufferPointer, tape: JSONTape) {
        self.bytes = bytes
        self.tape = tape
        self.fields = CloudTrailFields(tape: tape, bytes: bytes)
    }

    /// The token of `field`, if present.
    @inlinable
    public func token(_ field: CloudTrailField) -> JSONToken? {
        fields[field].map { tape[$0] }
    }

    /// Whether `field` is a string equal to `literal` (compared in place unless it is escaped).
    @inlinable
    public func field(_ field: CloudTrailField, equals literal: UnsafeRawBufferPointer) -> Bool {
        guard let index = fields[field] else { return false }
        return JSONString.equals(tape[index], in: bytes, to: literal)
    }

    /// The decoded value of `field` when it is a string; `nil` when absent or of another kind.
    public func string(_ field: CloudTrailField) -> String? {
        guard let token = token(field), token.kind == .string else { return nil }
        return JSONString.string(of: token, in: bytes)
    }

    /// The decoded bytes of `field` when it is a string.
    public func stringBytes(_ field: CloudTrailField) -> [UInt8]? {
        guard let token = token(field), token.kind == .string else { return nil }
        return JSONString.bytes(of: token, in: bytes)
    }

    /// The value at `path`, a chain of member names from the record's top level: its decoded text when
    /// it is a string, its JSON text (minified) for a number, literal, object or array; `nil` when it is
    /// absent or null. For the few values a finding copies out, not for the hot path.
    public func text(at path: [String]) -> String? {
        var index = 0
        for var key in path {
            guard let member = key.withUTF8({ tape.member(UnsafeRawBufferPointer($0), in: index, of: bytes) }) else { return nil }
            index = member
        }
        let token = tape[index]
        switch token.kind {
        case .null:
            return nil
        case .string:
            return JSONString.string(of: token, in: bytes)
        default:
            var text: [UInt8] = []
            JSONText.appendMinified(UnsafeRawBufferPointer(rebasing: bytes[token.range]), to: &text)
            return String(decoding: text, as: UTF8.self)
        }
    }

    /// `eventTime` as seconds since 1970-01-01T00:00:00Z, when present and an RFC 3339 instant.
    public var eventTimeSeconds: Int64? {
        guard let token = token(.eventTime), token.kind == .string, !token.isEscaped else { return nil }
        return UTC.seconds(rfc3339: UnsafeRawBufferPointer(rebasing: bytes[token.range]))
    }
}
