import Testing
import TrailEvents
import TrailJSON
import TrailTestSupport
@testable import TrailMatch

func pattern(_ text: String) throws -> EventPattern { try EventPattern(parsing: text) }

func event(_ text: String) throws -> JSONValue { try JSONValue(parsing: text) }

/// Whether `patternText` matches `eventText`, checked both on the JSON event and, when the event is an
/// envelope of a record, on the zero-copy record view: the two must always agree.
func matches(_ patternText: String, _ eventText: String) throws -> Bool {
    let compiled = try pattern(patternText)
    let json = try event(eventText)
    let result = compiled.matches(event: json)
    // The record view applies when the event is exactly the envelope CloudTrail would make of its detail.
    if let detail = json["detail"], case .object = detail, Envelope.event(for: detail) == json {
        let recordText = detail.serialized
        try withRecords(recordText) { record in
            #expect(compiled.matches(record) == result, "record view disagrees for \(patternText)")
        }
    }
    return result
}

/// An EventBridge event for a CloudTrail record (the envelope CloudTrail would produce).
func envelope(_ detail: String) throws -> String {
    Envelope.event(for: try JSONValue(parsing: detail)).serialized
}

let ec2Event = """
    {"version":"0","id":"6a7e8feb-b491-4cf7-a9f1-bf3703467718","detail-type":"EC2 Instance State-change Notification",\
    "source":"aws.ec2","account":"111122223333","time":"2017-12-22T18:43:48Z","region":"us-west-1",\
    "resources":["arn:aws:ec2:us-west-1:123456789012:instance/i-1234567890abcdef0"],\
    "detail":{"instance-id":"i-1234567890abcdef0","state":"terminated","c-count":5,"d-count":3,"x-limit":301.8,\
    "source-ip":"10.0.0.123","location":{"city":"Paris"},"tags":["a","b"],"nothing":null,"empty":"",\
    "employees":[{"firstName":"John","lastName":"Doe"},{"firstName":"Anna","lastName":"Smith"}]}}
    """

@Suite struct EventPatternTests {
    @Test func exactValuesAndStructure() throws {
        #expect(try matches(#"{"source":["aws.ec2"]}"#, ec2Event))
        #expect(try matches(#"{"source":["aws.ec2","aws.fargate"],"detail":{"state":["terminated"]}}"#, ec2Event))
        #expect(try !matches(#"{"source":["aws.EC2"]}"#, ec2Event))  // case-sensitive
        #expect(try !matches(#"{"detail":{"state":["running"]}}"#, ec2Event))
        #expect(try matches(#"{"detail":{"location":{"city":["Paris"]}}}"#, ec2Event))
        #expect(try !matches(#"{"detail":{"missing":["x"]}}"#, ec2Event))
    }

    @Test func numbersCompareAsNumbersAndStringsAsStrings() throws {
        #expect(try matches(#"{"detail":{"c-count":[5]}}"#, ec2Event))
        #expect(try matches(#"{"detail":{"c-count":[5.0]}}"#, ec2Event))
        #expect(try !matches(#"{"detail":{"c-count":["5"]}}"#, ec2Event))
        #expect(try !matches(#"{"detail":{"state":[true]}}"#, ec2Event))
    }

    @Test func nullAndEmptyStringAreDifferent() throws {
        #expect(try matches(#"{"detail":{"nothing":[null]}}"#, ec2Event))
        #expect(try !matches(#"{"detail":{"nothing":[""]}}"#, ec2Event))
        #expect(try matches(#"{"detail":{"empty":[""]}}"#, ec2Event))
        #expect(try !matches(#"{"detail":{"empty":[null]}}"#, ec2Event))
        #expect(try !matches(#"{"detail":{"missing":[null]}}"#, ec2Event))
    }

    @Test func arraysMatchWhenAnyElementMatches() throws {
        #expect(try matches(#"{"detail":{"tags":["b"]}}"#, ec2Event))
        #expect(try matches(#"{"resources":[{"prefix":"arn:aws:ec2:us-west-1:"}]}"#, ec2Event))
        #expect(try matches(#"{"detail":{"employees":{"firstName":["Anna"]}}}"#, ec2Event))
        #expect(try !matches(#"{"detail":{"employees":{"firstName":["Bob"]}}}"#, ec2Event))
    }

