/// `application/x-www-form-urlencoded` decoding (WHATWG): `&`-separated pairs, `+` is a
/// space, `%XX` escapes; malformed escapes are errors rather than guesses.
public enum FormURLEncoding {
    public struct DecodingError: Error, Sendable {
        public let reason: String
        /// The escapes were well-formed but the decoded bytes are not UTF-8.
        public var invalidUTF8 = false
    }

    /// Error offsets are byte offsets into `body`.
    public static func decode(_ body: [UInt8]) throws(DecodingError) -> [(String, String)] {
        var out: [(String, String)] = []
        for pair in body.split(separator: UInt8(ascii: "&"), omittingEmptySubsequences: true) {
            let parts = pair.split(separator: UInt8(ascii: "="), maxSplits: 1, omittingEmptySubsequences: false)
            let name = try unescape(parts[0], what: "a field name")
            let value = parts.count > 1 ? try unescape(parts[1], what: "the value of \"\(name.prefix(64))\"") : ""
            out.append((name, value))
        }
        return out
    }

    public static func encode(_ pairs: [(String, String)]) -> String {
        pairs.map { escape($0.0) + "=" + escape($0.1) }.joined(separator: "&")
    }

    static func escape(_ s: String) -> String {
        var out = ""
        for b in s.utf8 {
            switch b {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                 UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."),
                 UInt8(ascii: "_"), UInt8(ascii: "*"):
                out.unicodeScalars.append(Unicode.Scalar(b))
            case UInt8(ascii: " "): out += "+"
            default:
                let hex = String(b, radix: 16, uppercase: true)
                out += "%" + (b < 16 ? "0" : "") + hex
            }
        }
        return out
    }

    /// Percent-decodes one name or value; `bytes` is a slice of the body, so its indices
    /// are body offsets.
    static func unescape(_ bytes: ArraySlice<UInt8>, what: String) throws(DecodingError) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var i = bytes.startIndex
        while i < bytes.endIndex {
            let b = bytes[i]
            if b == UInt8(ascii: "+") {
                out.append(0x20)
            } else if b == UInt8(ascii: "%") {
                guard i + 2 < bytes.endIndex, let hi = hexValue(bytes[i + 1]), let lo = hexValue(bytes[i + 2]) else {
                    throw DecodingError(reason: "bad percent-escape at byte \(i)")
                }
                out.append(hi << 4 | lo)
                i += 2
            } else {
                out.append(b)
            }
            i += 1
        }
        if let bad = UTF8Validation.firstInvalidOffset(out) {
            // Map the decoded offset back to the body: each %XX is one decoded byte.
            var raw = bytes.startIndex
            for _ in 0..<bad { raw += bytes[raw] == UInt8(ascii: "%") ? 3 : 1 }
            throw DecodingError(
                reason: "invalid UTF-8 in form body at byte \(raw) (\(what), after percent-decoding): \(UTF8Validation.problem(out, at: bad))",
                invalidUTF8: true)
        }
        return String(decoding: out, as: UTF8.self)
    }

    static func hexValue(_ c: UInt8) -> UInt8? {
        switch c {
        case 0x30...0x39: c - 0x30
        case 0x61...0x66: c - 0x61 + 10
        case 0x41...0x46: c - 0x41 + 10
        default: nil
        }
    }
}
