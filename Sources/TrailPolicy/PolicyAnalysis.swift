/// The two questions the Stage 2 rules ask of a policy document.
extension PolicyDocument {
    /// A statement of a trust policy that lets a principal outside the account assume the role.
    public struct ExternalTrust: Sendable, Equatable {
        /// `*`, or the principal as written (an account id or an ARN).
        public var principal: String
        /// The principal's account, `nil` for anyone.
        public var account: String?
        /// The condition keys that narrow the statement to an organization or a shared secret
        /// (`aws:PrincipalOrgID`, `aws:PrincipalOrgPaths`, `sts:ExternalId`), as written; empty when none.
        public var restrictedBy: [String]
    }

    /// Condition keys that restrict who may use a trust, compared ignoring case as IAM does.
    static let restrictingKeys: Set<String> = ["aws:principalorgid", "aws:principalorgpaths", "sts:externalid"]

    /// The principals of `Allow` statements that are anyone (`*`, `{"AWS":"*"}`, or a `NotPrincipal`)
    /// or an AWS account other than `account` and not in `trusted`. Service, federated and canonical-user
    /// principals are not accounts; an `AWS` value that is neither an account id nor an IAM/STS ARN (a
    /// unique id IAM wrote for a deleted principal) names no account and is left out.
    public func externalTrusts(account: String?, trusted: Set<String>) -> [ExternalTrust] {
        var found: [ExternalTrust] = []
        for statement in statements where statement.effect == .allow {
            let restrictedBy = statement.conditions.filter { condition in
                // `…IfExists` passes when the key is missing, and `Null` only tests presence.
                !condition.operator.hasSuffix("IfExists") && condition.operator != "Null"
                    && Self.restrictingKeys.contains(condition.key.lowercased())
            }.map(\.key)
            if statement.notPrincipal {
                found.append(ExternalTrust(principal: "*", account: nil, restrictedBy: restrictedBy))
                continue
            }
            switch statement.principals {
            case .none: continue
            case .anyone: found.append(ExternalTrust(principal: "*", account: nil, restrictedBy: restrictedBy))
            case .named(let named):
                for value in named["AWS"] ?? [] {
                    guard let owner = Self.account(of: value), owner != account, !trusted.contains(owner) else { continue }
                    found.append(ExternalTrust(principal: value, account: owner, restrictedBy: restrictedBy))
                }
            }
        }
        return found
    }

    /// The account an `AWS` principal names: a 12-digit id, or the account field of an `iam` or `sts` ARN.
    static func account(of principal: String) -> String? {
        func isAccount(_ text: Substring) -> Bool { text.utf8.count == 12 && text.utf8.allSatisfy { $0 >= 0x30 && $0 <= 0x39 } }
        if isAccount(principal[...]) { return principal }
        let parts = principal.split(separator: ":", maxSplits: 5, omittingEmptySubsequences: false)
        guard parts.count == 6, parts[0] == "arn", parts[2] == "iam" || parts[2] == "sts", isAccount(parts[4]) else { return nil }
        return String(parts[4])
    }

    /// An `Allow` statement that grants every action on every resource.
    public struct AdminGrant: Sendable, Equatable {
        /// How: `Action "*" on Resource "*"`, or the `NotAction`/`NotResource` form.
        public var how: String
        /// The statement's condition keys, if it has any (the grant may be narrower than it looks).
        public var conditions: [String]
    }

    /// Statements that allow `*` (or `*:*`) on `*`, and those that allow everything but a list of
    /// actions (`NotAction`) or resources (`NotResource`) — as broad in practice.
    public func adminGrants() -> [AdminGrant] {
        var grants: [AdminGrant] = []
        for statement in statements where statement.effect == .allow {
            let everyAction = statement.notAction || statement.actions.contains("*") || statement.actions.contains("*:*")
            let everyResource = statement.notResource || statement.resources.contains("*")
            guard everyAction, everyResource else { continue }
            let action = statement.notAction ? "every action but \(statement.actions.joined(separator: ", "))" : "Action \"*\""
            let resource = statement.notResource ? "every resource but \(statement.resources.joined(separator: ", "))" : "Resource \"*\""
            grants.append(AdminGrant(how: "\(action) on \(resource)", conditions: statement.conditions.map(\.key)))
        }
        return grants
    }
}
