import Testing
@testable import TaskBridgeCore

@Suite("Support: identifiers and timestamps")
struct SupportTests {
    struct FixedGenerator: RandomNumberGenerator {
        let value: UInt64
        mutating func next() -> UInt64 { value }
    }

    @Test func identifiersEncodeTimeThenRandomness() {
        var zeros = FixedGenerator(value: 0)
        #expect(Identifier.make(prefix: "evt", millis: 0, using: &zeros) == "evt_00000000000000000000000000")
        var ones = FixedGenerator(value: .max)
        #expect(Identifier.make(prefix: "job", millis: 1_700_000_000_000, using: &ones) == "job_01HF7YAT00ZZZZZZZZZZZZZZZZ")
        #expect(Identifier.make(prefix: "evt", millis: (1 << 48) - 1, using: &zeros) == "evt_7ZZZZZZZZZ0000000000000000")
        // Negative times clamp to zero.
        #expect(Identifier.make(prefix: "evt", millis: -5, using: &zeros) == "evt_00000000000000000000000000")
    }

    @Test func identifiersSortByTime() {
        let ids = [1_699_999_999_999, 1_700_000_000_000, 1_700_000_000_001, 1_800_000_000_000].map {
            Identifier.make(prefix: "evt", millis: Int64($0))
        }
        #expect(ids == ids.sorted())
        #expect(ids.allSatisfy { $0.count == 30 && $0.hasPrefix("evt_") })
        #expect(Set([Identifier.make(prefix: "x", millis: 1), Identifier.make(prefix: "x", millis: 1)]).count == 2)
    }

    @Test func isoTimestamps() {
        #expect(ISO8601.format(seconds: 1_700_000_000.999) == "2023-11-14T22:13:20Z")
        #expect(ISO8601.parseMillis("2023-11-14T22:13:20Z") == 1_700_000_000_000)
        #expect(ISO8601.parseMillis("2023-11-14T22:13:20.5Z") == 1_700_000_000_500)
        #expect(ISO8601.parseMillis("2023-11-15T00:13:20+02:00") == 1_700_000_000_000)
        #expect(ISO8601.parseMillis("2023-11-14") == 1_699_920_000_000)
        #expect(ISO8601.parseMillis("2023-11-14T22:13:20") == nil)
        #expect(ISO8601.parseMillis("2023-13-14") == nil)
        #expect(ISO8601.parseMillis("yesterday") == nil)
    }
}