    @Test func prefixSuffixAndIgnoringCase() throws {
        #expect(try matches(#"{"time":[{"prefix":"2017-12-22"}]}"#, ec2Event))
        #expect(try !matches(#"{"time":[{"prefix":"2018"}]}"#, ec2Event))
        #expect(try matches(#"{"detail":{"instance-id":[{"suffix":"def0"}]}}"#, ec2Event))
        #expect(try matches(#"{"source":[{"prefix":{"equals-ignore-case":"AWS.E"}}]}"#, ec2Event))
        #expect(try matches(#"{"detail":{"state":[{"suffix":{"equals-ignore-case":"NATED"}}]}}"#, ec2Event))
        #expect(try matches(#"{"detail":{"state":[{"equals-ignore-case":"TERMINATED"}]}}"#, ec2Event))
        #expect(try !matches(#"{"detail":{"c-count":[{"prefix":"5"}]}}"#, ec2Event))  // strings only
    }

    @Test func wildcards() throws {
        #expect(try matches(#"{"detail":{"instance-id":[{"wildcard":"i-*def0"}]}}"#, ec2Event))
        #expect(try matches(#"{"detail":{"instance-id":[{"wildcard":"*"}]}}"#, ec2Event))
        #expect(try matches(#"{"detail":{"instance-id":[{"wildcard":"i-1234*90*f0"}]}}"#, ec2Event))
        #expect(try !matches(#"{"detail":{"instance-id":[{"wildcard":"i-*x*"}]}}"#, ec2Event))
        #expect(try matches(#"{"detail":{"path":[{"wildcard":"a\\*b*"}]}}"#, #"{"detail":{"path":"a*bc"}}"#))
        #expect(try !matches(#"{"detail":{"path":[{"wildcard":"a\\*b*"}]}}"#, #"{"detail":{"path":"axbc"}}"#))
        #expect(try matches(#"{"detail":{"path":[{"wildcard":"c:\\\\*"}]}}"#, #"{"detail":{"path":"c:\\temp"}}"#))
    }

    @Test func anythingBut() throws {
        #expect(try matches(#"{"detail":{"state":[{"anything-but":"initializing"}]}}"#, ec2Event))
        #expect(try !matches(#"{"detail":{"state":[{"anything-but":["stopped","terminated"]}]}}"#, ec2Event))
        #expect(try matches(#"{"detail":{"c-count":[{"anything-but":[100,200]}]}}"#, ec2Event))
        #expect(try !matches(#"{"detail":{"c-count":[{"anything-but":5}]}}"#, ec2Event))
        #expect(try matches(#"{"detail":{"state":[{"anything-but":{"prefix":"init"}}]}}"#, ec2Event))
        #expect(try !matches(#"{"detail":{"state":[{"anything-but":{"suffix":"nated"}}]}}"#, ec2Event))
        #expect(try !matches(#"{"detail":{"state":[{"anything-but":{"equals-ignore-case":["Stopped","TERMINATED"]}}]}}"#, ec2Event))
        #expect(try !matches(#"{"detail":{"instance-id":[{"anything-but":{"wildcard":"i-*"}}]}}"#, ec2Event))
        // A missing field does not match anything-but; an explicit null does.
        #expect(try !matches(#"{"detail":{"missing":[{"anything-but":"x"}]}}"#, ec2Event))
        #expect(try matches(#"{"detail":{"nothing":[{"anything-but":"x"}]}}"#, ec2Event))
    }

    @Test func numericRanges() throws {
        #expect(try matches(#"{"detail":{"c-count":[{"numeric":[">",0,"<=",5]}],"d-count":[{"numeric":["<",10]}],"x-limit":[{"numeric":["=",3.018e2]}]}}"#, ec2Event))
        #expect(try !matches(#"{"detail":{"c-count":[{"numeric":[">",5]}]}}"#, ec2Event))
        #expect(try matches(#"{"detail":{"c-count":[{"numeric":[">=",5]}]}}"#, ec2Event))
        #expect(try !matches(#"{"detail":{"state":[{"numeric":[">",0]}]}}"#, ec2Event))  // numbers only
    }

    @Test func cidr() throws {
        #expect(try matches(#"{"detail":{"source-ip":[{"cidr":"10.0.0.0/24"}]}}"#, ec2Event))
        #expect(try !matches(#"{"detail":{"source-ip":[{"cidr":"10.0.1.0/24"}]}}"#, ec2Event))
        #expect(try matches(#"{"detail":{"ip":[{"cidr":"2001:db8::/32"}]}}"#, #"{"detail":{"ip":"2001:db8:85a3::8a2e:370:7334"}}"#))
        #expect(try !matches(#"{"detail":{"ip":[{"cidr":"2001:db8::/32"}]}}"#, #"{"detail":{"ip":"2001:db9::1"}}"#))
        #expect(try !matches(#"{"detail":{"ip":[{"cidr":"0.0.0.0/0"}]}}"#, #"{"detail":{"ip":"cloudformation.amazonaws.com"}}"#))
        #expect(try matches(#"{"detail":{"ip":[{"cidr":"0.0.0.0/0"}]}}"#, #"{"detail":{"ip":"203.0.113.9"}}"#))
    }

