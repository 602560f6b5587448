import FuzzSupport
import TaskBridgeCore

/// Upstream header and timestamp parsing: `Retry-After` (delta-seconds or IMF-fixdate),
/// `HTTPDate.parse`, ISO 8601 (`ISO8601.parseMillis` / `format`), the retry decision that
/// consumes them, and status classification. Invariants:
/// - `parseRetryAfter` is nil or a finite number ≥ 0, for several clocks;
/// - `HTTPDate.parse` is nil or finite, and a parsed date with a real calendar day in
///   years 1–9999 formats back (ISO8601.format) to the same date and time;
/// - `ISO8601.parseMillis` of `format(seconds:)` gives the whole seconds back;
/// - a parsed ISO 8601 time in years 0–9999 re-formats and re-parses to the same second;
/// - `RetryPolicy.decide` never schedules a retry in the past, beyond the age limit, or
///   later than its caps allow.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    let input = fuzzBytes(start, count)
    let text = String(decoding: input, as: UTF8.self)

    for now in [0.0, 1_700_000_000.0, -62_135_596_800.0, 253_402_300_799.0] {
        if let r = RetryPolicy.parseRetryAfter(text, now: now) {
            invariant(r.isFinite && r >= 0, "Retry-After \(escaped(text)) at \(now) gave \(r)")
        }
    }
    if let d = HTTPDate.parse(text) {
        invariant(d.isFinite, "HTTPDate \(escaped(text)) gave \(d)")
        checkHTTPDate(text, d)
    }
    let trimmed = text.split(separator: " ").joined(separator: " ")
    if let ms = ISO8601.parseMillis(trimmed) {
        // Years 0000–9999: what the parser reads and format writes back.
        let seconds = Double(ms).rounded(.down) / 1000
        if seconds >= year0, seconds < 253_402_300_800 {
            let formatted = ISO8601.format(seconds: (Double(ms) / 1000).rounded(.down))
            let again = ISO8601.parseMillis(formatted)
            invariant(again == (ms >= 0 ? ms / 1000 * 1000 : (ms - 999) / 1000 * 1000),
                      "ISO 8601 \(escaped(trimmed)) → \(ms) ms → \(formatted) → \(String(describing: again))")
        }
    }
    if input.count >= 8 {
        let raw = input.prefix(8).withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }
        let seconds = Double(Int64(bitPattern: raw) % 253_402_300_800)
        if seconds >= year0 {
            let s = ISO8601.format(seconds: seconds)
            invariant(ISO8601.parseMillis(s) == Int64(seconds) * 1000, "ISO8601.format(\(seconds)) = \(s) does not parse back")
        }
    }
    if let status = Int(text) { _ = FailureClass.classify(status: status); _ = FailureClass.statusClass(status) }

    var rng = InputRandom(input)
    let policy = RetryPolicy(RetrySettings())
    let now = 1_700_000_000.0
    let retryAfter = RetryPolicy.parseRetryAfter(text, now: now)
    let attempt = Int(rng.next() % 500)
    let first = now - Double(rng.next() % 400_000)
    let random = Double(rng.next() % 1_000_000) / 1_000_000
    switch policy.decide(attempt: attempt, firstAttemptAt: first, now: now, retryAfter: retryAfter, random: random) {
    case .retry(let at):
        let s = policy.settings
        invariant(at.isFinite && at >= now, "retry at \(at) before now")
        invariant(at - first <= s.maxAgeSeconds, "retry beyond max age")
        invariant(at - now <= max(s.maxDelaySeconds, s.retryAfterCapSeconds), "retry delay \(at - now) beyond the caps")
    case .deadLetter(let reason):
        invariant(!reason.isEmpty, "dead letter without a reason")
    }
    return 0
}

/// 0000-01-01T00:00:00Z in Unix seconds.
let year0 = -62_167_219_200.0

let monthNames = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]

/// `Sun, 06 Nov 1994 08:49:37 GMT` parsed to `d` must be 1994-11-06T08:49:37Z.
func checkHTTPDate(_ text: String, _ d: Double) {
    let parts = text.split(separator: " ")
    guard parts.count == 6, let day = Int(parts[1]), let month = monthNames.firstIndex(of: parts[2].lowercased()),
          let year = Int(parts[3]), (1...9999).contains(year) else { return }
    let hms = parts[4].split(separator: ":").compactMap { Int($0) }
    guard hms.count == 3, hms[2] < 60 else { return }
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
    let lengths = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
    guard day <= lengths[month] else { return }
    func two(_ v: Int) -> String { v < 10 ? "0\(v)" : "\(v)" }
    let y = String(repeating: "0", count: 4 - String(year).count) + String(year)
    let want = "\(y)-\(two(month + 1))-\(two(day))T\(two(hms[0])):\(two(hms[1])):\(two(hms[2]))Z"
    let got = ISO8601.format(seconds: d)
    invariant(got == want, "HTTPDate \(escaped(text)) is \(d) = \(got), expected \(want)")
}

/// The program's entry point (SwiftPM links `main` to `<module>_main`).
@_cdecl("fuzz_headers_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runLibFuzzer(argc, argv, fuzz)
}
