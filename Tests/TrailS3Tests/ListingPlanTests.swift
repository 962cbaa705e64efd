import Foundation
import Testing
import TrailEvents
@testable import TrailS3

/// The listing plan driven by a fake bucket: which prefixes it asks for, and what it yields.
@Suite struct ListingPlanTests {
    /// A bucket as a sorted list of keys, answering delimiter listings with folders.
    struct FakeBucket {
        var keys: [String]

        func list(_ task: ListingTask) -> ListObjectsPage {
            let below = keys.filter { key in key.hasPrefix(task.prefix) && task.startAfter.map { key > $0 } ?? true }
            guard task.delimiter != nil else { return ListObjectsPage(objects: below.map { .init(key: $0, size: 1) }) }
            let folders = Set(below.compactMap { key -> String? in
                let rest = key.dropFirst(task.prefix.count)
                guard let slash = rest.firstIndex(of: "/") else { return nil }
                return task.prefix + rest[...slash]
            })
            return ListObjectsPage(prefixes: folders.sorted())
        }
    }

    /// Runs the plan to the end; returns the prefixes listed (in order) and the keys found.
    func run(_ plan: inout ListingPlan, _ bucket: FakeBucket) -> (listed: [String], keys: [String]) {
        var listed: [String] = []
        var keys: [String] = []
        while !plan.isFinished {
            while let item = plan.takeItem() {
                if case .object(_, let key, _) = item { keys.append(key) }
            }
            guard let task = plan.takeTask() else { continue }
            listed.append(task.prefix)
            plan.complete(task, page: bucket.list(task))
        }
        return (listed, keys)
    }

    let bucket: FakeBucket = {
        var keys: [String] = ["readme.txt", "logs/AWSLogs/o-abcdefghij/111122223333/CloudTrail-Digest/us-east-1/2026/03/01/d.json.gz"]
        for account in ["111122223333", "444455556666"] {
            for region in ["us-east-1", "eu-west-1"] {
                for day in 1...4 {
                    keys.append("logs/AWSLogs/o-abcdefghij/\(account)/CloudTrail/\(region)/2026/03/0\(day)/\(account)_CloudTrail_\(region)_2026030\(day)T0100Z_x.json.gz")
                }
            }
        }
        return FakeBucket(keys: keys.sorted())
    }()

