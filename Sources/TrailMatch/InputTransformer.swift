public import TrailJSON

/// An EventBridge input transformer: `InputPathsMap` (variable → JSONPath into the event) and
/// `InputTemplate` with `<variable>` placeholders, rendered as EventBridge renders it
/// (EventBridge user guide, "Transforming target input"):
///
/// - A *string* template (a JSON string, quotes included) gives that string with each placeholder
///   replaced by the variable's raw text: a string without quotes, anything else as minified JSON.
/// - A *JSON* template gives JSON: a placeholder outside quotes becomes the variable's JSON (strings
///   quoted), inside quotes its raw text. The result is minified, as EventBridge minifies what it sends.
/// - In a JSON template a value inserted inside quotes is JSON-escaped, so the result is always the JSON
///   the template's author wrote with only values varying. Here trailscan knowingly differs from
///   EventBridge, which inserts the raw text: there a `"` in a log value (a user agent, a user name)
///   ends the string and can add keys to the message. String templates insert the raw text, as
///   EventBridge does.
/// - A variable whose path is not in the event is not created. EventBridge documents only that it "won't
///   appear in the output"; trailscan renders it as nothing inside a string and as `null` outside one, so
///   JSON output stays valid.
/// - Predefined: `<aws.events.rule-name>` (the rule id), `<aws.events.rule-arn>` (an ARN made of the
///   event's region, account and the rule id), `<aws.events.event>` (the event as JSON),
///   `<aws.events.event.json>` (the same as a string) and `<aws.events.event.ingestion-time>` (the
///   event's time: there is no ingestion here).
public struct InputTransformer: Sendable, Equatable {
    public let paths: [(name: String, path: JSONPath)]
    public let template: String
    /// The template is JSON (it starts with `{` or `[`): it renders to JSON.
    public let isJSONTemplate: Bool

    public static func == (lhs: InputTransformer, rhs: InputTransformer) -> Bool {
        lhs.template == rhs.template && lhs.paths.map(\.name) == rhs.paths.map(\.name)
            && lhs.paths.map(\.path.text) == rhs.paths.map(\.path.text)
    }

    static let predefined: Set<String> = Self.timeVariables.union([
        "aws.events.rule-arn", "aws.events.rule-name", "aws.events.event", "aws.events.event.ingestion-time",
        "aws.events.event.json",
    ])

    /// trailscan's own variables: the event's time in the chosen time zone (`--timezone`, the
    /// configuration's `timezone`) and in UTC, as the messages show them. Empty where the caller gives
    /// no clock (scan output).
    public static let timeVariables: Set<String> = ["trailscan.event.time", "trailscan.event.time-utc"]

    /// - Throws: `PatternError` (with a path such as `InputPathsMap.user`) for a malformed transformer.
    public init(_ json: JSONValue) throws(PatternError) {
        guard case .object(let members) = json else { throw PatternError(path: "", reason: "an input transformer must be a JSON object") }
        if let unknown = members.first(where: { $0.key != "InputPathsMap" && $0.key != "InputTemplate" }) {
            throw PatternError(path: unknown.key, reason: "unknown member (an input transformer has InputPathsMap and InputTemplate)")
        }
        guard case .string(let template) = json["InputTemplate"] else {
            throw PatternError(path: "InputTemplate", reason: "required, and must be a string")
        }
        var paths: [(name: String, path: JSONPath)] = []
        switch json["InputPathsMap"] {
        case nil: break
        case .object(let members)?:
            guard members.count <= 100 else { throw PatternError(path: "InputPathsMap", reason: "more than 100 variables") }
            for (name, value) in members {
                guard !Self.predefined.contains(name) else {
                    throw PatternError(path: "InputPathsMap.\(name)", reason: "\(name) is a reserved variable name")
                }
                guard case .string(let text) = value, let path = JSONPath(text) else {
                    throw PatternError(path: "InputPathsMap.\(name)", reason: "expected a JSONPath such as \"$.detail.eventName\"")
                }
                paths.append((name, path))
            }
        default:
            throw PatternError(path: "InputPathsMap", reason: "must be an object of variable names and JSONPaths")
        }
        self.paths = paths
        self.template = template
        let trimmed = template.drop(while: { $0 == " " || $0 == "\n" || $0 == "\t" || $0 == "\r" })
        isJSONTemplate = trimmed.first == "{" || trimmed.first == "["
        if isJSONTemplate, let name = undefinedPlaceholderOutsideStrings() {
            throw PatternError(path: "InputTemplate", reason: "<\(name)> is not a variable of InputPathsMap (nor a predefined one), so the message would not be JSON")
        }
    }

