import Testing
@testable import TaskBridgeCore
import TaskBridgeTargets

/// Issue 10: no number from a webhook, a config file, an upstream answer or a query
/// parameter may trap the process. Each case here trapped or misbehaved before the fix.
@Suite("Untrusted numbers never trap")
struct UntrustedNumberTests {
    /// What `IngressController` does with a `.limited` decision; traps on NaN, ±∞ or
    /// values beyond `Int`, so the decision must never hold one.
    static func retryAfterHeader(_ after: Double) -> Int? {
        guard after.isFinite, abs(after) < 1e15 else { return nil }
        return max(1, Int(after.rounded(.up)))
    }

    // MARK: The conversion helpers

    @Test(arguments: [
        (Double.nan, Int64(0)), (.infinity, .max), (-.infinity, .min), (1e300, .max), (-1e300, .min),
        (9_223_372_036_854_775_808.0, .max), (-9_223_372_036_854_775_808.0, .min), (42.9, 42), (-42.9, -42),
        (9_223_372_036_854_774_784.0, 9_223_372_036_854_774_784),
    ])
    func doublesClampIntoInt64(value: Double, expected: Int64) {
        #expect(value.clampedToInt64 == expected)
        #expect(Int64(value.clampedToInt) == expected)
    }

    @Test(arguments: [
        (Double.nan, UInt64(0)), (-1, 0), (-.infinity, 0), (.infinity, 60_000_000_000), (1e300, 60_000_000_000),
        (0.5, 500_000_000), (60, 60_000_000_000),
    ])
    func sleepsAreClamped(seconds: Double, nanoseconds: UInt64) {
        #expect(seconds.sleepNanoseconds(atMost: 60) == nanoseconds)
    }

    @Test func sleepCapsThemselvesAreSane() {
        #expect(1e300.sleepNanoseconds(atMost: .infinity) == 1_000_000_000_000_000_000)
        #expect(5.0.sleepNanoseconds(atMost: .nan) == 0)
        #expect(5.0.sleepNanoseconds(atMost: -1) == 0)
    }

    @Test(arguments: [(Double.nan, 0.0), (-5, 0), (5, 5), (50, 10), (.infinity, 10), (-.infinity, 0)])
    func doublesClampIntoARange(value: Double, expected: Double) {
        #expect(value.clamped(to: 0...10) == expected)
    }

    // MARK: Rate limits

    @Test(arguments: [0.0, 1e-300, -1, Double.nan])
    func aBucketThatNeverRefillsStillGivesAFiniteRetryAfter(refill: Double) throws {
        var bucket = TokenBucket(capacity: 1, refillPerSecond: refill, now: 0)
        #expect(bucket.take(now: 0) == .allowed)
        guard case .limited(let after) = bucket.take(now: 1) else {
            Issue.record("an empty bucket that does not refill must refuse")
            return
        }
        #expect(after.isFinite)
        #expect(after > 0)
        #expect(after <= TokenBucket.maxRetryAfterSeconds)
        #expect(Self.retryAfterHeader(after) != nil)
    }

    @Test func aKeyedLimiterWithZeroRefillGivesAFiniteRetryAfter() {
        var limiter = KeyedRateLimiter(capacity: 1, refillPerSecond: 0)
        #expect(limiter.take(key: "10.0.0.1", now: 0) == .allowed)
        guard case .limited(let after) = limiter.take(key: "10.0.0.1", now: 5) else {
            Issue.record("expected a refusal")
            return
        }
        #expect(Self.retryAfterHeader(after) != nil)
    }

    // MARK: Template date filters

    static func render(_ template: String, _ value: JSONValue) throws -> Result<String, TemplateError> {
        let t = try Template(parsing: template)
        let ctx = Fixtures.context(source: "widget", type: "t", body: ["due": value])
        do throws(TemplateError) {
            return .success(try t.render(ctx))
        } catch {
            return .failure(error)
        }
    }

    static let hugeTimes: [JSONValue] = [
        .string("1e300"), .number(1e300), .number(-1e300), .string("-1e300"),
        .number(9.3e21),            // beyond Int64 once read as milliseconds
        .number(1e19), .string("-9.3e18"),
        .number(400_000_000_000_000), // year ~14_600 when read as milliseconds
    ]

    @Test(arguments: hugeTimes)
    func dateFilterRefusesTimesNoCalendarHolds(value: JSONValue) throws {
        guard case .failure(let error) = try Self.render("{{ body.due | date }}", value) else {
            Issue.record("\(value) rendered as a date")
            return
        }
        #expect(error.reason.contains("out of range"), "\(error.reason)")
    }

    @Test(arguments: hugeTimes)
    func unixmsFilterRefusesTimesNoCalendarHolds(value: JSONValue) throws {
        guard case .failure(let error) = try Self.render("{{ body.due | unixms }}", value) else {
            Issue.record("\(value) rendered as Unix milliseconds")
            return
        }
        #expect(error.reason.contains("out of range"), "\(error.reason)")
    }

