import Testing
import TrailEvents
import TrailJSON
import TrailTestSupport
@testable import TrailMatch

/// The EC2 event of the EventBridge user guide's "Transforming target input" page.
let guideEvent = try! JSONValue(parsing: """
    {"version":"0","id":"7bf73129-1428-4cd3-a780-95db273d1602","detail-type":"EC2 Instance State-change Notification",\
    "source":"aws.ec2","account":"123456789012","time":"2015-11-11T21:29:54Z","region":"us-east-1",\
    "resources":["arn:aws:ec2:us-east-1:123456789012:instance/i-abcd1111"],\
    "detail":{"instance-id":"i-0123456789","state":"RUNNING"}}
    """)

func render(_ template: String, event: JSONValue = guideEvent, rule: String = "example") throws -> String {
    let transformer = try InputTransformer(.object([
        ("InputPathsMap", .object([
            ("timestamp", .string("$.time")), ("instance", .string("$.detail.instance-id")),
            ("state", .string("$.detail.state")), ("missing", .string("$.detail.nope")),
        ])),
        ("InputTemplate", .string(template)),
    ]))
    return transformer.render(event: event, ruleID: rule)
}

@Suite struct InputTransformerTests {
    /// The rows of the guide's table of templates and outputs (console behaviour for escaped quotes;
    /// JSON output minified, as the guide says EventBridge sends it).
    @Test func theUserGuideExamples() throws {
        #expect(try render(#""instance <instance> is in <state>""#) == #""instance i-0123456789 is in RUNNING""#)
        #expect(try render(#""instance \"<instance>\" is in <state>""#) == #""instance \"i-0123456789\" is in RUNNING""#)
        #expect(try render("{\n  \"instance\" : <instance>,\n  \"state\": <state>\n}") == #"{"instance":"i-0123456789","state":"RUNNING"}"#)
        #expect(try render(#"{"instance" : <instance>, "state": "<state>", "instanceStatus": "instance \"<instance>\" is in <state>"}"#)
            == #"{"instance":"i-0123456789","state":"RUNNING","instanceStatus":"instance \"i-0123456789\" is in RUNNING"}"#)
        #expect(try render(#"{"instance" : <instance>, "state": [ 9, <state>, true ], "Transformed" : "Yes"}"#)
            == #"{"instance":"i-0123456789","state":[9,"RUNNING",true],"Transformed":"Yes"}"#)
        #expect(try render(#""<aws.events.rule-name> triggered""#) == #""example triggered""#)
        #expect(try render(#"{"ruleArn": <aws.events.rule-arn>, "ruleName": <aws.events.rule-name>}"#)
            == #"{"ruleArn":"arn:aws:events:us-east-1:123456789012:rule/example","ruleName":"example"}"#)
        #expect(try render(#"{"originalEvent": <aws.events.event>}"#) == #"{"originalEvent":\#(guideEvent.serialized)}"#)
    }

    @Test func missingPathsAndUnknownPlaceholders() throws {
        #expect(try render(#""[<missing>] <not-a-variable>""#) == #""[] <not-a-variable>""#)
        #expect(try render(#"{"m": <missing>, "s": "<missing>"}"#) == #"{"m":null,"s":""}"#)
    }

