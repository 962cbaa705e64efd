public import TrailJSON

/// An EventBridge event pattern, validated and compiled.
///
/// A pattern mirrors the event's shape; each leaf is an array of alternatives. Keys are AND-ed, the
/// alternatives of a leaf OR-ed, `$or` adds alternatives of whole sub-patterns. The operators are those
/// of EventBridge: exact values (string, number, `true`/`false`, `null`), `prefix`, `suffix` (and their
/// `equals-ignore-case` forms), `equals-ignore-case`, `wildcard`, `anything-but` (value, list, `prefix`,
/// `suffix`, `equals-ignore-case`, `wildcard`), `numeric`, `exists`, `cidr`.
///
/// Paths are flattened as EventBridge flattens them: a key `"a.b"` and a nested `{"a":{"b":…}}` name the
/// same field, in patterns and in events, at any depth. When a pattern object repeats a key, the last
/// one wins (as AWS's JSON parser does), and so does the last of two ways of writing one path.
///
/// Matching rules (EventBridge's, see `matches(event:)`): a field that is an array matches when any
/// element does; a missing field matches nothing but `exists: false`; `null` is a value (it exists, and
/// it is not anything-but "x"); `""` and `null` differ; numbers compare as numbers. Fields matched
/// together must come from the same element of an array of objects (event-ruler's array consistency).
public struct EventPattern: Sendable, Equatable {
    /// The pattern as written.
    public let json: JSONValue
    let root: PatternNode
    /// The pattern with its `$or`s multiplied out: it matches when one of these conjunctions does.
    /// Array consistency is a property of a conjunction, so the reference evaluator works on these.
    let conjunctions: [[PatternLeaf]]

    /// The most conjunctions the `$or`s of one pattern may multiply out to.
    static let maximumConjunctions = 1024

    /// - Throws: `PatternError` naming the path inside the pattern that is wrong.
    public init(_ json: JSONValue) throws(PatternError) {
        guard case .object(let members) = json else { throw PatternError(path: "", reason: "a pattern must be a JSON object") }
        guard !members.isEmpty else { throw PatternError(path: "", reason: "the pattern is empty") }
        self.json = json
        self.root = try PatternNode(members, at: [])
        self.conjunctions = try root.conjunctions()
    }

    public init(parsing text: String) throws(PatternError) {
        let json: JSONValue
        do { json = try JSONValue(parsing: text) } catch { throw PatternError(path: "", reason: error.description) }
        try self.init(json)
    }

    public static func == (lhs: EventPattern, rhs: EventPattern) -> Bool { lhs.json == rhs.json }
}

/// Why a pattern is invalid: where (a dotted path, with `[i]` for alternatives) and what.
public struct PatternError: Error, Equatable, Sendable, CustomStringConvertible {
    public var path: String
    public var reason: String

    public init(path: String, reason: String) {
        self.path = path
        self.reason = reason
    }

    public var description: String { path.isEmpty ? reason : "at \(path): \(reason)" }
}

/// A conjunction: every leaf must match, and each `$or` group must have a branch that matches.
struct PatternNode: Sendable {
    var leaves: [PatternLeaf]
    var alternatives: [[PatternNode]]

    init(_ members: [(key: String, value: JSONValue)], at path: [String]) throws(PatternError) {
        leaves = []
        alternatives = []
        try add(members, at: path)
    }

    private mutating func add(_ members: [(key: String, value: JSONValue)], at path: [String]) throws(PatternError) {
        for (key, value) in Self.lastOfEachKey(members) {
            // A `$or` is an operator only where it holds an array; elsewhere it is a field name, as in
            // event-ruler (which keeps old rules that used it as one working).
            if key == "$or", case .array(let branches) = value {
                let here = dotted(path + [key])
                guard branches.count >= 2 else {
                    throw PatternError(path: here, reason: "$or needs at least two patterns")
                }
                var group: [PatternNode] = []
                for (index, branch) in branches.enumerated() {
                    guard case .object(let branchMembers) = branch, !branchMembers.isEmpty else {
                        throw PatternError(path: "\(here)[\(index)]", reason: "each $or branch must be a non-empty object")
                    }
                    group.append(try PatternNode(branchMembers, at: path))
                }
                alternatives.append(group)
                continue
            }
            let here = path + key.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
            switch value {
            case .object(let nested):
                guard !nested.isEmpty else { throw PatternError(path: dotted(here), reason: "empty objects are not allowed") }
                try add(nested, at: here)
            case .array(let elements):
                guard !elements.isEmpty else { throw PatternError(path: dotted(here), reason: "empty arrays are not allowed") }
                var matchers: [ValueMatcher] = []
                for (index, element) in elements.enumerated() {
                    matchers.append(try ValueMatcher(element, at: "\(dotted(here))[\(index)]"))
                }
                try WildcardComplexity.check(matchers, at: dotted(here))
                let leaf = PatternLeaf(path: here, matchers: matchers, location: LeafLocation(here))
                // `{"a.b": …}` and `{"a": {"b": …}}` in one object are one field: the later one wins.
                leaves.removeAll { $0.path == here }
                leaves.append(leaf)
            default:
                throw PatternError(path: dotted(here), reason: "match values must be in an array, e.g. [\(value.serialized)]")
            }
        }
    }

