import FuzzSupport
import TaskBridgeCore

/// Webhook signature headers: GitHub `X-Hub-Signature-256: sha256=<hex>` and Sentry
/// `Sentry-Hook-Signature: <hex>`, for two fixed secrets (rotation).
///
/// Input: one selector byte (bit 0: GitHub or Sentry form), the header value, a NUL
/// byte, the body. Invariants:
/// - the outcome is exactly what a reference classifier says: missing (absent or blank
///   after trimming spaces and tabs), malformed (not the prefix, case-insensitively, plus
///   64 hex digits), else valid exactly when the digits equal one secret's HMAC;
/// - so a random signature is never accepted: `.valid` implies the header spells a
///   secret's real HMAC of this body;
/// - the real HMAC of this body, for either secret, in lower or upper case and padded
///   with spaces, is accepted; one flipped digit is a mismatch;
/// - the GitHub and Sentry adapters agree with `HMACSignature.verify`.
let secrets = [Secret("fuzz-secret-one"), Secret("an older, rotated secret")]

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    let input = fuzzBytes(start, count)
    guard let selector = input.first else { return 0 }
    let (headerBytes, body) = splitOnce(Array(input.dropFirst()))
    let github = selector & 1 == 0
    let prefix = github ? "sha256=" : ""
    let header = String(decoding: headerBytes, as: UTF8.self)
    let macs = secrets.map { HMACSignature.sign(body, secret: $0) }

    let outcome = HMACSignature.verify(hex: header, prefix: prefix, body: body, secrets: secrets)
    let want = reference(header, prefix: prefix, macs: macs)
    invariant(outcome == want, "verify(\(escaped(header)), prefix \(escaped(prefix))) is \(outcome), expected \(want)")
    if outcome == .valid {
        let digits = String(trimmed(header).utf8.dropFirst(prefix.utf8.count)).map { $0.lowercased() }
        invariant(digits.map { macs.contains($0) } == true, "accepted a signature that is no secret's HMAC: \(escaped(header))")
    }
    if selector & 2 == 0 {
        invariant(HMACSignature.verify(hex: nil, prefix: prefix, body: body, secrets: secrets) == .missing, "absent header is not missing")
        for mac in macs {
            for candidate in [prefix + mac, (prefix + mac).uppercased(), " \t" + prefix + mac + " "] {
                invariant(HMACSignature.verify(hex: candidate, prefix: prefix, body: body, secrets: secrets) == .valid,
                          "the real HMAC \(escaped(candidate)) is not accepted for body \(escaped(body))")
            }
            var flipped = Array(mac.utf8)
            let at = Int(selector >> 2) % flipped.count
            flipped[at] = flipped[at] == UInt8(ascii: "0") ? UInt8(ascii: "1") : UInt8(ascii: "0")
            invariant(HMACSignature.verify(hex: prefix + String(decoding: flipped, as: UTF8.self), prefix: prefix, body: body,
                                           secrets: secrets) == .mismatch, "a one-digit change is not a mismatch")
        }
        invariant(HMACSignature.verify(hex: prefix + macs[0], prefix: prefix, body: body, secrets: []) == .mismatch,
                  "a signature verified with no secrets")
    }
    let adapterError: IngressError?
    if github {
        adapterError = GitHubAdapter().verify(HeaderFields([("X-Hub-Signature-256", header)]), body: body, secrets: secrets)
    } else {
        adapterError = SentryAdapter().verify(HeaderFields([("Sentry-Hook-Signature", header)]), body: body, secrets: secrets)
    }
    invariant((adapterError == nil) == (outcome == .valid), "adapter and HMACSignature disagree on \(escaped(header)): \(String(describing: adapterError))")
    if let adapterError { invariant(adapterError.status == 401, "signature failure answered \(adapterError.status)") }

    let (a, b) = splitOnce(body)
    invariant(ConstantTime.equals(a, b) == (a == b), "ConstantTime.equals disagrees with ==")
    return 0
}

func trimmed(_ s: String) -> String {
    var u = Substring(s)
    while let f = u.first, f == " " || f == "\t" { u = u.dropFirst() }
    while let l = u.last, l == " " || l == "\t" { u = u.dropLast() }
    return String(u)
}

func lowerASCII(_ b: UInt8) -> UInt8 { b >= 0x41 && b <= 0x5A ? b + 0x20 : b }

func reference(_ header: String, prefix: String, macs: [String]) -> HMACSignature.Outcome {
    let t = trimmed(header)
    if t.isEmpty { return .missing }
    let bytes = Array(t.utf8)
    let p = Array(prefix.utf8)
    guard bytes.count == p.count + 64 else { return .malformed }
    for (i, c) in p.enumerated() where lowerASCII(bytes[i]) != c { return .malformed }
    let digits = bytes[p.count...]
    let isHex = digits.allSatisfy { (0x30...0x39).contains($0) || (0x61...0x66).contains($0) || (0x41...0x46).contains($0) }
    guard isHex else { return .malformed }
    let lower = String(decoding: digits.map { $0 >= 0x41 && $0 <= 0x46 ? $0 + 0x20 : $0 }, as: UTF8.self)
    return macs.contains(lower) ? .valid : .mismatch
}

/// The program's entry point (SwiftPM links `main` to `<module>_main`).
@_cdecl("fuzz_signature_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runLibFuzzer(argc, argv, fuzz) { _ = secrets }
}
