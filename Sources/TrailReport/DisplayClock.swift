internal import Foundation
internal import TrailTime

/// Shows instants in the time zone the user chose (`--timezone`), with the UTC offset and, where the
/// tz database has a real one, the zone's abbreviation: `2024-05-01 14:34:56 +02:00 CEST`,
/// `2024-05-01 21:34:56 +09:00`, `2024-05-01 12:34:56 UTC`. Daylight saving is taken from the tz
/// database for each instant.
public struct DisplayClock: Sendable {
    private let timeZone: TimeZone

    /// - Parameter name: an IANA zone name (`Europe/Berlin`), `UTC`, or `local` for the system zone.
    /// - Returns: `nil` when the zone is unknown.
    public init?(timeZone name: String) {
        if name == "local" {
            timeZone = .current
        } else if name.uppercased() == "UTC" || name == "Z" {
            timeZone = TimeZone(identifier: "UTC")!
        } else if let zone = TimeZone(identifier: name) {
            timeZone = zone
        } else {
            return nil
        }
    }

    public static let utc = DisplayClock(timeZone: "UTC")!

    public func format(_ seconds: Int64) -> String {
        let date = Date(timeIntervalSince1970: TimeInterval(seconds))
        let offset = Int64(timeZone.secondsFromGMT(for: date))
        let local = UTC.iso8601(seconds + offset)  // YYYY-MM-DDTHH:MM:SSZ in local wall time
        let wall = local.dropLast().replacingOccurrences(of: "T", with: " ")
        if timeZone.identifier == "UTC" || timeZone.identifier == "GMT" { return "\(wall) UTC" }
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
