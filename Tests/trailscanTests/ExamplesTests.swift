import Foundation
import Testing

/// The deployment examples of the README's "Scheduled scans" (examples/): each parses as what it is,
/// has the fields its runner needs, and runs trailscan with flags that exist.
@Suite struct ExamplesTests {
    static let examples = URL(fileURLWithPath: CLI.sampleLogs).deletingLastPathComponent().appendingPathComponent("examples")

    /// Each `trailscan …` command line of the examples, as words.
    static func commands(in text: String) -> [[String]] {
        text.split(separator: "\n").filter { !$0.hasPrefix("#") }.compactMap { line -> [String]? in
            guard let start = line.range(of: "trailscan scan") else { return nil }
            return line[start.lowerBound...].split(separator: " ").map(String.init)
        }
    }

    /// The flags of `scan`, from its help.
    static let scanFlags: Set<String> = {
        let help = try! CLI.run(["scan", "--help"]).stdout
        return Set(help.split(whereSeparator: { " ,\n[]".contains($0) }).filter { $0.hasPrefix("-") }.map { String($0.split(separator: "=")[0]) })
    }()

    static func checkFlags(_ words: [String], _ file: String) {
        for word in words where word.hasPrefix("-") {
            #expect(scanFlags.contains(word), "\(file): unknown flag \(word)")
        }
        #expect(words.contains("--state"), "\(file): runs without --state")
    }

    @Test func crontabLineIsAScheduleAndAScan() throws {
        let text = try String(contentsOf: Self.examples.appendingPathComponent("crontab"), encoding: .utf8)
        let entries = text.split(separator: "\n").filter { !$0.hasPrefix("#") && !$0.contains("=") }
        #expect(entries.count == 1)
        let fields = entries[0].split(separator: " ")
        #expect(fields.count > 6 && fields[5].hasSuffix("/trailscan") && fields[6] == "scan")
        #expect(text.contains("\nMAILTO="))
        Self.checkFlags(Self.commands(in: text)[0], "crontab")
    }

    @Test func systemdUnitsHaveTheirSections() throws {
        let script = """
            import configparser, sys
            for path, sections in [(sys.argv[1], {"Unit": ["Description"], "Service": ["Type", "ExecStart", "StateDirectory", "SuccessExitStatus"]}),
                                   (sys.argv[2], {"Unit": ["Description"], "Timer": ["OnCalendar"], "Install": ["WantedBy"]})]:
                unit = configparser.ConfigParser(strict=False, interpolation=None)
                unit.optionxform = str
                unit.read(path)
                for section, keys in sections.items():
                    for key in keys:
                        assert unit.has_option(section, key), f"{path}: [{section}] {key} missing"
            print(unit.sections())
            """
        let systemd = Self.examples.appendingPathComponent("systemd")
        let run = try CLI.run(["-c", "python3 -c '\(script)' \(systemd.path)/trailscan.service \(systemd.path)/trailscan.timer"], shell: true)
        #expect(run.status == 0, "\(run.stderr)")
        let service = try String(contentsOf: systemd.appendingPathComponent("trailscan.service"), encoding: .utf8)
        #expect(service.contains("SuccessExitStatus=1 75"))
        Self.checkFlags(Self.commands(in: service)[0], "trailscan.service")
    }

    @Test func kubernetesCronJobForbidsOverlapAndKeepsItsState() throws {
        let script = """
            import json, sys, yaml
            docs = {d["kind"]: d for d in yaml.safe_load_all(open(sys.argv[1]))}
            job = docs["CronJob"]["spec"]
            assert job["concurrencyPolicy"] == "Forbid"
            pod = job["jobTemplate"]["spec"]["template"]["spec"]
            assert pod["serviceAccountName"] == docs["ServiceAccount"]["metadata"]["name"]
            assert "eks.amazonaws.com/role-arn" in docs["ServiceAccount"]["metadata"]["annotations"]
            claim = pod["volumes"][0]["persistentVolumeClaim"]["claimName"]
            assert claim == docs["PersistentVolumeClaim"]["metadata"]["name"]
            container = pod["containers"][0]
            assert any(m["name"] == pod["volumes"][0]["name"] for m in container["volumeMounts"])
            print(json.dumps(container["args"]))
            """
        let run = try CLI.run(["-c", "python3 -c '\(script)' \(Self.examples.path)/kubernetes/cronjob.yaml"], shell: true)
        #expect(run.status == 0, "\(run.stderr)")
        let args = try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String] ?? []
        #expect(args.first == "scan")
        Self.checkFlags(args, "cronjob.yaml")
        #expect(args.contains { $0.hasPrefix("/state/") })
    }

    @Test func iamPolicyGrantsWhatTheScanNeeds() throws {
        let data = try Data(contentsOf: Self.examples.appendingPathComponent("iam-policy.json"))
        let policy = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        #expect(policy["Version"] as? String == "2012-10-17")
        let statements = policy["Statement"] as? [[String: Any]] ?? []
        let actions = Set(statements.compactMap { $0["Action"] as? String })
        #expect(actions == ["s3:ListBucket", "s3:GetObject", "kms:Decrypt"])
        #expect(statements.allSatisfy { $0["Effect"] as? String == "Allow" && $0["Resource"] != nil })
    }
}
