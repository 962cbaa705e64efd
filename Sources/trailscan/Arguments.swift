import ArgumentParser
import TrailReport
import TrailTime

/// Parses the values of `--since` and `--until`.
///
/// Accepted: an RFC 3339 instant (`2025-01-31T13:45:00Z`, `2025-01-31T13:45:00+09:00`, fraction
/// allowed), a date (`2025-01-31`, midnight UTC), or an age relative to now (`90s`, `30m`, `12h`, `7d`,
/// `2w`). Dates that do not exist (`2025-02-30`) are refused.
enum TimeArgument {
    struct Invalid: Error, CustomStringConvertible {
        var text: String
        var description: String {
            "'\(text)' is not a time: use 2025-01-31, 2025-01-31T13:45:00Z, or an age such as 12h or 7d"
        }
    }

    /// - Parameters:
    ///   - isEnd: the value is an upper bound (`--until`): a bare date then means the *end* of that day.
    ///   - now: the current time in Unix seconds (relative ages count back from it).
    /// - Returns: Unix seconds.
    /// - Parameter zone: the zone a bare date is read in (its midnight there); UTC when `nil`.
    static func parse(_ text: String, isEnd: Bool, now: Int64, zone: DisplayClock? = nil) throws(Invalid) -> Int64 {
        if let age = seconds(age: text) { return now - age }
        if let midnight = UTC.seconds(date: text) {
            let day = isEnd ? midnight + 86_400 : midnight
            return zone.map { $0.instant(ofWallTime: day) } ?? day
        }
        guard let instant = UTC.seconds(rfc3339: text) else { throw Invalid(text: text) }
        return instant
    }

    /// A length of time such as `90s`, `30m`, `12h`, `7d`, `2w`, in seconds; `nil` for anything else.
    static func seconds(age text: String) -> Int64? {
        let bytes = Array(text.utf8)
        guard let last = bytes.last, let unit = unitSeconds(last), bytes.count >= 2,
              let amount = Int64(String(decoding: bytes.dropLast(), as: UTF8.self)), amount >= 0, amount <= Int64.max / unit / 2
        else { return nil }
        return amount * unit
    }

    private static func unitSeconds(_ byte: UInt8) -> Int64? {
        switch byte {
        case 0x73: 1  // s
        case 0x6D: 60  // m
        case 0x68: 3600  // h
        case 0x64: 86_400  // d
        case 0x77: 604_800  // w
        default: nil
        }
    }
}

/// Parses sizes such as `4G`, `512M`, `64MiB`, `10MB`, `100000` (bytes). `K`, `M`, `G`, `T` and `KiB`…
/// are binary (K = 1024); `KB`, `MB`, `GB`, `TB` are decimal (MB = 10⁶), as they are written.
enum SizeArgument {
    static func parse(_ text: String) -> Int? {
        var digits = Substring(text)
        var unit = 1
        let suffixes: [(String, Int)] = [
            ("KiB", 1 << 10), ("MiB", 1 << 20), ("GiB", 1 << 30), ("TiB", 1 << 40),
            ("KB", 1_000), ("MB", 1_000_000), ("GB", 1_000_000_000), ("TB", 1_000_000_000_000),
            ("K", 1 << 10), ("M", 1 << 20), ("G", 1 << 30), ("T", 1 << 40), ("B", 1),
        ]
        for (suffix, size) in suffixes where digits.uppercased().hasSuffix(suffix.uppercased()) {
            digits = digits.dropLast(suffix.count)
            unit = size
            break
        }
        guard let value = Int(digits), value > 0, value <= Int.max / unit else { return nil }
        return value * unit
    }
}

/// `--since` and `--until`, as `scan` and `alerts` take them: on `eventTime`.
struct TimeWindowOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Only events at or after this time: 2025-01-31, 2025-01-31T13:45:00Z, or an age (12h, 7d).", valueName: "time"))
    var since: String?

    @Option(help: ArgumentHelp("Only events before this time (a date means the end of that day).", valueName: "time"))
    var until: String?

    /// The window in Unix seconds, or the usage error that explains a bad value.
    ///
    /// - Parameter zone: the time zone a bare date is read in (`--timezone`, when one was chosen).
    func bounds(now: Int64, zone: DisplayClock? = nil) throws -> (since: Int64?, until: Int64?) {
        func time(_ text: String?, _ flag: String, isEnd: Bool) throws -> Int64? {
            guard let text else { return nil }
            do { return try TimeArgument.parse(text, isEnd: isEnd, now: now, zone: zone) } catch {
                throw ValidationError("\(flag): \(error)")
            }
        }
        let since = try time(since, "--since", isEnd: false), until = try time(until, "--until", isEnd: true)
        if let since, let until, since >= until { throw ValidationError("--since must be before --until.") }
        return (since, until)
    }
}