    @Test func objectsAreInsertedAsJSONAndValuesAreNotEscaped() throws {
        let event = try JSONValue(parsing: #"{"detail":{"o":{"a":[1,"x"]},"q":"say \"hi\""}}"#)
        let transformer = try InputTransformer(try JSONValue(parsing: #"{"InputPathsMap":{"o":"$.detail.o","q":"$.detail.q","first":"$.detail.o.a[0]"},"InputTemplate":"\"o=<o> q=<q> first=<first>\""}"#))
        #expect(transformer.render(event: event, ruleID: "r") == #""o={"a":[1,"x"]} q=say "hi" first=1""#)
    }

    /// The transformer from a real setup quoted in the issue, on the AWS documentation's root sign-in
    /// record, byte for byte.
    @Test func theJapaneseSignInTransformerRendersAsEventBridgeWould() throws {
        let record = try JSONValue(parsing: """
            {"eventVersion":"1.05","userIdentity":{"type":"Root","principalId":"AIDACKCEVSQ6C2EXAMPLE",\
            "arn":"arn:aws:iam::111122223333:root","accountId":"111122223333","accessKeyId":""},\
            "eventTime":"2018-08-29T16:24:34Z","eventSource":"signin.amazonaws.com","eventName":"ConsoleLogin",\
            "awsRegion":"us-east-1","sourceIPAddress":"192.0.2.0",\
            "userAgent":"Mozilla/5.0 (Macintosh; Intel Mac OS X 10.12; rv:62.0) Gecko/20100101 Firefox/62.0",\
            "requestParameters":null,"responseElements":{"ConsoleLogin":"Success"},\
            "additionalEventData":{"LoginTo":"https://console.aws.amazon.com/console/home?state=hashArgs%23&isauthcode=true",\
            "MobileVersion":"No","MFAUsed":"No"},"eventID":"deb1e1f9-c99b-4612-8e9f-21f93b5d79c0",\
            "eventType":"AwsConsoleSignIn","recipientAccountId":"111122223333"}
            """)
        let transformer = try InputTransformer(try JSONValue(parsing: """
            {"InputPathsMap":{"detailType":"$.detail-type","responseElements":"$.detail.responseElements",\
            "sourceIPAddress":"$.detail.sourceIPAddress","userArn":"$.detail.userIdentity.arn","userAgent":"$.detail.userAgent",\
            "id":"$.id","time":"$.time","userType":"$.detail.userIdentity.type","additionalEventData":"$.detail.additionalEventData"},\
            "InputTemplate":"\\"AWSコンソールのサインインイベントが発生しました。    DetailType:<detailType>    ID:<id>    Time:<time>    \
            User-type:<userType>    User-arn:<userArn>    sourceIPAddress:<sourceIPAddress>    userAgent:<userAgent>    \
            responseElements:<responseElements>    additionalEventData:<additionalEventData>    \\""}
            """))
        let message = transformer.render(event: Envelope.event(for: record), ruleID: "root-console-sign-in")
        #expect(message == """
            "AWSコンソールのサインインイベントが発生しました。    DetailType:AWS Console Sign In via CloudTrail    \
            ID:deb1e1f9-c99b-4612-8e9f-21f93b5d79c0    Time:2018-08-29T16:24:34Z    User-type:Root    \
            User-arn:arn:aws:iam::111122223333:root    sourceIPAddress:192.0.2.0    \
            userAgent:Mozilla/5.0 (Macintosh; Intel Mac OS X 10.12; rv:62.0) Gecko/20100101 Firefox/62.0    \
            responseElements:{"ConsoleLogin":"Success"}    \
            additionalEventData:{"LoginTo":"https://console.aws.amazon.com/console/home?state=hashArgs%23&isauthcode=true","MobileVersion":"No","MFAUsed":"No"}    "
            """)
    }

    @Test func invalidTransformers() {
        #expect(throws: PatternError(path: "InputTemplate", reason: "required, and must be a string")) {
            try InputTransformer(try JSONValue(parsing: #"{"InputPathsMap":{}}"#))
        }
        #expect(throws: PatternError(path: "InputPathsMap.x", reason: "expected a JSONPath such as \"$.detail.eventName\"")) {
            try InputTransformer(try JSONValue(parsing: #"{"InputPathsMap":{"x":"detail.a"},"InputTemplate":"\"<x>\""}"#))
        }
        #expect(throws: PatternError(path: "InputPathsMap.aws.events.rule-name", reason: "aws.events.rule-name is a reserved variable name")) {
            try InputTransformer(try JSONValue(parsing: #"{"InputPathsMap":{"aws.events.rule-name":"$.id"},"InputTemplate":"\"x\""}"#))
        }
        // Found by the template fuzzer: a misspelt key left every variable undefined, and a JSON
        // template rendered its placeholders as they were — not JSON.
        #expect(throws: PatternError(path: "InputPathsM@p", reason: "unknown member (an input transformer has InputPathsMap and InputTemplate)")) {
            try InputTransformer(try JSONValue(parsing: #"{"InputPathsM@p":{"x":"$.id"},"InputTemplate":"{\"a\": <x>}"}"#))
        }
        #expect(throws: PatternError(path: "InputTemplate", reason: "<who> is not a variable of InputPathsMap (nor a predefined one), so the message would not be JSON")) {
            try InputTransformer(try JSONValue(parsing: #"{"InputPathsMap":{"x":"$.id"},"InputTemplate":"{\"a\": <x>, \"b\": <who>, \"c\": \"<kept>\"}"}"#))
        }
    }
}

@Suite struct RuleFileTests {
    func parse(_ text: String) throws -> [RuleFile.Entry] { try RuleFile.parse(Array(text.utf8), file: "r.json") }

    @Test func readsRulesWithPatternsAsObjectsOrStringsAndTemplates() throws {
        let entries = try parse("""
            {"rules":[{"id":"a","severity":"high","title":"A","pattern":{"source":["aws.iam"]}},
            {"id":"b","severity":"low","title":"B","description":"d","pattern":"{\\"detail\\":{\\"eventName\\":[\\"X\\"]}}",
             "template":{"InputTemplate":"\\"<aws.events.rule-name>\\""}}]}
            """)
        #expect(entries.map(\.rule.id) == ["a", "b"])
        #expect(entries[1].rule.pattern.root.requiredEventNames == ["X"])
        #expect(entries[1].template != nil && entries[0].template == nil)
    }

    @Test func errorsNameTheFileTheRuleAndThePlace() {
        func error(_ text: String) -> String? {
            do { _ = try parse(text); return nil } catch { return "\(error)" }
        }
        #expect(error(#"[{"id":"x","severity":"high","title":"T","pattern":{"detail":{"eventName":[{"wildcard":"A**"}]}}}]"#)
            == "r.json: rule 'x': pattern at detail.eventName[0].wildcard: consecutive wildcard characters (**) are not allowed")
        #expect(error(#"[{"id":"x","severity":"urgent","title":"T","pattern":{"a":["b"]}}]"#)
            == "r.json: rule 'x': \"severity\" must be one of info, low, medium, high, critical")
        #expect(error(#"[{"id":"x","severity":"low","title":"T","pattern":{"a":["b"]}},{"id":"x","severity":"low","title":"T","pattern":{"a":["b"]}}]"#)
            == "r.json: rule 'x': duplicate id")
        #expect(error(#"[{"severity":"low"}]"#) == "r.json: rule #1 has no \"id\"")
        #expect(error(#"[{"id":"x","severity":"low","title":"T"}]"#) == "r.json: rule 'x': \"pattern\" is required")
        #expect(error("[1,]") == "r.json: invalid JSON at line 1, column 4 (byte 3): trailing comma")
    }
}

@Suite struct SuppressionsTests {
    func suppressed(_ config: String, rule: String = "signin.no-mfa", record: String) throws -> Bool {
        let suppressions = try Suppressions(configuration: try JSONValue(parsing: config))
        var result = false
        try withRecords(record) { result = suppressions.suppresses(ruleID: rule, record: $0) }
        return result
    }

    let record = """
        {"userIdentity":{"type":"AssumedRole","arn":"arn:aws:sts::111122223333:assumed-role/ci-deploy/gha-1",\
        "invokedBy":"cloudformation.amazonaws.com"},"sourceIPAddress":"10.1.2.3","userAgent":"aws-sdk-go/1.2 cfn",\
        "recipientAccountId":"111122223333"}
        """

    @Test func everyNamedFieldMustMatch() throws {
        #expect(try suppressed(#"{"suppress":[{"principals":["arn:aws:sts::*:assumed-role/ci-deploy/*"]}]}"#, record: record))
        #expect(try suppressed(#"{"suppress":[{"invokedBy":["cloudformation"]}]}"#, record: record))
        #expect(try suppressed(#"{"suppress":[{"sourceIPs":["10.0.0.0/8"],"accounts":["111122223333"]}]}"#, record: record))
        #expect(try !suppressed(#"{"suppress":[{"sourceIPs":["10.0.0.0/8"],"accounts":["999999999999"]}]}"#, record: record))
        #expect(try suppressed(#"{"suppress":[{"sourceIPs":["10.1.2.3"]}]}"#, record: record))
        #expect(try !suppressed(#"{"suppress":[{"userAgents":["boto3"]}]}"#, record: record))
        #expect(try suppressed(#"{"suppress":[{"rules":["signin.no-mfa"],"userAgents":["cfn"]}]}"#, record: record))
        #expect(try !suppressed(#"{"suppress":[{"rules":["iam.user.created"],"userAgents":["cfn"]}]}"#, record: record))
        #expect(try !suppressed(#"{"suppress":[]}"#, record: record))
    }

    @Test func mistakesAreErrorsNotSilentWidening() {
        #expect(throws: PatternError(path: "suppress[0].principal", reason: "unknown key (known: rules, principals, accounts, sourceIPs, userAgents, invokedBy, reason)")) {
            try Suppressions(configuration: try JSONValue(parsing: #"{"suppress":[{"principal":["x"]}]}"#))
        }
        #expect(throws: PatternError(path: "suppress[0]", reason: "an entry needs at least one of principals, accounts, sourceIPs, userAgents, invokedBy")) {
            try Suppressions(configuration: try JSONValue(parsing: #"{"suppress":[{"rules":["a"]}]}"#))
        }
        #expect(throws: PatternError.self) {
            try Suppressions(configuration: try JSONValue(parsing: #"{"suppress":[{"sourceIPs":["10.0.0.0/40"]}]}"#))
        }
    }
}
