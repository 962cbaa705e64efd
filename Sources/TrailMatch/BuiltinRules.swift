public import TrailEvents

/// The built-in rule pack: Stage 1 of `RULES.md`, single-record rules. Ids are stable.
public enum BuiltinRules {
    public static let all: [Rule] = [
        // Console sign-in
        Rule(
            id: "signin.root.success", severity: .critical, title: "Root user signed in to the console",
            description: "A successful console sign-in with the root user's credentials.",
            condition: .all([loginOK, .equals(.userIdentityType, ["Root"])])),
        Rule(
            id: "signin.root.failure", severity: .high, title: "Failed root console sign-in",
            description: "A console sign-in as root failed: someone holds or is guessing the root email address.",
            condition: .all([loginFailed, .equals(.userIdentityType, ["Root"])])),
        Rule(
            id: "signin.no-mfa", severity: .high, title: "Console sign-in without MFA",
            description: "An IAM user or root signed in to the console without multi-factor authentication.",
            condition: .all([
                loginOK, .equals(.userIdentityType, ["IAMUser", "Root"]),
                .not(.equalsIgnoringCase(.mfaUsed, ["Yes"])),
            ])),
        Rule(
            id: "signin.failure", severity: .low, title: "Failed console sign-in",
            description: "A console sign-in by a non-root identity failed.",
            condition: .all([loginFailed, .not(.equals(.userIdentityType, ["Root"]))])),
        Rule(
            id: "signin.success", severity: .info, title: "Console sign-in",
            description: "Every successful console sign-in, as the EventBridge sign-in notifications report them.",
            condition: loginOK),
        Rule(
            id: "signin.identity-center", severity: .info, title: "IAM Identity Center sign-in",
            description: "A successful sign-in through IAM Identity Center (SSO).",
            condition: .all([
                .equals(.eventSource, ["signin.amazonaws.com", "sso.amazonaws.com"]),
                .equals(.eventName, ["UserAuthentication", "Authenticate"]),
                success,
            ])),
        Rule(
            id: "signin.root.password-changed", severity: .high, title: "Root password changed",
            description: "The root user's password was changed.",
            condition: .all([.equals(.eventName, ["PasswordUpdated"]), .equals(.userIdentityType, ["Root"])])),
        Rule(
            id: "signin.root.password-recovery", severity: .high, title: "Root password recovery requested",
            description: "Someone asked for a root password reset email: often the first step of an account takeover.",
            condition: .equals(.eventName, ["PasswordRecoveryRequested"])),
        Rule(
            id: "root.activity", severity: .high, title: "Root user made a change",
            description: "The root user made a successful, non-read-only API call other than signing in.",
            condition: .all([
                .equals(.userIdentityType, ["Root"]),
                success,
                .isAbsentOrNull(.userIdentityInvokedBy),
                .not(.equals(.eventType, ["AwsServiceEvent"])),
                .not(.isTrue(.readOnly)),
                .not(.equals(.eventName, ["ConsoleLogin", "CheckMfa", "CreateServiceLinkedRole"])),
            ])),

        // IAM
        iam("iam.user.created", .medium, "IAM user created", "A new IAM user was created.", ["CreateUser"]),
        iam("iam.user.deleted", .low, "IAM user deleted", "An IAM user was deleted.", ["DeleteUser"]),
        Rule(
            id: "iam.access-key.created", severity: .medium, title: "Access key created",
            description: "A long-term access key was created for an IAM user.",
            condition: .all([iamCall(["CreateAccessKey"]), .not(.equals(.userIdentityType, ["Root"]))])),
        Rule(
            id: "iam.access-key.root", severity: .critical, title: "Root access key created",
            description: "The root user created an access key for itself: root keys should never exist.",
            condition: .all([iamCall(["CreateAccessKey"]), .equals(.userIdentityType, ["Root"])])),
        iam(
            "iam.login-profile.changed", .medium, "Console password created, changed or removed",
            "An IAM user's console login profile (password) was created, updated or deleted.",
            ["CreateLoginProfile", "UpdateLoginProfile", "DeleteLoginProfile"]),
        Rule(
            id: "iam.policy.admin-attached", severity: .critical, title: "AdministratorAccess attached",
            description: "The AdministratorAccess managed policy was attached to a user, role or group.",
            condition: .all([iamCall(attachPolicy), .hasSuffix(.policyArn, ":policy/AdministratorAccess")])),
        Rule(
            id: "iam.policy.attached", severity: .medium, title: "Managed policy attached",
            description: "A managed policy (other than AdministratorAccess) was attached to a user, role or group.",
            condition: .all([iamCall(attachPolicy), .not(.hasSuffix(.policyArn, ":policy/AdministratorAccess"))])),
        iam(
            "iam.policy.detached", .low, "Managed policy detached",
            "A managed policy was detached from a user, role or group.",
            ["DetachUserPolicy", "DetachRolePolicy", "DetachGroupPolicy"]),
        iam(
            "iam.policy.inline-put", .medium, "Inline policy added or changed",
            "An inline policy was put on a user, role or group.",
            ["PutUserPolicy", "PutRolePolicy", "PutGroupPolicy"]),
        iam(
            "iam.policy.inline-deleted", .low, "Inline policy deleted",
            "An inline policy was deleted from a user, role or group.",
            ["DeleteUserPolicy", "DeleteRolePolicy", "DeleteGroupPolicy"]),
        iam("iam.policy.created", .low, "Managed policy created", "A customer managed policy was created.", ["CreatePolicy"]),
        iam(
            "iam.policy.version-changed", .medium, "Managed policy version changed",
            "A new policy version was created or made the default: the policy's permissions changed.",
            ["CreatePolicyVersion", "SetDefaultPolicyVersion"]),
        iam("iam.group.member-added", .medium, "User added to group", "An IAM user was added to a group.", ["AddUserToGroup"]),
        iam("iam.role.created", .low, "IAM role created", "A new IAM role was created.", ["CreateRole"]),
        iam(
            "iam.role.trust-changed", .medium, "Role trust policy changed",
            "A role's trust policy changed: who may assume the role is different now.",
            ["UpdateAssumeRolePolicy"]),
        iam(
            "iam.permissions-boundary.changed", .medium, "Permissions boundary changed",
            "A user's or role's permissions boundary was set or removed.",
            ["PutUserPermissionsBoundary", "PutRolePermissionsBoundary", "DeleteUserPermissionsBoundary",
             "DeleteRolePermissionsBoundary"]),
        iam(
            "iam.mfa.deactivated", .high, "MFA device deactivated",
            "An MFA device was deactivated or a virtual MFA device deleted.",
            ["DeactivateMFADevice", "DeleteVirtualMFADevice"]),
        iam(
            "iam.identity-provider.changed", .high, "Identity provider changed",
            "A SAML or OpenID Connect identity provider was created, changed or deleted: federation trust changed.",
            identityProviderEvents),
        iam(
            "iam.password-policy.changed", .medium, "Account password policy changed",
            "The account's password policy was updated or deleted.",
            ["UpdateAccountPasswordPolicy", "DeleteAccountPasswordPolicy"]),
        Rule(
            id: "iam.key-quarantined", severity: .high, title: "AWS quarantined an exposed access key",
            description: "AWS attached a compromised-key quarantine policy: an access key was found exposed.",
            condition: .all([
                .equals(.eventSource, ["iam.amazonaws.com"]),
                .any([
                    .all([
                        .equals(.eventName, ["PutUserPolicy"]),
                        .equals(.policyName, [
                            "AWSExposedCredentialPolicy_DO_NOT_REMOVE", "AWSCompromisedKeyQuarantine",
                            "AWSCompromisedKeyQuarantineV2", "AWSCompromisedKeyQuarantineV3",
                        ]),
                    ]),
                    .all([.equals(.eventName, attachPolicy), .contains(.policyArn, "AWSCompromisedKeyQuarantine")]),
                ]),
            ])),
        Rule(
            id: "iam.denied-write", severity: .low, title: "IAM change denied",
            description: "A sensitive IAM change was attempted without permission: probing or a misconfiguration.",
            condition: .all([
                .equals(.eventSource, ["iam.amazonaws.com"]),
                .equals(.errorCode, ["AccessDenied", "AccessDeniedException", "UnauthorizedOperation"]),
                .equals(.eventName, iamEventsInPack),
            ])),

        // IAM Identity Center, STS, CloudTrail
        Rule(
            id: "sso.permission-set.changed", severity: .medium, title: "Identity Center permission set changed",
            description: "An IAM Identity Center permission set was created, changed, deleted or provisioned.",
            condition: .all([
                .equals(.eventSource, ["sso.amazonaws.com"]), success,
                .equals(.eventName, [
                    "CreatePermissionSet", "UpdatePermissionSet", "DeletePermissionSet",
                    "AttachManagedPolicyToPermissionSet", "DetachManagedPolicyFromPermissionSet",
                    "PutInlinePolicyToPermissionSet", "DeleteInlinePolicyFromPermissionSet",
                    "AttachCustomerManagedPolicyReferenceToPermissionSet",
                    "PutPermissionsBoundaryToPermissionSet", "ProvisionPermissionSet",
                ]),
            ])),
        Rule(
            id: "sso.account-assignment.created", severity: .medium, title: "Identity Center account assignment",
            description: "A user or group was given a permission set in an account through IAM Identity Center.",
            condition: .all([
                .equals(.eventSource, ["sso.amazonaws.com"]), success, .equals(.eventName, ["CreateAccountAssignment"]),
            ])),
        Rule(
            id: "sso.identity-source.changed", severity: .high, title: "Identity Center identity source changed",
            description: "IAM Identity Center's directory or external identity provider was changed.",
            condition: .all([
                .equals(.eventSource, ["sso.amazonaws.com", "sso-directory.amazonaws.com"]),
                .equals(.eventName, [
                    "AssociateDirectory", "DisassociateDirectory", "EnableExternalIdPConfigurationForDirectory",
                    "DisableExternalIdPConfigurationForDirectory",
                ]),
            ])),
        Rule(
            id: "sts.assume-root", severity: .high, title: "Root session assumed",
            description: "A privileged root session was obtained with sts:AssumeRoot.",
            condition: .all([.equals(.eventSource, ["sts.amazonaws.com"]), .equals(.eventName, ["AssumeRoot"]), success])),
        Rule(
            id: "cloudtrail.tampering", severity: .high, title: "CloudTrail logging changed",
            description: "A trail was stopped, deleted or reconfigured, or an event data store deleted.",
            condition: .all([
                .equals(.eventSource, ["cloudtrail.amazonaws.com"]), success,
                .equals(.eventName, ["StopLogging", "DeleteTrail", "UpdateTrail", "PutEventSelectors", "DeleteEventDataStore"]),
            ])),
    ]

