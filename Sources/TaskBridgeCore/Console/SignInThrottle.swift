/// Slows down guessing of the admin token: each client may fail `burst` times, then once
/// per `1 / refillPerSecond` seconds. Only failures spend, so one guessing client cannot
/// lock out the others. A client is an IPv4 address or an IPv6 /64
/// (`ClientAddressResolver.rateLimitKey`), so rotating through one's own IPv6 network
/// buys no fresh tries.
///
/// Memory is bounded without forgetting anyone who is held back: buckets that have
/// refilled are dropped, and when `maxClients` clients are all still held back, a new
/// one is held back too until some refill — a flood of addresses cannot evict the
/// guessers it hides among.
public struct SignInThrottle: Sendable {
    let capacity: Double
    let refillPerSecond: Double
    let maxClients: Int
    private var buckets: [String: TokenBucket] = [:]

    public init(burst: Int = 5, perMinute: Double = 5, maxClients: Int = 10_000) {
        capacity = Double(max(1, burst))
        refillPerSecond = max(0.001, perMinute / 60)
        self.maxClients = max(1, maxClients)
    }

    /// Seconds until `client` may try again, or `nil` when it may try now. Looking spends nothing.
    public func retryAfter(client: String, now: Double) -> Double? {
        let key = ClientAddressResolver.rateLimitKey(client)
        guard var probe = buckets[key] else {
            // A client never seen while the table is full of held-back ones waits for the first to refill.
            guard buckets.count >= maxClients, !buckets.values.contains(where: { $0.isIdle(now: now) }) else { return nil }
            return buckets.values.map { ($0.capacity - $0.tokens) / refillPerSecond - max(0, now - $0.updatedAt) }.min().map { max(1, $0) }
        }
        if case .limited(let after) = probe.take(now: now) { return after }
        return nil
    }

    public mutating func recordFailure(client: String, now: Double) {
        let key = ClientAddressResolver.rateLimitKey(client)
        if buckets[key] == nil, buckets.count >= maxClients {
            buckets = buckets.filter { !$0.value.isIdle(now: now) }
            guard buckets.count < maxClients else { return }
        }
        var bucket = buckets[key] ?? TokenBucket(capacity: capacity, refillPerSecond: refillPerSecond, now: now)
        _ = bucket.take(now: now)
        buckets[key] = bucket
    }

    var trackedClients: Int { buckets.count }
}
