public import TrailEvents
internal import TrailPolicy

/// What a Stage 2 rule asks of a record beyond its pattern: a comparison between fields, or an
/// analysis of the policy document the record carries. Runs only on records the rule's pattern matched.
public enum RecordCheck: Sendable, Equatable {
    /// `responseElements.accessKey.userName` is not the caller (the last segment of `userIdentity.arn`).
    case accessKeyForOtherUser
    /// `userIdentity.arn` does not end with `/` + `requestParameters.userName`, and the new password need
    /// not be reset (`requestParameters.passwordResetRequired` is not `true`).
    case loginProfileForOtherUser
    /// The trust policy lets in anyone, or an account other than `recipientAccountId` and `trusted`.
    case externalTrust(trusted: Set<String>)
    /// The policy document allows every action on every resource.
    case fullAdminPolicy

    /// The outcome on one record.
    public enum Verdict: Sendable, Equatable {
        /// Nothing to report.
        case pass
        /// An alert, with what the check found, and a severity other than the rule's when the finding is
        /// narrower than the rule's worst case (a trust restricted by a condition).
        case alert(detail: String, severity: Severity?)
        /// The record cannot be judged (its policy document is not valid JSON): a note for the summary.
        case unreadable(String)
    }

    /// What the check asks, in a line (for `trailscan rules show`).
    public var explanation: String {
        switch self {
        case .accessKeyForOtherUser: "responseElements.accessKey.userName is not the last segment of userIdentity.arn"
        case .loginProfileForOtherUser: "userIdentity.arn does not end with /requestParameters.userName, and passwordResetRequired is not true"
        case .externalTrust: "the trust policy (requestParameters.assumeRolePolicyDocument or .policyDocument) allows * or an AWS account other than recipientAccountId and the trusted accounts; medium when every such statement requires aws:PrincipalOrgID, aws:PrincipalOrgPaths or sts:ExternalId"
        case .fullAdminPolicy: "the policy document (requestParameters.policyDocument) allows Action * (or NotAction) on Resource * (or NotResource)"
        }
    }

    /// The parameters a configuration file may set, by name, for `trailscan rules` and the file's checks.
    public var parameters: [(name: String, value: String)] {
        switch self {
        case .externalTrust(let trusted): [("trustedAccounts", trusted.isEmpty ? "none" : trusted.sorted().joined(separator: ", "))]
        default: []
        }
    }

    public func evaluate(_ record: CloudTrailRecord) -> Verdict {
        switch self {
        case .accessKeyForOtherUser:
            guard let owner = record.text(at: ["responseElements", "accessKey", "userName"]),
                  let caller = record.string(.userIdentityArn).map(Self.lastPathSegment), owner != caller
            else { return .pass }
            return .alert(detail: "created an access key for \(owner), not for the caller (\(caller))", severity: nil)
        case .loginProfileForOtherUser:
            guard let user = record.text(at: ["requestParameters", "userName"]), let arn = record.string(.userIdentityArn),
                  !arn.hasSuffix("/" + user), record.text(at: ["requestParameters", "passwordResetRequired"]) != "true"
            else { return .pass }
            return .alert(detail: "set the console password of \(user) without requiring a reset", severity: nil)
        case .externalTrust(let trusted):
            let field = record.text(at: ["requestParameters", "assumeRolePolicyDocument"]) != nil
                ? ["requestParameters", "assumeRolePolicyDocument"] : ["requestParameters", "policyDocument"]
            return withPolicy(record, field) { policy in
                let trusts = policy.externalTrusts(account: record.string(.recipientAccountId), trusted: trusted)
                guard !trusts.isEmpty else { return .pass }
                let parts = trusts.map { trust in
                    (trust.account.map { "account \($0)" } ?? "anyone (*)")
                        + (trust.restrictedBy.isEmpty ? "" : " if \(trust.restrictedBy.joined(separator: ", ")) matches")
                }
                // Every external trust narrowed by an organization or external-id condition: lower.
                let restricted = trusts.allSatisfy { !$0.restrictedBy.isEmpty }
                return .alert(detail: "the trust policy lets in " + Self.distinct(parts).joined(separator: "; "), severity: restricted ? .medium : nil)
            }
        case .fullAdminPolicy:
            return withPolicy(record, ["requestParameters", "policyDocument"]) { policy in
                let grants = policy.adminGrants()
                guard !grants.isEmpty else { return .pass }
                let parts = grants.map { $0.how + ($0.conditions.isEmpty ? "" : " (with conditions on \($0.conditions.joined(separator: ", ")))") }
                return .alert(detail: "the policy allows " + Self.distinct(parts).joined(separator: "; "), severity: nil)
            }
        }
    }

    private func withPolicy(_ record: CloudTrailRecord, _ field: [String], _ body: (PolicyDocument) -> Verdict) -> Verdict {
        guard let text = record.text(at: field) else { return .unreadable("the record has no \(field.joined(separator: "."))") }
        do {
            return body(try PolicyDocument(Array(text.utf8)))
        } catch {
            return .unreadable("\(field.joined(separator: ".")): \(error.description)")
        }
    }

    static func lastPathSegment(_ arn: String) -> String {
        arn.split(separator: "/", omittingEmptySubsequences: false).last.map(String.init) ?? arn
    }

    private static func distinct(_ items: [String]) -> [String] {
        var seen: Set<String> = []
        return items.filter { seen.insert($0).inserted }
    }
}
