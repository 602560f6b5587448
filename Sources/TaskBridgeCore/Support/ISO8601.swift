/// ISO 8601 UTC timestamps computed without Foundation (days-from-civil inverse).
public enum ISO8601 {
    /// The Unix times (seconds) with a four-digit year: 0000-01-01T00:00:00Z through
    /// 9999-12-31T23:59:59Z.
    public static let formattableSeconds: ClosedRange<Double> = -62_167_219_200...253_402_300_799

    /// `2024-03-09T14:05:00Z`, computed without Foundation (days-from-civil inverse).
    /// Total: a time outside ``formattableSeconds`` (±∞ included) is clamped to its
    /// nearest end, and NaN formats as the epoch, so untrusted input can never trap here.
    public static func format(seconds: Double) -> String {
        let total = (seconds.isNaN ? 0 : seconds.rounded(.down).clamped(to: formattableSeconds)).clampedToInt64
        var days = total / 86_400
        var rem = total % 86_400
        if rem < 0 { rem += 86_400; days -= 1 }
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
        var y = yoe + era * 400
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        if m <= 2 { y += 1 }
        func two(_ v: Int64) -> String { v < 10 ? "0\(v)" : "\(v)" }
        let year = String(y)
        return String(repeating: "0", count: max(0, 4 - year.count)) + year + "-\(two(m))-\(two(d))T\(two(rem / 3600)):\(two(rem % 3600 / 60)):\(two(rem % 60))Z"
    }

    /// Parses `2026-11-22`, `2026-11-22T10:05:00Z` or with a `±HH:MM` offset and optional
    /// fraction; returns Unix milliseconds. Every field is range-checked (the year has
    /// four digits, so the arithmetic cannot overflow); anything else gives `nil`.
    public static func parseMillis(_ text: String) -> Int64? {
        let chars = Array(text.utf8)
        func num(_ from: Int, _ len: Int) -> Int? {
            guard from + len <= chars.count else { return nil }
            var v = 0
            for c in chars[from..<(from + len)] {
                guard c >= 48, c <= 57 else { return nil }
                v = v * 10 + Int(c - 48)
            }
            return v
        }
        guard let y = num(0, 4), chars.count >= 10, chars[4] == 45, let mo = num(5, 2), chars[7] == 45, let d = num(8, 2),
              (1...12).contains(mo), (1...31).contains(d) else { return nil }
        var seconds = Int64(HTTPDate.daysFromCivil(y, mo, d)) * 86_400
        var millis: Int64 = 0
        if chars.count == 10 { return seconds * 1000 }
        guard chars.count >= 19, chars[10] == 84 || chars[10] == 32, let h = num(11, 2), chars[13] == 58, let mi = num(14, 2),
              chars[16] == 58, let s = num(17, 2), h <= 23, mi <= 59, s <= 60 else { return nil }
        seconds += Int64(h * 3600 + mi * 60 + s)
        var i = 19
        if i < chars.count, chars[i] == 46 {
            i += 1
            var scale: Int64 = 100
            while i < chars.count, chars[i] >= 48, chars[i] <= 57 {
                millis += Int64(chars[i] - 48) * scale
                scale /= 10
                i += 1
            }
        }
        if i < chars.count, chars[i] == 90 { i += 1 } else if i < chars.count, chars[i] == 43 || chars[i] == 45 {
            guard let oh = num(i + 1, 2), i + 3 < chars.count, chars[i + 3] == 58, let om = num(i + 4, 2),
                  oh <= 23, om <= 59 else { return nil }
            let offset = Int64(oh * 3600 + om * 60)
            seconds += chars[i] == 43 ? -offset : offset
            i += 6
        } else {
            return nil
        }
        return i == chars.count ? seconds * 1000 + millis : nil
    }
}
