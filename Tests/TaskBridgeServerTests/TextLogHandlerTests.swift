import Logging
import Testing
@testable import TaskBridgeServer

@Suite struct TextLogHandlerTests {
    static func line(_ message: String, base: Logger.Metadata = [:], _ explicit: Logger.Metadata?) -> String {
        TextLogHandler.line(timestamp: "2026-11-22T17:50:00.123Z", level: .info, label: "taskbridge", message: message,
                            base: base, explicit: explicit)
    }

    @Test func writesTimestampLevelLabelMessageAndSortedMetadata() {
        #expect(Self.line("delivery attempt", ["outcome": "ok", "job": "j_1", "attempt": "2"])
            == "2026-11-22T17:50:00.123Z info taskbridge: delivery attempt attempt=2 job=j_1 outcome=ok\n")
        #expect(Self.line("ready", nil) == "2026-11-22T17:50:00.123Z info taskbridge: ready\n")
    }

    @Test func explicitMetadataWinsOverTheHandlers() {
        #expect(Self.line("m", base: ["job": "base", "target": "groupchat"], ["job": "j_2"])
            == "2026-11-22T17:50:00.123Z info taskbridge: m job=j_2 target=groupchat\n")
    }

    @Test func quotesValuesWithSpacesQuotesOrEqualsAndEmptyValues() {
        #expect(Self.line("m", ["reason": "target x is gone", "q": #"say "hi""#, "eq": "a=b", "e": "", "p": #"C:\dir"#])
            == #"2026-11-22T17:50:00.123Z info taskbridge: m e="" eq="a=b" p=C:\dir q="say \"hi\"" reason="target x is gone""# + "\n")
    }

    @Test func keepsEveryEventOnOneLine() {
        // A payload-derived error must not be able to forge a second log line.
        let line = Self.line("bad\npayload", ["error": "boom\n2026-11-22T00:00:00.000Z info taskbridge: forged\u{7}"])
        #expect(line.filter { $0 == "\n" }.count == 1)
        #expect(line == #"2026-11-22T17:50:00.123Z info taskbridge: bad\npayload error="boom\n2026-11-22T00:00:00.000Z info taskbridge: forged\u0007""# + "\n")
    }

    @Test func rendersArraysAndDictionaries() {
        #expect(Self.line("m", ["ids": .array(["a", "b"]), "d": .dictionary(["z": "1", "a": "2"])])
            == #"2026-11-22T17:50:00.123Z info taskbridge: m d="[a: 2, z: 1]" ids="[a, b]""# + "\n")
    }

    @Test func timestampsAreUTCWithMilliseconds() {
        #expect(LogTimestamp.format(seconds: 1_700_000_000, nanoseconds: 5_000_000) == "2023-11-14T22:13:20.005Z")
        #expect(LogTimestamp.format(seconds: 1_700_000_000, nanoseconds: 999_999_999) == "2023-11-14T22:13:20.999Z")
        #expect(LogTimestamp.format(seconds: 0, nanoseconds: 40_000_000) == "1970-01-01T00:00:00.040Z")
    }
}
