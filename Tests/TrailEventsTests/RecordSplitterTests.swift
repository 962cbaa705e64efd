import Testing
import TrailBytes
import TrailJSON
@testable import TrailEvents

/// What the splitter handed out for one object: each record's text and a few fields.
struct Split: Equatable {
    var records: [String] = []
    var eventNames: [String?] = []
    var error: CloudTrailFormatError?
}

/// Feeds `text` to a splitter through a window, in pieces cut at `cuts` (offsets), as a decoder would.
func split(_ text: [UInt8], cuts: [Int] = [], windowCapacity: Int = 1 << 16) -> Split {
    let splitter = RecordSplitter()
    let window = ByteWindow(initialCapacity: 64, maximumCapacity: windowCapacity)
    var result = Split()
    let onRecord = { (record: CloudTrailRecord) in
        result.records.append(String(decoding: record.bytes, as: UTF8.self))
        result.eventNames.append(record.string(.eventName))
    }
    do {
        var start = 0
        for end in cuts + [text.count] where end >= start {
            try text.withUnsafeBytes { try window.write(UnsafeRawBufferPointer(rebasing: $0[start..<end])) }
            try splitter.drain(window, isFinal: false, onRecord)
            start = end
        }
        try splitter.drain(window, isFinal: true, onRecord)
    } catch let error as CloudTrailFormatError {
        result.error = error
    } catch {
        Issue.record("unexpected \(error)")
    }
    return result
}

let object = Array("""
    {"Records":[{"eventName":"ConsoleLogin","n":[1,2,{"x":null}]},\t{"eventName":"Create\\u0055ser","s":"é \\" }"}, \
    {"eventName":"CreateAccessKey"}\n],"Other":{"Records":[]}}
    """.utf8)

@Suite struct RecordSplitterTests {
    let whole = split(object)

    @Test func cutsRecordsOutOfTheRecordsArray() {
        #expect(whole.error == nil)
        #expect(whole.records == [
            "{\"eventName\":\"ConsoleLogin\",\"n\":[1,2,{\"x\":null}]}",
            "{\"eventName\":\"Create\\u0055ser\",\"s\":\"é \\\" }\"}",
            "{\"eventName\":\"CreateAccessKey\"}",
        ])
        #expect(whole.eventNames == ["ConsoleLogin", "CreateUser", "CreateAccessKey"])
    }

    @Test func splittingAtEveryByteBoundaryGivesTheSameRecords() {
        for cut in 0...object.count {
            #expect(split(object, cuts: [cut]) == whole, "cut at \(cut)")
        }
        #expect(split(object, cuts: Array(1..<object.count)) == whole)
    }

    @Test func aRecordLargerThanTheWindowGrowsItUpToTheLimit() {
        let big = Array("{\"Records\":[{\"eventName\":\"X\",\"pad\":\"\(String(repeating: "p", count: 5000))\"}]}".utf8)
        #expect(split(big, cuts: Array(stride(from: 7, to: big.count, by: 7))).records.count == 1)
    }

    @Test func errorsCarryTheOffsetInTheObject() {
        #expect(split(Array("{\"Records\":[{\"a\":1},{\"a\":tru}]}".utf8)).error
            == .json(JSONError(offset: 25, reason: .invalidLiteral)))
        #expect(split(Array("{\"Records\":[{\"a\":1},]}".utf8)).error == .json(JSONError(offset: 20, reason: .trailingComma)))
        #expect(split(Array("{\"Records\":[{\"a\":1}]} x".utf8)).error == .json(JSONError(offset: 22, reason: .trailingData)))
        #expect(split(Array("{\"Records\":[{\"a\":1}".utf8)).error == .json(JSONError(offset: 19, reason: .unexpectedEnd)))
        #expect(split(Array("{\"Records\":[{\"a\":\"unterminated".utf8)).error
            == .json(JSONError(offset: 17, reason: .unterminatedString)))
    }

    @Test func recordsBeforeAnErrorAreStillHandedOut() {
        let result = split(Array("{\"Records\":[{\"eventName\":\"A\"},{\"eventName\":\"B\"},{\"eventName\":\"C\"".utf8))
        #expect(result.eventNames == ["A", "B"])
        #expect(result.error == .json(JSONError(offset: 64, reason: .unexpectedEnd)))
    }

    @Test func documentsThatAreNotCloudTrailLogsSayWhy() {
        #expect(split(Array("{\"digestStartTime\":\"x\",\"logFiles\":[]}".utf8)).error == .noRecords)
        #expect(split(Array("[1,2]".utf8)).error == .notAnObject)
        #expect(split(Array("{\"Records\":{}}".utf8)).error == .recordsNotArray(atByte: 11))
        #expect(split(Array("{\"Records\":[{},3]}".utf8)).error == .recordNotObject(atByte: 15))
        #expect(split(Array("{\"Records\":[]}".utf8)).error == nil)
        #expect(CloudTrailFormatError.noRecords.description == "not a CloudTrail log: no \"Records\" array")
    }

    @Test func recordLargerThanTheMaximumWindowCannotBeHeld() {
        let window = ByteWindow(initialCapacity: 16, maximumCapacity: 64)
        #expect(throws: ByteWindowError(requested: 100, maximumCapacity: 64)) {
            try [UInt8](repeating: 0x20, count: 100).withUnsafeBytes { try window.write($0) }
        }
    }
}

