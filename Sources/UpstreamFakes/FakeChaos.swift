/// Misbehaviour the fake can inject, each at a probability per request, to prove the
/// dispatcher survives a flaky upstream.
public struct FakeChaos: Sendable {
    /// Answer 500 without applying the request.
    public var serverError = 0.0
    /// Answer 429 with `Retry-After: retryAfterSeconds` without applying it.
    public var rateLimited = 0.0
    public var retryAfterSeconds = 1
    /// Apply the request, then wait `slowSeconds` before answering (or wait first, then
    /// apply, with `slowBeforeApplying`: a task that becomes visible only when answered).
    public var slow = 0.0
    public var slowSeconds = 0.0
    public var slowBeforeApplying = false
    /// Drop the connection without applying the request.
    public var reset = 0.0
    /// Apply the request, then drop the connection: the client sees an error for a
    /// request that succeeded.
    public var acceptedThenReset = 0.0
    /// Restricts the chaos to requests whose `"METHOD /path"` is listed (all when nil),
    /// or whose route template is, for routes with ids: `"POST /api/v1/agent/runs/{id}/start"`.
    public var only: Set<String>?
    /// Fail each batch operation at this probability with an internal error, without
    /// applying it (the call still answers 200, as the API documents).
    public var batchOperationError = 0.0

    public init(serverError: Double = 0, rateLimited: Double = 0, retryAfterSeconds: Int = 1, slow: Double = 0,
                slowSeconds: Double = 0, slowBeforeApplying: Bool = false, reset: Double = 0, acceptedThenReset: Double = 0,
                only: Set<String>? = nil, batchOperationError: Double = 0) {
        self.slowBeforeApplying = slowBeforeApplying
        self.only = only
        self.batchOperationError = batchOperationError
        self.serverError = serverError
        self.rateLimited = rateLimited
        self.retryAfterSeconds = retryAfterSeconds
        self.slow = slow
        self.slowSeconds = slowSeconds
        self.reset = reset
        self.acceptedThenReset = acceptedThenReset
    }

    public static let none = FakeChaos()

    /// Whether the chaos may hit this request (see ``only``); `route` is its template, if any.
    func applies(_ method: String, _ path: String, route: String?) -> Bool {
        guard let only else { return true }
        if only.contains("\(method) \(path)") { return true }
        return route.map { only.contains("\(method) \($0)") } ?? false
    }

    enum Draw { case normal, serverError, rateLimited, slow, reset, acceptedThenReset }

    func draw(_ r: Double) -> Draw {
        var edge = 0.0
        for (p, d) in [(serverError, Draw.serverError), (rateLimited, .rateLimited), (reset, .reset),
                       (acceptedThenReset, .acceptedThenReset), (slow, .slow)] {
            edge += p
            if r < edge { return d }
        }
        return .normal
    }
}

/// A small deterministic generator (SplitMix64) so chaos runs are repeatable.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
