// TrailWindow: the windowed and correlated rules. Takes the `Observation`s the workers made (records
// a windowed rule's patterns matched), orders each key's records by eventTime, and decides the alerts
// — the same whatever order the objects were read in, however many workers, and whether the records
// came in one run or in many (`WindowState` carries what a later run still needs).

public import TrailMatch
public import TrailScan
internal import TrailJSON
internal import TrailTime

/// A record's place in its key's sequence: `eventTime`, then `eventID` to order records of the same
/// second the same way on every run.
public struct WindowPosition: Sendable, Hashable, Comparable {
    public var time: Int64
    public var eventID: String

    public init(time: Int64, eventID: String) {
        self.time = time
        self.eventID = eventID
    }

    public static func < (lhs: WindowPosition, rhs: WindowPosition) -> Bool {
        (lhs.time, lhs.eventID) < (rhs.time, rhs.eventID)
    }
}

/// The records of one rule that share a key.
public struct WindowGroup: Sendable, Hashable {
    public var ruleID: String
    public var key: String

    public init(ruleID: String, key: String) {
        self.ruleID = ruleID
        self.key = key
    }
}

/// What the windowed rules keep from one run to the next (`--state`): the records that can still
/// take part in an alert not yet decided, where each key's last decided alert ended, and the watermark.
public struct WindowState: Sendable, Equatable {
    /// Records with an `eventTime` within a rule's window of the watermark, or after it.
    public var observations: [Observation]
    /// Per key, the position of its last decided alert: the records up to it were used by that alert,
    /// and the key's next alert is made of records after it.
    public var floors: [WindowGroup: WindowPosition]
    /// Alerts whose last record is before this time are decided; records before it that arrive later
    /// are too late to count. `nil` before the first run.
    public var watermark: Int64?

    public init(observations: [Observation] = [], floors: [WindowGroup: WindowPosition] = [:], watermark: Int64? = nil) {
        self.observations = observations
        self.floors = floors
        self.watermark = watermark
    }
}

/// The windowed rules' alerts over a set of records.
///
/// **Time.** Everything is measured on `eventTime`. A record counts when the object holding it was
/// delivered (the minute in the CloudTrail file name) at most `lateness` after its `eventTime`; one
/// delivered later — or, across runs, one whose `eventTime` is before the watermark of an earlier run —
/// is counted as late in the summary and left out, so that the answer never depends on when a file was
/// read. An object whose name carries no delivery time counts all its records.
///
/// **Episodes.** Each key's records are taken in (eventTime, eventID) order. A counting rule alerts at
/// the record that brings the count within the window to its threshold; the records of that alert are
/// used up, and the next alert of the key is made of records after it. So a burst of 12 failures with a
/// threshold of 5 gives two alerts, and the 2 left over wait for more. `preceded` counts the records
/// since the key's previous `then` record; `followed` uses up the records that an alert followed.
///
/// **Decided.** With a watermark (a run with `--state`), only alerts whose last record is before it are
/// decided: a record still to come could not change them. Later ones wait, with their records, for a
/// run whose watermark passes them. Without one (a single run), every alert is decided.
public struct WindowEngine: Sendable {
    /// The windowed rules, by id.
    private let rules: [String: Rule]
    /// Seconds a record may be delivered after its `eventTime` and still count.
    public let lateness: Int64

    /// The default `lateness`: CloudTrail delivers most records within 15 minutes.
    public static let defaultLateness: Int64 = 3600

    public init(rules: [Rule], lateness: Int64 = WindowEngine.defaultLateness) {
        var byID: [String: Rule] = [:]
        for rule in rules where rule.window != nil { byID[rule.id] = rule }
        self.rules = byID
        self.lateness = lateness
    }

    /// Whether there is any windowed rule to evaluate.
    public var isEmpty: Bool { rules.isEmpty }


    public struct Outcome: Sendable {
        /// The decided alerts not decided by an earlier run, in (eventTime, eventID, rule) order.
        public var alerts: [Finding]
        /// What the next run needs (for a run with a watermark).
        public var state: WindowState
        /// Records of `new` counted (by eventID, however many rules count one), and left out as late.
        public var counted = 0
        public var late = 0
        /// Alerts found whose last record is not before the watermark: decided by a later run.
        public var pending = 0
    }

    /// Evaluates `new` records together with those `state` kept.
    ///
    /// - Parameter watermark: alerts ending before it are decided (`nil`: all are, and nothing is kept).
    public func evaluate(_ new: [Observation], state: WindowState = WindowState(), watermark: Int64? = nil) -> Outcome {
        var records = WindowRecords()
        for observation in state.observations { records.add(observation, kept: true) }
        for observation in new { records.add(observation) }
        return evaluate(records, floors: state.floors, previous: state.watermark, watermark: watermark)
    }