    @Test func dateFiltersKeepWorkingAtTheEdgesOfTheRange() throws {
        // Above 10^11 a number reads as milliseconds.
        #expect(try Self.render("{{ body.due | date }}", .number(253_402_300_799_999)).get() == "9999-12-31T23:59:59Z")
        #expect(try Self.render("{{ body.due | date }}", .number(99_999_999_999)).get() == "5138-11-16T09:46:39Z")
        #expect(try Self.render("{{ body.due | date }}", .number(-62_167_219_200)).get() == "0000-01-01T00:00:00Z")
        #expect(try Self.render("{{ body.due | unixms }}", .number(253_402_300_799_000)).get() == "253402300799000")
    }

    @Test(arguments: [1e300, -1e300, Double.infinity, -Double.infinity, Double.nan, 9.3e18, -9.3e18])
    func isoFormattingIsTotal(seconds: Double) {
        let text = ISO8601.format(seconds: seconds)
        #expect(text.hasSuffix("Z"))
        #expect(text.count == 20, "\(text)")
    }

    @Test(arguments: ["2023-11-14T24:00:00Z", "2023-11-14T99:99:99Z", "2023-11-14T10:60:00Z", "2023-11-14T10:00:61Z",
                      "2023-11-14T10:00:00+24:00", "2023-11-14T10:00:00+01:60", "2023-00-14", "2023-11-00"])
    func isoParsingRefusesOutOfRangeFields(text: String) {
        #expect(ISO8601.parseMillis(text) == nil)
    }

    @Test func isoParsingAcceptsALeapSecondAndTheLastMinute() {
        #expect(ISO8601.parseMillis("2016-12-31T23:59:60Z") == 1_483_228_800_000)
        #expect(ISO8601.parseMillis("2023-11-14T23:59:59-23:59") != nil)
    }

    // MARK: Retry-After and retry scheduling

    @Test(arguments: ["Sun, 06 Nov 999999999999 08:49:37 GMT", "Sun, 06 Nov 99999999999999999 08:49:37 GMT",
                      "Sun, 06 Nov -999999999999 08:49:37 GMT", "Sun, 06 Nov 0 08:49:37 GMT", "Sun, 06 Nov 10000 08:49:37 GMT"])
    func httpDatesWithImpossibleYearsAreRefused(text: String) {
        #expect(HTTPDate.parse(text) == nil)
        #expect(RetryPolicy.parseRetryAfter(text, now: 0) == nil)
    }

    @Test func aFarFutureHTTPDateIsFinite() throws {
        let seconds = try #require(RetryPolicy.parseRetryAfter("Fri, 31 Dec 9999 23:59:59 GMT", now: 0))
        #expect(seconds.isFinite)
    }

    @Test(arguments: ["99999999999999999999", String(repeating: "9", count: 400), "9223372036854775808"])
    func hugeDeltaSecondsMeanALongWaitNotNoWait(header: String) throws {
        let seconds = try #require(RetryPolicy.parseRetryAfter(header, now: 1_700_000_000))
        #expect(seconds.isFinite)
        #expect(seconds >= 86_400)
    }

    @Test(arguments: ["-1", "-99999999999999999999", "+5", "5e3", "0x10", "inf", "nan", "١٢"])
    func deltaSecondsAreDigitsOnly(header: String) {
        #expect(RetryPolicy.parseRetryAfter(header, now: 0) == nil)
    }

    static func wild() -> RetrySettings {
        var s = RetrySettings()
        s.maxAttempts = .max
        s.maxAgeSeconds = .infinity
        s.initialDelaySeconds = .greatestFiniteMagnitude
        s.maxDelaySeconds = .infinity
        s.retryAfterCapSeconds = .infinity
        return s
    }

    /// `JobRunner` stores `Int64(at * 1000)`.
    static func storable(_ decision: RetryPolicy.Decision) -> Bool {
        guard case .retry(let at) = decision else { return true }
        return at.isFinite && at >= 0 && at * 1000 < 9e18
    }

    @Test(arguments: [Double?.none, .infinity, .nan, -.infinity, 1e300, .greatestFiniteMagnitude])
    func retryTimesAreAlwaysStorable(retryAfter: Double?) {
        let policies = [RetryPolicy(RetrySettings()), RetryPolicy(Self.wild())]
        for policy in policies {
            for (now, random) in [(1_700_000_000.0, 0.5), (1_700_000_000, 0.999), (1e300, 0.5), (.nan, 0.5), (.infinity, 0.5),
                                  (-.infinity, 0.5), (1_700_000_000, .nan), (1_700_000_000, .infinity), (1_700_000_000, -1)] {
                for attempt in [1, 30, 62, 63, 1000, .max - 1] {
                    let d = policy.decide(attempt: attempt, firstAttemptAt: 1_700_000_000, now: now, retryAfter: retryAfter, random: random)
                    #expect(Self.storable(d), "attempt \(attempt) now \(now) random \(random) retryAfter \(String(describing: retryAfter)): \(d)")
                }
            }
        }
    }