    /// The members with each key's last occurrence only, in the order of those occurrences.
    private static func lastOfEachKey(_ members: [(key: String, value: JSONValue)]) -> [(key: String, value: JSONValue)] {
        var last: [String: Int] = [:]
        for (index, member) in members.enumerated() { last[member.key] = index }
        if last.count == members.count { return members }
        return members.indices.filter { last[members[$0].key] == $0 }.map { members[$0] }
    }

    /// The node with its `$or` groups multiplied out: its leaves with one branch of every group, for each
    /// choice of branches.
    func conjunctions() throws(PatternError) -> [[PatternLeaf]] {
        var result: [[PatternLeaf]] = [leaves]
        for group in alternatives {
            var branches: [[PatternLeaf]] = []
            for branch in group { branches += try branch.conjunctions() }
            guard result.count * branches.count <= EventPattern.maximumConjunctions else {
                throw PatternError(path: "$or", reason: "the $or alternatives combine into more than \(EventPattern.maximumConjunctions) patterns")
            }
            result = result.flatMap { base in branches.map { base + $0 } }
        }
        return result
    }
}

/// One field of the event and the values it may have.
struct PatternLeaf: Sendable {
    var path: [String]
    var matchers: [ValueMatcher]
    /// Where the path leads in a CloudTrail record's envelope.
    var location: LeafLocation

    /// Whether the leaf accepts a missing field (`exists: false` is one of its alternatives). Absence is a
    /// property of the whole event: such a leaf is matched on its own, outside array consistency.
    var allowsAbsence: Bool {
        matchers.contains { if case .exists(false) = $0 { true } else { false } }
    }
}

func dotted(_ path: [String]) -> String { path.joined(separator: ".") }

func kind(_ value: JSONValue) -> String {
    switch value {
    case .object: "an object"
    case .array: "an array"
    case .string: "a string"
    case .number: "a number"
    case .bool: "a boolean"
    case .null: "null"
    }
}

/// One alternative of a leaf.
enum ValueMatcher: Sendable {
    case string([UInt8])
    case number(Double)
    case bool(Bool)
    case null
    case prefix([UInt8])
    case prefixIgnoringCase(String)
    case suffix([UInt8])
    case suffixIgnoringCase(String)
    case equalsIgnoringCase(String)
    case wildcard(Wildcard)
    case anythingBut(AnythingBut)
    case numeric(NumericRange)
    case exists(Bool)
    case cidr(CIDR)

    enum AnythingBut: Sendable {
        case strings([[UInt8]])
        case numbers([Double])
        case prefixes([[UInt8]])
        case suffixes([[UInt8]])
        case ignoringCase([String])
        case wildcards([Wildcard])
    }

    init(_ json: JSONValue, at path: String) throws(PatternError) {
        switch json {
        case .string(let text): self = .string(Array(text.utf8))
        case .number(_, let value): self = .number(value)
        case .bool(let value): self = .bool(value)
        case .null: self = .null
        case .array: throw PatternError(path: path, reason: "arrays cannot be nested in a match")
        case .object(let members):
            guard members.count == 1, let (name, operand) = members.first.map({ ($0.key, $0.value) }) else {
                throw PatternError(path: path, reason: "a match object must have exactly one operator")
            }
            let here = "\(path).\(name)"
            switch name {
            case "prefix":
                if let ignoringCase = try Self.ignoreCaseOperand(operand, at: here) {
                    self = .prefixIgnoringCase(ignoringCase)
                } else {
                    self = .prefix(Array(try Self.string(operand, at: here).utf8))
                }
            case "suffix":
                if let ignoringCase = try Self.ignoreCaseOperand(operand, at: here) {
                    self = .suffixIgnoringCase(ignoringCase)
                } else {
                    self = .suffix(Array(try Self.string(operand, at: here).utf8))
                }
            case "equals-ignore-case":
                self = .equalsIgnoringCase(try Self.string(operand, at: here).lowercased())
            case "wildcard":
                self = .wildcard(try Wildcard(try Self.string(operand, at: here), at: here))
            case "anything-but":
                self = .anythingBut(try Self.anythingBut(operand, at: here))
            case "numeric":
                self = .numeric(try NumericRange(operand, at: here))
            case "exists":
                guard case .bool(let exists) = operand else {
                    throw PatternError(path: here, reason: "exists takes true or false")
                }
                self = .exists(exists)
            case "cidr":
                self = .cidr(try CIDR(try Self.string(operand, at: here), at: here))
            default:
                throw PatternError(path: path, reason: "unrecognized match type \(name)")
            }
        }
    }

    private static func string(_ json: JSONValue, at path: String) throws(PatternError) -> String {
        guard case .string(let text) = json else { throw PatternError(path: path, reason: "expected a string, not \(kind(json))") }
        return text
    }