    @Test func existsIsForLeavesAndNullExists() throws {
        #expect(try matches(#"{"detail":{"c-count":[{"exists":true}]}}"#, ec2Event))
        #expect(try matches(#"{"detail":{"missing":[{"exists":false}]}}"#, ec2Event))
        #expect(try !matches(#"{"detail":{"c-count":[{"exists":false}]}}"#, ec2Event))
        #expect(try matches(#"{"detail":{"nothing":[{"exists":true}]}}"#, ec2Event))  // null exists
        #expect(try !matches(#"{"detail":{"location":[{"exists":true}]}}"#, ec2Event))  // not a leaf
        #expect(try matches(#"{"detail":{"location":[{"exists":false}]}}"#, ec2Event))
        #expect(try matches(#"{"detail":{"missing":["x",{"exists":false}]}}"#, ec2Event))
    }

    @Test func orCombinesWithSiblingsAndNests() throws {
        let or = #"{"source":["aws.ec2"],"$or":[{"detail":{"c-count":[{"numeric":[">",10]}]}},{"detail":{"d-count":[3]}}]}"#
        #expect(try matches(or, ec2Event))
        #expect(try !matches(#"{"source":["aws.s3"],"$or":[{"detail":{"c-count":[5]}},{"detail":{"d-count":[3]}}]}"#, ec2Event))
        #expect(try !matches(#"{"$or":[{"detail":{"c-count":[6]}},{"detail":{"d-count":[4]}}]}"#, ec2Event))
        #expect(try matches(#"{"detail":{"$or":[{"state":["x"]},{"$or":[{"c-count":[1]},{"tags":["a"]}]}]}}"#, ec2Event))
    }

