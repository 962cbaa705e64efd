internal import TrailJSON

/// Rules written by users, in a JSON file: an array of
///
///     {"id": "...", "severity": "info|low|medium|high|critical", "title": "...", "description": "...",
///      "pattern": {EventBridge pattern} or "<the pattern as a JSON string>",
///      "template": {"InputPathsMap": {...}, "InputTemplate": "..."},      // optional
///      "target": ["$.detail.requestParameters.userName", ...]}           // optional: what the action acted on
///
/// (`{"rules": [...]}` is accepted too). A file with any error is rejected whole, before scanning, with
/// the file, the rule and the place inside the pattern that is wrong.
public enum RuleFile {
    public struct Error: Swift.Error, Equatable, Sendable, CustomStringConvertible {
        public var file: String
        public var ruleID: String?
        public var message: String

        public var description: String {
            "\(file): " + (ruleID.map { "rule '\($0)': " } ?? "") + message
        }
    }

    /// A rule from a file, with its own template if it has one.
    public struct Entry: Sendable {
        public var rule: Rule
        public var template: InputTransformer?
    }

    /// Parses the text of a rule file named `file` (the name is only used in messages).
    public static func parse(_ bytes: [UInt8], file: String) throws(Error) -> [Entry] {
        func fail(_ message: String, rule: String? = nil) -> Error { Error(file: file, ruleID: rule, message: message) }
        let document: JSONValue
        do { document = try JSONValue(parsing: bytes) } catch { throw fail(error.description(in: bytes)) }
        let list: [JSONValue]
        switch document {
        case .array(let items): list = items
        case .object where document["rules"] != nil:
            guard case .array(let items)? = document["rules"] else { throw fail("\"rules\" must be an array") }
            list = items
        default: throw fail("expected an array of rules")
        }
        var entries: [Entry] = []
        var seen = Set<String>()
        for (index, item) in list.enumerated() {
            guard case .object = item else { throw fail("rule #\(index + 1) is not an object") }
            guard case .string(let id)? = item["id"], !id.isEmpty else { throw fail("rule #\(index + 1) has no \"id\"") }
            guard seen.insert(id).inserted else { throw fail("duplicate id", rule: id) }
            guard case .string(let severityName)? = item["severity"], let severity = Severity(name: severityName) else {
                throw fail("\"severity\" must be one of info, low, medium, high, critical", rule: id)
            }
            guard case .string(let title)? = item["title"], !title.isEmpty else { throw fail("\"title\" is required", rule: id) }
            var description = ""
            if let value = item["description"] {
                guard case .string(let text) = value else { throw fail("\"description\" must be a string", rule: id) }
                description = text
            }
            let pattern: EventPattern
            do throws(PatternError) {
                switch item["pattern"] {
                case .string(let text)?: pattern = try EventPattern(parsing: text)
                case let json?: pattern = try EventPattern(json)
                case nil: throw PatternError(path: "", reason: "\"pattern\" is required")
                }
            } catch {
                throw fail(error.path.isEmpty ? error.reason : "pattern \(error.description)", rule: id)
            }
            var template: InputTransformer?
            if let json = item["template"] {
                do throws(PatternError) { template = try InputTransformer(json) } catch {
                    throw fail("template \(error.description)", rule: id)
                }
            }
            var targets: [[String]] = []
            if let list = item["target"] {
                guard case .array(let paths) = list else { throw fail("\"target\" must be an array of paths such as $.detail.requestParameters.userName", rule: id) }
                for path in paths {
                    guard case .string(let text) = path, text.hasPrefix("$.detail."), text.count > 9,
                          !text.dropFirst(9).split(separator: ".", omittingEmptySubsequences: false).contains(where: \.isEmpty)
                    else {
                        throw fail("\"target\": each path is $.detail. and the record's dotted field names, e.g. $.detail.requestParameters.userName", rule: id)
                    }
                    targets.append(text.dropFirst(9).split(separator: ".").map(String.init))
                }
            }
            entries.append(Entry(
                rule: Rule(id: id, severity: severity, title: title, description: description, pattern: pattern, targets: targets),
                template: template))
        }
        return entries
    }
}
