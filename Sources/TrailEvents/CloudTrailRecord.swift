internal import Glibc
public import TrailJSON

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

    /// The token index of `field`, or `nil` when the record does not have it.
    @inlinable
    public subscript(field: CloudTrailField) -> Int? {
        let slot = slots[field.rawValue]
        return slot < 0 ? nil : Int(slot)
    }

    init(tape: JSONTape, bytes: UnsafeRawBufferPointer) {
        guard tape.count > 0, tape[0].kind == .object else { return }
        Self.collect(Self.topLevel, in: 0, tape: tape, bytes: bytes, into: &self)
        for (parent, table) in Self.nested {
            if let object = self[parent], tape[object].kind == .object {
                Self.collect(table, in: object, tape: tape, bytes: bytes, into: &self)
            }
        }
    }

    private static func collect(
        _ table: [(key: StaticString, field: CloudTrailField)],
        in object: Int,
        tape: JSONTape,
        bytes: UnsafeRawBufferPointer,
        into fields: inout CloudTrailFields
    ) {
        tape.forEachMember(of: object) { key, value in
            let token = tape[key]
            for entry in table {
                let literal = UnsafeRawBufferPointer(start: entry.key.utf8Start, count: entry.key.utf8CodeUnitCount)
                // Unescaped keys (all AWS writes) compare in place: length, first byte, then the rest.
                // Escaped ones are decoded first.
                let matches = token.isEscaped
                    ? JSONString.equals(token, in: bytes, to: literal)
                    : token.range.count == literal.count && bytes[token.range.lowerBound] == literal[0]
                        && memcmp(bytes.baseAddress! + token.range.lowerBound, literal.baseAddress!, literal.count) == 0
                if matches {
                    fields.slots[entry.field.rawValue] = Int32(value)  // the last duplicate wins
                    break
                }
            }
            return true
        }
    }

    /// Key tables, by the object the keys are in. `StaticString` keys: comparing costs no reference
    /// counting.
    private static let topLevel: [(key: StaticString, field: CloudTrailField)] = [
        ("eventTime", .eventTime), ("eventSource", .eventSource), ("eventName", .eventName),
        ("awsRegion", .awsRegion), ("sourceIPAddress", .sourceIPAddress), ("userAgent", .userAgent),
        ("errorCode", .errorCode), ("errorMessage", .errorMessage), ("eventID", .eventID),
        ("eventType", .eventType), ("readOnly", .readOnly), ("recipientAccountId", .recipientAccountId),
        ("userIdentity", .userIdentity), ("requestParameters", .requestParameters),
        ("responseElements", .responseElements), ("additionalEventData", .additionalEventData),
    ]

    private static let nested: [(CloudTrailField, [(key: StaticString, field: CloudTrailField)])] = [
        (.userIdentity, [
            ("type", .userIdentityType), ("arn", .userIdentityArn), ("userName", .userIdentityUserName),
            ("invokedBy", .userIdentityInvokedBy), ("accountId", .userIdentityAccountId),
            ("principalId", .userIdentityPrincipalId),
        ]),
        (.responseElements, [("ConsoleLogin", .consoleLoginResult)]),
        (.additionalEventData, [("MFAUsed", .mfaUsed)]),
        (.requestParameters, [("policyArn", .policyArn), ("policyName", .policyName)]),
    ]
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
    /// Offset of the record's first byte in the decoded object.
    public let streamOffset: Int

    init(bytes: UnsafeRawBufferPointer, tape: JSONTape, streamOffset: Int) {
        self.bytes = bytes
        self.tape = tape
        self.streamOffset = streamOffset
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

    /// Whether `field` is absent or JSON `null`.
    @inlinable
    public func isAbsentOrNull(_ field: CloudTrailField) -> Bool {
        guard let index = fields[field] else { return true }
        return tape[index].kind == .null
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

    /// `eventTime` as seconds since 1970-01-01T00:00:00Z, when present and well formed.
    public var eventTimeSeconds: Int64? {
        guard let token = token(.eventTime), token.kind == .string, !token.isEscaped else { return nil }
        return EventTime.seconds(UnsafeRawBufferPointer(rebasing: bytes[token.range]))
    }
}
