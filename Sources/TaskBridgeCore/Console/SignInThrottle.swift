/// Slows down guessing of the admin token: each client address may fail `burst` times,
/// then once per `1 / refillPerSecond` seconds. Only failures spend, so a person who
/// types the token right is never held back by their own earlier success, and one
/// guessing client cannot lock out the others.
public struct SignInThrottle: Sendable {
    private var failures: KeyedRateLimiter

    public init(burst: Int = 5, perMinute: Double = 5) {
        failures = KeyedRateLimiter(capacity: Double(max(1, burst)), refillPerSecond: max(0.001, perMinute / 60), maxKeys: 10_000)
    }

    /// Seconds until `client` may try again, or `nil` when it may try now.
    public func retryAfter(client: String, now: Double) -> Double? {
        var probe = failures
        if case .limited(let after) = probe.take(key: client, now: now) { return after }
        return nil
    }

    public mutating func recordFailure(client: String, now: Double) {
        _ = failures.take(key: client, now: now)
    }
}
