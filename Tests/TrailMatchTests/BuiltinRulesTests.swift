import Foundation
import Testing
import TrailEvents
import TrailJSON
import TrailTestSupport
@testable import TrailMatch

/// The ids of the rules of `rules` that `recordJSON` (one record object) triggers by itself: their
/// pattern matches and, for Stage 2 rules, their check alerts (a windowed rule's patterns only count
/// records: they are checked against the reference evaluator, and left out of the answer).
func matches(_ recordJSON: String, rules: RuleSet = RuleSet(BuiltinRules.all)) -> Set<String> {
    var found: [Int] = []
    var checked: Set<Int> = []
    do {
        let matcher = RecordMatcher(rules)
        try withRecords(recordJSON) { record in
            matcher.evaluate(record, into: &found)
            // The compiled program and the reference evaluator agree on every pattern.
            let json = JSONValue(tape: record.tape, at: 0, bytes: record.bytes)
            for (index, entry) in rules.entries.enumerated() {
                let rule = rules.rules[entry.rule]
                let pattern = entry.role == .then ? rule.window!.then!.pattern : rule.pattern
                #expect(pattern.matches(event: Envelope.event(for: json)) == found.contains(index), "\(rule.id)")
            }
            checked = Set(found.compactMap { index in
                let entry = rules.entries[index]
                guard entry.role == nil else { return nil }
                guard let check = rules.rules[entry.rule].check else { return entry.rule }
                if case .alert = check.evaluate(record) { return entry.rule }
                return nil
            })
        }
    } catch {
        Issue.record("record does not parse: \(error)")
    }
    return Set(checked.map { rules.rules[$0].id })
}

/// A CloudTrail record with the usual fields; `extra` is spliced in as more members.
func record(_ source: String, _ name: String, type: String = "IAMUser", extra: String = "") -> String {
    let arn = type == "Root" ? "arn:aws:iam::111122223333:root" : "arn:aws:iam::111122223333:user/alice"
    return """
        {"eventVersion":"1.11","userIdentity":{"type":"\(type)","principalId":"AIDAEXAMPLE","arn":"\(arn)",\
        "accountId":"111122223333","userName":"alice"},"eventTime":"2026-03-01T09:00:00Z",\
        "eventSource":"\(source)","eventName":"\(name)","awsRegion":"us-east-1","sourceIPAddress":"203.0.113.9",\
        "userAgent":"aws-cli/2.15","requestID":"r","eventID":"e","readOnly":false,"eventType":"AwsApiCall",\
        "managementEvent":true,"recipientAccountId":"111122223333"\(extra.isEmpty ? "" : "," + extra)}
        """
}

func login(type: String, result: String, mfa: String? = "No", extra: String = "") -> String {
    var members = "\"responseElements\":{\"ConsoleLogin\":\"\(result)\"},\"requestParameters\":null"
    if let mfa { members += ",\"additionalEventData\":{\"LoginTo\":\"https://console.aws.amazon.com\",\"MFAUsed\":\"\(mfa)\"}" }
    if result == "Failure" { members += ",\"errorMessage\":\"Failed authentication\"" }
    if !extra.isEmpty { members += "," + extra }
    return record("signin.amazonaws.com", "ConsoleLogin", type: type, extra: members)
}

let iam = "iam.amazonaws.com"

@Suite struct BuiltinRulesTests {
    // MARK: Sign-in

    @Test func rootSignInWithoutMFA() {
        #expect(matches(login(type: "Root", result: "Success")) == ["signin.root.success", "signin.no-mfa", "signin.success"])
    }

    @Test func rootSignInWithMFA() {
        #expect(matches(login(type: "Root", result: "Success", mfa: "Yes")) == ["signin.root.success", "signin.success"])
    }

    @Test func failedRootSignInIsNotASuccess() {
        // errorMessage without errorCode: "no errorCode" must not be read as success.
        #expect(matches(login(type: "Root", result: "Failure")) == ["signin.root.failure"])
    }

