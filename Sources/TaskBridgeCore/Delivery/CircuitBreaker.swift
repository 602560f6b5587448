/// Stops hammering a target that keeps failing: after `failureThreshold` consecutive
/// retryable failures it opens for `openSeconds`, then lets one probe through
/// (half-open); the probe's result closes or re-opens it. While open, jobs for the
/// target are not claimed, so they wait without spending attempts.
public struct CircuitBreaker: Sendable, Hashable {
    public enum State: Sendable, Hashable {
        case closed(failures: Int)
        case open(until: Double)
        case halfOpen(probeInFlight: Bool)

        /// 0 closed, 1 half-open, 2 open — for the breaker-state gauge.
        public var gaugeValue: Int {
            switch self {
            case .closed: 0
            case .halfOpen: 1
            case .open: 2
            }
        }
    }

    public let settings: BreakerSettings
    public private(set) var state: State = .closed(failures: 0)

    public init(_ settings: BreakerSettings) {
        self.settings = settings
    }

    /// How many requests may start now: unlimited when closed, one probe when half-open.
    public mutating func permits(now: Double) -> Int {
        switch state {
        case .closed: return Int.max
        case .open(let until):
            guard now >= until else { return 0 }
            state = .halfOpen(probeInFlight: false)
            return 1
        case .halfOpen(let inFlight):
            return inFlight ? 0 : 1
        }
    }

    public mutating func willSend(now: Double) {
        if case .halfOpen = state { state = .halfOpen(probeInFlight: true) }
    }

    public mutating func recordSuccess() {
        state = .closed(failures: 0)
    }

    /// A retryable failure (5xx, connection, timeout). Client errors are the request's
    /// fault, not the target's, and must not be recorded here.
    public mutating func recordFailure(now: Double) {
        switch state {
        case .closed(let failures):
            state = failures + 1 >= settings.failureThreshold ? .open(until: now + settings.openSeconds) : .closed(failures: failures + 1)
        case .halfOpen, .open:
            state = .open(until: now + settings.openSeconds)
        }
    }

    /// When an open breaker will allow a probe; `nil` unless open.
    public var reopensAt: Double? {
        if case .open(let until) = state { return until }
        return nil
    }
}