    /// Evaluates packed records (those an earlier run kept marked so), after the alerts `floors` and
    /// the `previous` watermark say were decided.
    public func evaluate(_ records: consuming WindowRecords, floors: [WindowGroup: WindowPosition] = [:], previous: Int64? = nil,
                         watermark: Int64? = nil) -> Outcome {
        var outcome = Outcome(alerts: [], state: WindowState(floors: [:], watermark: watermark ?? previous))
        // The rule of each group, `nil` for a rule not in this run.
        let groupRules = records.groups.values.map { rules[$0.ruleID] }
        var entries = records.entries
        records.entries = []
        entries.removeAll { groupRules[Int($0.group)] == nil }
        entries.sort { a, b in
            if a.group != b.group { return a.group < b.group }
            if a.time != b.time { return a.time < b.time }
            if a.id != b.id { return records.precedes(a.id, b.id) }
            if a.role != b.role { return a.role < b.role }
            return a.kept && !b.kept  // of a record read twice, the one kept first
        }
        // A record delivered twice (CloudTrail does, now and then), or read again: counted once. A record
        // counts when it was delivered within the lateness, and is not older than the last watermark.
        // Counted by record: one several rules count is one record counted (or late).
        var counted = Set<WindowRecords.EventKey>(), late = Set<WindowRecords.EventKey>()
        var write = 0
        for read in entries.indices {
            let entry = entries[read]
            if write > 0, case let last = entries[write - 1], last.group == entry.group, last.time == entry.time, last.id == entry.id,
               last.role == entry.role {
                continue
            }
            if !entry.kept {
                let delivered = entry.delivered != .min && entry.delivered - entry.time > lateness
                let behind = previous.map { entry.time < $0 } ?? false
                if delivered || behind {
                    late.insert(entry.id)
                    continue
                }
                counted.insert(entry.id)
            }
            entries[write] = entry
            write += 1
        }
        entries.removeSubrange(write...)
        outcome.counted = counted.count
        outcome.late = late.subtracting(counted).count
        counted = []
        late = []
        var start = 0
        while start < entries.count {
            var end = start + 1
            while end < entries.count && entries[end].group == entries[start].group { end += 1 }
            let group = records.groups.values[Int(entries[start].group)]
            evaluate(group, groupRules[Int(entries[start].group)]!, entries[start..<end], in: records, floor: floors[group],
                     previous: previous, watermark: watermark, into: &outcome)
            start = end
        }
        outcome.alerts.sort { a, b in
            (a.eventTime ?? 0, a.eventID ?? "", a.ruleID) < (b.eventTime ?? 0, b.eventID ?? "", b.ruleID)
        }
        if let watermark {
            outcome.state.observations = entries.filter { $0.time >= watermark - groupRules[Int($0.group)]!.window!.span }.map(records.observation)
            for (group, floor) in floors where outcome.state.floors[group] == nil {
                if let rule = rules[group.ruleID], floor.time >= watermark - rule.window!.span { outcome.state.floors[group] = floor }
            }
        }
        return outcome
    }

    typealias Entry = WindowRecords.Entry

    /// One key's records, in order: its alerts into `outcome`, and its new floor.
    private func evaluate(
        _ group: WindowGroup, _ rule: Rule, _ entries: ArraySlice<Entry>, in records: WindowRecords, floor: WindowPosition?, previous: Int64?,
        watermark: Int64?, into outcome: inout Outcome
    ) {
        let window = rule.window!
        let span = window.span
        // The records after the floor: those before it were used by a decided alert.
        let first = floor.map { floor in
            entries.firstIndex { $0.time > floor.time || ($0.time == floor.time && records.eventID($0.id) > floor.eventID) } ?? entries.endIndex
        } ?? entries.startIndex
        var lastDecided: WindowPosition?
        /// An alert at `trigger` on `evidence`: decided, pending, or decided before.
        func alert(_ trigger: Entry, _ evidence: [Entry], distinct: Int? = nil) {
            if let watermark, trigger.time >= watermark {
                outcome.pending += 1
                return
            }
            lastDecided = WindowPosition(time: trigger.time, eventID: records.eventID(trigger.id))
            if let previous, trigger.time < previous { return }  // decided and reported by an earlier run
            outcome.alerts.append(finding(rule, group, trigger: trigger, evidence: evidence, distinct: distinct, in: records))
        }
        switch window.measure {
        case .count(let threshold):
            var low = first
            for index in first..<entries.endIndex {
                while entries[low].time < entries[index].time - span { low += 1 }
                if index - low + 1 >= threshold {
                    alert(entries[index], Array(entries[low...index]))
                    low = index + 1
                }
            }
        case .distinct(let threshold, _):
            var low = first
            var members: [Int32: Int] = [:]
            for index in first..<entries.endIndex {
                while entries[low].time < entries[index].time - span {
                    Self.remove(entries[low].member, from: &members)
                    low += 1
                }
                if entries[index].member >= 0 { members[entries[index].member, default: 0] += 1 }
                if members.count >= threshold {
                    alert(entries[index], Array(entries[low...index]), distinct: members.count)
                    members = [:]
                    low = index + 1
                }
            }
        case .preceded(let threshold, _):
            var since = first
            for index in first..<entries.endIndex where entries[index].role == .then {
                let time = entries[index].time
                let counted = entries[since..<index].filter { $0.role == .counted && $0.time >= time - span }
                if counted.count >= threshold { alert(entries[index], counted + [entries[index]]) }
                since = index + 1
            }
        case .followed:
            var since = first
            for index in first..<entries.endIndex where entries[index].role == .then {
                let time = entries[index].time
                let started = entries[since..<index].filter { $0.role == .counted && $0.time >= time - span }
                if !started.isEmpty {
                    alert(entries[index], started + [entries[index]])
                    since = index + 1
                }
            }
        case .unseen:
            var low = entries.startIndex
            var members: [Int32: Int] = [:]
            for index in entries.indices {
                while entries[low].time < entries[index].time - span {
                    Self.remove(entries[low].member, from: &members)
                    low += 1
                }
                let member = entries[index].member
                if member >= 0 {
                    if low < index && members[member] == nil { alert(entries[index], Array(entries[low...index])) }
                    members[member, default: 0] += 1
                }
            }
            lastDecided = nil  // a novelty uses up nothing
        }
        if let lastDecided { outcome.state.floors[group] = lastDecided }
    }