    @Test(arguments: [
        (#"[1]"#, "", "a pattern must be a JSON object"),
        (#"{}"#, "", "the pattern is empty"),
        (#"{"source":"aws.ec2"}"#, "source", "match values must be in an array, e.g. [\"aws.ec2\"]"),
        (#"{"source":[]}"#, "source", "empty arrays are not allowed"),
        (#"{"detail":{"state":[{"wildcard":"a**b"}]}}"#, "detail.state[0].wildcard", "consecutive wildcard characters (**) are not allowed"),
        (#"{"detail":{"state":[{"wildcard":"a\\xb"}]}}"#, "detail.state[0].wildcard", "invalid escape in wildcard: only \\* and \\\\ are allowed"),
        (#"{"detail":{"n":[{"numeric":[">",5,">",6]}]}}"#, "detail.n[0].numeric", "more than one lower bound"),
        (#"{"detail":{"n":[{"numeric":[">",5,"<",1]}]}}"#, "detail.n[0].numeric", "the lower bound is above the upper bound"),
        (#"{"detail":{"n":[{"numeric":["~",5]}]}}"#, "detail.n[0].numeric[0]", "unrecognized numeric operator \"~\""),
        (#"{"detail":{"n":[{"numeric":[">","5"]}]}}"#, "detail.n[0].numeric[1]", "expected a number after \">\""),
        (#"{"detail":{"s":[{"anything-but":["a",1]}]}}"#, "detail.s[0].anything-but", "the list must hold only strings or only numbers"),
        (#"{"detail":{"s":[{"contains":"a"}]}}"#, "detail.s[0]", "unrecognized match type contains"),
        (#"{"detail":{"s":[{"prefix":"a","suffix":"b"}]}}"#, "detail.s[0]", "a match object must have exactly one operator"),
        (#"{"detail":{"s":[{"exists":"yes"}]}}"#, "detail.s[0].exists", "exists takes true or false"),
        (#"{"detail":{"s":[{"cidr":"10.0.0.0/33"}]}}"#, "detail.s[0].cidr", "'10.0.0.0/33' is not a CIDR block such as 10.0.0.0/24 or 2001:db8::/32"),
        (#"{"$or":[{"source":["a"]}]}"#, "$or", "$or needs at least two patterns"),
        (#"{"detail":{"s":[["a"]]}}"#, "detail.s[0]", "arrays cannot be nested in a match"),
    ])
    func invalidPatternsSayWhereAndWhy(_ text: String, _ path: String, _ reason: String) {
        #expect(throws: PatternError(path: path, reason: reason)) { try EventPattern(parsing: text) }
    }
}

/// Patterns over every operator, for the differential test below.
let operatorPatterns = [
    #"{"detail":{"state":["terminated"]}}"#, #"{"detail":{"c-count":[5.0]}}"#, #"{"detail":{"nothing":[null]}}"#,
    #"{"detail":{"empty":[""]}}"#, #"{"detail":{"tags":["b"]}}"#, #"{"detail":{"employees":{"firstName":["Anna"]}}}"#,
    #"{"detail":{"instance-id":[{"suffix":"def0"}]}}"#, #"{"detail":{"state":[{"equals-ignore-case":"TERMINATED"}]}}"#,
    #"{"detail":{"instance-id":[{"wildcard":"i-1234*90*f0"}]}}"#, #"{"detail":{"state":[{"anything-but":{"prefix":"init"}}]}}"#,
    #"{"detail":{"nothing":[{"anything-but":"x"}]}}"#, #"{"detail":{"missing":[{"anything-but":"x"}]}}"#,
    #"{"detail":{"c-count":[{"numeric":[">",0,"<=",5]}]}}"#, #"{"detail":{"source-ip":[{"cidr":"10.0.0.0/24"}]}}"#,
    #"{"detail":{"location":[{"exists":false}]}}"#, #"{"detail":{"location":{"city":[{"prefix":"P"}]}}}"#,
    #"{"detail":{"$or":[{"state":["x"]},{"c-count":[5]}]}}"#, #"{"source":[{"prefix":"aws."}],"detail-type":[{"exists":true}]}"#,
]

@Suite struct RecordViewTests {
    @Test(arguments: operatorPatterns)
    func recordViewAgreesWithTheJSONEnvelope(_ patternText: String) throws {
        let detail = try #require(try event(ec2Event)["detail"])
        let json = Envelope.event(for: detail).serialized
        // `matches` checks both views and records an issue when they differ.
        _ = try matches(patternText, json)
    }
}

@Suite struct EnvelopeTests {
    let consoleLogin = """
        {"eventVersion":"1.08","userIdentity":{"type":"Root","arn":"arn:aws:iam::111122223333:root"},\
        "eventTime":"2026-03-01T09:03:00Z","eventSource":"signin.amazonaws.com","eventName":"ConsoleLogin",\
        "awsRegion":"us-east-1","responseElements":{"ConsoleLogin":"Success"},"eventID":"e-1",\
        "eventType":"AwsConsoleSignIn","recipientAccountId":"111122223333"}
        """

    @Test func theSignInPatternFromTheIssueMatchesARootSignIn() throws {
        let rootSignIn = #"{"detail-type":["AWS Console Sign In via CloudTrail"],"detail":{"userIdentity":{"type":["Root"]}}}"#
        #expect(try matches(rootSignIn, try envelope(consoleLogin)))
        #expect(try matches(#"{"source":["aws.signin"],"account":["111122223333"],"region":["us-east-1"],"time":[{"prefix":"2026-03-01"}],"id":["e-1"],"version":["0"]}"#, try envelope(consoleLogin)))
        #expect(try !matches(#"{"resources":[{"exists":true}]}"#, try envelope(consoleLogin)))
    }

    @Test func detailTypeAndSourceFollowEventBridge() {
        #expect(Envelope.detailType(eventType: "AwsApiCall", eventSource: "iam.amazonaws.com") == "AWS API Call via CloudTrail")
        #expect(Envelope.detailType(eventType: "AwsConsoleSignin", eventSource: nil) == "AWS Console Sign In via CloudTrail")
        #expect(Envelope.detailType(eventType: "AwsServiceEvent", eventSource: nil) == "AWS Service Event via CloudTrail")
        #expect(Envelope.detailType(eventType: "AwsConsoleAction", eventSource: nil) == "AWS Console Action via CloudTrail")
        #expect(Envelope.detailType(eventType: nil, eventSource: "signin.amazonaws.com") == "AWS Console Sign In via CloudTrail")
        #expect(Envelope.source(eventSource: "iam.amazonaws.com") == "aws.iam")
        #expect(Envelope.source(eventSource: "monitoring.amazonaws.com") == "aws.cloudwatch")
    }

    @Test func absentRecordFieldsAreAbsentInTheEnvelope() throws {
        let bare = try envelope(#"{"eventName":"X"}"#)
        #expect(try matches(#"{"account":[{"exists":false}],"source":[{"exists":false}]}"#, bare))
        #expect(try matches(#"{"detail-type":["AWS API Call via CloudTrail"]}"#, bare))
    }
}
