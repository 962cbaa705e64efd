import Foundation
import Testing

/// Stage 2 record rules end to end: exact alerts, severities and details on known records, the
/// configuration's parameters, and the note for a policy document that is not JSON.
@Suite struct DetectionTests {
    static let log = CLI.fixtures.appendingPathComponent("stage2/iam.json").path
    static let stageTwo: Set<String> = ["iam.access-key.for-other-user", "iam.login-profile.for-other-user",
                                        "iam.role.external-trust", "iam.policy.full-admin-inline"]

    /// `eventID rule severity detail` of each Stage 2 alert.
    func stageTwoAlerts(_ run: Run) -> [String] {
        run.stdout.split(separator: "\n").compactMap { line -> String? in
            let object = try! JSONSerialization.jsonObject(with: Data(line.utf8)) as! [String: Any]
            guard let rule = object["rule"] as? String, Self.stageTwo.contains(rule) else { return nil }
            return "\(object["eventID"]!) \(rule) \(object["severity"]!) \(object["detail"]!)"
        }.sorted()
    }

    @Test func crossFieldAndPolicyRulesOnKnownRecords() throws {
        let run = try CLI.run(["scan", "--no-config", "--format", "jsonl", Self.log])
        #expect(run.status == 1)
        #expect(stageTwoAlerts(run) == [
            "s2-01 iam.access-key.for-other-user high created an access key for bob, not for the caller (alice)",
            "s2-04 iam.login-profile.for-other-user high set the console password of bob without requiring a reset",
            "s2-07 iam.role.external-trust high the trust policy lets in account 444455556666",
            "s2-10 iam.role.external-trust medium the trust policy lets in anyone (*) if aws:PrincipalOrgID matches",
            "s2-11 iam.role.external-trust high the trust policy lets in account 999988887777",
            "s2-13 iam.policy.full-admin-inline critical the policy allows Action \"*\" on Resource \"*\"",
            "s2-15 iam.policy.full-admin-inline critical the policy allows every action but iam:* on Resource \"*\"",
            "s2-16 iam.role.external-trust high the trust policy lets in anyone (*)",
        ])
        // The trust policy that is not JSON is a note in the summary, not an alert and not a failure.
        #expect(run.stderr.contains("trailscan: iam.role.external-trust: 1 record could not be judged (first: eventID s2-12: "
            + "requestParameters.assumeRolePolicyDocument: the policy document is not valid JSON: "))
        #expect(run.stderr.contains("0 failed"))
    }

    @Test func theDetailIsInTheTextAlert() throws {
        let run = try CLI.run(["scan", "--no-config", "--color", "never", "--enable", "iam.role.external-trust", "--min-severity", "critical", Self.log])
        #expect(run.stdout.contains("HIGH  Role trusts an outside account  [iam.role.external-trust]\n  detail      the trust policy lets in account 444455556666\n"))
    }

    @Test func trustedAccountsComeFromTheConfiguration() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("stage2-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let config = folder.appendingPathComponent("config.json").path
        try #"{"parameters":{"iam.role.external-trust":{"trustedAccounts":["444455556666"]}}}"#.write(toFile: config, atomically: true, encoding: .utf8)
        let run = try CLI.run(["scan", "--config", config, "--format", "jsonl", Self.log])
        let trusts = stageTwoAlerts(run).filter { $0.contains("external-trust") }.map { String($0.prefix(5)) }
        #expect(trusts == ["s2-10", "s2-11", "s2-16"])

        for (text, message) in [
            (#"{"parameters":{"iam.role.external-trust":{"trustedAccounts":["4444"]}}}"#,
             "at parameters.iam.role.external-trust.trustedAccounts: must be a list of 12-digit account ids"),
            (#"{"parameters":{"iam.role.external-trust":{"allow":[]}}}"#,
             "at parameters.iam.role.external-trust.allow: unknown parameter (known: trustedAccounts)"),
            (#"{"parameters":{"signin.root.success":{"x":1}}}"#, "at parameters.signin.root.success.x: rule signin.root.success takes no parameters"),
            (#"{"parameters":{"no.such.rule":{}}}"#, "at parameters.no.such.rule: unknown rule id"),
        ] {
            try text.write(toFile: config, atomically: true, encoding: .utf8)
            let refused = try CLI.run(["scan", "--config", config, Self.log])
            #expect(refused.status == 64)
            #expect(refused.stderr.contains("--config: \(config): \(message)"), "\(refused.stderr)")
        }
    }

    @Test func rulesListShowsTheParameters() throws {
        let list = try CLI.run(["rules"])
        #expect(list.stdout.contains("parameter trustedAccounts: none"))
        let show = try CLI.run(["rules", "show", "iam.policy.full-admin-inline"])
        #expect(show.stdout.contains("check        the policy document (requestParameters.policyDocument) allows Action * (or NotAction) on Resource * (or NotResource)\n"))
    }
}
