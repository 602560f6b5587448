/// Seconds on a monotonic clock, for rate limits, breakers and caches (never for
/// stored timestamps).
public enum MonotonicClock {
    static let origin = ContinuousClock.now

    public static func seconds() -> Double {
        let d = ContinuousClock.now - origin
        return Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
    }
}
