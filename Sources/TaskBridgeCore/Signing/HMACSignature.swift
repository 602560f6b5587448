import Crypto

/// HMAC-SHA256 checks for webhook signatures. Comparison is constant-time
/// (`isValidAuthenticationCode`), every configured secret is tried (rotation), and the
/// expected value is never returned or logged.
public enum HMACSignature {
    public enum Outcome: Sendable, Hashable {
        case valid
        case missing
        case malformed
        case mismatch
    }

    /// Verifies a hex HMAC-SHA256 of `body` against any of `secrets`.
    public static func verify(hex: String?, prefix: String = "", body: [UInt8], secrets: [Secret]) -> Outcome {
        guard let header = hex?.trimmingSpaces(), !header.isEmpty else { return .missing }
        guard header.lowercased().hasPrefix(prefix) else { return .malformed }
        let digits = header.dropFirst(prefix.count)
        guard let mac = decodeHex(digits), mac.count == SHA256.byteCount else { return .malformed }
        var matched = false
        for secret in secrets {
            let key = SymmetricKey(data: secret.bytes)
            if HMAC<SHA256>.isValidAuthenticationCode(mac, authenticating: body, using: key) { matched = true }
        }
        return matched ? .valid : .mismatch
    }

    /// Hex HMAC-SHA256, for signing test requests and benchmark traffic.
    public static func sign(_ body: [UInt8], secret: Secret) -> String {
        let mac = HMAC<SHA256>.authenticationCode(for: body, using: SymmetricKey(data: secret.bytes))
        return Hex.lowercase(mac)
    }

    static func decodeHex(_ s: Substring) -> [UInt8]? {
        guard s.utf8.count % 2 == 0 else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(s.utf8.count / 2)
        var high: UInt8?
        for c in s.utf8 {
            let v: UInt8
            switch c {
            case 0x30...0x39: v = c - 0x30
            case 0x61...0x66: v = c - 0x61 + 10
            case 0x41...0x46: v = c - 0x41 + 10
            default: return nil
            }
            if let h = high {
                out.append(h << 4 | v)
                high = nil
            } else {
                high = v
            }
        }
        return out
    }
}

/// Constant-time equality for bearer tokens: both sides are hashed first, so neither
/// the position of the first difference nor the length of the secret leaks.
public enum ConstantTime {
    public static func equals(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        let x = Array(SHA256.hash(data: a))
        let y = Array(SHA256.hash(data: b))
        var diff: UInt8 = 0
        for i in 0..<x.count { diff |= x[i] ^ y[i] }
        return diff == 0
    }
}
