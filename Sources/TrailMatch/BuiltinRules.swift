
/// The built-in rule pack of `RULES.md`: Stage 1 (single-record patterns) and the record-local rules of
/// Stage 2 (a pattern and a `RecordCheck`). Ids are stable.
public enum BuiltinRules {
    public static let all: [Rule] = [
        // Console sign-in
        rule("signin.root.success", .critical, "Root user signed in to the console",
             "A successful console sign-in with the root user's credentials.",
             loginOK + #","userIdentity":{"type":["Root"]}"#),
        rule("signin.root.failure", .high, "Failed root console sign-in",
             "A console sign-in as root failed: someone holds or is guessing the root email address.",
             loginFailed + #","userIdentity":{"type":["Root"]}"#),
        rule("signin.no-mfa", .high, "Console sign-in without MFA",
             "An IAM user or root signed in to the console without multi-factor authentication.",
             loginOK + #","userIdentity":{"type":["IAMUser","Root"]},"#
                 + #""additionalEventData":{"MFAUsed":[{"anything-but":{"equals-ignore-case":"Yes"}},null,{"exists":false}]}"#),
        rule("signin.failure", .low, "Failed console sign-in",
             "A console sign-in by a non-root identity failed.",
             loginFailed + #","userIdentity":{"type":[{"anything-but":"Root"},{"exists":false}]}"#),
        rule("signin.success", .info, "Console sign-in",
             "Every successful console sign-in, as the EventBridge sign-in notifications report them.",
             loginOK),
        rule("signin.identity-center", .info, "IAM Identity Center sign-in",
             "A successful sign-in through IAM Identity Center (SSO).",
             #""eventSource":["signin.amazonaws.com","sso.amazonaws.com"],"eventName":["UserAuthentication","Authenticate"],"#
                 + success),
        rule("signin.root.password-changed", .high, "Root password changed",
             "The root user's password was changed.",
             #""eventName":["PasswordUpdated"],"userIdentity":{"type":["Root"]}"#),
        rule("signin.root.password-recovery", .high, "Root password recovery requested",
             "Someone asked for a root password reset email: often the first step of an account takeover.",
             #""eventName":["PasswordRecoveryRequested"]"#),
        rule("root.activity", .high, "Root user made a change",
             "The root user made a successful, non-read-only API call other than signing in.",
             #""userIdentity":{"type":["Root"],"invokedBy":[null,{"exists":false}]},"# + success
                 + #","eventType":[{"anything-but":"AwsServiceEvent"},{"exists":false}],"readOnly":[false,null,{"exists":false}],"#
                 + #""eventName":[{"anything-but":["ConsoleLogin","CheckMfa","CreateServiceLinkedRole"]}]"#),

        // IAM
        iam("iam.user.created", .medium, "IAM user created", "A new IAM user was created.", ["CreateUser"]),
        iam("iam.user.deleted", .low, "IAM user deleted", "An IAM user was deleted.", ["DeleteUser"]),
        iam("iam.access-key.created", .medium, "Access key created",
            "A long-term access key was created for an IAM user.", ["CreateAccessKey"],
            and: #""userIdentity":{"type":[{"anything-but":"Root"},{"exists":false}]}"#),
        iam("iam.access-key.root", .critical, "Root access key created",
            "The root user created an access key for itself: root keys should never exist.", ["CreateAccessKey"],
            and: #""userIdentity":{"type":["Root"]}"#),
        iam("iam.login-profile.changed", .medium, "Console password created, changed or removed",
            "An IAM user's console login profile (password) was created, updated or deleted.",
            ["CreateLoginProfile", "UpdateLoginProfile", "DeleteLoginProfile"]),
        iam("iam.policy.admin-attached", .critical, "AdministratorAccess attached",
            "The AdministratorAccess managed policy was attached to a user, role or group.", attachPolicy,
            and: #""requestParameters":{"policyArn":[{"suffix":":policy/AdministratorAccess"}]}"#),
        iam("iam.policy.attached", .medium, "Managed policy attached",
            "A managed policy (other than AdministratorAccess) was attached to a user, role or group.", attachPolicy,
            and: #""requestParameters":{"policyArn":[{"anything-but":{"suffix":":policy/AdministratorAccess"}},null,{"exists":false}]}"#),
        iam("iam.policy.detached", .low, "Managed policy detached",
            "A managed policy was detached from a user, role or group.",
            ["DetachUserPolicy", "DetachRolePolicy", "DetachGroupPolicy"]),
        iam("iam.policy.inline-put", .medium, "Inline policy added or changed",
            "An inline policy was put on a user, role or group.", ["PutUserPolicy", "PutRolePolicy", "PutGroupPolicy"]),
        iam("iam.policy.inline-deleted", .low, "Inline policy deleted",
            "An inline policy was deleted from a user, role or group.",
            ["DeleteUserPolicy", "DeleteRolePolicy", "DeleteGroupPolicy"]),
        iam("iam.policy.created", .low, "Managed policy created", "A customer managed policy was created.", ["CreatePolicy"]),
        iam("iam.policy.version-changed", .medium, "Managed policy version changed",
            "A new policy version was created or made the default: the policy's permissions changed.",
            ["CreatePolicyVersion", "SetDefaultPolicyVersion"]),
        iam("iam.group.member-added", .medium, "User added to group", "An IAM user was added to a group.", ["AddUserToGroup"]),
        iam("iam.role.created", .low, "IAM role created", "A new IAM role was created.", ["CreateRole"]),
        iam("iam.role.trust-changed", .medium, "Role trust policy changed",
            "A role's trust policy changed: who may assume the role is different now.", ["UpdateAssumeRolePolicy"]),
        iam("iam.permissions-boundary.changed", .medium, "Permissions boundary changed",
            "A user's or role's permissions boundary was set or removed.",
            ["PutUserPermissionsBoundary", "PutRolePermissionsBoundary", "DeleteUserPermissionsBoundary",
             "DeleteRolePermissionsBoundary"]),
        iam("iam.mfa.deactivated", .high, "MFA device deactivated",
            "An MFA device was deactivated or a virtual MFA device deleted.",
            ["DeactivateMFADevice", "DeleteVirtualMFADevice"]),
        iam("iam.identity-provider.changed", .high, "Identity provider changed",
            "A SAML or OpenID Connect identity provider was created, changed or deleted: federation trust changed.",
            identityProviderEvents),
        iam("iam.password-policy.changed", .medium, "Account password policy changed",
            "The account's password policy was updated or deleted.",
            ["UpdateAccountPasswordPolicy", "DeleteAccountPasswordPolicy"]),
        rule("iam.key-quarantined", .high, "AWS quarantined an exposed access key",
             "AWS attached a compromised-key quarantine policy: an access key was found exposed.",
             #""eventSource":["iam.amazonaws.com"],"$or":["#
                 + #"{"eventName":["PutUserPolicy"],"requestParameters":{"policyName":["AWSExposedCredentialPolicy_DO_NOT_REMOVE","#
                 + #""AWSCompromisedKeyQuarantine","AWSCompromisedKeyQuarantineV2","AWSCompromisedKeyQuarantineV3"]}},"#
                 + #"{"eventName":\#(list(attachPolicy)),"requestParameters":{"policyArn":[{"wildcard":"*AWSCompromisedKeyQuarantine*"}]}}]"#,
             targets: iamTargets),
        rule("iam.denied-write", .low, "IAM change denied",
             "A sensitive IAM change was attempted without permission: probing or a misconfiguration.",
             #""eventSource":["iam.amazonaws.com"],"errorCode":["AccessDenied","AccessDeniedException","UnauthorizedOperation"],"#
                 + #""eventName":\#(list(iamEventsInPack))"#, targets: iamTargets),

        // IAM Identity Center, STS, CloudTrail
        rule("sso.permission-set.changed", .medium, "Identity Center permission set changed",
             "An IAM Identity Center permission set was created, changed, deleted or provisioned.",
             #""eventSource":["sso.amazonaws.com"],"eventName":\#(list(permissionSetEvents)),"# + success,
             targets: ["requestParameters.permissionSetArn", "requestParameters.instanceArn"]),
        rule("sso.account-assignment.created", .medium, "Identity Center account assignment",
             "A user or group was given a permission set in an account through IAM Identity Center.",
             #""eventSource":["sso.amazonaws.com"],"eventName":["CreateAccountAssignment"],"# + success,
             targets: ["requestParameters.principalId", "requestParameters.permissionSetArn", "requestParameters.targetId"]),
        rule("sso.identity-source.changed", .high, "Identity Center identity source changed",
             "IAM Identity Center's directory or external identity provider was changed.",
             #""eventSource":["sso.amazonaws.com","sso-directory.amazonaws.com"],"eventName":\#(list(identitySourceEvents))"#),
        rule("sts.assume-root", .high, "Root session assumed",
             "A privileged root session was obtained with sts:AssumeRoot.",
             #""eventSource":["sts.amazonaws.com"],"eventName":["AssumeRoot"],"# + success,
             targets: ["requestParameters.targetPrincipal"]),
        rule("cloudtrail.tampering", .high, "CloudTrail logging changed",
             "A trail was stopped, deleted or reconfigured, or an event data store deleted.",
             #""eventSource":["cloudtrail.amazonaws.com"],"eventName":\#(list(trailTamperingEvents)),"# + success,
             targets: ["requestParameters.name", "requestParameters.trailName", "requestParameters.eventDataStore"]),

        // Stage 2: a field compared with another, a policy document analysed
        iam("iam.access-key.for-other-user", .high, "Access key created for another user",
            "An IAM user or role session created a long-term access key for a different user: a common persistence step.",
            ["CreateAccessKey"], and: #""userIdentity":{"type":["IAMUser","AssumedRole"]}"#, check: .accessKeyForOtherUser),
        iam("iam.login-profile.for-other-user", .high, "Console password set for another user",
            "Someone changed another user's console password without forcing a reset at next sign-in: a takeover step.",
            ["UpdateLoginProfile"], check: .loginProfileForOtherUser),
        iam("iam.role.external-trust", .high, "Role trusts an outside account",
            "A role's trust policy lets anyone, or an account outside this one and the trusted list, assume it.",
            ["CreateRole", "UpdateAssumeRolePolicy"], check: .externalTrust(trusted: [])),
        iam("iam.policy.full-admin-inline", .critical, "Policy grants full administrator access",
            "An inline or customer managed policy allows every action on every resource.",
            ["PutUserPolicy", "PutRolePolicy", "PutGroupPolicy", "CreatePolicy", "CreatePolicyVersion"], check: .fullAdminPolicy),

        // Stage 2: records counted or correlated over eventTime (TrailWindow evaluates them)
        windowed("signin.root.brute-force", .high, "Root sign-in brute force",
                 "Many failed root console sign-ins to one account in a short time: someone is guessing the root password.",
                 loginFailed + #","userIdentity":{"type":["Root"]}"#,
                 Window(key: [account], measure: .count(threshold: 5), span: 15 * 60, noun: "failed root sign-in")),
        windowed("signin.brute-force.ip", .medium, "Sign-in brute force from one address",
                 "Many failed console sign-ins from one source IP address, to any users and accounts.",
                 loginFailed, Window(key: [sourceIP], measure: .count(threshold: 20), span: 3600, noun: "failed sign-in")),
        windowed("signin.password-spray", .medium, "Password spray",
                 "Failed console sign-ins for many different users of one account and region in a short time.",
                 loginFailed,
                 Window(key: [account, region], measure: .distinct(threshold: 10, member: userName), span: 3600,
                        noun: "failed sign-in")),
        windowed("signin.failures-then-success", .high, "Sign-in succeeded after repeated failures",
                 "A user signed in to the console right after several failed attempts: a guessed password, perhaps.",
                 loginFailed,
                 Window(key: [account, userName],
                        measure: .preceded(threshold: 3, then: feed(loginOK, key: [account, userName])), span: 3600,
                        noun: "failed sign-in")),
        windowed("iam.created-then-admin", .high, "New identity made administrator",
                 "A user or role was created and given AdministratorAccess within a day.",
                 #""eventSource":["iam.amazonaws.com"],"eventName":["CreateUser","CreateRole"],"# + success,
                 Window(key: [account, ["requestParameters", "userName|roleName"]],
                        measure: .followed(then: feed(
                            #""eventSource":["iam.amazonaws.com"],"eventName":["AttachUserPolicy","AttachRolePolicy"],"# + success
                                + #","requestParameters":{"policyArn":[{"suffix":":policy/AdministratorAccess"}]}"#,
                            key: [account, ["requestParameters", "userName|roleName"]])),
                        span: 86_400, noun: "creation of the user or role")),
        windowed("iam.login-profile-then-login", .high, "Password set, then used to sign in",
                 "A console password was created or changed for a user, who then signed in within a day.",
                 #""eventSource":["iam.amazonaws.com"],"eventName":["CreateLoginProfile","UpdateLoginProfile"],"# + success,
                 Window(key: [account, ["requestParameters", "userName"]],
                        measure: .followed(then: feed(loginOK + #","userIdentity":{"type":["IAMUser"]}"#, key: [account, userName])),
                        span: 86_400, noun: "console password change")),
        windowed("signin.new-source-ip", .medium, "Sign-in from a new address",
                 "A principal signed in to the console from an IP address it had not used in the last 30 days of scanned history.",
                 loginOK, Window(key: [["userIdentity", "arn"]], measure: .unseen(member: sourceIP), span: 30 * 86_400, noun: "sign-in"),
                 enabledByDefault: false),
    ]

    /// The built-in rule with this id.
    public static func rule(id: String) -> Rule? { all.first { $0.id == id } }

    // MARK: - Definitions of RULES.md, as members of the pattern's `detail`

    /// SUCCESS: `errorCode` and `errorMessage` both absent or null. A failed sign-in has an
    /// `errorMessage` but no `errorCode`, so "no errorCode" alone does not mean success.
    static let success = #""errorCode":[null,{"exists":false}],"errorMessage":[null,{"exists":false}]"#

    static let login = #""eventSource":["signin.amazonaws.com"],"eventName":["ConsoleLogin"]"#
    static let loginOK = login + #","responseElements":{"ConsoleLogin":["Success"]}"#
    static let loginFailed = login + #","responseElements":{"ConsoleLogin":["Failure"]}"#

    /// Key paths of the windowed rules. A segment `a|b` reads `a`, or `b` when the record has no `a`.
    static let account = ["recipientAccountId"]
    static let region = ["awsRegion"]
    static let sourceIP = ["sourceIPAddress"]
    static let userName = ["userIdentity", "userName"]

    /// A windowed rule: `detail` selects the records counted, `window` says how.
    private static func windowed(
        _ id: String, _ severity: Severity, _ title: String, _ description: String, _ detail: String, _ window: Window,
        enabledByDefault: Bool = true
    ) -> Rule {
        var made = rule(id, severity, title, description, detail)
        made.window = window
        made.enabledByDefault = enabledByDefault
        return made
    }

    private static func feed(_ detail: String, key: [[String]]) -> Window.Feed {
        Window.Feed(pattern: rule("feed", .info, "", "", detail).pattern, key: key)
    }

    /// A rule whose pattern is `{"detail": {<detail>}}`, acting on `targets` (dotted paths in the record).
    private static func rule(
        _ id: String, _ severity: Severity, _ title: String, _ description: String, _ detail: String, targets: [String] = [],
        check: RecordCheck? = nil
    ) -> Rule {
        do {
            return Rule(id: id, severity: severity, title: title, description: description,
                        pattern: try EventPattern(parsing: "{\"detail\":{\(detail)}}"),
                        targets: targets.map { $0.split(separator: ".").map(String.init) }, check: check)
        } catch {
            preconditionFailure("built-in rule \(id): \(error)")  // the pack's tests parse every pattern
        }
    }

    /// IAM(names): a successful call to one of `names` on IAM, and `and` if given.
    private static func iam(
        _ id: String, _ severity: Severity, _ title: String, _ description: String, _ names: [String], and extra: String? = nil,
        check: RecordCheck? = nil
    ) -> Rule {
        let detail = #""eventSource":["iam.amazonaws.com"],"eventName":\#(list(names)),"# + success
        return rule(id, severity, title, description, extra.map { detail + "," + $0 } ?? detail, targets: iamTargets, check: check)
    }

    /// What IAM calls act on, as their request names it (and the access key a CreateAccessKey made).
    static let iamTargets = [
        "requestParameters.userName", "requestParameters.roleName", "requestParameters.groupName",
        "requestParameters.policyArn", "requestParameters.policyName", "requestParameters.serialNumber",
        "requestParameters.sAMLProviderArn", "requestParameters.openIDConnectProviderArn",
        "responseElements.accessKey.accessKeyId",
    ]

    /// A JSON array of strings.
    private static func list(_ names: [String]) -> String {
        "[" + names.map { "\"\($0)\"" }.joined(separator: ",") + "]"
    }

    static let attachPolicy = ["AttachUserPolicy", "AttachRolePolicy", "AttachGroupPolicy"]

    static let permissionSetEvents = [
        "CreatePermissionSet", "UpdatePermissionSet", "DeletePermissionSet", "AttachManagedPolicyToPermissionSet",
        "DetachManagedPolicyFromPermissionSet", "PutInlinePolicyToPermissionSet", "DeleteInlinePolicyFromPermissionSet",
        "AttachCustomerManagedPolicyReferenceToPermissionSet", "PutPermissionsBoundaryToPermissionSet",
        "ProvisionPermissionSet",
    ]

    static let identitySourceEvents = [
        "AssociateDirectory", "DisassociateDirectory", "EnableExternalIdPConfigurationForDirectory",
        "DisableExternalIdPConfigurationForDirectory",
    ]

    static let trailTamperingEvents = ["StopLogging", "DeleteTrail", "UpdateTrail", "PutEventSelectors", "DeleteEventDataStore"]

    static let identityProviderEvents = [
        "CreateSAMLProvider", "UpdateSAMLProvider", "DeleteSAMLProvider", "CreateOpenIDConnectProvider",
        "UpdateOpenIDConnectProviderThumbprint", "AddClientIDToOpenIDConnectProvider",
    ]

    /// Every IAM event that a rule of this pack names (for `iam.denied-write`).
    static let iamEventsInPack: [String] = [
        "CreateUser", "DeleteUser", "CreateAccessKey", "CreateLoginProfile", "UpdateLoginProfile",
        "DeleteLoginProfile", "AttachUserPolicy", "AttachRolePolicy", "AttachGroupPolicy", "DetachUserPolicy",
        "DetachRolePolicy", "DetachGroupPolicy", "PutUserPolicy", "PutRolePolicy", "PutGroupPolicy",
        "DeleteUserPolicy", "DeleteRolePolicy", "DeleteGroupPolicy", "CreatePolicy", "CreatePolicyVersion",
        "SetDefaultPolicyVersion", "AddUserToGroup", "CreateRole", "UpdateAssumeRolePolicy",
        "PutUserPermissionsBoundary", "PutRolePermissionsBoundary", "DeleteUserPermissionsBoundary",
        "DeleteRolePermissionsBoundary", "DeactivateMFADevice", "DeleteVirtualMFADevice",
        "UpdateAccountPasswordPolicy", "DeleteAccountPasswordPolicy",
    ] + identityProviderEvents
}

/// Which rules run: the defaults, adjusted by `--enable`, `--disable` and `--min-severity`.
public struct RuleSelection: Sendable {
    public var enable: [String] = []
    public var disable: [String] = []
    public var minimumSeverity: Severity = .info

    public init(enable: [String] = [], disable: [String] = [], minimumSeverity: Severity = .info) {
        self.enable = enable
        self.disable = disable
        self.minimumSeverity = minimumSeverity
    }

    /// The selected rules, in pack order. A rule runs when explicitly enabled, or when it is on by
    /// default, at or above the minimum severity and not disabled.
    ///
    /// - Throws: `UnknownRuleError` naming the first id that is not in `rules`.
    public func apply(to rules: [Rule]) throws(UnknownRuleError) -> [Rule] {
        let known = Set(rules.map(\.id))
        for id in enable + disable where !known.contains(id) {
            throw UnknownRuleError(id: id)
        }
        return rules.filter { rule in
            enable.contains(rule.id)
                || (rule.enabledByDefault && rule.severity >= minimumSeverity && !disable.contains(rule.id))
        }
    }
}

public struct UnknownRuleError: Error, Equatable, Sendable, CustomStringConvertible {
    public var id: String
    public var description: String { "unknown rule id '\(id)' (trailscan rules lists them)" }
}
