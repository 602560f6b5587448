import Synchronization
import TaskBridgeCore

/// Per-target admission for outgoing requests: a concurrency limit, an optional token
/// bucket, and a circuit breaker. Every request to a target passes through its gate, so
/// the limits hold however many jobs are in flight (a batch call counts once).
public final class TargetGate: Sendable {
    public let name: String
    let concurrency: Int

    private struct State {
        var inUse = 0
        var waiters: [CheckedContinuation<Void, Never>] = []
        var bucket: TokenBucket?
        var breaker: CircuitBreaker
    }

    private let state: Mutex<State>
    private let monotonic: @Sendable () -> Double

    public init(name: String, concurrency: Int, rateLimit: RateLimitSettings?, breaker: BreakerSettings,
                monotonic: @escaping @Sendable () -> Double = TargetGate.monotonicSeconds) {
        self.name = name
        self.concurrency = max(1, concurrency)
        self.monotonic = monotonic
        let now = monotonic()
        self.state = Mutex(State(
            bucket: rateLimit.map { TokenBucket(capacity: Double($0.burst), refillPerSecond: $0.perSecond, now: now) },
            breaker: CircuitBreaker(breaker)))
    }

    public static let monotonicSeconds: @Sendable () -> Double = { MonotonicClock.seconds() }

    /// 0 closed, 1 half-open, 2 open.
    public var breakerGauge: Int { state.withLock { $0.breaker.state.gaugeValue } }

    /// How many requests the breaker lets start now (`Int.max` when closed).
    public func breakerPermits() -> Int {
        let now = monotonic()
        return state.withLock { $0.breaker.permits(now: now) }
    }

    /// Seconds until an open breaker allows a probe, if it is open.
    public func breakerReopensIn() -> Double? {
        let now = monotonic()
        return state.withLock { $0.breaker.reopensAt.map { max(0, $0 - now) } }
    }

    /// Waits for a free slot and a token. Throws when the breaker is open.
    public func acquire() async throws(StepFailure) {
        let now = monotonic()
        let allowed = state.withLock { s -> Bool in
            guard s.breaker.permits(now: now) > 0 else { return false }
            s.breaker.willSend(now: now)
            return true
        }
        guard allowed else {
            var f = StepFailure(.retryable, "target \(name): circuit breaker is open after repeated failures")
            f.breakerOpen = true
            throw f
        }
        await withCheckedContinuation { (cont: CheckedContinuation<Void, Never>) in
            let go = state.withLock { s -> Bool in
                if s.inUse < concurrency {
                    s.inUse += 1
                    return true
                }
                s.waiters.append(cont)
                return false
            }
            if go { cont.resume() }
        }
        // Rate limit: wait for a token while holding the slot.
        while true {
            let wait = state.withLock { s -> Double in
                guard var bucket = s.bucket else { return 0 }
                defer { s.bucket = bucket }
                switch bucket.take(now: monotonic()) {
                case .allowed: return 0
                case .limited(let after): return after
                }
            }
            if wait <= 0 { return }
            try? await Task.sleep(nanoseconds: wait.sleepNanoseconds(atMost: 60))
        }
    }

    /// Frees the slot and feeds the breaker: `healthy` is false for 5xx and transport
    /// failures only.
    public func release(healthy: Bool?) {
        let now = monotonic()
        let next = state.withLock { s -> CheckedContinuation<Void, Never>? in
            switch healthy {
            case true?: s.breaker.recordSuccess()
            case false?: s.breaker.recordFailure(now: now)
            case nil: break
            }
            if !s.waiters.isEmpty { return s.waiters.removeFirst() }
            s.inUse -= 1
            return nil
        }
        next?.resume()
    }
}

