import Testing
@testable import TaskBridgeCore

@Suite("Delivery logic")
struct DeliveryLogicTests {
    // MARK: FailureClass

    @Test(arguments: [
        (200, FailureClass?.none), (201, nil), (204, nil), (299, nil),
        (408, .retryable), (425, .retryable), (429, .retryable),
        (500, .retryable), (502, .retryable), (503, .retryable), (504, .retryable), (599, .retryable),
        (400, .permanent), (404, .permanent), (405, .permanent), (409, .permanent), (410, .permanent),
        (413, .permanent), (422, .permanent), (499, .permanent),
        (401, .authentication), (403, .authentication),
        (301, .retryable), (600, .retryable),
    ])
    func classification(status: Int, expected: FailureClass?) {
        #expect(FailureClass.classify(status: status) == expected)
    }

    @Test(arguments: [
        (Int?.none, "error"), (101, "1xx"), (200, "2xx"), (304, "3xx"), (404, "4xx"), (503, "5xx"), (99, "other"), (600, "other"),
    ])
    func statusClassLabels(status: Int?, label: String) {
        #expect(FailureClass.statusClass(status) == label)
    }

    @Test func transportFailureDescription() {
        #expect(TransportFailure(kind: .timeout, sent: true, detail: "no answer in 15s").description == "timeout: no answer in 15s")
    }

    // MARK: RetryPolicy

    static let defaults = RetryPolicy(RetrySettings())

    @Test(arguments: [
        (1, 1.0), (2, 2.0), (3, 4.0), (8, 128.0), (10, 512.0), (11, 600.0), (12, 600.0), (400, 600.0), (0, 1.0), (-5, 1.0), (Int.max, 600.0),
    ])
    func backoffCeilings(attempt: Int, ceiling: Double) {
        #expect(Self.defaults.ceiling(afterAttempt: attempt) == ceiling)
    }

