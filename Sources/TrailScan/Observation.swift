public import TrailMatch

/// A record a windowed rule counts, as the scan saw it: what `TrailWindow` needs to place it in its
/// key's sequence and to describe an alert, and no more (the record's bytes only where an alert is
/// about that one record). Made by the worker, handed over with the object's outcome.
public struct Observation: Sendable, Equatable {
    public var ruleID: String
    public var role: Window.Role
    /// The group it counts in (`Window.key(of:role:)`).
    public var key: String
    /// The value a distinct count or a novelty compares (`Window.member`).
    public var member: String?
    /// `eventTime`, Unix seconds.
    public var eventTime: Int64
    public var eventID: String
    /// When the object holding the record was delivered (the minute in its CloudTrail name), if the
    /// name says: a record delivered later than the lateness after its `eventTime` is not counted.
    public var delivered: Int64?
    public var account: String?
    public var region: String?
    public var sourceIPAddress: String?
    public var principalType: String?
    public var userName: String?
    public var object: ObjectRef
    /// The record's own finding, for records an alert can be about by themselves (a `then` record; every
    /// record of a novelty rule); `nil` for the records only counted.
    public var finding: Finding? {
        get { kept?.finding }
        set { kept = newValue.map(Kept.init) }
    }

    /// Held by reference: most observations keep none, and a `Finding` inline would make every one large.
    private var kept: Kept?

    private final class Kept: Sendable {
        let finding: Finding
        init(_ finding: Finding) { self.finding = finding }
    }

    public static func == (lhs: Observation, rhs: Observation) -> Bool {
        lhs.ruleID == rhs.ruleID && lhs.role == rhs.role && lhs.key == rhs.key && lhs.member == rhs.member
            && lhs.eventTime == rhs.eventTime && lhs.eventID == rhs.eventID && lhs.delivered == rhs.delivered
            && lhs.account == rhs.account && lhs.region == rhs.region && lhs.sourceIPAddress == rhs.sourceIPAddress
            && lhs.principalType == rhs.principalType && lhs.userName == rhs.userName && lhs.object == rhs.object
            && lhs.finding == rhs.finding
    }

    public init(
        ruleID: String, role: Window.Role, key: String, member: String?, eventTime: Int64, eventID: String, delivered: Int64?,
        account: String?, region: String?, sourceIPAddress: String?, principalType: String?, userName: String?, object: ObjectRef,
        finding: Finding?
    ) {
        self.ruleID = ruleID
        self.role = role
        self.key = key
        self.member = member
        self.eventTime = eventTime
        self.eventID = eventID
        self.delivered = delivered
        self.account = account
        self.region = region
        self.sourceIPAddress = sourceIPAddress
        self.principalType = principalType
        self.userName = userName
        self.object = object
        self.kept = finding.map(Kept.init)
    }

    /// Whether a record of this rule and role keeps its finding.
    static func keepsFinding(_ window: Window, _ role: Window.Role) -> Bool {
        switch window.measure {
        case .unseen: true
        case .preceded, .followed: role == .then
        case .count, .distinct: false
        }
    }
}
