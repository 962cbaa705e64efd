import Foundation
import Testing
import TrailTime

@Suite struct UTCTests {
    @Test func parsesRFC3339Instants() {
        #expect(UTC.seconds(rfc3339: "1970-01-01T00:00:00Z") == 0)
        #expect(UTC.seconds(rfc3339: "2024-02-29T23:59:59Z") == 1_709_251_199)
        #expect(UTC.seconds(rfc3339: "2024-05-01T12:34:56.789Z") == 1_714_566_896)
        // Every spelling RFC 3339 allows names the same instant.
        for text in ["2024-05-01T21:34:56+09:00", "2024-05-01t12:34:56z", "2024-05-01 12:34:56Z",
                     "2024-05-01T07:04:56.5-05:30", "2024-05-01T12:34:56+00:00"] {
            #expect(UTC.seconds(rfc3339: text) == 1_714_566_896, "\(text)")
        }
    }

    @Test func refusesWhatIsNotAnInstant() {
        for text in ["2024-05-01T12:34:56", "2024-13-01T12:34:56Z", "2026-02-30T00:00:00Z", "2025-02-29T00:00:00Z",
                     "2024-05-01T24:00:00Z", "2024-05-01T12:34:56.Z", "2024-05-01T12:34:56+9:00", "2024-05-01T12:34:56+09:60",
                     "2024-05-01T12:34:56Zx", "2024-05-01X12:34:56Z", "yesterday", ""] {
            #expect(UTC.seconds(rfc3339: text) == nil, "\(text)")
        }
    }

    @Test func datesAndDayFolders() {
        #expect(UTC.seconds(date: "2024-02-29") == 1_709_164_800)
        #expect(UTC.seconds(date: "2025-02-29") == nil)
        #expect(UTC.seconds(date: "2025-1-01") == nil)
        #expect(UTC.dayFolder(days: 19_782) == "2024/02/29/")
        #expect(UTC.iso8601(1_709_251_199) == "2024-02-29T23:59:59Z")
        #expect(UTC.iso8601(-1) == "1969-12-31T23:59:59Z")
        #expect(UTC.basic(1_779_444_123) == "20260522T100203Z")
    }

    @Test func httpDates() {
        #expect(UTC.seconds(httpDate: "Sun, 06 Nov 1994 08:49:37 GMT") == 784_111_777)
        #expect(UTC.seconds(httpDate: "Sunday, 06-Nov-94 08:49:37 GMT") == nil)
        #expect(UTC.seconds(httpDate: "Sun, 31 Nov 1994 08:49:37 GMT") == nil)
    }

    /// Day arithmetic round-trips over ±5,000 years, and agrees with Foundation's Gregorian calendar after 1600.
    @Test func civilDaysAgreeWithFoundation() {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        for days in stride(from: Int64(-700_000), through: 2_900_000, by: 1_777) {
            let date = UTC.date(days: days)
            #expect(UTC.days(year: date.year, month: date.month, day: date.day) == days)
            #expect(UTC.isValid(year: date.year, month: date.month, day: date.day))
            guard date.year >= 1600 else { continue }  // Foundation's calendar is Julian before 1582
            let parts = calendar.dateComponents([.year, .month, .day], from: Date(timeIntervalSince1970: TimeInterval(days * 86_400)))
            #expect(Int64(parts.year!) == date.year && Int64(parts.month!) == date.month && Int64(parts.day!) == date.day, "\(days)")
        }
    }
}
