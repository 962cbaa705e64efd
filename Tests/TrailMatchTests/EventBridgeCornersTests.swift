import Testing
import TrailEvents
import TrailJSON
import TrailTestSupport
@testable import TrailMatch

/// The corners of EventBridge matching where trailscan once differed from AWS (issue 15, part A). Each
/// case runs on the JSON event and, through `matches`, on the zero-copy record view of its detail.
@Suite struct EventBridgeCornersTests {
    /// A record with a value of every kind in `v`, one at a time.
    func record(_ value: String) throws -> String { try envelope(#"{"eventName":"X","v":\#(value)}"#) }

    // 1. anything-but with a string operator is "anything but a string with that property".
    @Test(arguments: [
        #"{"anything-but":{"prefix":"init"}}"#, #"{"anything-but":{"prefix":["init","err"]}}"#,
        #"{"anything-but":{"suffix":"ing"}}"#, #"{"anything-but":{"suffix":["ing","ed"]}}"#,
        #"{"anything-but":{"wildcard":"in*"}}"#, #"{"anything-but":{"wildcard":["in*","*ed"]}}"#,
        #"{"anything-but":{"equals-ignore-case":"INITIALIZING"}}"#, #"{"anything-but":{"equals-ignore-case":["INITIALIZING","x"]}}"#,
    ])
    func anythingButAStringPropertyMatchesEveryNonString(_ operand: String) throws {
        let pattern = #"{"detail":{"v":[\#(operand)]}}"#
        for value in ["null", "0", "12.5", "true", "false"] {
            #expect(try matches(pattern, try record(value)), "\(operand) on \(value)")
        }
        #expect(try !matches(pattern, try record(#""initializing""#)))
        #expect(try matches(pattern, try record(#""xyz""#)))
        #expect(try !matches(pattern, try envelope(#"{"eventName":"X"}"#)), "a missing field is not anything-but")
        #expect(try !matches(pattern, try record(#"{"a":1}"#)), "an object is not a leaf value")
    }

    @Test func anythingButValuesStillExcludeOnlyTheirOwnKind() throws {
        #expect(try matches(#"{"detail":{"v":[{"anything-but":"x"}]}}"#, try record("1")))
        #expect(try matches(#"{"detail":{"v":[{"anything-but":1}]}}"#, try record(#""1""#)))
        #expect(try !matches(#"{"detail":{"v":[{"anything-but":[1,2]}]}}"#, try record("2.0")))
        #expect(try matches(#"{"detail":{"v":[{"anything-but":{"prefix":"a"}}]}}"#, try record(#"["abc",7]"#)), "any element")
    }

    // 2. An empty prefix or suffix under anything-but excludes every string: AWS rejects it.
    @Test(arguments: [
        (#"{"detail":{"v":[{"anything-but":{"prefix":""}}]}}"#, "detail.v[0].anything-but.prefix"),
        (#"{"detail":{"v":[{"anything-but":{"suffix":""}}]}}"#, "detail.v[0].anything-but.suffix"),
        (#"{"detail":{"v":[{"anything-but":{"prefix":["a",""]}}]}}"#, "detail.v[0].anything-but.prefix"),
    ])
    func emptyAnythingButAffixesAreInvalid(_ text: String, _ path: String) {
        #expect(throws: PatternError(path: path, reason: "null prefix/suffix not allowed")) { try EventPattern(parsing: text) }
    }

    @Test func aPlainEmptyPrefixStaysValidAndMatchesEveryString() throws {
        #expect(try matches(#"{"detail":{"v":[{"prefix":""}]}}"#, try record(#""x""#)))
        #expect(try !matches(#"{"detail":{"v":[{"prefix":""}]}}"#, try record("1")))
    }

    // 3. Wildcard complexity, as event-ruler's MachineComplexityEvaluator measures it (its own test values).
    @Test(arguments: [
        (["*"], 1), (["abc"], 1), (["*ab"], 2), (["*aa"], 3), (["a*b"], 2), (["aa*"], 2), (["a*bc"], 2),
        (["a*bb"], 3), (["a*bcb"], 3), (["a*bbb"], 4), (["*ab*ad"], 4), (["*ab*d"], 3), (["*aba*"], 4),
        (["a*b*bb"], 5), (["a*b*cb"], 4), (["a*b*cd"], 3), (["a*b*b"], 4), (["*", "ab*c"], 3),
        (["*a*a*a*a*a*"], 11),
    ])
    func wildcardComplexity(_ texts: [String], _ expected: Int) throws {
        let wildcards = try texts.map { try Wildcard($0, at: "") }
        #expect(WildcardComplexity.complexity(wildcards) == expected)
    }

    @Test func tooComplexWildcardsAreRejectedWithAWSMessage() throws {
        let message = "Rule is too complex - try using fewer wildcard characters or fewer repeating character sequences after a wildcard character"
        #expect(throws: PatternError(path: "detail.key", reason: message)) {
            try EventPattern(parsing: #"{"detail":{"key":[{"wildcard":"*a*a*a*a*a*"}]}}"#)
        }
        // The alternatives of one field add up, anything-but wildcards included.
        #expect(throws: PatternError(path: "detail.key", reason: message)) {
            try EventPattern(parsing: #"{"detail":{"key":[{"wildcard":"*ab*ab*"},{"anything-but":{"wildcard":["*ab*ab*ab","*b*b*b*"]}}]}}"#)
        }
        _ = try EventPattern(parsing: #"{"detail":{"key":[{"wildcard":"*.png"},{"wildcard":"*/bin/*.jar"},{"wildcard":"*a*a*a*"}]}}"#)
        // Each field is measured on its own.
        _ = try EventPattern(parsing: #"{"detail":{"a":[{"wildcard":"*x*x*x*"}],"b":[{"wildcard":"*y*y*y*"}]}}"#)
    }

    // 4. Dotted keys: `"a.b"` and `{"a":{"b":…}}` are one field, in patterns and in events, at any depth.
    @Test func dottedKeysInPatternsAndEvents() throws {
        let nested = try envelope(#"{"eventName":"X","userIdentity":{"type":"Root","sessionContext":{"attributes":{"mfaAuthenticated":"false"}}}}"#)
        let flat = try envelope(#"{"eventName":"X","userIdentity.type":"Root","userIdentity":{"sessionContext.attributes":{"mfaAuthenticated":"false"}}}"#)
        for event in [nested, flat] {
            #expect(try matches(#"{"detail.userIdentity.type":["Root"]}"#, event))
            #expect(try matches(#"{"detail":{"userIdentity.type":["Root"]}}"#, event))
            #expect(try matches(#"{"detail":{"userIdentity":{"type":["Root"]}}}"#, event))
            #expect(try matches(#"{"detail":{"userIdentity.sessionContext":{"attributes.mfaAuthenticated":["false"]}}}"#, event))
            #expect(try !matches(#"{"detail":{"userIdentity.type":["IAMUser"]}}"#, event))
            #expect(try !matches(#"{"detail":{"userIdentity.type":[{"exists":false}]}}"#, event))
        }
        // Inside lists.
        let listed = try envelope(#"{"eventName":"X","resources":[{"ARN":"arn:1","tag.name":"a"},{"ARN":"arn:2","tag":{"name":"b"}}]}"#)
        #expect(try matches(#"{"detail":{"resources":{"tag":{"name":["b"]}}}}"#, listed))
        #expect(try matches(#"{"detail":{"resources.tag.name":["a"]}}"#, listed))
        #expect(try !matches(#"{"detail":{"resources.tag.name":["c"]}}"#, listed))
        // Both spellings in one event: either holds the field.
        let both = try envelope(#"{"eventName":"X","a":{"b":"1"},"a.b":"2"}"#)
        #expect(try matches(#"{"detail":{"a":{"b":["1"]}}}"#, both))
        #expect(try matches(#"{"detail":{"a.b":["2"]}}"#, both))
        // A key that is a prefix of a segment is not that segment.
        #expect(try !matches(#"{"detail":{"ab":["1"]}}"#, both))
        #expect(try !matches(#"{"detail":{"a":["1"]}}"#, both))
    }

    // 5. A pattern object that repeats a key: the last one wins.
    @Test func duplicatePatternKeysTheLastWins() throws {
        let event = try record(#""on""#)
        #expect(try matches(#"{"detail":{"v":["off"],"v":["on"]}}"#, event))
        #expect(try !matches(#"{"detail":{"v":["on"],"v":["off"]}}"#, event))
        // Repeated objects: the earlier object is gone, not merged.
        #expect(try matches(#"{"detail":{"eventName":["Y"]},"detail":{"v":["on"]}}"#, event))
        // Two spellings of one path in one pattern: the later one wins.
        #expect(try matches(#"{"detail":{"v":["off"]},"detail.v":["on"]}"#, event))
        #expect(try !matches(#"{"detail.v":["on"],"detail":{"v":["off"]}}"#, event))
    }

    @Test func duplicateEventKeysTheLastWins() throws {
        let event = try envelope(#"{"eventName":"X","v":"first","v":"last","userIdentity":{"type":"IAMUser","type":"Root"}}"#)
        #expect(try matches(#"{"detail":{"v":["last"]}}"#, event))
        #expect(try !matches(#"{"detail":{"v":["first"]}}"#, event))
        #expect(try matches(#"{"detail":{"userIdentity":{"type":["Root"]}}}"#, event))
    }

    // 6. Array consistency: fields matched together come from one element of an array of objects.
    @Test func fieldsMatchedTogetherComeFromOneElement() throws {
        #expect(try matches(#"{"detail":{"employees":{"firstName":["John"],"lastName":["Doe"]}}}"#, ec2Event))
        // The same on a record: the flat program matches each leaf alone, the reference confirms.
        let staff = try envelope(#"{"eventName":"X","employees":[{"firstName":"John","lastName":"Doe"},{"firstName":"Anna","lastName":"Smith"}]}"#)
        #expect(try !matches(#"{"detail":{"employees":{"firstName":["John"],"lastName":["Smith"]}}}"#, staff))
        #expect(try matches(#"{"detail":{"employees":{"firstName":["Anna"],"lastName":["Smith"]}}}"#, staff))
        #expect(try !matches(#"{"detail":{"employees":{"firstName":["John"],"lastName":["Smith"]}}}"#, ec2Event))
        #expect(try matches(#"{"detail":{"employees":{"firstName":["Anna"],"lastName":["Smith"]}}}"#, ec2Event))
        // Through $or: each conjunction is consistent on its own.
        #expect(try matches(#"{"detail":{"employees":{"firstName":["John"]},"$or":[{"employees":{"lastName":["Smith"]}},{"employees":{"lastName":["Doe"]}}]}}"#, ec2Event))
        #expect(try !matches(#"{"detail":{"employees":{"firstName":["John"]},"$or":[{"employees":{"lastName":["Smith"]}},{"state":["x"]}]}}"#, ec2Event))
        // Nested arrays: the inner element must sit inside the outer one.
        let nested = try envelope(#"{"eventName":"X","groups":[{"name":"a","members":[{"id":1,"role":"r"},{"id":2,"role":"w"}]},{"name":"b","members":[{"id":1,"role":"w"}]}]}"#)
        #expect(try matches(#"{"detail":{"groups":{"name":["a"],"members":{"id":[2],"role":["w"]}}}}"#, nested))
        #expect(try !matches(#"{"detail":{"groups":{"name":["a"],"members":{"id":[1],"role":["w"]}}}}"#, nested))
        #expect(try matches(#"{"detail":{"groups":{"name":["b"],"members":{"id":[1],"role":["w"]}}}}"#, nested))
        // Arrays of scalars need no consistency: any element of each.
        #expect(try matches(#"{"detail":{"tags":["a"],"state":["terminated"]}}"#, ec2Event))
    }

    @Test func absenceIsJudgedOverTheWholeEvent() throws {
        // Anna has no middle name but John does: the field exists in the event, so exists:false fails,
        // whichever element the other fields come from.
        let event = try envelope(#"{"eventName":"X","people":[{"first":"John","middle":"Q"},{"first":"Anna"}]}"#)
        #expect(try !matches(#"{"detail":{"people":{"first":["Anna"],"middle":[{"exists":false}]}}}"#, event))
        #expect(try matches(#"{"detail":{"people":{"first":["Anna"],"last":[{"exists":false}]}}}"#, event))
    }

    @Test func dollarOrHoldingAnObjectIsAFieldName() throws {
        // event-ruler keeps rules that used "$or" as a field name working; only an array makes it an operator.
        #expect(try matches(#"{"detail":{"$or":{"x":["1"]}}}"#, try envelope(#"{"eventName":"X","$or":{"x":"1"}}"#)))
    }
}

/// Inputs the pattern fuzz target found where the compiled matcher and the reference disagreed.
@Suite struct EventBridgeCornersFuzzFindings {
    /// The rule is indexed by `userIdentity.type`, which this record only spells as a dotted top-level
    /// key: the index must not hide the rule (it did; the fuzzer's harness goes through `evaluate`).
    @Test func aKnownFieldSpelledWithADotStillReachesIndexedRules() throws {
        let record = #"{"eventName":"X","userId!ntity":{"type":"IAMUser"},"userIdentity.type":"Root","resources":[{"ARN":"arn:1","type":"AWS::S3::x","type":"AWS::IAM::Role"}]}"#
        let rules = try RuleSet([
            Rule(id: "a", severity: .info, title: "a", description: "", pattern: pattern(#"{"detail":{"userIdentity.type":["Root"],"resources":{"ARN":[{"prefix":"arn:"}],"type":["AWS::IAM::Role"]}}}"#)),
            Rule(id: "b", severity: .info, title: "b", description: "", pattern: pattern(#"{"detail":{"userIdentity":{"type":["IAMUser"]}}}"#)),
        ])
        #expect(rules.indexes.contains { $0.field == .userIdentityType })
        var found: [Int] = []
        try withRecords(record) { RecordMatcher(rules).evaluate($0, into: &found) }
        #expect(found == [0])
    }

    @Test func aRepeatedKeyInsideAnArrayElementWithADottedTopLevelKey() throws {
        let record = try envelope(#"{"eventName":"X","userId!ntity":{"type":"IAMUser"},"userIdentity.type":"Root","resources":[{"ARN":"arn:1","type":"AWS::S3:respoesnventSourcex","type":"AWS::IAM::Role"}]}"#)
        #expect(try matches(#"{"detail":{"userIdentity.type":["Root"],"resources":{"ARN":[{"prefix":"arn:"}],"type":["AWS::IAM::Role"]}}}"#, record))
        #expect(try matches(#"{"detail":{"resources":{"type":["AWS::IAM::Role"]}}}"#, record))
        #expect(try matches(#"{"detail":{"userIdentity.type":["Root"]}}"#, record))
    }
}

/// Every row of the operator table of AWS's "Comparison operators for use in event patterns" page
/// (eb-create-pattern-operators, as stored 2026-12), its rule syntax under `detail`, with an event that
/// matches and one that does not — on both evaluators.
@Suite struct EventBridgeOperatorTable {
    static let rows: [(comparison: String, pattern: String, matching: String, other: String)] = [
        ("And", #""Location":["New York"],"Day":["Monday"]"#, #""Location":"New York","Day":"Monday""#, #""Location":"New York","Day":"Sunday""#),
        ("Anything-but", #""state":[{"anything-but":"initializing"}]"#, #""state":"running""#, #""state":"initializing""#),
        ("Anything-but (begins with)", #""Region":[{"anything-but":{"prefix":"us-"}}]"#, #""Region":"eu-west-1""#, #""Region":"us-east-1""#),
        ("Anything-but (ends with)", #""FileName":[{"anything-but":{"suffix":".png"}}]"#, #""FileName":"a.jpg""#, #""FileName":"a.png""#),
        ("Anything-but (ignore case)", #""state":[{"anything-but":{"equals-ignore-case":"initializing"}}]"#, #""state":"running""#, #""state":"INITIALIZING""#),
        ("Anything-but using a wildcard", #""FilePath":[{"anything-but":{"wildcard":"*/lib/*"}}]"#, #""FilePath":"/usr/bin/x""#, #""FilePath":"/usr/lib/x""#),
        ("Begins with", #""Region":[{"prefix":"us-"}]"#, #""Region":"us-east-1""#, #""Region":"eu-west-1""#),
        ("Begins with (ignore case)", #""service":[{"prefix":{"equals-ignore-case":"eventb"}}]"#, #""service":"EventBridge""#, #""service":"SNS""#),
        ("Empty", #""LastName":[""]"#, #""LastName":"""#, #""LastName":null"#),
        ("Equals", #""Name":["Alice"]"#, #""Name":"Alice""#, #""Name":"alice""#),
        ("Equals (ignore case)", #""Name":[{"equals-ignore-case":"alice"}]"#, #""Name":"ALICE""#, #""Name":"Bob""#),
        ("Ends with", #""FileName":[{"suffix":".png"}]"#, #""FileName":"a.png""#, #""FileName":"a.PNG""#),
        ("Ends with (ignore case)", #""service":[{"suffix":{"equals-ignore-case":"tBridge"}}]"#, #""service":"EVENTBRIDGE""#, #""service":"SNS""#),
        ("Exists", #""ProductName":[{"exists":true}]"#, #""ProductName":"x""#, #""Other":"x""#),
        ("Does not exist", #""ProductName":[{"exists":false}]"#, #""Other":"x""#, #""ProductName":"x""#),
        ("Not", #""Weather":[{"anything-but":["Raining"]}]"#, #""Weather":"Sunny""#, #""Weather":"Raining""#),
        ("Null", #""UserID":[null]"#, #""UserID":null"#, #""UserID":"""#),
        ("Numeric (equals)", #""Price":[{"numeric":["=",100]}]"#, #""Price":100.0"#, #""Price":"100""#),
        ("Numeric (range)", #""Price":[{"numeric":[">",10,"<=",20]}]"#, #""Price":20"#, #""Price":10"#),
        ("Or", #""PaymentType":["Credit","Debit"]"#, #""PaymentType":"Debit""#, #""PaymentType":"Cash""#),
        ("Or (multiple fields)", #""$or":[{"Location":["New York"]},{"Day":["Monday"]}]"#, #""Location":"Paris","Day":"Monday""#, #""Location":"Paris","Day":"Sunday""#),
        ("Wildcard", #""FileName":[{"wildcard":"dir/*.png"}]"#, #""FileName":"dir/a.png""#, #""FileName":"other/a.png""#),
        // Not a row of the table, but of the same page's filter types: IP address matching.
        ("IP address", #""sourceIPAddress":[{"cidr":"10.0.0.0/24"}]"#, #""sourceIPAddress":"10.0.0.255""#, #""sourceIPAddress":"10.0.1.0""#),
    ]

    @Test(arguments: rows.map(\.comparison))
    func eachComparisonMatchesAndRejects(_ comparison: String) throws {
        let row = Self.rows.first { $0.comparison == comparison }!
        let pattern = #"{"detail":{\#(row.pattern)}}"#
        #expect(try matches(pattern, try envelope(#"{"eventName":"X",\#(row.matching)}"#)), "\(comparison) matches")
        #expect(try !matches(pattern, try envelope(#"{"eventName":"X",\#(row.other)}"#)), "\(comparison) rejects")
    }
}
