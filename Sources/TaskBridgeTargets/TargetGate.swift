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
        var auth = AuthPause()
        var authRefusals = 0
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

    /// How many requests may start now (`Int.max` when nothing holds the target back):
    /// the breaker's permits, and at most one probe while paused after 401/403.
    public func breakerPermits() -> Int {
        let now = monotonic()
        return state.withLock { min($0.breaker.permits(now: now), $0.auth.permits(now: now)) }
    }

    /// Seconds until a held-back target (open breaker, auth pause) allows a probe.
    public func breakerReopensIn() -> Double? {
        let now = monotonic()
        return state.withLock { s in
            let waits = [s.breaker.reopensAt, s.auth.probeAt].compactMap { $0 }.map { max(0, $0 - now) }
            return waits.max()
        }
    }

    /// Why requests to the target are paused (a 401/403), if they are.
    public var authPauseReason: String? { state.withLock { $0.auth.reason } }

    /// How many answers refused the target's credentials since the process started.
    public var authRefusals: Int { state.withLock { $0.authRefusals } }

    /// Holds every request back after the target refused its credentials: a revoked or
    /// wrong token is the operator's problem, not the jobs'. One probe goes out after a
    /// backoff (30 s doubling to 10 min); any accepted request, or new credentials,
    /// resume. Returns `true` when this call paused a running target.
    @discardableResult
    public func pauseForAuthentication(_ reason: String) -> Bool {
        let now = monotonic()
        return state.withLock { $0.auth.pause(reason: reason, now: now) }
    }

    /// Resumes a paused target (its credentials changed). Returns whether it was paused.
    @discardableResult
    public func resumeAuthentication() -> Bool {
        state.withLock { s in
            defer { s.auth = AuthPause() }
            return s.auth.reason != nil
        }
    }

    /// Waits for a free slot and a token. Throws, with nothing sent, when the breaker is
    /// open or the target is paused after 401/403.
    public func acquire() async throws(StepFailure) {
        let now = monotonic()
        let refusal = state.withLock { s -> StepFailure? in
            if s.auth.reason != nil && !s.auth.takeProbe(now: now) {
                var f = StepFailure(.retryable, "target \(name) is paused: \(s.auth.reason ?? "")")
                f.breakerOpen = true
                f.deferSeconds = max(1, (s.auth.probeAt ?? now) - now)
                return f
            }
            guard s.breaker.permits(now: now) > 0 else {
                var f = StepFailure(.retryable, "target \(name): circuit breaker is open after repeated failures")
                f.breakerOpen = true
                f.deferSeconds = max(0.05, (s.breaker.reopensAt ?? now) - now)
                return f
            }
            s.breaker.willSend(now: now)
            return nil
        }
        if let refusal { throw refusal }
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
    /// failures only, `nil` for 429 and 401/403. A healthy answer also ends an auth pause
    /// (the credentials work again).
    public func release(healthy: Bool?, authRefused: Bool = false) {
        let now = monotonic()
        let next = state.withLock { s -> CheckedContinuation<Void, Never>? in
            // A refused probe stays "probing" until the runner pauses again (with a longer
            // backoff), so no second probe slips out in between.
            if !authRefused { s.auth.probeFinished() } else { s.authRefusals += 1 }
            switch healthy {
            case true?:
                s.breaker.recordSuccess()
                s.auth = AuthPause()
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


/// The pause after a target refused its credentials (401/403).
struct AuthPause {
    var reason: String?
    var probeAt: Double?
    var backoff = 30.0
    var probing = false

    static let maxBackoff = 600.0

    func permits(now: Double) -> Int {
        guard reason != nil else { return Int.max }
        return !probing && now >= (probeAt ?? now) ? 1 : 0
    }

    mutating func pause(reason: String, now: Double) -> Bool {
        let wasRunning = self.reason == nil
        if wasRunning {
            backoff = 30
        } else if probing || (probeAt ?? now) <= now {
            // A probe failed: wait twice as long before the next one.
            backoff = min(Self.maxBackoff, backoff * 2)
        } else {
            self.reason = reason
            return false  // requests already in flight when the pause began
        }
        self.reason = reason
        probeAt = now + backoff
        probing = false
        return wasRunning
    }

    /// Lets one request through as the probe, once the backoff has passed.
    mutating func takeProbe(now: Double) -> Bool {
        guard !probing, now >= (probeAt ?? now) else { return false }
        probing = true
        return true
    }

    mutating func probeFinished() {
        if probing { probing = false }
    }
}
