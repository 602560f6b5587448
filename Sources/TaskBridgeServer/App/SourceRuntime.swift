import Synchronization
import TaskBridgeCore

/// A configured source at run time: its planner (with resolved secrets), rate limits and
/// allowed browser origins.
final class SourceRuntime: Sendable {
    let config: SourceConfig
    let planner: IngestPlanner
    /// Why the source refuses requests, when its secret is unset.
    let unavailableReason: String?
    let allowedOrigins: Set<String>
    private let perClient: Mutex<KeyedRateLimiter?>
    private let perSource: Mutex<TokenBucket?>

    init(config: SourceConfig, secrets: [Secret], unavailableReason: String?, now: Double) {
        self.config = config
        self.planner = IngestPlanner(source: config, secrets: secrets)
        self.unavailableReason = unavailableReason
        self.allowedOrigins = Set(config.widget?.allowedOrigins ?? [])
        perClient = Mutex(config.rateLimitPerClient.map {
            KeyedRateLimiter(capacity: Double($0.burst), refillPerSecond: $0.perSecond)
        })
        perSource = Mutex(config.rateLimitPerSource.map {
            TokenBucket(capacity: Double($0.burst), refillPerSecond: $0.perSecond, now: now)
        })
    }

    /// `nil` when allowed; otherwise seconds until a request would be. A refused request
    /// spends no token anywhere: the source's bucket is only looked at until the client's
    /// own bucket has allowed the request, so one client hammering the endpoint runs out
    /// of its own tokens and cannot lock every other client out. IPv6 clients are
    /// counted per /64.
    func rateLimit(clientIP: String, now: Double) -> Double? {
        let key = ClientAddressResolver.rateLimitKey(clientIP)
        // Lock order: source, then client (nowhere else holds both).
        return perSource.withLock { source -> Double? in
            if var probe = source, case .limited(let after) = probe.take(now: now) { return after }
            if case .limited(let after)? = perClient.withLock({ $0?.take(key: key, now: now) }) { return after }
            _ = source?.take(now: now)
            return nil
        }
    }
}
