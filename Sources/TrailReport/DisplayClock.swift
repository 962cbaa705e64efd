internal import Foundation
internal import TrailEvents

/// Shows instants in the time zone the user chose (`--timezone`), with the zone's abbreviation and
/// UTC offset, e.g. `2024-05-01 21:34:56 JST (+09:00)`. Daylight saving is taken from the tz database
/// for each instant.
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

    public var identifier: String { timeZone.identifier }

    public func format(_ seconds: Int64) -> String {
        let date = Date(timeIntervalSince1970: TimeInterval(seconds))
        let offset = Int64(timeZone.secondsFromGMT(for: date))
        let local = EventTime.iso8601(seconds + offset)  // YYYY-MM-DDTHH:MM:SSZ in local wall time
        let wall = local.dropLast().replacingOccurrences(of: "T", with: " ")
        if timeZone.identifier == "UTC" || timeZone.identifier == "GMT" { return "\(wall) UTC" }
        let sign = offset < 0 ? "-" : "+"
        let minutes = abs(offset) / 60
        let hh = String(minutes / 60), mm = String(minutes % 60)
        let formattedOffset = "\(sign)\(hh.count < 2 ? "0" + hh : hh):\(mm.count < 2 ? "0" + mm : mm)"
        let abbreviation = timeZone.abbreviation(for: date) ?? timeZone.identifier
        return "\(wall) \(abbreviation) (\(formattedOffset))"
    }
}
