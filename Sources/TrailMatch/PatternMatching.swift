public import TrailEvents
public import TrailJSON

/// A value of the event at a pattern's path, as a matcher sees it. Strings are bytes (borrowed).
enum PatternValue {
    case string(UnsafeRawBufferPointer)
    case number(Double)
    case bool(Bool)
    case null
    /// An object (not a leaf: `exists: true` does not match it, `exists: false` does).
    case object
}

extension EventPattern {
    /// Whether an event (a whole EventBridge event: `rules test --event`, and the reference for records
    /// whose fields cross an array of objects) matches: one of the conjunctions does.
    public func matches(event: JSONValue) -> Bool {
        conjunctions.contains { EventTree.matches($0, event) }
    }

    /// Whether the envelope of a CloudTrail record matches (compiles the pattern: for tests and tools;
    /// scans compile all rules once into a `RecordMatcher`).
    public func matches(_ record: CloudTrailRecord) -> Bool {
        let rule = Rule(id: "pattern", severity: .info, title: "pattern", description: "", pattern: self)
        return RecordMatcher(RuleSet([rule])).matches(rule: 0, record)
    }
}

/// The reference semantics, on an event given as a JSON value.
///
/// An event is seen as EventBridge flattens it: a member `"a.b"` and a member `"a"` holding `{"b": …}`
/// both lead to the field `a.b`; when an object repeats a key, the last one wins. A conjunction's
/// leaves that need a value are matched together: where their paths cross an array of objects, they
/// must all be met inside the same element (event-ruler's `rulesForJSONEvent`). A leaf that accepts
/// absence (`exists: false` among its alternatives) is matched on its own over the whole event: a field
/// is absent when no element of any array holds it.
enum EventTree {
    static func matches(_ leaves: [PatternLeaf], _ event: JSONValue) -> Bool {
        var together: [(leaf: PatternLeaf, depth: Int)] = []
        for leaf in leaves {
            if leaf.allowsAbsence {
                guard matchesAlone(leaf, event) else { return false }
            } else {
                together.append((leaf, 0))
            }
        }
        return together.isEmpty || satisfied(together, by: event)
    }

    /// Whether one value (and, through arrays, one element) meets every leaf from its `depth` on.
    private static func satisfied(_ leaves: [(leaf: PatternLeaf, depth: Int)], by value: JSONValue) -> Bool {
        if case .array(let elements) = value {
            return elements.contains { satisfied(leaves, by: $0) }
        }
        var below: [(leaf: PatternLeaf, depth: Int)] = []
        for item in leaves {
            if item.depth == item.leaf.path.count {
                guard accepts(item.leaf, value) else { return false }
            } else {
                below.append(item)
            }
        }
        if below.isEmpty { return true }
        guard case .object(let members) = value else { return false }
        var byMember: [Int: [(leaf: PatternLeaf, depth: Int)]] = [:]
        for item in below {
            let ways = routes(item.leaf.path, from: item.depth, in: members)
            switch ways.count {
            case 0: return false
            case 1: byMember[ways[0].member, default: []].append((item.leaf, ways[0].depth))
            default:
                // The object spells the path two ways (`"a"` and `"a.b"`): either may hold this leaf.
                guard ways.contains(where: { satisfied([(item.leaf, $0.depth)], by: members[$0.member].value) }) else { return false }
            }
        }
        return byMember.allSatisfy { satisfied($0.value, by: members[$0.key].value) }
    }

    /// The members of an object that continue `path` from `depth`, with the depth each leads to: a key
    /// may stand for several segments (`"a.b"`). Of members with the same key, the last.
    private static func routes(_ path: [String], from depth: Int, in members: [(key: String, value: JSONValue)]) -> [(member: Int, depth: Int)] {
        var found: [Int: Int] = [:]  // depth reached -> member
        for (index, member) in members.enumerated() {
            var joined = ""
            for end in depth..<path.count {
                joined += end == depth ? path[end] : "." + path[end]
                if joined.utf8.count > member.key.utf8.count { break }
                if joined == member.key { found[end + 1] = index }
            }
        }
        return found.map { (member: $0.value, depth: $0.key) }.sorted { $0.depth < $1.depth }
    }

    /// A leaf matched over every value at its path.
    private static func matchesAlone(_ leaf: PatternLeaf, _ event: JSONValue) -> Bool {
        var sawLeafValue = false
        let matched = anyValue(leaf.path, from: 0, in: event) { value in
            if case .object = value { return false }
            sawLeafValue = true
            return accepts(leaf, value)
        }
        return matched || (!sawLeafValue && leaf.allowsAbsence)
    }

    private static func anyValue(_ path: [String], from depth: Int, in value: JSONValue, _ body: (JSONValue) -> Bool) -> Bool {
        if case .array(let elements) = value {
            return elements.contains { anyValue(path, from: depth, in: $0, body) }
        }
        if depth == path.count { return body(value) }
        guard case .object(let members) = value else { return false }
        return routes(path, from: depth, in: members).contains { anyValue(path, from: $0.depth, in: members[$0.member].value, body) }
    }