    /// The built-in rule with this id.
    public static func rule(id: String) -> Rule? { all.first { $0.id == id } }

    // MARK: - Definitions of RULES.md

    /// SUCCESS: `errorCode` and `errorMessage` both absent or null. A failed sign-in has an
    /// `errorMessage` but no `errorCode`, so "no errorCode" alone does not mean success.
    static let success: Condition = .all([.isAbsentOrNull(.errorCode), .isAbsentOrNull(.errorMessage)])

    static let login: Condition = .all([
        .equals(.eventSource, ["signin.amazonaws.com"]), .equals(.eventName, ["ConsoleLogin"]),
    ])
    static let loginOK: Condition = .all([login, .equals(.consoleLoginResult, ["Success"])])
    static let loginFailed: Condition = .all([login, .equals(.consoleLoginResult, ["Failure"])])

    /// IAM(names): a successful call to one of `names` on IAM.
    static func iamCall(_ names: [String]) -> Condition {
        .all([.equals(.eventSource, ["iam.amazonaws.com"]), .equals(.eventName, names), success])
    }

    private static func iam(_ id: String, _ severity: Severity, _ title: String, _ description: String, _ names: [String]) -> Rule {
        Rule(id: id, severity: severity, title: title, description: description, condition: iamCall(names))
    }

    static let attachPolicy = ["AttachUserPolicy", "AttachRolePolicy", "AttachGroupPolicy"]

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
