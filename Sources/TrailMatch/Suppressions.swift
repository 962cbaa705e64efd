public import TrailEvents
public import TrailJSON

/// Allowlists that silence alerts which are expected, read from the configuration file:
///
///     {"suppress": [
///       {"rules": ["iam.role.created"], "principals": ["arn:aws:sts::*:assumed-role/ci-deploy/*"],
///        "reason": "CI creates roles"},
///       {"invokedBy": ["cloudformation.amazonaws.com"]},
///       {"rules": ["signin.no-mfa"], "accounts": ["111122223333"], "sourceIPs": ["10.0.0.0/8", "203.0.113.7"]}
///     ]}
///
/// An entry without `rules` applies to every rule. An entry suppresses an alert when *every* field it
/// names matches (any one of the field's values): `principals` are globs (`*`) on `userIdentity.arn`,
/// `accounts` are `recipientAccountId`s, `sourceIPs` are addresses or CIDR blocks, `userAgents` and
/// `invokedBy` are substrings of `userAgent` and `userIdentity.invokedBy`. Unknown keys are errors: a
/// typo in an allowlist must not quietly widen or void it. Suppressed alerts are counted, never lost.
public struct Suppressions: Sendable {
    struct Entry: Sendable {
        var rules: Set<String>?
        var principals: [Wildcard] = []
        var accounts: [[UInt8]] = []
        var networks: [CIDR] = []
        var userAgents: [[UInt8]] = []
        var invokedBy: [[UInt8]] = []
    }

    let entries: [Entry]

    public static let none = Suppressions(entries: [])

    init(entries: [Entry]) {
        self.entries = entries
    }

    /// Rule ids that the entries name (to check them against the rules that exist).
    public var ruleIDs: Set<String> { Set(entries.flatMap { $0.rules ?? [] }) }

    /// Parses the `suppress` list of a configuration file's JSON (the other settings are read by their
    /// own owners; the command line refuses unknown ones).
    ///
    /// - Throws: `PatternError` whose path names the entry and key, e.g. `suppress[2].sourceIPs[0]`.
    public init(configuration json: JSONValue) throws(PatternError) {
        guard case .object = json else { throw PatternError(path: "", reason: "the configuration must be a JSON object") }
        guard let list = json["suppress"] else {
            entries = []
            return
        }
        guard case .array(let items) = list else { throw PatternError(path: "suppress", reason: "must be an array of entries") }
        var entries: [Entry] = []
        for (index, item) in items.enumerated() {
            let here = "suppress[\(index)]"
            guard case .object(let fields) = item, !fields.isEmpty else {
                throw PatternError(path: here, reason: "each entry must be a non-empty object")
            }
            var entry = Entry()
            var conditions = 0
            for (key, value) in fields {
                let path = "\(here).\(key)"
                if key == "reason" {
                    guard case .string = value else { throw PatternError(path: path, reason: "must be a string") }
                    continue
                }
                let strings = try Self.strings(value, at: path)
                switch key {
                case "rules": entry.rules = Set(strings)
                case "principals":
                    conditions += 1
                    for (i, glob) in strings.enumerated() { entry.principals.append(try Wildcard(glob, at: "\(path)[\(i)]")) }
                case "accounts":
                    conditions += 1
                    entry.accounts = strings.map { Array($0.utf8) }
                case "sourceIPs":
                    conditions += 1
                    for (i, text) in strings.enumerated() {
                        let block = text.contains("/") ? text : text + (text.contains(":") ? "/128" : "/32")
                        entry.networks.append(try CIDR(block, at: "\(path)[\(i)]"))
                    }
                case "userAgents":
                    conditions += 1
                    entry.userAgents = strings.map { Array($0.utf8) }
                case "invokedBy":
                    conditions += 1
                    entry.invokedBy = strings.map { Array($0.utf8) }
                default:
                    throw PatternError(path: path, reason: "unknown key (known: rules, principals, accounts, sourceIPs, userAgents, invokedBy, reason)")
                }
            }
            guard conditions > 0 else {
                throw PatternError(path: here, reason: "an entry needs at least one of principals, accounts, sourceIPs, userAgents, invokedBy")
            }
            entries.append(entry)
        }
        self.entries = entries
    }

    private static func strings(_ value: JSONValue, at path: String) throws(PatternError) -> [String] {
        guard case .array(let items) = value, !items.isEmpty else {
            throw PatternError(path: path, reason: "must be a non-empty array of strings")
        }
        var result: [String] = []
        for (index, item) in items.enumerated() {
            guard case .string(let text) = item, !text.isEmpty else {
                throw PatternError(path: "\(path)[\(index)]", reason: "must be a non-empty string")
            }
            result.append(text)
        }
        return result
    }

    /// Whether an alert of `ruleID` on `record` is suppressed.
    public func suppresses(ruleID: String, record: CloudTrailRecord) -> Bool {
        entries.contains { entry in
            if let rules = entry.rules, !rules.contains(ruleID) { return false }
            return Self.field(.userIdentityArn, of: record, matchesAny: entry.principals) { glob, text in glob.matches(text) }
                && Self.field(.recipientAccountId, of: record, matchesAny: entry.accounts) { account, text in text.elementsEqual(account) }
                && Self.field(.sourceIPAddress, of: record, matchesAny: entry.networks) { network, text in network.contains(text) }
                && Self.field(.userAgent, of: record, matchesAny: entry.userAgents, contains)
                && Self.field(.userIdentityInvokedBy, of: record, matchesAny: entry.invokedBy, contains)
        }
    }

    /// `true` when `values` is empty (the entry does not constrain this field), else whether the field
    /// is a string and `test` holds for one of the values.
    private static func field<Value>(
        _ field: CloudTrailField, of record: CloudTrailRecord, matchesAny values: [Value],
        _ test: (Value, UnsafeRawBufferPointer) -> Bool
    ) -> Bool {
        if values.isEmpty { return true }
        guard let text = record.stringBytes(field) else { return false }
        return text.withUnsafeBytes { text in values.contains { test($0, text) } }
    }
}

private func contains(_ needle: [UInt8], _ text: UnsafeRawBufferPointer) -> Bool {
    guard needle.count <= text.count else { return false }
    return (0...(text.count - needle.count)).contains { offset in
        UnsafeRawBufferPointer(rebasing: text[offset..<(offset + needle.count)]).elementsEqual(needle)
    }
}
