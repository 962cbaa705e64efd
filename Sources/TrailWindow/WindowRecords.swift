public import TrailScan
internal import TrailMatch

/// The records the windowed rules count, packed for a run's worth of them: each is a fixed-size entry
/// of integers (about 80 bytes, no reference to count), its strings interned once per distinct value,
/// its eventID as 128 bits when it is a lowercase UUID (as CloudTrail writes them). Sorting a million of
/// them moves plain bytes; an `Observation` holds a dozen strings.
public struct WindowRecords: Sendable {
    struct Entry: Sendable {
        var group: Int32
        var role: Window.Role
        /// Kept by the state from an earlier run (not judged late again).
        var kept: Bool
        var time: Int64
        /// The delivery time, `Int64.min` when the object's name does not say.
        var delivered: Int64
        var id: EventKey
        /// Interned strings (`-1`: absent).
        var member: Int32, account: Int32, region: Int32, sourceIP: Int32, principalType: Int32, userName: Int32
        var object: Int32
        /// The kept finding's index in `findings`, or `-1`.
        var finding: Int32
    }

    /// An eventID: 128 bits of a lowercase UUID, or the index of another text in `strings`.
    struct EventKey: Sendable, Hashable {
        var high: UInt64
        var low: UInt64
        /// `-1` for a packed UUID, else the interned text's index.
        var text: Int32
    }

    var entries: [Entry] = []
    var groups = Interner<WindowGroup>()
    var strings = Interner<String>()
    var objects = Interner<ObjectRef>()
    var findings: [Finding] = []

    public init() {}

    public var count: Int { entries.count }

    /// The last object added, and its number: an object's records come together.
    private var lastObject: (ref: ObjectRef, index: Int32)?

    /// Adds a record; `kept` for one the state kept from an earlier run.
    public mutating func add(_ observation: Observation, kept: Bool = false) {
        func text(_ value: String?) -> Int32 { value.map { strings.index(of: $0) } ?? -1 }
        let object: Int32
        if let last = lastObject, last.ref == observation.object {
            object = last.index
        } else {
            object = objects.index(of: observation.object)
            lastObject = (observation.object, object)
        }
        var finding: Int32 = -1
        if let kept = observation.finding {
            finding = Int32(findings.count)
            findings.append(kept)
        }
        entries.append(Entry(
            group: groups.index(of: WindowGroup(ruleID: observation.ruleID, key: observation.key)), role: observation.role, kept: kept,
            time: observation.eventTime, delivered: observation.delivered ?? .min, id: key(of: observation.eventID),
            member: text(observation.member), account: text(observation.account), region: text(observation.region),
            sourceIP: text(observation.sourceIPAddress), principalType: text(observation.principalType), userName: text(observation.userName),
            object: object, finding: finding))
    }

    /// The `Observation` an entry was made from.
    func observation(_ entry: Entry) -> Observation {
        let group = groups.values[Int(entry.group)]
        return Observation(
            ruleID: group.ruleID, role: entry.role, key: group.key, member: text(entry.member), eventTime: entry.time,
            eventID: eventID(entry.id), delivered: entry.delivered == .min ? nil : entry.delivered, account: text(entry.account),
            region: text(entry.region), sourceIPAddress: text(entry.sourceIP), principalType: text(entry.principalType),
            userName: text(entry.userName), object: objects.values[Int(entry.object)],
            finding: entry.finding < 0 ? nil : findings[Int(entry.finding)])
    }

    func text(_ index: Int32) -> String? { index < 0 ? nil : strings.values[Int(index)] }

    // MARK: - Event IDs

    private static let hex: [UInt8] = Array("0123456789abcdef".utf8)

    /// Packs `8-4-4-4-12` lowercase hex into 128 bits; anything else is interned as text.
    private mutating func key(of eventID: String) -> EventKey {
        var high: UInt64 = 0, low: UInt64 = 0, digits = 0
        var packed = eventID.utf8.count == 36
        if packed {
            for (offset, byte) in eventID.utf8.enumerated() {
                if offset == 8 || offset == 13 || offset == 18 || offset == 23 {
                    guard byte == 0x2D else { packed = false; break }
                    continue
                }
                let value: UInt8
                switch byte {
                case 0x30...0x39: value = byte - 0x30
                case 0x61...0x66: value = byte - 0x61 + 10
                default: value = 0xFF
                }
                guard value != 0xFF else { packed = false; break }
                if digits < 16 { high = high << 4 | UInt64(value) } else { low = low << 4 | UInt64(value) }
                digits += 1
            }
        }
        if packed { return EventKey(high: high, low: low, text: -1) }
        return EventKey(high: 0, low: 0, text: strings.index(of: eventID))
    }

    func eventID(_ key: EventKey) -> String {
        if key.text >= 0 { return strings.values[Int(key.text)] }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(36)
        for digit in 0..<32 {
            if digit == 8 || digit == 12 || digit == 16 || digit == 20 { bytes.append(0x2D) }
            let word = digit < 16 ? key.high : key.low
            bytes.append(Self.hex[Int(word >> (4 * UInt64(15 - digit % 16)) & 0xF)])
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// The order of eventIDs as texts (packing keeps it: the dashes stand at the same places).
    func precedes(_ a: EventKey, _ b: EventKey) -> Bool {
        if a.text < 0 && b.text < 0 { return (a.high, a.low) < (b.high, b.low) }
        return eventID(a) < eventID(b)
    }
}

/// Values numbered in the order first seen.
struct Interner<Value: Hashable & Sendable>: Sendable {
    private var numbers: [Value: Int32] = [:]
    private(set) var values: [Value] = []

    mutating func index(of value: Value) -> Int32 {
        if let number = numbers[value] { return number }
        let number = Int32(values.count)
        numbers[value] = number
        values.append(value)
        return number
    }
}