    /// Renders the template for `event` (the envelope) matched by the rule `ruleID`.
    ///
    /// - Parameters:
    ///   - extra: values of `timeVariables`.
    ///   - escape: applied to each value a string template inserts (a JSON template JSON-escapes its
    ///     values), so that a message can keep its template's own newlines and still show none from a log.
    public func render(event: JSONValue, ruleID: String, extra: [String: String] = [:], escape: (String) -> String = { $0 }) -> String {
        var variables: [String: JSONValue] = extra.mapValues { .string($0) }
        for (name, path) in paths {
            if let value = path.evaluate(on: event) { variables[name] = value }
        }
        func string(_ key: String) -> String {
            if case .string(let text) = event[key] { text } else { "" }
        }
        variables["aws.events.rule-name"] = .string(ruleID)
        variables["aws.events.rule-arn"] = .string("arn:aws:events:\(string("region")):\(string("account")):rule/\(ruleID)")
        variables["aws.events.event"] = event
        variables["aws.events.event.json"] = .string(event.serialized)
        if let time = event["time"] { variables["aws.events.event.ingestion-time"] = time }
        return substitute(variables, escape: escape)
    }

    /// The first `<name>` outside a string of a JSON template that names no variable: left as it is, it
    /// would make the message invalid JSON.
    private func undefinedPlaceholderOutsideStrings() -> String? {
        var inString = false, escaped = false
        var rest = Substring(template)
        while let character = rest.first {
            if !inString, character == "<", let close = rest.firstIndex(of: ">") {
                let name = String(rest[rest.index(after: rest.startIndex)..<close])
                if !paths.contains(where: { $0.name == name }) && !Self.predefined.contains(name) { return name }
            }
            if escaped { escaped = false } else if inString && character == "\\" { escaped = true } else if character == "\"" { inString.toggle() }
            rest = rest.dropFirst()
        }
        return nil
    }

    /// Replaces each `<name>` of a known variable; other `<…>` text is left as it is.
    private func substitute(_ variables: [String: JSONValue], escape: (String) -> String) -> String {
        var output = ""
        var inString = false
        var escaped = false
        var rest = Substring(template)
        while let character = rest.first {
            if character == "<", let close = rest.firstIndex(of: ">") {
                let name = String(rest[rest.index(after: rest.startIndex)..<close])
                if variables[name] != nil || paths.contains(where: { $0.name == name }) || Self.predefined.contains(name) {
                    output += text(of: variables[name], quotedContext: inString || !isJSONTemplate, escape: escape)
                    rest = rest[rest.index(after: close)...]
                    continue
                }
            }
            if isJSONTemplate {
                if escaped {
                    escaped = false
                } else if character == "\\" {
                    escaped = true
                } else if character == "\"" {
                    inString.toggle()
                }
                // JSON templates are sent minified: drop whitespace between tokens.
                if !inString && (character == " " || character == "\n" || character == "\t" || character == "\r") {
                    rest = rest.dropFirst()
                    continue
                }
            }
            output.append(character)
            rest = rest.dropFirst()
        }
        return output
    }

    /// A variable's text: JSON outside a string; inside a string its raw text (a string's characters,
    /// another value's JSON), JSON-escaped in a JSON template.
    private func text(of value: JSONValue?, quotedContext: Bool, escape: (String) -> String) -> String {
        guard let value else { return quotedContext ? "" : "null" }
        guard quotedContext else { return value.serialized }
        let raw: String
        if case .string(let text) = value { raw = text } else { raw = value.serialized }
        guard isJSONTemplate else { return escape(raw) }
        var quoted: [UInt8] = []
        JSONString.appendQuoted(raw, to: &quoted)
        return String(decoding: quoted.dropFirst().dropLast(), as: UTF8.self)
    }
}

/// The JSONPath subset input transformers use: `$`, `.key` (keys may contain `-`), `['key']`, `[n]`.
public struct JSONPath: Sendable {
    enum Step: Sendable {
        case key(String)
        case index(Int)
    }

    let steps: [Step]
    public let text: String

    public init?(_ text: String) {
        self.text = text
        guard text.hasPrefix("$") else { return nil }
        var steps: [Step] = []
        var rest = text.dropFirst()
        while let first = rest.first {
            if first == "." {
                rest = rest.dropFirst()
                let key = rest.prefix { $0 != "." && $0 != "[" }
                guard !key.isEmpty else { return nil }
                steps.append(.key(String(key)))
                rest = rest.dropFirst(key.count)
            } else if first == "[" {
                guard let close = rest.firstIndex(of: "]") else { return nil }
                let inside = rest[rest.index(after: rest.startIndex)..<close]
                if let index = Int(inside), index >= 0 {
                    steps.append(.index(index))
                } else if inside.count >= 2, let quote = inside.first, quote == "'" || quote == "\"", inside.last == quote {
                    steps.append(.key(String(inside.dropFirst().dropLast())))
                } else {
                    return nil
                }
                rest = rest[rest.index(after: close)...]
            } else {
                return nil
            }
        }
        self.steps = steps
    }

    /// The value at this path in `value`, or `nil` when the path does not exist.
    public func evaluate(on value: JSONValue) -> JSONValue? {
        var current = value
        for step in steps {
            switch step {
            case .key(let key):
                guard let child = current[key] else { return nil }
                current = child
            case .index(let index):
                guard case .array(let elements) = current, index < elements.count else { return nil }
                current = elements[index]
            }
        }
        return current
    }
}
