internal import TrailJSON

/// An IAM policy document, as IAM requests carry it: a JSON *string* inside the record, URL-encoded in
/// some records (`%7B%22Version%22…`). Parsed with the project's strict JSON parser.
///
/// Only what the Stage 2 rules read is kept: each statement's effect, principals, actions, resources
/// and condition keys, in the shapes IAM accepts (a single value or a list; `Principal` as `"*"` or an
/// object of `AWS`/`Service`/`Federated`/`CanonicalUser` values; `NotPrincipal`, `NotAction`,
/// `NotResource`).
public struct PolicyDocument: Sendable, Equatable {
    public struct Statement: Sendable, Equatable {
        public enum Effect: Sendable, Equatable { case allow, deny }
        /// Who a statement names.
        public enum Principals: Sendable, Equatable {
            /// No `Principal` element (identity policies).
            case none
            /// `"Principal": "*"` or `{"AWS": "*"}`: anyone.
            case anyone
            /// The values by kind (`AWS`, `Service`, `Federated`, `CanonicalUser`), as written.
            case named([String: [String]])
        }

        public var effect: Effect
        public var principals: Principals
        /// `NotPrincipal`: the statement applies to everyone but these.
        public var notPrincipal: Bool
        /// `Action`, or `NotAction` when `notAction`.
        public var actions: [String]
        public var notAction: Bool
        /// `Resource`, or `NotResource` when `notResource`.
        public var resources: [String]
        public var notResource: Bool
        /// `(operator, key)` of every condition, as written (`StringEquals`, `aws:PrincipalOrgID`).
        public var conditions: [(operator: String, key: String)]

        public static func == (lhs: Statement, rhs: Statement) -> Bool {
            lhs.effect == rhs.effect && lhs.principals == rhs.principals && lhs.notPrincipal == rhs.notPrincipal
                && lhs.actions == rhs.actions && lhs.notAction == rhs.notAction && lhs.resources == rhs.resources
                && lhs.notResource == rhs.notResource && lhs.conditions.elementsEqual(rhs.conditions, by: { $0 == $1 })
        }
    }

    public var statements: [Statement]

    /// Why a policy document could not be read.
    public struct Error: Swift.Error, Sendable, Equatable, CustomStringConvertible {
        public var description: String
    }

    /// - Parameter text: the document as the record holds it (decoded from its JSON string).
    public init(_ text: [UInt8]) throws(Error) {
        let bytes = Self.urlDecodedIfEncoded(text)
        let json: JSONValue
        do { json = try JSONValue(parsing: bytes) } catch {
            throw Error(description: "the policy document is not valid JSON: \(error.description(in: bytes))")
        }
        guard case .object = json else { throw Error(description: "the policy document is not a JSON object") }
        var statements: [Statement] = []
        switch json["Statement"] {
        case .object?: statements = [try Self.statement(json["Statement"]!, index: 0)]
        case .array(let items)?:
            for (index, item) in items.enumerated() { statements.append(try Self.statement(item, index: index)) }
        case nil: break  // no statement grants nothing (IAM refuses such a document; only a test log has one)
        default: throw Error(description: "the policy document's Statement is neither an object nor a list")
        }
        self.statements = statements
    }

    private static func statement(_ json: JSONValue, index: Int) throws(Error) -> Statement {
        guard case .object = json else { throw Error(description: "statement \(index) is not an object") }
        let effect: Statement.Effect
        switch json["Effect"] {
        case .string("Allow")?: effect = .allow
        case .string("Deny")?: effect = .deny
        default: throw Error(description: "statement \(index) has no Effect of Allow or Deny")
        }
        let principalElement = json["Principal"] ?? json["NotPrincipal"]
        let principals: Statement.Principals
        switch principalElement {
        case nil: principals = .none
        case .string("*")?: principals = .anyone
        case .object(let members)?:
            var named: [String: [String]] = [:]
            for (kind, value) in members {
                guard let values = strings(value) else { throw Error(description: "statement \(index): Principal \(kind) is not a string or a list of strings") }
                named[kind, default: []] += values
            }
            principals = named["AWS"]?.contains("*") == true ? .anyone : .named(named)
        default: throw Error(description: "statement \(index): Principal is neither \"*\" nor an object")
        }
        func list(_ key: String, _ negated: String) throws(Error) -> ([String], Bool) {
            if let value = json[key] {
                guard let values = strings(value) else { throw Error(description: "statement \(index): \(key) is not a string or a list of strings") }
                return (values, false)
            }
            if let value = json[negated] {
                guard let values = strings(value) else { throw Error(description: "statement \(index): \(negated) is not a string or a list of strings") }
                return (values, true)
            }
            return ([], false)
        }
        let (actions, notAction) = try list("Action", "NotAction")
        let (resources, notResource) = try list("Resource", "NotResource")
        var conditions: [(operator: String, key: String)] = []
        if case .object(let operators)? = json["Condition"] {
            for (op, block) in operators {
                guard case .object(let keys) = block else { continue }
                for (key, _) in keys { conditions.append((op, key)) }
            }
        }
        return Statement(effect: effect, principals: principals, notPrincipal: json["NotPrincipal"] != nil, actions: actions,
                         notAction: notAction, resources: resources, notResource: notResource, conditions: conditions)
    }

    /// A string, or a list of strings.
    private static func strings(_ json: JSONValue) -> [String]? {
        switch json {
        case .string(let text): return [text]
        case .array(let items):
            var result: [String] = []
            for item in items {
                guard case .string(let text) = item else { return nil }
                result.append(text)
            }
            return result
        default: return nil
        }
    }

    /// `text` percent-decoded when it is URL-encoded (it starts with `%7B`, an encoded `{`, after any
    /// whitespace); as it is otherwise. `+` stays `+`: IAM's encoding writes spaces as `%20`.
    static func urlDecodedIfEncoded(_ text: [UInt8]) -> [UInt8] {
        let start = text.firstIndex { $0 != 0x20 && $0 != 0x0A && $0 != 0x0D && $0 != 0x09 } ?? text.endIndex
        guard text[start...].starts(with: Array("%7B".utf8)) || text[start...].starts(with: Array("%7b".utf8)) else { return text }
        var result: [UInt8] = []
        result.reserveCapacity(text.count)
        var index = text.startIndex
        while index < text.endIndex {
            if text[index] == 0x25, index + 2 < text.endIndex, let high = hex(text[index + 1]), let low = hex(text[index + 2]) {
                result.append(high << 4 | low)
                index += 3
            } else {
                result.append(text[index])
                index += 1
            }
        }
        return result
    }

    private static func hex(_ byte: UInt8) -> UInt8? {
        switch byte {
        case 0x30...0x39: byte - 0x30
        case 0x41...0x46: byte - 0x41 + 10
        case 0x61...0x66: byte - 0x61 + 10
        default: nil
        }
    }
}
