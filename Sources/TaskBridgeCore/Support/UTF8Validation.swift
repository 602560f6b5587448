/// Strict UTF-8 checking (Unicode 15, table 3-7): no overlong forms, no surrogates
/// (`ED A0…BF`), nothing above U+10FFFF, no stray continuation bytes, no truncated
/// sequences. JSON text must be UTF-8 (RFC 8259 §8.1), and so must a percent-decoded
/// form value; TaskBridge refuses anything else rather than replacing it with U+FFFD.
public enum UTF8Validation {
    /// The length (2…4) of the valid sequence at `p`, whose first byte is ≥ 0x80, or 0
    /// if the bytes there are not UTF-8.
    @inline(__always)
    static func multiByteLength(_ b: UnsafeBufferPointer<UInt8>, at p: Int) -> Int {
        let lead = b[p]
        let n = b.count
        switch lead {
        case 0xC2...0xDF:
            guard p + 1 < n, b[p + 1] & 0xC0 == 0x80 else { return 0 }
            return 2
        case 0xE0...0xEF:
            guard p + 2 < n else { return 0 }
            let c1 = b[p + 1]
            let low: UInt8 = lead == 0xE0 ? 0xA0 : 0x80
            let high: UInt8 = lead == 0xED ? 0x9F : 0xBF
            guard c1 >= low, c1 <= high, b[p + 2] & 0xC0 == 0x80 else { return 0 }
            return 3
        case 0xF0...0xF4:
            guard p + 3 < n else { return 0 }
            let c1 = b[p + 1]
            let low: UInt8 = lead == 0xF0 ? 0x90 : 0x80
            let high: UInt8 = lead == 0xF4 ? 0x8F : 0xBF
            guard c1 >= low, c1 <= high, b[p + 2] & 0xC0 == 0x80, b[p + 3] & 0xC0 == 0x80 else { return 0 }
            return 4
        default:
            return 0
        }
    }

    /// The offset of the first byte that is not part of valid UTF-8, or `nil` when all
    /// of `bytes` is UTF-8. ASCII is checked eight bytes at a time.
    public static func firstInvalidOffset(_ bytes: [UInt8]) -> Int? {
        bytes.withUnsafeBufferPointer { b -> Int? in
            guard let base = b.baseAddress else { return nil }
            var i = 0
            while i < b.count {
                while i + 8 <= b.count,
                      UnsafeRawPointer(base + i).loadUnaligned(as: UInt64.self) & 0x8080_8080_8080_8080 == 0 {
                    i += 8
                }
                guard i < b.count else { return nil }
                if b[i] < 0x80 {
                    i += 1
                    continue
                }
                let n = multiByteLength(b, at: i)
                if n == 0 { return i }
                i += n
            }
            return nil
        }
    }

    /// Why the bytes at `p` are not UTF-8, for an error message (`p` must be an offset
    /// ``firstInvalidOffset(_:)`` or ``multiByteLength(_:at:)`` refused).
    static func problem(_ b: UnsafeBufferPointer<UInt8>, at p: Int) -> String {
        let lead = b[p]
        let hex = "0x" + String(lead, radix: 16, uppercase: true)
        switch lead {
        case 0x80...0xBF: return "\(hex) is a continuation byte without a lead byte"
        case 0xC0, 0xC1, 0xF5...0xFF: return "\(hex) never appears in UTF-8"
        default:
            let need = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : 2
            if p + need > b.count { return "sequence starting with \(hex) is truncated" }
            return "sequence starting with \(hex) is malformed (a bad continuation byte, an overlong form, a surrogate, or beyond U+10FFFF)"
        }
    }

    public static func problem(_ bytes: [UInt8], at p: Int) -> String {
        bytes.withUnsafeBufferPointer { problem($0, at: p) }
    }
}
