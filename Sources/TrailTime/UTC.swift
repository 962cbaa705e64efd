/// Civil time in UTC, without Foundation: the one implementation of calendar arithmetic and of the
/// timestamp forms trailscan reads and writes (RFC 3339 / ISO 8601 instants, SigV4's basic format,
/// RFC 7231 HTTP dates).
///
/// Owns: proleptic Gregorian day arithmetic (Howard Hinnant's `days_from_civil` / `civil_from_days`:
/// eras of 400 years, years starting in March so that the leap day is last), parsing and formatting.
/// Imports nothing, so every module that handles a time, from the JSON record view to the signer, uses
/// the same code.
public enum UTC {
    /// A calendar date.
    public struct Date: Sendable, Equatable {
        public var year: Int64
        public var month: Int64
        public var day: Int64
    }

    /// Days since 1970-01-01 of a proleptic Gregorian date.
    public static func days(year: Int64, month: Int64, day: Int64) -> Int64 {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    /// The date of a day counted from 1970-01-01 (the inverse of `days(year:month:day:)`).
    public static func date(days: Int64) -> Date {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let mp = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        return Date(year: yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month: month, day: day)
    }

    /// Whether `day` exists in that month (February 29 only in leap years).
    @inline(__always)
    public static func isValid(year: Int64, month: Int64, day: Int64) -> Bool {
        guard month >= 1, month <= 12, day >= 1 else { return false }
        if day <= 28 { return true }  // most days: no table, no leap-year arithmetic
        switch month {
        case 2: return day == 29 && year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
        case 4, 6, 9, 11: return day <= 30
        default: return day <= 31
        }
    }

    /// The day and the second within it of an instant in Unix seconds (floor division, so instants
    /// before 1970 work too).
    public static func split(_ seconds: Int64) -> (days: Int64, secondOfDay: Int64) {
        let days = seconds >= 0 ? seconds / 86_400 : (seconds - 86_399) / 86_400
        return (days, seconds - days * 86_400)
    }

    // MARK: - Formatting

    /// `YYYY-MM-DDTHH:MM:SSZ`.
    public static func iso8601(_ seconds: Int64) -> String {
        format(seconds, dateSeparator: 0x2D, timeSeparator: 0x3A)
    }

    /// `YYYYMMDDTHHMMSSZ`, SigV4's `X-Amz-Date`.
    public static func basic(_ seconds: Int64) -> String {
        format(seconds, dateSeparator: nil, timeSeparator: nil)
    }

    /// `YYYY/MM/DD/`, a CloudTrail day folder.
    public static func dayFolder(days: Int64) -> String {
        let date = date(days: days)
        var text: [UInt8] = []
        text.reserveCapacity(11)
        append(date.year, width: 4, to: &text)
        text.append(0x2F)
        append(date.month, width: 2, to: &text)
        text.append(0x2F)
        append(date.day, width: 2, to: &text)
        text.append(0x2F)
        return String(decoding: text, as: UTF8.self)
    }

    private static func format(_ seconds: Int64, dateSeparator: UInt8?, timeSeparator: UInt8?) -> String {
        let (days, secondOfDay) = split(seconds)
        let date = date(days: days)
        var text: [UInt8] = []
        text.reserveCapacity(20)
        append(date.year, width: 4, to: &text)
        if let dateSeparator { text.append(dateSeparator) }
        append(date.month, width: 2, to: &text)
        if let dateSeparator { text.append(dateSeparator) }
        append(date.day, width: 2, to: &text)
        text.append(0x54)  // T
        append(secondOfDay / 3600, width: 2, to: &text)
        if let timeSeparator { text.append(timeSeparator) }
        append(secondOfDay / 60 % 60, width: 2, to: &text)
        if let timeSeparator { text.append(timeSeparator) }
        append(secondOfDay % 60, width: 2, to: &text)
        text.append(0x5A)  // Z
        return String(decoding: text, as: UTF8.self)
    }

    /// Appends `value` in decimal, zero-padded to `width` digits (more if it needs them; a minus sign
    /// first if negative).
    public static func append(_ value: Int64, width: Int, to text: inout [UInt8]) {
        var magnitude = value.magnitude
        var digits: [UInt8] = []
        repeat {
            digits.append(UInt8(truncatingIfNeeded: 0x30 + magnitude % 10))
            magnitude /= 10
        } while magnitude > 0
        if value < 0 { text.append(0x2D) }
        for _ in digits.count..<max(width, digits.count) { text.append(0x30) }
        text.append(contentsOf: digits.reversed())
    }

    // MARK: - Parsing

    /// Parses an RFC 3339 instant: `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)`, with `T` also written
    /// `t` or a space and `Z` also `z` (RFC 3339 §5.6 allows both). The fraction is dropped (the result
    /// is whole seconds, rounded down); a leap second (`:60`) counts as the second after `:59`. Dates
    /// that do not exist (`02-30`) are refused.
    public static func seconds(rfc3339 text: UnsafeRawBufferPointer) -> Int64? {
        guard text.count >= 20, let date = days(date: text), text[10] == 0x54 || text[10] == 0x74 || text[10] == 0x20,
              text[13] == 0x3A, text[16] == 0x3A,
              let hour = number(text, 11..<13), let minute = number(text, 14..<16), let second = number(text, 17..<19),
              hour < 24, minute < 60, second < 61
        else { return nil }

        var i = 19
        if text[i] == 0x2E {  // fraction: digits, dropped
            i += 1
            let digitsStart = i
            while i < text.count, text[i] &- 0x30 < 10 { i += 1 }
            guard i > digitsStart else { return nil }
        }
        let local = date * 86_400 + hour * 3_600 + minute * 60 + second
        guard i < text.count else { return nil }
        switch text[i] {
        case 0x5A, 0x7A:  // Z, z
            return i == text.count - 1 ? local : nil
        case 0x2B, 0x2D:  // +HH:MM, -HH:MM
            guard i + 6 == text.count, text[i + 3] == 0x3A,
                  let hours = number(text, (i + 1)..<(i + 3)), let minutes = number(text, (i + 4)..<(i + 6)),
                  hours < 24, minutes < 60
            else { return nil }
            let offset = hours * 3_600 + minutes * 60
            return text[i] == 0x2B ? local - offset : local + offset
        default:
            return nil
        }
    }

    public static func seconds(rfc3339 text: String) -> Int64? {
        var text = text
        return text.withUTF8 { seconds(rfc3339: UnsafeRawBufferPointer($0)) }
    }

    /// `YYYYMMDDTHHMMSSZ` (SigV4's and digest names' form) or `YYYYMMDDTHHMMZ` (log file names, to the
    /// minute), as Unix seconds; `nil` for anything else or a date that does not exist.
    public static func seconds(basic text: String) -> Int64? {
        let stamp = Array(text.utf8)
        guard stamp.count == 14 || stamp.count == 16, stamp[8] == 0x54, stamp[stamp.count - 1] == 0x5A else { return nil }
        func number(_ range: Range<Int>) -> Int64? {
            var value: Int64 = 0
            for byte in stamp[range] {
                guard byte &- 0x30 < 10 else { return nil }
                value = value * 10 + Int64(byte - 0x30)
            }
            return value
        }
        guard let year = number(0..<4), let month = number(4..<6), let day = number(6..<8),
              let hour = number(9..<11), let minute = number(11..<13),
              let second = stamp.count == 16 ? number(13..<15) : 0,
              isValid(year: year, month: month, day: day), hour < 24, minute < 60, second < 60
        else { return nil }
        return days(year: year, month: month, day: day) * 86_400 + hour * 3600 + minute * 60 + second
    }

    /// Parses a calendar date `YYYY-MM-DD` as the Unix seconds of its midnight, UTC.
    public static func seconds(date text: String) -> Int64? {
        var text = text
        return text.withUTF8 { bytes in
            bytes.count == 10 ? days(date: UnsafeRawBufferPointer(bytes)).map { $0 * 86_400 } : nil
        }
    }

    /// The day number of the `YYYY-MM-DD` that `text` starts with, if it is a real date.
    private static func days(date text: UnsafeRawBufferPointer) -> Int64? {
        guard text.count >= 10, text[4] == 0x2D, text[7] == 0x2D,
              let year = number(text, 0..<4), let month = number(text, 5..<7), let day = number(text, 8..<10),
              isValid(year: year, month: month, day: day)
        else { return nil }
        return days(year: year, month: month, day: day)
    }

    /// The decimal number written in `range` of `text`, if it is all digits.
    private static func number(_ text: UnsafeRawBufferPointer, _ range: Range<Int>) -> Int64? {
        var value: Int64 = 0
        for i in range {
            let digit = text[i] &- 0x30
            guard digit < 10 else { return nil }
            value = value * 10 + Int64(digit)
        }
        return value
    }

    /// Parses an HTTP date in the preferred IMF-fixdate form, `Sun, 06 Nov 1994 08:49:37 GMT`
    /// (RFC 9110 §5.6.7), as S3 writes in `Date`.
    public static func seconds(httpDate text: String) -> Int64? {
        let parts = text.split(separator: " ")
        guard parts.count == 6, parts[0].count == 4, parts[0].hasSuffix(","), parts[5] == "GMT",
              let day = Int64(parts[1]), parts[1].count == 2, let year = Int64(parts[3]), parts[3].count == 4,
              let month = months.firstIndex(of: String(parts[2])).map({ Int64($0 + 1) }),
              isValid(year: year, month: month, day: day)
        else { return nil }
        let clock = parts[4].split(separator: ":", omittingEmptySubsequences: false)
        guard clock.count == 3, clock.allSatisfy({ $0.count == 2 }),
              let hour = Int64(clock[0]), let minute = Int64(clock[1]), let second = Int64(clock[2]),
              hour < 24, minute < 60, second < 61
        else { return nil }
        return days(year: year, month: month, day: day) * 86_400 + hour * 3_600 + minute * 60 + second
    }

    private static let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
}