    /// Takes one record's `member` out of the window's counts of values.
    private static func remove(_ member: Int32, from members: inout [Int32: Int]) {
        guard member >= 0 else { return }
        members[member]! -= 1
        if members[member] == 0 { members[member] = nil }
    }

    /// The alert's finding: the `then` (or judged) record's own, or, for a count, one made from the
    /// fields its records share.
    private func finding(_ rule: Rule, _ group: WindowGroup, trigger: Entry, evidence: [Entry], distinct: Int?, in records: WindowRecords) -> Finding {
        let window = rule.window!
        let counted = evidence.filter { $0.role == .counted }
        var finding: Finding
        if trigger.finding >= 0 {
            finding = records.findings[Int(trigger.finding)]
        } else {
            func shared(_ field: KeyPath<Entry, Int32>) -> String? {
                let value = trigger[keyPath: field]
                return evidence.allSatisfy { $0[keyPath: field] == value } ? records.text(value) : nil
            }
            let single = { (path: [String]) in rule.pattern.requiredString(at: path) }
            finding = Finding(
                ruleID: rule.id, severity: rule.severity, title: rule.title, eventID: records.eventID(trigger.id), eventTime: trigger.time,
                eventTimeText: UTC.iso8601(trigger.time), eventSource: single(["detail", "eventSource"]),
                eventName: single(["detail", "eventName"]), account: shared(\.account), region: shared(\.region),
                principal: Finding.Principal(type: shared(\.principalType), userName: shared(\.userName)),
                sourceIPAddress: shared(\.sourceIP), object: records.objects.values[Int(trigger.object)], record: [])
        }
        finding.ruleID = rule.id
        finding.severity = rule.severity
        finding.title = rule.title
        let key = Self.describe(key: group.key, paths: trigger.role == .then ? window.then!.key : window.key)
        let within = Window.duration(window.span)
        switch window.measure {
        case .count:
            finding.detail = "\(window.counted(counted.count)) for \(key) within \(within)"
        case .distinct(_, let member):
            finding.detail = "\(distinct ?? 0) distinct \(member.joined(separator: ".")) in \(window.counted(counted.count)) for \(key) within \(within)"
        case .preceded:
            finding.detail = "after \(window.counted(counted.count)) for \(key) within \(within)"
        case .followed:
            finding.detail = "follows \(window.counted(counted.count)) for \(key) within \(within) ("
                + counted.prefix(3).map { "eventID \(records.eventID($0.id))" }.joined(separator: ", ") + (counted.count > 3 ? ", …)" : ")")
        case .unseen(let member):
            let others = Set(counted.dropLast().map(\.member).filter { $0 >= 0 }).count
            finding.detail = "\(member.joined(separator: ".")) \(records.text(trigger.member) ?? "-") not among the \(window.counted(counted.count - 1)) "
                + "(\(others) other value\(others == 1 ? "" : "s")) of \(key) in the \(within) before"
        }
        finding.evidence = Finding.Evidence(
            count: evidence.count, distinct: distinct, window: window.span, first: evidence.first!.time, last: evidence.last!.time,
            eventIDs: evidence.prefix(Finding.Evidence.listed).map { records.eventID($0.id) })
        return finding
    }

    /// `recipientAccountId 123456789012, awsRegion us-east-1`: the key's parts by the paths they came from.
    static func describe(key: String, paths: [[String]]) -> String {
        guard case .array(let parts)? = try? JSONValue(parsing: Array(key.utf8)) else { return key }
        return zip(paths, parts).map { path, part in
            let name = path.joined(separator: ".").split(separator: "|").joined(separator: " or ")
            if case .string(let text) = part { return "\(name) \(text)" }
            return name
        }.joined(separator: ", ")
    }
}