    @Test func followsTheLayoutAndListsOnlyTheWindowsDays() {
        let since = Int64(ISO8601DateFormatter().date(from: "2026-03-02T00:00:00Z")!.timeIntervalSince1970)
        var plan = ListingPlan(bucket: "b", prefix: "logs", filter: RecordFilter(since: since, until: since + 86_400, accounts: ["444455556666"], regions: ["eu-west-1"]))
        let (listed, keys) = run(&plan, bucket)
        #expect(listed == [
            "logs/", "logs/AWSLogs/", "logs/AWSLogs/o-abcdefghij/", "logs/AWSLogs/o-abcdefghij/444455556666/CloudTrail/",
            "logs/AWSLogs/o-abcdefghij/444455556666/CloudTrail/eu-west-1/2026/03/02/",
            "logs/AWSLogs/o-abcdefghij/444455556666/CloudTrail/eu-west-1/2026/03/03/",
        ])
        #expect(keys.count == 2 && keys.allSatisfy { $0.contains("/444455556666/CloudTrail/eu-west-1/2026/03/0") })
        #expect(plan.requests == 6)
    }

    /// A long window over a sparse bucket costs what the bucket holds: the year, month and day folders
    /// that exist are found with delimiter listings, and only those in the window are listed (a window
    /// of 800 days once cost a request per day per region). The window's first day still starts at its
    /// first minute, and a day more than one after `until` is not listed.
    @Test func aLongWindowFindsTheDateFoldersThatExist() {
        let region = "AWSLogs/111122223333/CloudTrail/us-east-1/"
        func key(_ day: String, _ minute: String) -> String {
            region + day + "/111122223333_CloudTrail_us-east-1_\(day.replacingOccurrences(of: "/", with: ""))T\(minute)Z_x.json.gz"
        }
        let keys = [key("2023/12/31", "2300"), key("2024/01/05", "0100"), key("2024/06/15", "0800"), key("2024/06/15", "1300"),
                    key("2024/07/01", "0100"), key("2026/03/01", "0100"), key("2026/03/03", "0100"), key("2026/03/05", "0100")]
        let since = Int64(ISO8601DateFormatter().date(from: "2024-06-15T12:00:00Z")!.timeIntervalSince1970)
        let until = Int64(ISO8601DateFormatter().date(from: "2026-03-02T00:00:00Z")!.timeIntervalSince1970)
        var plan = ListingPlan(bucket: "b", prefix: "", filter: RecordFilter(since: since, until: until))
        let (listed, found) = run(&plan, FakeBucket(keys: keys))
        #expect(listed == [
            "", "AWSLogs/", "AWSLogs/111122223333/CloudTrail/", region,
            region + "2024/", region + "2024/06/", region + "2024/06/15/", region + "2024/07/", region + "2024/07/01/",
            region + "2026/", region + "2026/03/", region + "2026/03/01/",
        ])
        #expect(found == [key("2024/06/15", "1300"), key("2024/07/01", "0100"), key("2026/03/01", "0100")])
    }

    /// An incremental run's look-back: the day folders from the earliest delivery on, and in the first
    /// one only the keys from that minute on (`StartAfter`).
    @Test func deliveredSinceListsFromItsMinute() {
        let earliest = Int64(ISO8601DateFormatter().date(from: "2026-03-03T10:00:00Z")!.timeIntervalSince1970)
        var filter = RecordFilter(accounts: ["444455556666"], regions: ["eu-west-1"])
        filter.deliveredSince = earliest
        var plan = ListingPlan(bucket: "b", prefix: "logs", filter: filter)
        var starts: [String?] = []
        var keys: [String] = []
        while !plan.isFinished {
            while let item = plan.takeItem() {
                if case .object(_, let key, _) = item { keys.append(key) }
            }
            guard let task = plan.takeTask() else { continue }
            if task.kind == .objects { starts.append(task.startAfter) }
            plan.complete(task, page: bucket.list(task))
        }
        let region = "logs/AWSLogs/o-abcdefghij/444455556666/CloudTrail/eu-west-1/"
        #expect(starts.first == region + "2026/03/03/444455556666_CloudTrail_eu-west-1_20260303T0959")
        #expect(starts.dropFirst().allSatisfy { $0 == nil })
        // 03/03 01:00 is before the earliest minute; 03/04 01:00 is after it.
        #expect(keys == [region + "2026/03/04/444455556666_CloudTrail_eu-west-1_20260304T0100Z_x.json.gz"])
    }

    @Test func withoutFiltersEveryLogObjectButTheDigest() {
        var plan = ListingPlan(bucket: "b", prefix: "", filter: RecordFilter())
        let (_, keys) = run(&plan, bucket)
        #expect(keys.count == 16)
        #expect(!keys.contains { $0.contains("CloudTrail-Digest") || $0 == "readme.txt" })
    }

    @Test func aPrefixWithoutTheLayoutIsListedPlainly() {
        var plan = ListingPlan(bucket: "b", prefix: "elsewhere/", filter: RecordFilter())
        let (listed, keys) = run(&plan, FakeBucket(keys: ["elsewhere/a.json.gz", "elsewhere/deep/b.json", "elsewhere/c.txt"]))
        #expect(listed == ["elsewhere/", "elsewhere/"])  // the folder probe, then the plain listing
        #expect(keys == ["elsewhere/a.json.gz", "elsewhere/deep/b.json"])
    }

    @Test func takingManyObjectsKeepsTheirOrder() {
        var plan = ListingPlan(bucket: "b", prefix: "p/AWSLogs/111122223333/CloudTrail/x/", filter: RecordFilter())
        let keys = (0..<10_000).map { String(format: "p/AWSLogs/111122223333/CloudTrail/x/%05d.json.gz", $0) }
        let (_, found) = run(&plan, FakeBucket(keys: keys))
        #expect(found == keys)
    }

    /// Tasks listed concurrently and finished in any order still hand out their objects in key order:
    /// every task in flight at once, completed last-taken first.
    @Test func objectsComeInKeyOrderWhateverOrderTasksFinishIn() {
        var plan = ListingPlan(bucket: "b", prefix: "", filter: RecordFilter())
        var keys: [String] = []
        while !plan.isFinished {
            while let item = plan.takeItem() {
                if case .object(_, let key, _) = item { keys.append(key) }
            }
            var taken: [ListingTask] = []
            while let task = plan.takeTask() { taken.append(task) }
            for task in taken.reversed() { plan.complete(task, page: bucket.list(task)) }
        }
        #expect(keys == bucket.keys.filter { $0.hasSuffix(".json.gz") && !$0.contains("Digest") })
    }

    /// A prefix that fails is reported at its place in the order, between the objects around it.
    @Test func aFailedPrefixKeepsItsPlace() {
        var plan = ListingPlan(bucket: "b", prefix: "logs/AWSLogs/", filter: RecordFilter(accounts: ["111122223333"]))
        for _ in 0..<3 {  // AWSLogs/, the organization, the account's regions
            let task = plan.takeTask()!
            plan.complete(task, page: bucket.list(task))
        }
        let east = plan.takeTask()!, west = plan.takeTask()!
        #expect(east.prefix.hasSuffix("/eu-west-1/") && west.prefix.hasSuffix("/us-east-1/"))
        plan.complete(west, page: bucket.list(west))
        #expect(plan.takeItem() == nil)  // eu-west-1 comes first and is still being listed
        plan.abandon(east, error: S3Error(kind: .accessDenied, status: 403, resource: east.prefix))
        guard case .failed(_, let prefix, _) = plan.takeItem() else { Issue.record("no failure first"); return }
        #expect(prefix == east.prefix)
        var rest = 0
        while case .object = plan.takeItem() { rest += 1 }
        #expect(rest == 4 && plan.isFinished)
    }
}
