// TrailNotify: tells people. Destinations (Slack, webhooks, Amazon SNS, email) read from the
// configuration, the messages each one gets (one alert, or an aggregate that still names everyone),
// the senders, and the delivery loop over an outbox — which this module defines and the state store
// implements (`NotificationOutbox`), so nothing here knows SQLite.

public import TrailMatch
public import TrailJSON
public import TrailScan

/// A place alerts are sent, as the configuration file's `notify` list describes it.
public struct Destination: Sendable {
    public enum Kind: Sendable {
        /// A Slack incoming webhook.
        case slack(url: Secret)
        /// Any HTTPS endpoint taking the alert's JSON.
        case webhook(url: Secret, headers: [Header])
        /// An Amazon SNS topic, published to with the AWS credentials of the scan.
        case sns(topicArn: String, region: String)
        case email(Email)

        public var name: String {
            switch self {
            case .slack: "slack"
            case .webhook: "webhook"
            case .sns: "sns"
            case .email: "email"
            }
        }
    }

    public struct Header: Sendable {
        public var name: String
        public var value: Secret
    }

    public struct Email: Sendable {
        /// `smtp://host[:port]` (STARTTLS required unless `allowPlaintext`) or `smtps://host[:port]`.
        public var url: String
        public var username: Secret?
        public var password: Secret?
        public var from: String
        public var to: [String]
        public var allowPlaintext: Bool
        /// Certificates to trust for this server instead of the system's.
        public var caFile: String?
    }

    /// How `--notify` names it: its `name`, else its kind (`slack`, then `slack-2`…).
    public var name: String
    public var kind: Kind
    /// Rule ids or globs; empty: every rule.
    public var rules: [Wildcard]
    public var minimumSeverity: Severity
    /// Accounts (`recipientAccountId`); empty: every account.
    public var accounts: Set<String>
    /// Its own message, from an EventBridge input transformer (the body of the message).
    public var template: InputTransformer?
    /// Its own aggregation window, or `nil` for the run's (`--aggregate`).
    public var aggregation: Aggregation?

    /// Whether an alert goes to this destination.
    public func accepts(_ finding: Finding) -> Bool {
        finding.severity >= minimumSeverity
            && (rules.isEmpty || rules.contains { $0.matches(finding.ruleID) })
            && (accounts.isEmpty || finding.account.map(accounts.contains) == true)
    }

    /// The destinations of a configuration's `notify` list (none when it has none).
    ///
    /// - Throws: `PatternError` whose path names the entry and key, e.g. `notify[1].sns.topicArn`.
    public static func all(configuration json: JSONValue) throws(PatternError) -> [Destination] {
        guard let list = json["notify"] else { return [] }
        guard case .array(let items) = list else { throw PatternError(path: "notify", reason: "must be an array of destinations") }
        var destinations: [Destination] = []
        var used: [String: Int] = [:]
        for (index, item) in items.enumerated() {
            var destination = try Destination(item, at: "notify[\(index)]")
            if destination.name.isEmpty {
                used[destination.kind.name, default: 0] += 1
                let count = used[destination.kind.name]!
                destination.name = count == 1 ? destination.kind.name : "\(destination.kind.name)-\(count)"
            }
            guard destination.name != "output" else {
                throw PatternError(path: "notify[\(index)].name", reason: "'output' is reserved (standard output's place in the state's outbox)")
            }
            guard !destinations.contains(where: { $0.name == destination.name }) else {
                throw PatternError(path: "notify[\(index)].name", reason: "'\(destination.name)' names two destinations")
            }
            destinations.append(destination)
        }
        return destinations
    }