    /// Whether a leaf value (not an array) is one of the leaf's alternatives. An object is not a leaf value.
    private static func accepts(_ leaf: PatternLeaf, _ value: JSONValue) -> Bool {
        func any(_ value: PatternValue) -> Bool { leaf.matchers.contains { $0.matches(value) } }
        switch value {
        case .string(let text):
            var text = text
            return text.withUTF8 { any(.string(UnsafeRawBufferPointer($0))) }
        case .number(_, let number): return any(.number(number))
        case .bool(let flag): return any(.bool(flag))
        case .null: return any(.null)
        case .object, .array: return false
        }
    }
}

extension ValueMatcher {
    /// Whether the matcher accepts `value`.
    ///
    /// Switches on `self` alone and reads the value inside each case: a `switch (self, value)` would build
    /// a tuple, a copy of the matcher whose array payload is retained and released on every comparison.
    func matches(_ value: PatternValue) -> Bool {
        switch self {
        case .string(let expected):
            guard case .string(let text) = value else { return false }
            return text.count == expected.count && text.elementsEqual(expected)
        case .number(let expected):
            guard case .number(let number) = value else { return false }
            return number == expected
        case .bool(let expected):
            guard case .bool(let flag) = value else { return false }
            return flag == expected
        case .null:
            if case .null = value { return true }
            return false
        case .prefix(let prefix):
            guard case .string(let text) = value else { return false }
            return text.starts(with: prefix)
        case .suffix(let suffix):
            guard case .string(let text) = value else { return false }
            return text.count >= suffix.count && text.suffix(suffix.count).elementsEqual(suffix)
        case .prefixIgnoringCase(let prefix):
            guard case .string(let text) = value else { return false }
            return Self.lowercased(text).hasPrefix(prefix)
        case .suffixIgnoringCase(let suffix):
            guard case .string(let text) = value else { return false }
            return Self.lowercased(text).hasSuffix(suffix)
        case .equalsIgnoringCase(let expected):
            guard case .string(let text) = value else { return false }
            return Self.lowercased(text) == expected
        case .wildcard(let wildcard):
            guard case .string(let text) = value else { return false }
            return wildcard.matches(text)
        case .numeric(let range):
            guard case .number(let number) = value else { return false }
            return range.contains(number)
        case .cidr(let network):
            guard case .string(let text) = value else { return false }
            return network.contains(text)
        case .exists(let exists):
            return exists  // called only with a leaf value: it exists
        case .anythingBut(let excluded):
            return excluded.allows(value)
        }
    }

    private static func lowercased(_ text: UnsafeRawBufferPointer) -> String {
        String(decoding: text, as: UTF8.self).lowercased()
    }
}

extension ValueMatcher.AnythingBut {
    /// Every form matches any value that is not an excluded string or number: `null`, booleans and
    /// numbers are "anything but" a string with a prefix, a suffix, a case-folded spelling or a wildcard
    /// shape (AWS's behaviour), and strings are anything but a number.
    func allows(_ value: PatternValue) -> Bool {
        switch self {
        case .strings(let excluded):
            guard case .string(let text) = value else { return true }
            return !excluded.contains { text.elementsEqual($0) }
        case .numbers(let excluded):
            guard case .number(let number) = value else { return true }
            return !excluded.contains(number)
        case .prefixes(let prefixes):
            guard case .string(let text) = value else { return true }
            return !prefixes.contains { text.starts(with: $0) }
        case .suffixes(let suffixes):
            guard case .string(let text) = value else { return true }
            return !suffixes.contains { text.count >= $0.count && text.suffix($0.count).elementsEqual($0) }
        case .ignoringCase(let excluded):
            guard case .string(let text) = value else { return true }
            return !excluded.contains(String(decoding: text, as: UTF8.self).lowercased())
        case .wildcards(let wildcards):
            guard case .string(let text) = value else { return true }
            return !wildcards.contains { $0.matches(text) }
        }
    }
}

/// Where a leaf's path leads in a record's envelope, decided once when the pattern is compiled.
enum LeafLocation: Sendable {
    case knownField(CloudTrailField)
    /// A path under `detail`, as the UTF-8 bytes of each key.
    case detail([[UInt8]])
    case envelope(Envelope.Field)
    case nowhere

    init(_ path: [String]) {
        if path.first == "detail" {
            let inner = Array(path.dropFirst())
            if let field = CloudTrailField.allCases.first(where: { $0.path == inner }) {
                self = .knownField(field)
            } else {
                self = .detail(inner.map { Array($0.utf8) })
            }
        } else if path.count == 1, let field = Envelope.Field(rawValue: path[0]) {
            self = .envelope(field)
        } else {
            self = .nowhere
        }
    }
}
