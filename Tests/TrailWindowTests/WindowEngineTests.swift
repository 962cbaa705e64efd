import Testing
import TrailMatch
import TrailScan
@testable import TrailWindow

/// The engine on its own: episodes, thresholds, duplicates, ties, lateness, and the property the
/// scheduled scans rest on — records split across runs in delivery order give the alerts of one run.
@Suite struct WindowEngineTests {
    static let rules = BuiltinRules.all.filter { $0.window != nil }
    static let engine = WindowEngine(rules: rules)

    static func observation(
        _ rule: String, _ id: String, at time: Int64, key: String = "k", member: String? = nil, role: Window.Role = .counted,
        delivered: Int64? = nil
    ) -> Observation {
        Observation(ruleID: rule, role: role, key: key, member: member, eventTime: time, eventID: id, delivered: delivered ?? time + 300,
                    account: "111122223333", region: "us-east-1", sourceIPAddress: nil, principalType: "Root", userName: nil,
                    object: .standardInput, finding: nil)
    }

    /// `rule eventID count` of each alert.
    static func alerts(_ outcome: WindowEngine.Outcome) -> [String] {
        outcome.alerts.map { "\($0.ruleID) \($0.eventID ?? "-") \($0.evidence?.count ?? 0)" }
    }

    @Test func aBurstGivesOneAlertPerThresholdOfRecords() {
        // 12 failures a minute apart, threshold 5: alerts at the 5th and the 10th; the last 2 wait for more.
        let records = (1...12).map { Self.observation("signin.root.brute-force", "f\($0)", at: Int64($0) * 60) }
        #expect(Self.alerts(Self.engine.evaluate(records.reversed())) == ["signin.root.brute-force f5 5", "signin.root.brute-force f10 5"])
    }

    @Test func theThresholdMetExactlyAndMissedByOne() {
        let window: Int64 = 15 * 60
        let met = [0, 200, 400, 600, window].enumerated().map { Self.observation("signin.root.brute-force", "m\($0.offset)", at: 10_000 + Int64($0.element)) }
        #expect(Self.alerts(Self.engine.evaluate(met)) == ["signin.root.brute-force m4 5"])
        // The fifth one second outside the window: the first has left it.
        let missed = [0, 200, 400, 600, window + 1].enumerated().map { Self.observation("signin.root.brute-force", "x\($0.offset)", at: 10_000 + Int64($0.element)) }
        #expect(Self.alerts(Self.engine.evaluate(missed)).isEmpty)
        let four = (0..<4).map { Self.observation("signin.root.brute-force", "y\($0)", at: Int64($0)) }
        #expect(Self.alerts(Self.engine.evaluate(four)).isEmpty)
    }

    @Test func aRecordDeliveredTwiceCountsOnce() {
        let records = (1...4).map { Self.observation("signin.root.brute-force", "d\($0)", at: Int64($0)) }
        let outcome = Self.engine.evaluate(records + records)
        #expect(outcome.alerts.isEmpty)
        #expect(outcome.counted == 4)
    }

    @Test func recordsOfOneSecondAreOrderedByEventID() {
        // Five at the same second: the alert is at the greatest eventID, in any input order.
        let records = ["e", "a", "d", "b", "c"].map { Self.observation("signin.root.brute-force", $0, at: 500) }
        #expect(Self.alerts(Self.engine.evaluate(records)) == ["signin.root.brute-force e 5"])
        #expect(Self.alerts(Self.engine.evaluate(records.reversed())) == ["signin.root.brute-force e 5"])
    }

    @Test func lateRecordsAreLeftOutAndCounted() {
        var records = (1...4).map { Self.observation("signin.root.brute-force", "l\($0)", at: Int64($0) * 60) }
        records.append(Self.observation("signin.root.brute-force", "late", at: 300, delivered: 300 + 3601))
        let outcome = Self.engine.evaluate(records)
        #expect(outcome.alerts.isEmpty)
        #expect(outcome.late == 1)
        #expect(outcome.counted == 4)
        let tolerant = WindowEngine(rules: Self.rules, lateness: 7200).evaluate(records)
        #expect(Self.alerts(tolerant) == ["signin.root.brute-force late 5"])
    }