    @Test(arguments: ["Yes", "YES", "yes"])
    func mfaUsedIsComparedIgnoringCase(_ value: String) {
        #expect(matches(login(type: "IAMUser", result: "Success", mfa: value)) == ["signin.success"])
    }

    @Test func absentMFAUsedCountsAsNoMFA() {
        #expect(matches(login(type: "IAMUser", result: "Success", mfa: nil)) == ["signin.no-mfa", "signin.success"])
    }

    @Test func federatedSignInIsOnlyASignIn() {
        #expect(matches(login(type: "AssumedRole", result: "Success")) == ["signin.success"])
    }

    @Test func failedIAMUserSignIn() {
        #expect(matches(login(type: "IAMUser", result: "Failure")) == ["signin.failure"])
    }

    @Test func consoleLoginFromAnotherSourceIsNotASignIn() {
        #expect(matches(record("example.amazonaws.com", "ConsoleLogin", extra: "\"responseElements\":{\"ConsoleLogin\":\"Success\"}")) == [])
    }

    @Test func identityCenterSignIn() {
        #expect(matches(record("sso.amazonaws.com", "Authenticate", type: "Unknown")) == ["signin.identity-center"])
        #expect(matches(record("signin.amazonaws.com", "UserAuthentication", type: "Unknown")) == ["signin.identity-center"])
        #expect(matches(record("sso.amazonaws.com", "Authenticate", type: "Unknown", extra: "\"errorMessage\":\"Failed\"")) == [])
    }

