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

/// Something a pattern can be matched against.
protocol PatternEvent {
    /// Calls `body` for each value at `leaf`'s path (for an array, each element; objects inside arrays
    /// are searched too) until it returns `true`. Returns whether one call did.
    func anyValue(at leaf: PatternLeaf, _ body: (PatternValue) -> Bool) -> Bool
}

extension EventPattern {
    /// Whether an event (a whole EventBridge event, e.g. for `rules test --event`) matches.
    public func matches(event: JSONValue) -> Bool {
        root.matches(JSONEvent(root: event))
    }

    /// Whether the envelope of a CloudTrail record matches (compiles the pattern: for tests and tools;
    /// scans compile all rules once into a `RecordMatcher`).
    public func matches(_ record: CloudTrailRecord) -> Bool {
        let rule = Rule(id: "pattern", severity: .info, title: "pattern", description: "", pattern: self)
        return RecordMatcher(RuleSet([rule])).matches(rule: 0, record)
    }
}

extension PatternNode {
    func matches(_ event: some PatternEvent) -> Bool {
        // Elements are used in place: copying a leaf out of the array would retain its arrays.
        let leavesMatch = leaves.withUnsafeBufferPointer { leaves in
            for index in leaves.indices where !leaves[index].matches(event) { return false }
            return true
        }
        guard leavesMatch else { return false }
        if alternatives.isEmpty { return true }
        return alternatives.withUnsafeBufferPointer { groups in
            for index in groups.indices where !groups[index].contains(where: { $0.matches(event) }) { return false }
            return true
        }
    }
}

extension PatternLeaf {
    func matches(_ event: some PatternEvent) -> Bool {
        var sawLeafValue = false
        let matched = matchers.withUnsafeBufferPointer { matchers in
            event.anyValue(at: self) { value in
                if case .object = value { return false }
                sawLeafValue = true
                for index in matchers.indices where matchers[index].matches(value) { return true }
                return false
            }
        }
        if matched { return true }
        // A missing field (or an intermediate object) matches only `exists: false`.
        return !sawLeafValue && matchers.contains { if case .exists(false) = $0 { true } else { false } }
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
    /// Value and list forms match any value that is not excluded, `null` and other types included; the
    /// string-operator forms (prefix, suffix, equals-ignore-case, wildcard) need a string.
    func allows(_ value: PatternValue) -> Bool {
        switch self {
        case .strings(let excluded):
            guard case .string(let text) = value else { return true }
            return !excluded.contains { text.elementsEqual($0) }
        case .numbers(let excluded):
            guard case .number(let number) = value else { return true }
            return !excluded.contains(number)
        case .prefixes(let prefixes):
            guard case .string(let text) = value else { return false }
            return !prefixes.contains { text.starts(with: $0) }
        case .suffixes(let suffixes):
            guard case .string(let text) = value else { return false }
            return !suffixes.contains { text.count >= $0.count && text.suffix($0.count).elementsEqual($0) }
        case .ignoringCase(let excluded):
            guard case .string(let text) = value else { return false }
            return !excluded.contains(String(decoding: text, as: UTF8.self).lowercased())
        case .wildcards(let wildcards):
            guard case .string(let text) = value else { return false }
            return !wildcards.contains { $0.matches(text) }
        }
    }
}

// MARK: - A JSON event

/// An event given as JSON (`rules test --event`): paths are looked up in the value tree.
struct JSONEvent: PatternEvent {
    let root: JSONValue

    func anyValue(at leaf: PatternLeaf, _ body: (PatternValue) -> Bool) -> Bool {
        Self.anyValue(in: root, path: leaf.path[...], body)
    }

    private static func anyValue(in value: JSONValue, path: ArraySlice<String>, _ body: (PatternValue) -> Bool) -> Bool {
        if case .array(let elements) = value {
            return elements.contains { anyValue(in: $0, path: path, body) }
        }
        guard let key = path.first else { return leaf(value, body) }
        guard let child = value[key] else { return false }
        return anyValue(in: child, path: path.dropFirst(), body)
    }

    private static func leaf(_ value: JSONValue, _ body: (PatternValue) -> Bool) -> Bool {
        switch value {
        case .string(let text):
            var text = text
            return text.withUTF8 { body(.string(UnsafeRawBufferPointer($0))) }
        case .number(_, let number): return body(.number(number))
        case .bool(let flag): return body(.bool(flag))
        case .null: return body(.null)
        case .object: return body(.object)
        case .array: return false  // handled by the caller
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
