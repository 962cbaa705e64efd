internal import TrailEvents

/// Parses the values of `--since` and `--until`.
///
/// Accepted: an instant (`2025-01-31T13:45:00Z`, `2025-01-31T13:45:00+09:00`, fraction allowed), a
/// date (`2025-01-31`, midnight UTC), or an age relative to now (`90s`, `30m`, `12h`, `7d`, `2w`).
public enum TimeArgument {
    public struct Invalid: Error, CustomStringConvertible {
        public var text: String
        public var description: String {
            "'\(text)' is not a time: use 2025-01-31, 2025-01-31T13:45:00Z, or an age such as 12h or 7d"
        }
    }

    /// - Parameters:
    ///   - isEnd: the value is an upper bound (`--until`): a bare date then means the *end* of that day.
    ///   - now: the current time in Unix seconds (relative ages count back from it).
    /// - Returns: Unix seconds.
    public static func parse(_ text: String, isEnd: Bool, now: Int64) throws(Invalid) -> Int64 {
        let bytes = Array(text.utf8)
        if let last = bytes.last, let unit = unitSeconds(last), bytes.count >= 2,
           let amount = Int64(String(decoding: bytes.dropLast(), as: UTF8.self)), amount >= 0,
           amount <= Int64.max / unit {
            return now - amount * unit
        }
        if bytes.count == 10, let midnight = date(bytes) {
            return isEnd ? midnight + 86_400 : midnight
        }
        guard bytes.count >= 20 else { throw Invalid(text: text) }
        // Instant with Z, or with a ±HH:MM offset converted to Z.
        if bytes.last == 0x5A, let seconds = EventTime.seconds(text) { return seconds }
        let offsetStart = bytes.count - 6
        guard offsetStart >= 19, bytes[offsetStart] == 0x2B || bytes[offsetStart] == 0x2D, bytes[offsetStart + 3] == 0x3A,
              let hours = Int64(String(decoding: bytes[(offsetStart + 1)..<(offsetStart + 3)], as: UTF8.self)),
              let minutes = Int64(String(decoding: bytes[(offsetStart + 4)...], as: UTF8.self)),
              hours < 24, minutes < 60,
              let local = EventTime.seconds(String(decoding: bytes[..<offsetStart], as: UTF8.self) + "Z")
        else { throw Invalid(text: text) }
        let offset = (hours * 3600 + minutes * 60) * (bytes[offsetStart] == 0x2B ? 1 : -1)
        return local - offset
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

    private static func date(_ bytes: [UInt8]) -> Int64? {
        EventTime.seconds(String(decoding: bytes, as: UTF8.self) + "T00:00:00Z")
    }
}

/// Parses sizes such as `4G`, `512M`, `64MiB`, `100000` (bytes). Units are binary (K = 1024).
public enum SizeArgument {
    public static func parse(_ text: String) -> Int? {
        var digits = Substring(text)
        var unit = 1
        let suffixes: [(String, Int)] = [
            ("KiB", 1 << 10), ("MiB", 1 << 20), ("GiB", 1 << 30), ("TiB", 1 << 40),
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
