import FuzzSupport
import TaskBridgeCore

/// application/x-www-form-urlencoded decoding, against an independent reference decoder.
/// Invariants:
/// - `decode` succeeds exactly when every `%` starts two hex digits and every unescaped
///   name and value is valid UTF-8 (strict RFC 3629), and then returns the reference's pairs;
/// - decoded strings are valid Unicode whose UTF-8 is exactly the unescaped bytes (nothing
///   repaired, no U+FFFD invented);
/// - `encode` then `decode` gives the same pairs back;
/// - a GitHub form body yields its first `payload` field's bytes as the JSON document.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    let input = fuzzBytes(start, count)
    let expected = referenceDecode(input)
    let actual = Result { () throws(FormURLEncoding.DecodingError) in try FormURLEncoding.decode(input) }
    switch (expected, actual) {
    case (nil, .failure):
        break
    case (nil, .success(let pairs)):
        invariant(false, "decode accepts a body the reference rejects: \(escaped(input)) → \(pairs.map { (escaped($0.0), escaped($0.1)) })")
    case (.some, .failure(let e)):
        invariant(false, "decode rejects (\(e.reason)) a body the reference accepts: \(escaped(input))")
    case (let want?, .success(let pairs)):
        invariant(pairs.count == want.count, "decode gives \(pairs.count) pairs, reference \(want.count): \(escaped(input))")
        for (i, (name, value)) in pairs.enumerated() {
            invariant(Array(name.utf8) == want[i].0 && Array(value.utf8) == want[i].1,
                      "pair \(i) is (\(escaped(name)), \(escaped(value))), reference (\(escaped(want[i].0)), \(escaped(want[i].1))): \(escaped(input))")
            invariant(isValidUTF8(Array(name.utf8)) && isValidUTF8(Array(value.utf8)), "decoded an invalid string")
        }
        let encoded = FormURLEncoding.encode(pairs)
        let again = try? FormURLEncoding.decode(Array(encoded.utf8))
        invariant(again.map { $0.map { [$0.0, $0.1] } } == pairs.map { [$0.0, $0.1] },
                  "encode/decode round trip changed the pairs: \(escaped(encoded))")

        let headers = HeaderFields([("Content-Type", "application/x-www-form-urlencoded")])
        let document = Result { () throws(IngressError) in try GitHubAdapter().payloadDocument(headers, body: input) }
        let payload = pairs.first { $0.0 == "payload" }?.1
        switch (document, payload) {
        case (.success(let doc), let p?): invariant(doc == Array(p.utf8), "GitHub form payload differs from the payload field")
        case (.failure, nil): break
        case (.success, nil): invariant(false, "GitHub adapter found a payload field that is not there")
        case (.failure(let e), .some): invariant(false, "GitHub adapter rejected a form with a payload field: \(e)")
        }
    }
    return 0
}

/// WHATWG form decoding with strict escapes and strict UTF-8, written from the spec.
func referenceDecode(_ body: [UInt8]) -> [([UInt8], [UInt8])]? {
    func hex(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): c - UInt8(ascii: "A") + 10
        default: nil
        }
    }
    func unescape(_ s: ArraySlice<UInt8>) -> [UInt8]? {
        let b = Array(s)
        var out: [UInt8] = []
        var i = 0
        while i < b.count {
            switch b[i] {
            case UInt8(ascii: "+"): out.append(0x20); i += 1
            case UInt8(ascii: "%"):
                guard i + 2 < b.count, let h = hex(b[i + 1]), let l = hex(b[i + 2]) else { return nil }
                out.append(h * 16 + l)
                i += 3
            default: out.append(b[i]); i += 1
            }
        }
        return isValidUTF8(out) ? out : nil
    }
    var pairs: [([UInt8], [UInt8])] = []
    var start = 0
    for end in body.indices where body[end] == UInt8(ascii: "&") || end == body.count - 1 {
        let stop = body[end] == UInt8(ascii: "&") ? end : end + 1
        defer { start = end + 1 }
        if stop == start { continue }
        let piece = body[start..<stop]
        if let eq = piece.firstIndex(of: UInt8(ascii: "=")) {
            guard let n = unescape(body[start..<eq]), let v = unescape(body[(eq + 1)..<stop]) else { return nil }
            pairs.append((n, v))
        } else {
            guard let n = unescape(piece) else { return nil }
            pairs.append((n, []))
        }
    }
    return pairs
}

/// The program's entry point (SwiftPM links `main` to `<module>_main`).
@_cdecl("fuzz_form_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runLibFuzzer(argc, argv, fuzz)
}