    @Test func anInfiniteRetryAfterIsCappedNotIgnored() {
        let policy = RetryPolicy(RetrySettings())
        let d = policy.decide(attempt: 1, firstAttemptAt: 1_700_000_000, now: 1_700_000_000, retryAfter: .infinity, random: 0)
        #expect(d == .retry(at: 1_700_000_000 + RetrySettings().retryAfterCapSeconds))
    }

    // MARK: Config rejects rates that never refill

    static func diagnostics(_ text: String) -> [String] {
        do {
            _ = try ConfigParser.parse(Array(text.utf8), file: "taskbridge.json", kinds: TargetKinds.all)
            return []
        } catch {
            return error.diagnostics.map(\.description)
        }
    }

    static func widgetRate(_ scope: String, _ rate: String) -> String {
        #"{"sources": {"widget": {"kind": "widget", "rateLimit": {"\#(scope)": {"burst": 5, \#(rate)}}}}}"#
    }

    static func targetRate(_ rate: String) -> String {
        #"{"targets": {"gc": {"kind": "groupchat", "token": {"env": "T"}, "rateLimit": {"burst": 5, \#(rate)}}}, "#
            + #""sources": {"github": {"kind": "github", "secrets": [{"env": "S"}]}}}"#
    }

    @Test(arguments: [
        (widgetRate("perClient", #""perMinute": 0"#),
         "taskbridge.json: sources.widget.rateLimit.perClient.perMinute: 0 is out of range: must be greater than 0 and at most 60000000"),
        (widgetRate("perSource", #""perSecond": 0"#),
         "taskbridge.json: sources.widget.rateLimit.perSource.perSecond: 0 is out of range: must be greater than 0 and at most 1000000"),
        (widgetRate("perClient", #""perSecond": -1"#),
         "taskbridge.json: sources.widget.rateLimit.perClient.perSecond: -1 is out of range: must be greater than 0 and at most 1000000"),
        (widgetRate("perClient", #""perSecond": 1e400"#),
         "taskbridge.json: sources.widget.rateLimit.perClient.perSecond: a number too large to represent is out of range: must be greater than 0 and at most 1000000"),
        (targetRate(#""perMinute": 0"#),
         "taskbridge.json: targets.gc.rateLimit.perMinute: 0 is out of range: must be greater than 0 and at most 60000000"),
        (targetRate(#""perSecond": 0"#),
         "taskbridge.json: targets.gc.rateLimit.perSecond: 0 is out of range: must be greater than 0 and at most 1000000"),
    ])
    func zeroRatesAreLocatedConfigErrors(config: String, expected: String) {
        #expect(Self.diagnostics(config) == [expected])
    }

    @Test func aSmallPositiveRateIsAccepted() throws {
        let c = try ConfigParser.parse(Array(Self.targetRate(#""perMinute": 0.5"#).utf8), file: "taskbridge.json", kinds: TargetKinds.all)
        #expect(c.targets["gc"]?.rateLimit == RateLimitSettings(burst: 5, perSecond: 0.5 / 60))
    }

    @Test(arguments: [#""maxAttempts": 1e400"#, #""maxAttempts": -1e400"#, #""maxAttempts": 1e300"#])
    func hugeConfigIntegersAreLocatedErrors(member: String) {
        let config = #"{"targets": {"gc": {"kind": "groupchat", "token": {"env": "T"}, "retry": {\#(member)}}}, "#
            + #""sources": {"github": {"kind": "github", "secrets": [{"env": "S"}]}}}"#
        let d = Self.diagnostics(config)
        #expect(d.count == 1)
        #expect(d.first?.hasPrefix("taskbridge.json: targets.gc.retry.maxAttempts: ") == true, "\(d)")
        #expect(d.first?.contains("is out of range 1...100000") == true, "\(d)")
    }

    // MARK: Paths and filters with numbers in them

    @Test(arguments: ["body.items[99999999999999999999999]", "body.items[9223372036854775808]"])
    func hugePathIndexesAreParseErrors(path: String) {
        #expect(throws: FieldPathError.self) { try FieldPath(parsing: path) }
    }

    @Test func largeInRangeIndexesResolveToNothing() throws {
        let path = try FieldPath(parsing: "body.items[9223372036854775807]")
        #expect(path.resolveTail(in: ["items": [1, 2]]) == nil)
    }

    @Test(arguments: ["truncate 99999999999999999999999", "truncate -9223372036854775808", "truncate 0", "truncate 1e3"])
    func absurdTruncateLengthsAreParseErrors(filter: String) {
        #expect(throws: (any Error).self) { try Template(parsing: "{{ body.t | \(filter) }}") }
    }

    @Test func theLargestTruncateLengthKeepsTheText() throws {
        #expect(try Self.render("{{ body.due | truncate 9223372036854775807 }}", "hello").get() == "hello")
    }
}