    @Test func rootPasswordEvents() {
        #expect(matches(record("signin.amazonaws.com", "PasswordUpdated", type: "Root", extra: "\"eventType\":\"AwsConsoleSignIn\""))
            .contains("signin.root.password-changed"))
        #expect(!matches(record("signin.amazonaws.com", "PasswordUpdated")).contains("signin.root.password-changed"))
        #expect(matches(record("signin.amazonaws.com", "PasswordRecoveryRequested", type: "Unknown")) == ["signin.root.password-recovery"])
    }

    // MARK: Root activity

    @Test func rootActivity() {
        #expect(matches(record("s3.amazonaws.com", "PutBucketPolicy", type: "Root")) == ["root.activity"])
        #expect(matches(record("s3.amazonaws.com", "ListBuckets", type: "Root", extra: "\"readOnly\":true")) == [])
        #expect(matches(record("s3.amazonaws.com", "PutBucketPolicy", type: "Root", extra: "\"errorCode\":\"AccessDenied\"")) == [])
        #expect(matches(record("iam.amazonaws.com", "CreateServiceLinkedRole", type: "Root")) == [])
        #expect(matches(record("signin.amazonaws.com", "CheckMfa", type: "Root")) == [])
        #expect(matches(record("kms.amazonaws.com", "RotateKey", type: "Root", extra: "\"eventType\":\"AwsServiceEvent\"")) == [])
        let invoked = record("s3.amazonaws.com", "PutObject", type: "Root")
            .replacingOccurrences(of: "\"userName\":\"alice\"", with: "\"userName\":\"alice\",\"invokedBy\":\"s3.amazonaws.com\"")
        #expect(matches(invoked) == [])
        // invokedBy present but null counts as absent.
        let nullInvoked = record("s3.amazonaws.com", "PutObject", type: "Root")
            .replacingOccurrences(of: "\"userName\":\"alice\"", with: "\"userName\":\"alice\",\"invokedBy\":null")
        #expect(matches(nullInvoked) == ["root.activity"])
    }

    // MARK: IAM

    @Test(arguments: [
        ("CreateUser", "iam.user.created"), ("DeleteUser", "iam.user.deleted"),
        ("CreateLoginProfile", "iam.login-profile.changed"), ("UpdateLoginProfile", "iam.login-profile.changed"),
        ("DeleteLoginProfile", "iam.login-profile.changed"), ("DetachGroupPolicy", "iam.policy.detached"),
        ("PutUserPolicy", "iam.policy.inline-put"), ("PutGroupPolicy", "iam.policy.inline-put"),
        ("DeleteRolePolicy", "iam.policy.inline-deleted"), ("CreatePolicy", "iam.policy.created"),
        ("CreatePolicyVersion", "iam.policy.version-changed"), ("SetDefaultPolicyVersion", "iam.policy.version-changed"),
        ("AddUserToGroup", "iam.group.member-added"), ("CreateRole", "iam.role.created"),
        ("UpdateAssumeRolePolicy", "iam.role.trust-changed"), ("PutRolePermissionsBoundary", "iam.permissions-boundary.changed"),
        ("DeleteUserPermissionsBoundary", "iam.permissions-boundary.changed"), ("DeactivateMFADevice", "iam.mfa.deactivated"),
        ("DeleteVirtualMFADevice", "iam.mfa.deactivated"), ("CreateSAMLProvider", "iam.identity-provider.changed"),
        ("AddClientIDToOpenIDConnectProvider", "iam.identity-provider.changed"),
        ("UpdateAccountPasswordPolicy", "iam.password-policy.changed"), ("CreateAccessKey", "iam.access-key.created"),
    ])
    func iamChange(_ name: String, _ rule: String) {
        #expect(matches(record(iam, name)) == [rule])
        // The same call refused is not a change; it is a denied write.
        #expect(matches(record(iam, name, extra: "\"errorCode\":\"AccessDenied\",\"errorMessage\":\"no\"")) == ["iam.denied-write"])
        // The same name on another service is nothing.
        #expect(matches(record("example.amazonaws.com", name)) == [])
    }

    @Test func rootAccessKey() {
        #expect(matches(record(iam, "CreateAccessKey", type: "Root")) == ["iam.access-key.root", "root.activity"])
    }

    @Test func policyAttachments() {
        let admin = "\"requestParameters\":{\"userName\":\"bob\",\"policyArn\":\"arn:aws:iam::aws:policy/AdministratorAccess\"}"
        let readOnly = "\"requestParameters\":{\"roleName\":\"r\",\"policyArn\":\"arn:aws:iam::aws:policy/ReadOnlyAccess\"}"
        let lookalike = "\"requestParameters\":{\"roleName\":\"r\",\"policyArn\":\"arn:aws:iam::1:policy/AdministratorAccessLimited\"}"
        #expect(matches(record(iam, "AttachUserPolicy", extra: admin)) == ["iam.policy.admin-attached"])
        #expect(matches(record(iam, "AttachRolePolicy", extra: readOnly)) == ["iam.policy.attached"])
        #expect(matches(record(iam, "AttachGroupPolicy", extra: lookalike)) == ["iam.policy.attached"])
        #expect(matches(record(iam, "AttachRolePolicy")) == ["iam.policy.attached"])  // no policyArn at all
    }

    @Test func keyQuarantineByAWS() {
        let put = "\"requestParameters\":{\"userName\":\"bob\",\"policyName\":\"AWSCompromisedKeyQuarantineV2\"}"
        #expect(matches(record(iam, "PutUserPolicy", extra: put)) == ["iam.key-quarantined", "iam.policy.inline-put"])
        let attach = "\"requestParameters\":{\"userName\":\"bob\",\"policyArn\":\"arn:aws:iam::aws:policy/AWSCompromisedKeyQuarantineV3\"}"
        #expect(matches(record(iam, "AttachUserPolicy", extra: attach)) == ["iam.key-quarantined", "iam.policy.attached"])
        // No SUCCESS condition: quarantine is flagged even when the record carries an error.
        #expect(matches(record(iam, "PutUserPolicy", extra: put + ",\"errorCode\":\"AccessDenied\""))
            == ["iam.key-quarantined", "iam.denied-write"])
    }

    @Test func deniedWritesOnlyForIAMEventsOfThePack() {
        #expect(matches(record(iam, "GetUser", extra: "\"errorCode\":\"AccessDenied\"")) == [])
        #expect(matches(record(iam, "CreateUser", extra: "\"errorCode\":\"NoSuchEntity\"")) == [])
        #expect(matches(record(iam, "CreateUser", extra: "\"errorCode\":\"UnauthorizedOperation\"")) == ["iam.denied-write"])
    }

    // MARK: Identity Center, STS, CloudTrail

    @Test func identityCenterAndSTSAndCloudTrail() {
        #expect(matches(record("sso.amazonaws.com", "CreatePermissionSet")) == ["sso.permission-set.changed"])
        #expect(matches(record("sso.amazonaws.com", "CreateAccountAssignment")) == ["sso.account-assignment.created"])
        #expect(matches(record("sso-directory.amazonaws.com", "DisassociateDirectory")) == ["sso.identity-source.changed"])
        #expect(matches(record("sts.amazonaws.com", "AssumeRoot")) == ["sts.assume-root"])
        #expect(matches(record("sts.amazonaws.com", "AssumeRole")) == [])
        #expect(matches(record("cloudtrail.amazonaws.com", "StopLogging")) == ["cloudtrail.tampering"])
        #expect(matches(record("cloudtrail.amazonaws.com", "StopLogging", extra: "\"errorCode\":\"AccessDenied\"")) == [])
    }

    // MARK: Noise and hostile shapes

    @Test func ordinaryAndOddRecordsMatchNothing() {
        #expect(matches(record("ec2.amazonaws.com", "DescribeInstances", type: "AssumedRole")) == [])
        #expect(matches("{}") == [])
        #expect(matches("{\"eventName\":null,\"eventSource\":7,\"userIdentity\":\"Root\"}") == [])
        #expect(matches("{\"eventSource\":\"signin.amazonaws.com\",\"eventName\":[\"ConsoleLogin\"]}") == [])
    }

    @Test func escapedValuesAreDecodedBeforeComparison() {
        let escaped = login(type: "Root", result: "Success")
            .replacingOccurrences(of: "\"ConsoleLogin\",\"awsRegion\"", with: "\"Console\\u004Cogin\",\"awsRegion\"")
            .replacingOccurrences(of: "\"type\":\"Root\"", with: "\"type\":\"R\\u006fot\"")
        #expect(matches(escaped) == ["signin.root.success", "signin.no-mfa", "signin.success"])
    }

    @Test func everyRuleIsReachable() {
        // Every rule with an eventName index is found by it; ids are unique and follow the pack's naming.
        let ids = BuiltinRules.all.map(\.id)
        #expect(Set(ids).count == ids.count)
        #expect(ids.count == 46)
        #expect(BuiltinRules.all.filter { $0.pattern.root.requiredEventNames == nil }.map(\.id) == ["root.activity"])
    }
}

@Suite struct RuleSelectionTests {
    @Test func minimumSeverityDisableAndEnable() throws {
        let high = try RuleSelection(minimumSeverity: .high).apply(to: BuiltinRules.all)
        #expect(high.allSatisfy { $0.severity >= .high })
        #expect(high.contains { $0.id == "signin.root.success" })
        let adjusted = try RuleSelection(enable: ["signin.success"], disable: ["signin.no-mfa"], minimumSeverity: .high)
            .apply(to: BuiltinRules.all)
        #expect(adjusted.contains { $0.id == "signin.success" })
        #expect(!adjusted.contains { $0.id == "signin.no-mfa" })
        #expect(throws: UnknownRuleError(id: "signin.nope")) { try RuleSelection(disable: ["signin.nope"]).apply(to: BuiltinRules.all) }
        #expect(Severity(name: "HIGH") == .high && Severity(name: "urgent") == nil)
    }
}
