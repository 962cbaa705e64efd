internal import Foundation
internal import TrailTime

/// Shows instants in the time zone the user chose (`--timezone`), with the UTC offset and, where the
/// tz database has a real one, the zone's abbreviation: `2024-05-01 14:34:56 +02:00 CEST`,
/// `2024-05-01 21:34:56 +09:00`, `2024-05-01 12:34:56 UTC`. Daylight saving is taken from the tz
/// database for each instant.
public struct DisplayClock: Sendable {
    private let timeZone: TimeZone

    /// - Parameter name: an IANA zone name (`Europe/Berlin`), `UTC`, `local` for the system zone, or a
    ///   fixed offset from UTC (`+09:00`, `-05:30`).
    /// - Returns: `nil` when the zone is unknown. POSIX-style names such as `UTC+5` are refused: in POSIX
    ///   they mean five hours *behind* UTC, and read as ISO 8601 five hours ahead; neither guess is safe.
    public init?(timeZone name: String) {
        if name == "local" {
            timeZone = .current
        } else if name.uppercased() == "UTC" || name == "Z" {
            timeZone = TimeZone(identifier: "UTC")!
        } else if let offset = Self.fixedOffset(name), let zone = TimeZone(secondsFromGMT: offset) {
            timeZone = zone
        } else if Self.isTZDatabaseName(name), let zone = TimeZone(identifier: name) {
            timeZone = zone
        } else {
            return nil
        }
    }

    /// Whether `name` is a zone of the tz database (Foundation alone also takes `UTC+5`, as +05:00).
    private static func isTZDatabaseName(_ name: String) -> Bool {
        if TimeZone.knownTimeZoneIdentifiers.contains(name) { return true }
        guard !name.isEmpty, !name.hasPrefix("/"), !name.split(separator: "/").contains("..") else { return false }
        let directory = ProcessInfo.processInfo.environment["TZDIR"] ?? "/usr/share/zoneinfo"
        return FileManager.default.fileExists(atPath: directory + "/" + name)
    }

    /// Seconds east of UTC of `±HH:MM`.
    private static func fixedOffset(_ text: String) -> Int? {
        let bytes = Array(text.utf8)
        guard bytes.count == 6, bytes[0] == 0x2B || bytes[0] == 0x2D, bytes[3] == 0x3A,
              [1, 2, 4, 5].allSatisfy({ bytes[$0] &- 0x30 < 10 }),
              let hours = Int(String(decoding: bytes[1..<3], as: UTF8.self)), let minutes = Int(String(decoding: bytes[4..<6], as: UTF8.self)),
              hours <= 14, minutes < 60
        else { return nil }
        return (hours * 3600 + minutes * 60) * (bytes[0] == 0x2B ? 1 : -1)
    }

    public static let utc = DisplayClock(timeZone: "UTC")!

    /// The instant a wall-clock time of this zone names (`seconds` read as if it were UTC): a date
    /// given without an offset, read in the chosen zone.
    public func instant(ofWallTime seconds: Int64) -> Int64 {
        let guess = seconds - Int64(timeZone.secondsFromGMT(for: Date(timeIntervalSince1970: TimeInterval(seconds))))
        return seconds - Int64(timeZone.secondsFromGMT(for: Date(timeIntervalSince1970: TimeInterval(guess))))
    }

    /// Whether times show in UTC (a message then need not repeat them in UTC).
    public var isUTC: Bool { timeZone.identifier == "UTC" || timeZone.identifier == "GMT" }

    public func format(_ seconds: Int64) -> String {
        let date = Date(timeIntervalSince1970: TimeInterval(seconds))
        let offset = Int64(timeZone.secondsFromGMT(for: date))
        let local = UTC.iso8601(seconds + offset)  // YYYY-MM-DDTHH:MM:SSZ in local wall time
        let wall = local.dropLast().replacingOccurrences(of: "T", with: " ")
        if isUTC { return "\(wall) UTC" }
        let sign = offset < 0 ? "-" : "+"
        let minutes = abs(offset) / 60
        let hh = String(minutes / 60), mm = String(minutes % 60)
        let formattedOffset = "\(sign)\(hh.count < 2 ? "0" + hh : hh):\(mm.count < 2 ? "0" + mm : mm)"
        // Abbreviations such as "GMT+9" only repeat the offset; show letters-only ones.
        if let abbreviation = timeZone.abbreviation(for: date), !abbreviation.hasPrefix("GMT"),
           abbreviation.allSatisfy({ $0.isLetter }) {
            return "\(wall) \(formattedOffset) \(abbreviation)"
        }
        return "\(wall) \(formattedOffset)"
    }
}