    @Test func distinctCountsValuesNotRecords() {
        // 9 users, 20 failures: no spray; a 10th user makes one.
        var records = (0..<20).map { Self.observation("signin.password-spray", "s\($0)", at: Int64($0) * 60, member: "u\($0 % 9)") }
        #expect(Self.alerts(Self.engine.evaluate(records)).isEmpty)
        records.append(Self.observation("signin.password-spray", "s20", at: 20 * 60, member: "u9"))
        let outcome = Self.engine.evaluate(records)
        #expect(Self.alerts(outcome) == ["signin.password-spray s20 21"])
        #expect(outcome.alerts.first?.evidence?.distinct == 10)
    }

    @Test func precededCountsSinceThePreviousSuccess() {
        let rule = "signin.failures-then-success"
        let records = [
            Self.observation(rule, "f1", at: 0), Self.observation(rule, "f2", at: 60), Self.observation(rule, "ok1", at: 120, role: .then),
            Self.observation(rule, "f3", at: 180), Self.observation(rule, "ok2", at: 240, role: .then),
            Self.observation(rule, "f4", at: 300), Self.observation(rule, "f5", at: 360), Self.observation(rule, "f6", at: 420),
            Self.observation(rule, "ok3", at: 420, role: .then),  // the same second: the failures come first
        ]
        #expect(Self.alerts(Self.engine.evaluate(records.shuffled())) == ["\(rule) ok3 4"])
    }

    @Test func followedUsesUpWhatItFollowed() {
        let rule = "iam.created-then-admin"
        let records = [
            Self.observation(rule, "create", at: 0), Self.observation(rule, "admin1", at: 3600, role: .then),
            Self.observation(rule, "admin2", at: 7200, role: .then),  // the same creation: no second alert
            Self.observation(rule, "admin3", at: 90_000, role: .then),  // no creation within a day
        ]
        #expect(Self.alerts(Self.engine.evaluate(records)) == ["\(rule) admin1 2"])
    }

    /// Random records of four rules over three days, delivered up to 70 minutes late, split into runs in
    /// delivery order: the runs' decided alerts, then a last evaluation with no watermark, are exactly
    /// the alerts of one evaluation over all of them; and so is any order inside a run.
    @Test(arguments: 1...20) func splittingAcrossRunsChangesNothing(seed: UInt64) {
        var random = Generator(seed: seed)
        let rules = ["signin.root.brute-force", "signin.password-spray", "signin.failures-then-success", "iam.created-then-admin"]
        var records: [Observation] = []
        for index in 0..<600 {
            let rule = rules[Int(random.next() % 4)]
            let time = Int64(random.next() % (3 * 86_400))
            let role: Window.Role = rule.contains("then") && random.next() % 4 == 0 ? .then : .counted
            records.append(Self.observation(rule, "r\(index)", at: time, key: "k\(random.next() % 3)", member: "u\(random.next() % 12)",
                                            role: role, delivered: time + Int64(random.next() % 4200)))
        }
        let one = Self.engine.evaluate(records)
        records.sort { ($0.delivered!, $0.eventID) < ($1.delivered!, $1.eventID) }
        var state = WindowState()
        var alerts: [String] = []
        var start = 0
        while start < records.count {
            let end = min(records.count, start + 1 + Int(random.next() % 150))
            let run = Array(records[start..<end]).shuffled()
            let watermark = records[start..<end].map { $0.delivered! }.max()! - Self.engine.lateness
            let outcome = Self.engine.evaluate(run, state: state, watermark: max(watermark, state.watermark ?? watermark))
            alerts += Self.alerts(outcome)
            #expect(outcome.late == run.filter { $0.delivered! - $0.eventTime > Self.engine.lateness }.count)
            state = outcome.state
            start = end
        }
        alerts += Self.alerts(Self.engine.evaluate([], state: state, watermark: nil))
        #expect(alerts.sorted() == Self.alerts(one).sorted())
    }

    /// SplitMix64: the same records for a seed on every machine.
    struct Generator {
        var state: UInt64
        init(seed: UInt64) { state = seed }
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }
}