@Suite struct CloudTrailFieldsTests {
    @Test func findsTopLevelAndNestedFieldsInPlace() {
        let record = Array("""
            {"Records":[{"eventVersion":"1.08","userIdentity":{"type":"Root","arn":"arn:aws:iam::1:root","invokedBy":null},\
            "eventTime":"2024-05-01T12:34:56Z","eventSource":"signin.amazonaws.com","eventName":"ConsoleLogin",\
            "awsRegion":"us-east-1","responseElements":{"ConsoleLogin":"Success"},"additionalEventData":{"MFAUsed":"No"},\
            "requestParameters":null,"readOnly":false,"recipientAccountId":"111122223333"}]}
            """.utf8)
        let splitter = RecordSplitter()
        let window = ByteWindow(initialCapacity: 1024, maximumCapacity: 1 << 20)
        record.withUnsafeBytes { try! window.write($0) }
        var checked = false
        try? splitter.drain(window, isFinal: true) { record in
            #expect(record.string(.userIdentityType) == "Root")
            #expect(record.string(.consoleLoginResult) == "Success")
            #expect(record.string(.mfaUsed) == "No")
            #expect(record.string(.recipientAccountId) == "111122223333")
            #expect(record.token(.userIdentityInvokedBy)?.kind == .null)  // present, null
            #expect(record.token(.errorCode) == nil)  // absent
            #expect(record.token(.readOnly)?.kind == .false)
            #expect(record.token(.requestParameters)?.kind == .null)
            #expect(record.fields[.policyArn] == nil)  // requestParameters is null: nothing nested
            #expect(record.eventTimeSeconds == 1_714_566_896)
            checked = true
        }
        #expect(checked)
        #expect(CloudTrailField.allCases.count <= 32)  // fits the slot array
    }

    /// Every field is found at its path; escaped keys are decoded; near misses (same length, same first
    /// and last byte, one byte off; a prefix; a longer key) are not fields; the last duplicate wins.
    @Test func findsEveryFieldByItsExactKey() throws {
        var members: [String: [String]] = [:]
        for field in CloudTrailField.allCases {
            let path = field.path
            members[path[0], default: []] += path.count == 2 ? ["\"\(path[1])\":\"\(field.name)\""] : []
        }
        var parts: [String] = []
        for field in CloudTrailField.allCases where field.path.count == 1 {
            let nested = members[field.name] ?? []
            parts.append(nested.isEmpty ? "\"\(field.name)\":\"\(field.name)\"" : "\"\(field.name)\":{\(nested.joined(separator: ","))}")
        }
        let text = "{\"Records\":[{\(parts.joined(separator: ","))}]}"
        var seen = 0
        try collectRecords(text) { record in
            for field in CloudTrailField.allCases {
                if let token = record.token(field), token.kind == .string {
                    #expect(record.string(field) == field.name)
                } else {
                    #expect(record.token(field)?.kind == .object, "\(field.name)")
                }
            }
            seen += 1
        }
        let tricky = #"{"Records":[{"event\u004eame":"A","eventNamE":"B","eventNam":"C","eventNamee":"D","EventName":"E","eventTime":"x","eventTime":"2024-01-01T00:00:00Z"}]}"#
        try collectRecords(tricky) { record in
            #expect(record.string(.eventName) == "A")
            #expect(record.string(.eventTime) == "2024-01-01T00:00:00Z")
            seen += 1
        }
        #expect(seen == 2)
    }

    private func collectRecords(_ text: String, _ body: (borrowing CloudTrailRecord) -> Void) throws {
        let splitter = RecordSplitter()
        let window = ByteWindow(initialCapacity: 1024, maximumCapacity: 1 << 20)
        try Array(text.utf8).withUnsafeBytes { try window.write($0) }
        try splitter.drain(window, isFinal: true, body)
    }
}
