/// When to try a failed step again: exponential backoff with full jitter, bounded by a
/// per-target maximum delay, attempt count and age; `Retry-After` is honoured within a
/// cap. Pure: the caller passes the clock and the random draw.
public struct RetryPolicy: Sendable, Hashable {
    public let settings: RetrySettings

    public init(_ settings: RetrySettings) {
        self.settings = settings
    }

    public enum Decision: Sendable, Hashable {
        /// Try again at this Unix time (seconds). Always finite and within
        /// `0...RetryPolicy.latestRetryAt`, so `Int64(at * 1000)` cannot trap.
        case retry(at: Double)
        case deadLetter(reason: String)
    }

    /// The longest delay ``decide(attempt:firstAttemptAt:now:retryAfter:random:)`` ever
    /// schedules, whatever the settings and inputs: 366 days.
    public static let maxDelaySeconds = 366.0 * 86_400

    /// The latest retry time ever returned (9999-12-31T23:59:59Z): in milliseconds it is
    /// far inside `Int64`.
    public static let latestRetryAt = ISO8601.formattableSeconds.upperBound

    /// The backoff ceiling before jitter for the n-th failed attempt (1-based).
    public func ceiling(afterAttempt attempt: Int) -> Double {
        let exponent = Double(max(0, min(attempt - 1, 62)))
        return min(settings.maxDelaySeconds, settings.initialDelaySeconds * pow2(exponent))
    }

    /// Total over its inputs: a `.retry(at:)` is always finite and in
    /// `0...RetryPolicy.latestRetryAt`, at most ``maxDelaySeconds`` after `now`, however
    /// odd the settings or arguments (NaN, ±∞, a `Retry-After` of years). Callers convert
    /// `at` to integer milliseconds.
    ///
    /// - Parameters:
    ///   - attempt: attempts made so far, including the one that just failed.
    ///   - firstAttemptAt: when the job first became due (Unix seconds).
    ///   - retryAfter: the upstream's `Retry-After`, in seconds from now.
    ///   - random: a uniform draw in [0, 1).
    public func decide(attempt: Int, firstAttemptAt: Double, now: Double, retryAfter: Double?,
                       random: Double) -> Decision {
        if attempt >= settings.maxAttempts {
            return .deadLetter(reason: "gave up after \(attempt) attempts")
        }
        // NaN (0 × ∞, a NaN draw) reads as no backoff; everything is held to the hard cap.
        var delay = (random.clamped(to: 0...1) * ceiling(afterAttempt: attempt)).clamped(to: 0...Self.maxDelaySeconds)
        if let retryAfter, retryAfter > 0 {
            let cap = settings.retryAfterCapSeconds.clamped(to: 0...Self.maxDelaySeconds)
            delay = max(delay, min(retryAfter, cap))
        }
        let start = now.isFinite ? now : (now > 0 ? Self.latestRetryAt : 0)
        let at = (start + delay).clamped(to: 0...Self.latestRetryAt)
        if at - firstAttemptAt > settings.maxAgeSeconds {
            return .deadLetter(reason: "gave up after \(attempt) attempts over \(Self.duration(now - firstAttemptAt)) (max age \(Self.duration(settings.maxAgeSeconds)))")
        }
        return .retry(at: at)
    }

    private func pow2(_ e: Double) -> Double {
        var r = 1.0
        for _ in 0..<Int(e) { r *= 2 }
        return r
    }

    static func duration(_ seconds: Double) -> String {
        if seconds >= 86_400 { return JSONWriter.format(number: (seconds / 3600).rounded()) + "h" }
        if seconds >= 3600 { return JSONWriter.format(number: (seconds / 60).rounded()) + "m" }
        return JSONWriter.format(number: seconds.rounded()) + "s"
    }

    /// Parses `Retry-After`: delta-seconds (ASCII digits only) or an HTTP-date
    /// (IMF-fixdate, RFC 9110). Returns seconds from `now` (Unix seconds): finite, never
    /// negative, at most ``maxDelaySeconds`` (delta-seconds too long for any integer type
    /// mean "a long time", not "no value").
    public static func parseRetryAfter(_ header: String?, now: Double) -> Double? {
        guard let raw = header?.trimmingSpaces(), !raw.isEmpty else { return nil }
        if raw.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) {
            guard let seconds = Double(raw) else { return nil }
            return seconds.clamped(to: 0...maxDelaySeconds)
        }
        guard let date = HTTPDate.parse(raw), now.isFinite else { return nil }
        return (date - now).clamped(to: 0...maxDelaySeconds)
    }
}

/// IMF-fixdate parsing (`Sun, 06 Nov 1994 08:49:37 GMT`) without Foundation.
public enum HTTPDate {
    static let months = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]

    /// The date as Unix seconds, or `nil` when it is not an IMF-fixdate with a year in
    /// 1...9999 (a larger year would overflow the day arithmetic).
    public static func parse(_ text: String) -> Double? {
        let parts = text.split(separator: " ")
        guard parts.count == 6, parts[5].uppercased() == "GMT",
              let day = Int(parts[1]), let monthIndex = months.firstIndex(of: parts[2].lowercased()),
              let year = Int(parts[3]), (1...9999).contains(year) else { return nil }
        let hms = parts[4].split(separator: ":")
        guard hms.count == 3, let h = Int(hms[0]), let m = Int(hms[1]), let s = Int(hms[2]),
              (1...31).contains(day), (0...23).contains(h), (0...59).contains(m), (0...60).contains(s) else { return nil }
        return Double(daysFromCivil(year, monthIndex + 1, day) * 86_400 + h * 3600 + m * 60 + s)
    }

    /// Days since 1970-01-01 for a proleptic Gregorian date. Callers pass years in
    /// 0...9999; far larger ones overflow once multiplied out to seconds.
    static func daysFromCivil(_ y0: Int, _ m: Int, _ d: Int) -> Int {
        let y = m <= 2 ? y0 - 1 : y0
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }
}