    private init(_ json: JSONValue, at here: String) throws(PatternError) {
        guard case .object(let members) = json else { throw PatternError(path: here, reason: "each destination must be an object") }
        let kinds = ["slack", "webhook", "sns", "email"]
        let known = kinds + ["name", "rules", "minSeverity", "accounts", "template", "aggregate"]
        for (key, _) in members where !known.contains(key) {
            throw PatternError(path: "\(here).\(key)", reason: "unknown key (known: \(known.joined(separator: ", ")))")
        }
        let given = kinds.filter { json[$0] != nil }
        guard given.count == 1, let kindName = given.first, let body = json[kindName] else {
            throw PatternError(path: here, reason: "give exactly one of slack, webhook, sns, email")
        }
        let at = "\(here).\(kindName)"
        let fields = Fields(body, at: at)
        switch kindName {
        case "slack":
            try fields.only(["url"])
            kind = .slack(url: try fields.secret("url", https: true))
        case "webhook":
            try fields.only(["url", "headers"])
            var headers: [Header] = []
            if let list = body["headers"] {
                guard case .object(let pairs) = list else { throw PatternError(path: "\(at).headers", reason: "must be an object of header names to values") }
                for (name, value) in pairs {
                    guard !name.isEmpty, name.utf8.allSatisfy(Self.isTokenByte) else {
                        throw PatternError(path: "\(at).headers", reason: "'\(name)' is not a header name")
                    }
                    guard case .string(let text) = value else { throw PatternError(path: "\(at).headers.\(name)", reason: "must be a string") }
                    headers.append(Header(name: name, value: try Secret(text, at: "\(at).headers.\(name)")))
                }
            }
            kind = .webhook(url: try fields.secret("url", https: true), headers: headers)
        case "sns":
            try fields.only(["topicArn"])
            let arn = try fields.string("topicArn")
            let parts = arn.split(separator: ":", omittingEmptySubsequences: false)
            guard parts.count == 6, parts[0] == "arn", parts[2] == "sns", !parts[3].isEmpty, parts[4].count == 12, !parts[5].isEmpty else {
                throw PatternError(path: "\(at).topicArn", reason: "'\(arn)' is not an SNS topic ARN (arn:aws:sns:<region>:<account>:<name>)")
            }
            kind = .sns(topicArn: arn, region: String(parts[3]))
        default:
            try fields.only(["url", "username", "password", "from", "to", "allowPlaintext", "caFile"])
            let url = try fields.string("url")
            guard url.hasPrefix("smtp://") || url.hasPrefix("smtps://") else {
                throw PatternError(path: "\(at).url", reason: "must start with smtp:// (STARTTLS) or smtps://")
            }
            let to = try fields.strings("to")
            guard !to.isEmpty else { throw PatternError(path: "\(at).to", reason: "needs at least one address") }
            for address in to + [try fields.string("from")] where !Self.isAddress(address) {
                throw PatternError(path: at, reason: "'\(address)' is not an email address")
            }
            kind = .email(Email(
                url: url, username: try fields.optionalSecret("username"), password: try fields.optionalSecret("password"),
                from: try fields.string("from"), to: to, allowPlaintext: try fields.bool("allowPlaintext"),
                caFile: try fields.optionalString("caFile")))
        }
        let top = Fields(json, at: here)
        name = try top.optionalString("name") ?? ""
        rules = try top.strings("rules").enumerated().map { (index, text) throws(PatternError) in try Wildcard(text, at: "\(here).rules[\(index)]") }
        if let severity = try top.optionalString("minSeverity") {
            guard let level = Severity(name: severity) else {
                throw PatternError(path: "\(here).minSeverity", reason: "'\(severity)' is not a severity (info, low, medium, high, critical)")
            }
            minimumSeverity = level
        } else {
            minimumSeverity = .info
        }
        accounts = Set(try top.strings("accounts"))
        template = try json["template"].map { (value) throws(PatternError) in
            do throws(PatternError) { return try InputTransformer(value) } catch {
                throw PatternError(path: "\(here).template" + (error.path.isEmpty ? "" : ".\(error.path)"), reason: error.reason)
            }
        }
        aggregation = try top.optionalString("aggregate").map { (text) throws(PatternError) in
            guard let window = Aggregation(text) else { throw PatternError(path: "\(here).aggregate", reason: "'\(text)' is not none, 5m or 12h") }
            return window
        }
    }

    private static func isTokenByte(_ byte: UInt8) -> Bool {
        (byte >= 0x30 && byte <= 0x39) || (byte | 0x20 >= 0x61 && byte | 0x20 <= 0x7A) || "!#$%&'*+-.^_`|~".utf8.contains(byte)
    }

    /// `local@domain`, printable ASCII without spaces, brackets or line ends (it goes into SMTP commands).
    static func isAddress(_ text: String) -> Bool {
        let parts = text.split(separator: "@", omittingEmptySubsequences: false)
        return parts.count == 2 && !parts[0].isEmpty && !parts[1].isEmpty
            && text.utf8.allSatisfy { $0 > 0x20 && $0 < 0x7F && $0 != 0x3C && $0 != 0x3E && $0 != 0x22 && $0 != 0x5C }
    }
}

/// How alerts are grouped into messages (AWS User Notifications' three choices): one message per
/// alert, or per rule, account and 5-minute or 12-hour window of `eventTime`.
public enum Aggregation: Sendable, Equatable {
    case none
    case window(seconds: Int64)

    public init?(_ text: String) {
        switch text {
        case "none": self = .none
        case "5m": self = .window(seconds: 300)
        case "12h": self = .window(seconds: 43_200)
        default: return nil
        }
    }
}

/// The members of one configuration object, read with the paths errors name.
private struct Fields {
    let json: JSONValue
    let at: String

    init(_ json: JSONValue, at: String) {
        self.json = json
        self.at = at
    }

    func only(_ keys: [String]) throws(PatternError) {
        guard case .object(let members) = json else { throw PatternError(path: at, reason: "must be an object") }
        for (key, _) in members where !keys.contains(key) {
            throw PatternError(path: "\(at).\(key)", reason: "unknown key (known: \(keys.joined(separator: ", ")))")
        }
    }

    func optionalString(_ key: String) throws(PatternError) -> String? {
        switch json[key] {
        case nil: return nil
        case .string(let text)?: return text
        default: throw PatternError(path: "\(at).\(key)", reason: "must be a string")
        }
    }

    func string(_ key: String) throws(PatternError) -> String {
        guard let text = try optionalString(key), !text.isEmpty else { throw PatternError(path: "\(at).\(key)", reason: "is required") }
        return text
    }

    func strings(_ key: String) throws(PatternError) -> [String] {
        guard let value = json[key] else { return [] }
        guard case .array(let items) = value else { throw PatternError(path: "\(at).\(key)", reason: "must be an array of strings") }
        return try items.enumerated().map { (index, item) throws(PatternError) in
            guard case .string(let text) = item else { throw PatternError(path: "\(at).\(key)[\(index)]", reason: "must be a string") }
            return text
        }
    }

    func bool(_ key: String) throws(PatternError) -> Bool {
        switch json[key] {
        case nil: return false
        case .bool(let value)?: return value
        default: throw PatternError(path: "\(at).\(key)", reason: "must be true or false")
        }
    }

    func secret(_ key: String, https: Bool = false) throws(PatternError) -> Secret {
        let secret = try Secret(try string(key), at: "\(at).\(key)")
        if https, case .literal(let url) = secret, !(url.hasPrefix("https://") || url.hasPrefix("http://")) {
            throw PatternError(path: "\(at).\(key)", reason: "must be an http(s):// URL, or env:NAME or file:PATH")
        }
        return secret
    }

    func optionalSecret(_ key: String) throws(PatternError) -> Secret? {
        try optionalString(key).map { (text) throws(PatternError) in try Secret(text, at: "\(at).\(key)") }
    }
}
