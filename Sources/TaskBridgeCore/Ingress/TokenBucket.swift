/// A token bucket: `burst` requests at once, refilled at `perSecond`. Time is passed in
/// (seconds on any monotonic clock) so the arithmetic is tested without sleeping.
public struct TokenBucket: Sendable, Hashable {
    public let capacity: Double
    public let refillPerSecond: Double
    public private(set) var tokens: Double
    public private(set) var updatedAt: Double

    /// A bucket that refills at a rate that is not a positive finite number (0, negative,
    /// NaN) never refills; an infinite rate is held to the largest finite one.
    public init(capacity: Double, refillPerSecond: Double, now: Double) {
        self.capacity = capacity
        self.refillPerSecond = refillPerSecond > 0 ? Swift.min(refillPerSecond, .greatestFiniteMagnitude) : 0
        self.tokens = capacity
        self.updatedAt = now
    }

    public enum Decision: Sendable, Hashable {
        case allowed
        /// Denied; a token will be available after this many seconds. Always finite and
        /// in `0...TokenBucket.maxRetryAfterSeconds`, so callers may convert it to an
        /// integer (a `Retry-After` header) or a sleep.
        case limited(retryAfter: Double)
    }

    /// The longest wait a ``Decision/limited(retryAfter:)`` reports: a day. A bucket that
    /// never refills (rate 0) or refills absurdly slowly reports this.
    public static let maxRetryAfterSeconds = 86_400.0

    public mutating func refill(now: Double) {
        if now > updatedAt {
            tokens = min(capacity, tokens + (now - updatedAt) * refillPerSecond)
            updatedAt = now
        }
    }

    public mutating func take(now: Double, cost: Double = 1) -> Decision {
        refill(now: now)
        if tokens >= cost {
            tokens -= cost
            return .allowed
        }
        guard refillPerSecond > 0 else { return .limited(retryAfter: Self.maxRetryAfterSeconds) }
        let wait = (cost - tokens) / refillPerSecond
        // NaN (from a NaN cost or clock) reads as "as long as possible", not as no wait.
        return .limited(retryAfter: wait.isNaN ? Self.maxRetryAfterSeconds : wait.clamped(to: 0...Self.maxRetryAfterSeconds))
    }

    /// True when the bucket would be full at `now` — forgetting it changes nothing.
    public func isIdle(now: Double) -> Bool {
        tokens + max(0, now - updatedAt) * refillPerSecond >= capacity
    }
}

/// Token buckets per key (client IP, source name) with bounded memory: idle buckets are
/// dropped, and past `maxKeys` the least recently used ones go, so a flood of distinct
/// addresses cannot grow the table without limit.
public struct KeyedRateLimiter: Sendable {
    public let capacity: Double
    public let refillPerSecond: Double
    public let maxKeys: Int
    private var buckets: [String: TokenBucket] = [:]

    public init(capacity: Double, refillPerSecond: Double, maxKeys: Int = 100_000) {
        self.capacity = capacity
        self.refillPerSecond = refillPerSecond
        self.maxKeys = maxKeys
    }

    public var trackedKeys: Int { buckets.count }

    public mutating func take(key: String, now: Double) -> TokenBucket.Decision {
        if buckets.count >= maxKeys, buckets[key] == nil { evict(now: now) }
        var bucket = buckets[key] ?? TokenBucket(capacity: capacity, refillPerSecond: refillPerSecond, now: now)
        let decision = bucket.take(now: now)
        buckets[key] = bucket
        return decision
    }

    private mutating func evict(now: Double) {
        buckets = buckets.filter { !$0.value.isIdle(now: now) }
        if buckets.count >= maxKeys {
            let oldest = buckets.sorted { $0.value.updatedAt < $1.value.updatedAt }.prefix(buckets.count - maxKeys / 2)
            for (key, _) in oldest { buckets[key] = nil }
        }
    }
}
