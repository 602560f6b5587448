import Testing
@testable import TaskBridgeCore

@Suite("HMACSignature and ConstantTime")
struct SignatureTests {
    // GitHub's published test vector (Tests/Fixtures/SOURCES.md).
    static let docsSecret = Secret("It's a Secret to Everybody")
    static let docsPayload = Array("Hello, World!".utf8)
    static let docsDigest = "757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"

    @Test func signMatchesTheGitHubDocsVector() {
        #expect(HMACSignature.sign(Self.docsPayload, secret: Self.docsSecret) == Self.docsDigest)
    }

    @Test func verifiesTheGitHubDocsHeader() {
        #expect(HMACSignature.verify(hex: "sha256=" + Self.docsDigest, prefix: "sha256=", body: Self.docsPayload,
                                     secrets: [Self.docsSecret]) == .valid)
    }

    @Test(arguments: [
        "SHA256=757107EA0EB2509FC211221CCE984B8A37570B6D7586C22C46F4379C8B043E17",
        "sha256=757107EA0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17",
        "  sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17\t",
    ])
    func acceptsUpperCaseHexAndSurroundingSpace(header: String) {
        #expect(HMACSignature.verify(hex: header, prefix: "sha256=", body: Self.docsPayload, secrets: [Self.docsSecret]) == .valid)
    }

    @Test func rotationAcceptsAnyConfiguredSecret() {
        let old = Secret("old secret")
        let header = "sha256=" + Self.docsDigest
        #expect(HMACSignature.verify(hex: header, prefix: "sha256=", body: Self.docsPayload, secrets: [old, Self.docsSecret]) == .valid)
        #expect(HMACSignature.verify(hex: header, prefix: "sha256=", body: Self.docsPayload, secrets: [Self.docsSecret, old]) == .valid)
        #expect(HMACSignature.verify(hex: header, prefix: "sha256=", body: Self.docsPayload, secrets: [old]) == .mismatch)
    }

    @Test(arguments: [
        (String?.none, HMACSignature.Outcome.missing),
        ("", .missing),
        ("   ", .missing),
        ("757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17", .malformed),  // no prefix
        ("sha1=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17", .malformed),
        ("sha256=", .malformed),
        ("sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e1", .malformed),  // 63 digits
        ("sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17aa", .malformed),  // 33 bytes
        ("sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e1g", .malformed),
        ("sha256=757107ea 0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17", .malformed),
        ("sha256=0000000000000000000000000000000000000000000000000000000000000000", .mismatch),
        ("sha256=857107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17", .mismatch),
    ])
    func outcomes(header: String?, expected: HMACSignature.Outcome) {
        #expect(HMACSignature.verify(hex: header, prefix: "sha256=", body: Self.docsPayload, secrets: [Self.docsSecret]) == expected)
    }

    @Test func aChangedBodyIsAMismatch() {
        #expect(HMACSignature.verify(hex: "sha256=" + Self.docsDigest, prefix: "sha256=", body: Array("Hello, World?".utf8),
                                     secrets: [Self.docsSecret]) == .mismatch)
    }

    @Test func noSecretsMeansNothingVerifies() {
        #expect(HMACSignature.verify(hex: "sha256=" + Self.docsDigest, prefix: "sha256=", body: Self.docsPayload, secrets: []) == .mismatch)
    }

    @Test func sentryStyleHasNoPrefix() {
        #expect(HMACSignature.verify(hex: Self.docsDigest, body: Self.docsPayload, secrets: [Self.docsSecret]) == .valid)
        #expect(HMACSignature.verify(hex: "sha256=" + Self.docsDigest, body: Self.docsPayload, secrets: [Self.docsSecret]) == .malformed)
    }

    @Test func signsARealFixtureOverItsExactBytes() {
        let body = Fixtures.bytes("sentry/issue.created")
        let secret = Secret("sentry client secret")
        let sig = HMACSignature.sign(body, secret: secret)
        #expect(sig.count == 64)
        #expect(sig.allSatisfy { "0123456789abcdef".contains($0) })
        #expect(HMACSignature.verify(hex: sig, body: body, secrets: [secret]) == .valid)
        #expect(HMACSignature.verify(hex: sig, body: body + [0x0A], secrets: [secret]) == .mismatch)
    }

    @Test func secretsNeverPrintTheirValue() {
        let s = Secret("hunter2")
        #expect(s.description == "<redacted>")
        #expect(s.debugDescription == "<redacted>")
        #expect("\(s)" == "<redacted>")
        #expect(String(reflecting: s) == "<redacted>")
        #expect(s.text == "hunter2")
    }

    @Test(arguments: [
        ("token", "token", true),
        ("", "", true),
        ("token", "tokem", false),
        ("token", "token ", false),
        ("token", "", false),
        ("a-much-longer-admin-token", "a", false),
    ])
    func constantTimeEquals(a: String, b: String, equal: Bool) {
        #expect(ConstantTime.equals(Array(a.utf8), Array(b.utf8)) == equal)
        #expect(ConstantTime.equals(Array(b.utf8), Array(a.utf8)) == equal)
    }
}