    @Test(arguments: [
        // attempt, random, delay
        (1, 0.0, 0.0), (1, 0.999, 0.999), (3, 0.0, 0.0), (3, 0.999, 3.996), (3, 0.5, 2.0),
        (10, 0.999, 511.488), (20, 0.0, 0.0), (20, 0.999, 599.4),
    ])
    func fullJitterStaysWithinTheCeiling(attempt: Int, random: Double, delay: Double) {
        let now = 10_000.0
        #expect(Self.defaults.decide(attempt: attempt, firstAttemptAt: now - 60, now: now, retryAfter: nil, random: random)
            == .retry(at: now + delay))
    }

    @Test func retryAfterIsHonouredWithinItsCap() {
        let now = 50_000.0
        // Longer than the jittered backoff: wait as asked.
        #expect(Self.defaults.decide(attempt: 1, firstAttemptAt: now, now: now, retryAfter: 120, random: 0) == .retry(at: now + 120))
        // Shorter than the jittered backoff: the backoff wins.
        #expect(Self.defaults.decide(attempt: 12, firstAttemptAt: now, now: now, retryAfter: 5, random: 0.5) == .retry(at: now + 300))
        // Capped at retryAfterCapSeconds (1 h by default).
        #expect(Self.defaults.decide(attempt: 1, firstAttemptAt: now, now: now, retryAfter: 86_400, random: 0) == .retry(at: now + 3600))
        // Zero or negative is ignored.
        #expect(Self.defaults.decide(attempt: 1, firstAttemptAt: now, now: now, retryAfter: 0, random: 0) == .retry(at: now))
        #expect(Self.defaults.decide(attempt: 1, firstAttemptAt: now, now: now, retryAfter: -10, random: 0.5) == .retry(at: now + 0.5))
    }

    @Test func maxAttemptsDeadLetters() {
        var s = RetrySettings()
        s.maxAttempts = 5
        let p = RetryPolicy(s)
        #expect(p.decide(attempt: 4, firstAttemptAt: 0, now: 10, retryAfter: nil, random: 0) == .retry(at: 10))
        #expect(p.decide(attempt: 5, firstAttemptAt: 0, now: 10, retryAfter: nil, random: 0) == .deadLetter(reason: "gave up after 5 attempts"))
        #expect(Self.defaults.decide(attempt: 400, firstAttemptAt: 0, now: 10, retryAfter: nil, random: 0)
            == .deadLetter(reason: "gave up after 400 attempts"))
    }

    @Test func maxAgeDeadLetters() {
        let threeDays = 3 * 86_400.0
        // The next try would land past the maximum age.
        #expect(Self.defaults.decide(attempt: 20, firstAttemptAt: 0, now: threeDays - 10, retryAfter: nil, random: 0.999)
            == .deadLetter(reason: "gave up after 20 attempts over 72h (max age 72h)"))
        // … but not when it lands inside it.
        #expect(Self.defaults.decide(attempt: 20, firstAttemptAt: 0, now: threeDays - 10, retryAfter: nil, random: 0)
            == .retry(at: threeDays - 10))
        // A Retry-After that pushes past the age limit dead-letters too.
        var s = RetrySettings()
        s.maxAgeSeconds = 600
        #expect(RetryPolicy(s).decide(attempt: 2, firstAttemptAt: 0, now: 30, retryAfter: 1200, random: 0)
            == .deadLetter(reason: "gave up after 2 attempts over 30s (max age 600s)"))
        s.maxAgeSeconds = 7200
        #expect(RetryPolicy(s).decide(attempt: 9, firstAttemptAt: 0, now: 7000, retryAfter: 3600, random: 0)
            == .deadLetter(reason: "gave up after 9 attempts over 117m (max age 120m)"))
    }

    @Test func defaultsRideOutADayLongOutage() {
        var now = 1_700_000_000.0
        let start = now
        var attempt = 0
        while now - start < 86_400 {
            attempt += 1
            let decision = Self.defaults.decide(attempt: attempt, firstAttemptAt: start, now: now, retryAfter: nil, random: 0.5)
            guard case .retry(let at) = decision else {
                Issue.record("attempt \(attempt) after \(now - start) s: \(decision)")
                return
            }
            #expect(at > now)
            now = at
        }
        // Still retrying after 24 h, with attempts to spare.
        #expect(attempt < RetrySettings().maxAttempts)
        #expect(Self.defaults.decide(attempt: attempt + 1, firstAttemptAt: start, now: now, retryAfter: nil, random: 0.5) == .retry(at: now + 300))
        // With 0.5 draws: ten growing waits (0.5 s … 256 s, 511.5 s in all), then 287 waits of 300 s.
        #expect(attempt == 297)
    }

    @Test(arguments: [
        ("120", 120.0), (" 5 ", 5.0), ("0", 0.0),
        ("Sun, 06 Nov 1994 08:49:37 GMT", 60.0),
        ("Sun, 06 Nov 1994 08:48:37 GMT", 0.0),   // in the past
        ("Mon, 07 Nov 1994 08:49:37 GMT", 86_460.0),
        ("sun, 06 nov 1994 08:49:37 gmt", 60.0),
    ])
    func parsesRetryAfter(header: String, seconds: Double) {
        // `now` is one minute before the RFC 9110 example date (784111777).
        #expect(RetryPolicy.parseRetryAfter(header, now: 784_111_717) == seconds)
    }

    @Test(arguments: [String?.none, "", "  ", "-5", "1.5", "soon", "Sun, 06 Nov 1994 08:49:37 PST", "Sun, 32 Nov 1994 08:49:37 GMT",
                      "Sun, 06 Foo 1994 08:49:37 GMT", "Sun, 06 Nov 1994 24:00:00 GMT", "Sunday, 06-Nov-94 08:49:37 GMT"])
    func refusesBadRetryAfter(header: String?) {
        #expect(RetryPolicy.parseRetryAfter(header, now: 0) == nil)
    }

    @Test(arguments: [
        ("Sun, 06 Nov 1994 08:49:37 GMT", 784_111_777.0),
        ("Thu, 01 Jan 1970 00:00:00 GMT", 0.0),
        ("Tue, 29 Feb 2000 12:00:00 GMT", 951_825_600.0),
        ("Tue, 14 Nov 2023 22:13:20 GMT", 1_700_000_000.0),
    ])
    func httpDates(text: String, seconds: Double) {
        #expect(HTTPDate.parse(text) == seconds)
    }

    // MARK: CircuitBreaker

    static func breaker(threshold: Int = 3, open: Double = 30) -> CircuitBreaker {
        var s = BreakerSettings()
        s.failureThreshold = threshold
        s.openSeconds = open
        return CircuitBreaker(s)
    }

    @Test func opensAfterConsecutiveFailures() {
        var b = Self.breaker()
        #expect(b.state == .closed(failures: 0))
        #expect(b.permits(now: 0) == Int.max)
        b.recordFailure(now: 1)
        b.recordFailure(now: 2)
        #expect(b.state == .closed(failures: 2))
        #expect(b.reopensAt == nil)
        b.recordFailure(now: 3)
        #expect(b.state == .open(until: 33))
        #expect(b.reopensAt == 33)
        #expect(b.state.gaugeValue == 2)
        #expect(b.permits(now: 32.9) == 0)
        #expect(b.state == .open(until: 33))
    }

    @Test func aSuccessResetsTheFailureCount() {
        var b = Self.breaker()
        b.recordFailure(now: 1)
        b.recordFailure(now: 2)
        b.recordSuccess()
        #expect(b.state == .closed(failures: 0))
        b.recordFailure(now: 3)
        b.recordFailure(now: 4)
        #expect(b.state == .closed(failures: 2))
        #expect(b.state.gaugeValue == 0)
    }

    @Test func halfOpenLetsOneProbeThroughAndItsSuccessCloses() {
        var b = Self.breaker()
        for t in 1...3 { b.recordFailure(now: Double(t)) }
        #expect(b.permits(now: 33) == 1)
        #expect(b.state == .halfOpen(probeInFlight: false))
        #expect(b.state.gaugeValue == 1)
        #expect(b.permits(now: 33) == 1)   // asking again does not use the probe up
        b.willSend(now: 33)
        #expect(b.state == .halfOpen(probeInFlight: true))
        #expect(b.permits(now: 34) == 0)
        b.recordSuccess()
        #expect(b.state == .closed(failures: 0))
        #expect(b.permits(now: 34) == Int.max)
    }

    @Test func aFailedProbeReopens() {
        var b = Self.breaker()
        for t in 1...3 { b.recordFailure(now: Double(t)) }
        _ = b.permits(now: 40)
        b.willSend(now: 40)
        b.recordFailure(now: 41)
        #expect(b.state == .open(until: 71))
        #expect(b.permits(now: 70) == 0)
        #expect(b.permits(now: 71) == 1)
    }

    @Test func willSendWhileClosedChangesNothing() {
        var b = Self.breaker(threshold: 1, open: 5)
        b.willSend(now: 0)
        #expect(b.state == .closed(failures: 0))
        b.recordFailure(now: 10)
        #expect(b.state == .open(until: 15))
        // A failure reported while open (a request that started before it opened) extends it.
        b.recordFailure(now: 12)
        #expect(b.state == .open(until: 17))
    }

    // MARK: JobState

    static let events: [JobState.Event] = [.claim, .stepSucceeded(isLast: false), .stepSucceeded(isLast: true), .retryLater,
                                           .fail, .release, .leaseExpired, .manualRetry, .wait]

    @Test(arguments: [
        (JobState.pending, [JobState?.some(.running), nil, nil, nil, nil, nil, nil, nil, nil]),
        (.running, [nil, .running, .succeeded, .pending, .dead, .pending, .pending, nil, .waiting]),
        (.waiting, [.running, nil, nil, nil, nil, nil, nil, nil, nil]),
        (.succeeded, [nil, nil, nil, nil, nil, nil, nil, nil, nil]),
        (.dead, [nil, nil, nil, nil, nil, nil, nil, .pending, nil]),
    ])
    func jobStateTransitions(state: JobState, next: [JobState?]) {
        #expect(Self.events.map { state.on($0) } == next)
    }

    @Test func jobStateProperties() {
        #expect(JobState.allCases.filter(\.blocksOrderingKey) == [.pending, .running, .waiting])
        #expect(JobState.allCases.filter(\.isTerminal) == [.succeeded, .dead])
        #expect(JobState.allCases.map(\.rawValue) == ["pending", "running", "waiting", "succeeded", "dead"])
        #expect(JobState(rawValue: "dead") == .dead)
    }

    // MARK: TokenBucket

    @Test func bucketAllowsABurstThenRefills() {
        var b = TokenBucket(capacity: 5, refillPerSecond: 1, now: 100)
        for _ in 0..<5 { #expect(b.take(now: 100) == .allowed) }
        #expect(b.take(now: 100) == .limited(retryAfter: 1))
        #expect(b.take(now: 100.5) == .limited(retryAfter: 0.5))
        #expect(b.take(now: 101) == .allowed)
        #expect(b.take(now: 101) == .limited(retryAfter: 1))
        // Refill never exceeds capacity.
        b.refill(now: 10_000)
        #expect(b.tokens == 5)
        #expect(b.updatedAt == 10_000)
    }

    @Test func bucketIgnoresAClockThatGoesBackwards() {
        var b = TokenBucket(capacity: 2, refillPerSecond: 1, now: 50)
        #expect(b.take(now: 50) == .allowed)
        #expect(b.take(now: 49) == .allowed)
        #expect(b.take(now: 40) == .limited(retryAfter: 1))
        #expect(b.updatedAt == 50)
    }

    @Test func bucketCostsAndZeroRefill() {
        var b = TokenBucket(capacity: 10, refillPerSecond: 2, now: 0)
        #expect(b.take(now: 0, cost: 8) == .allowed)
        #expect(b.take(now: 0, cost: 4) == .limited(retryAfter: 1))
        var none = TokenBucket(capacity: 1, refillPerSecond: 0, now: 0)
        #expect(none.take(now: 0) == .allowed)
        // Never refilling, it still answers a finite wait that callers can convert.
        #expect(none.take(now: 1_000_000) == .limited(retryAfter: TokenBucket.maxRetryAfterSeconds))
    }

    @Test func bucketIdleness() {
        var b = TokenBucket(capacity: 4, refillPerSecond: 2, now: 0)
        #expect(b.isIdle(now: 0))
        _ = b.take(now: 0)
        _ = b.take(now: 0)
        #expect(!b.isIdle(now: 0.9))
        #expect(b.isIdle(now: 1))
    }

    // MARK: KeyedRateLimiter

    @Test func keysHaveSeparateBuckets() {
        var l = KeyedRateLimiter(capacity: 1, refillPerSecond: 1)
        #expect(l.take(key: "203.0.113.1", now: 0) == .allowed)
        #expect(l.take(key: "203.0.113.1", now: 0) == .limited(retryAfter: 1))
        #expect(l.take(key: "203.0.113.2", now: 0) == .allowed)
        #expect(l.trackedKeys == 2)
    }

    @Test func evictsIdleBucketsFirst() {
        var l = KeyedRateLimiter(capacity: 1, refillPerSecond: 1, maxKeys: 4)
        for k in ["a", "b", "c", "d"] { _ = l.take(key: k, now: 0) }
        #expect(l.trackedKeys == 4)
        // By t = 10 every bucket is full again, so all of them can go.
        #expect(l.take(key: "e", now: 10) == .allowed)
        #expect(l.trackedKeys == 1)
    }

    @Test func evictsTheLeastRecentlyUsedWhenNothingIsIdle() {
        var l = KeyedRateLimiter(capacity: 1, refillPerSecond: 0.0001, maxKeys: 4)
        for (i, k) in ["a", "b", "c", "d"].enumerated() { #expect(l.take(key: k, now: Double(i)) == .allowed) }
        #expect(l.take(key: "e", now: 4) == .allowed)
        // Half the table (the two oldest: a, b) was dropped to make room.
        #expect(l.trackedKeys == 3)
        #expect(l.take(key: "c", now: 4) != .allowed)   // still remembered, still empty
        #expect(l.take(key: "a", now: 4) == .allowed)   // forgotten: a fresh bucket
        #expect(l.trackedKeys == 4)
    }

    @Test func aFloodOfAddressesStaysBounded() {
        var l = KeyedRateLimiter(capacity: 1, refillPerSecond: 0.001, maxKeys: 100)
        var most = 0
        for i in 0..<10_000 {
            #expect(l.take(key: "10.0.\(i / 256).\(i % 256)", now: Double(i) * 0.001) == .allowed)
            most = max(most, l.trackedKeys)
        }
        #expect(most == 100)
        #expect(l.trackedKeys <= 100)
    }
}