    /// `{"equals-ignore-case": "x"}` as the operand of prefix/suffix.
    private static func ignoreCaseOperand(_ json: JSONValue, at path: String) throws(PatternError) -> String? {
        guard case .object(let members) = json else { return nil }
        guard members.count == 1, members[0].key == "equals-ignore-case" else {
            throw PatternError(path: path, reason: "only equals-ignore-case can qualify this operator")
        }
        return try string(members[0].value, at: "\(path).equals-ignore-case").lowercased()
    }

    /// A string or a non-empty list of strings.
    private static func strings(_ json: JSONValue, at path: String) throws(PatternError) -> [String] {
        if case .string(let text) = json { return [text] }
        guard case .array(let elements) = json, !elements.isEmpty else {
            throw PatternError(path: path, reason: "expected a string or a non-empty list of strings")
        }
        var result: [String] = []
        for (index, element) in elements.enumerated() { result.append(try string(element, at: "\(path)[\(index)]")) }
        return result
    }

    /// The operand of anything-but `prefix`/`suffix`: an empty one would exclude every string, and AWS
    /// rejects it.
    private static func affixes(_ json: JSONValue, at path: String) throws(PatternError) -> [[UInt8]] {
        let values = try strings(json, at: path)
        guard !values.contains("") else { throw PatternError(path: path, reason: "null prefix/suffix not allowed") }
        return values.map { Array($0.utf8) }
    }

    private static func anythingBut(_ json: JSONValue, at path: String) throws(PatternError) -> AnythingBut {
        switch json {
        case .string(let text): return .strings([Array(text.utf8)])
        case .number(_, let value): return .numbers([value])
        case .array(let elements):
            guard !elements.isEmpty else { throw PatternError(path: path, reason: "the list must not be empty") }
            if elements.allSatisfy({ if case .string = $0 { true } else { false } }) {
                return .strings(elements.compactMap { if case .string(let s) = $0 { Array(s.utf8) } else { nil } })
            }
            if elements.allSatisfy({ if case .number = $0 { true } else { false } }) {
                return .numbers(elements.compactMap { if case .number(_, let v) = $0 { v } else { nil } })
            }
            throw PatternError(path: path, reason: "the list must hold only strings or only numbers")
        case .object(let members):
            guard members.count == 1 else { throw PatternError(path: path, reason: "expected exactly one operator") }
            let (name, operand) = (members[0].key, members[0].value)
            let here = "\(path).\(name)"
            switch name {
            case "prefix": return .prefixes(try affixes(operand, at: here))
            case "suffix": return .suffixes(try affixes(operand, at: here))
            case "equals-ignore-case": return .ignoringCase(try strings(operand, at: here).map { $0.lowercased() })
            case "wildcard":
                var wildcards: [Wildcard] = []
                for text in try strings(operand, at: here) { wildcards.append(try Wildcard(text, at: here)) }
                return .wildcards(wildcards)
            default: throw PatternError(path: path, reason: "unsupported anything-but operator \(name)")
            }
        default:
            throw PatternError(path: path, reason: "anything-but takes a string, a number, a list or an operator, not \(kind(json))")
        }
    }
}

/// A `numeric` range: at most one lower and one upper bound, or `=`.
struct NumericRange: Sendable {
    var lower: (value: Double, inclusive: Bool)?
    var upper: (value: Double, inclusive: Bool)?

    init(_ json: JSONValue, at path: String) throws(PatternError) {
        guard case .array(let items) = json, !items.isEmpty, items.count % 2 == 0 else {
            throw PatternError(path: path, reason: "numeric takes pairs of operator and number, e.g. [\">\", 0, \"<=\", 5]")
        }
        for pair in stride(from: 0, to: items.count, by: 2) {
            guard case .string(let op) = items[pair] else {
                throw PatternError(path: "\(path)[\(pair)]", reason: "expected one of =, <, <=, >, >=")
            }
            guard case .number(_, let value) = items[pair + 1], value.isFinite else {
                throw PatternError(path: "\(path)[\(pair + 1)]", reason: "expected a number after \"\(op)\"")
            }
            switch op {
            case "=":
                guard items.count == 2 else { throw PatternError(path: path, reason: "\"=\" cannot be combined with other bounds") }
                lower = (value, true)
                upper = (value, true)
            case ">", ">=":
                guard lower == nil else { throw PatternError(path: path, reason: "more than one lower bound") }
                lower = (value, op == ">=")
            case "<", "<=":
                guard upper == nil else { throw PatternError(path: path, reason: "more than one upper bound") }
                upper = (value, op == "<=")
            default:
                throw PatternError(path: "\(path)[\(pair)]", reason: "unrecognized numeric operator \"\(op)\"")
            }
        }
        if let lower, let upper, lower.value > upper.value {
            throw PatternError(path: path, reason: "the lower bound is above the upper bound")
        }
    }

    func contains(_ value: Double) -> Bool {
        if let lower, lower.inclusive ? value < lower.value : value <= lower.value { return false }
        if let upper, upper.inclusive ? value > upper.value : value >= upper.value { return false }
        return true
    }
}
