import Crypto

/// A console sign-in, carried whole in its cookie and signed with a key derived from the
/// admin token: every replica that shares the token accepts it without a session table,
/// and changing the token signs everyone out. The CSRF token is derived from the session
/// with a second key, so it can be checked without storing it either.
public struct ConsoleSession: Sendable, Hashable {
    /// 128 random bits, hex: names the session (sign-out revokes it by this id).
    public let id: String
    /// Unix seconds after which the cookie is refused.
    public let expiresAt: Int64

    public init(id: String, expiresAt: Int64) {
        self.id = id
        self.expiresAt = expiresAt
    }

    static let version = "v1"

    /// A new session that lasts `lifetimeSeconds` from `now`.
    public static func issue(now: Double, lifetimeSeconds: Double, random: [UInt8]) -> ConsoleSession {
        ConsoleSession(id: Hex.lowercase(random), expiresAt: Int64((now + lifetimeSeconds).rounded(.down)))
    }

    /// The cookie value: `v1.<id>.<expiresAt>.<mac>`.
    public func cookieValue(adminToken: Secret) -> String {
        let body = "\(Self.version).\(id).\(expiresAt)"
        return body + "." + Self.mac(body, key: Self.key(adminToken, purpose: "session"))
    }

    /// The session a cookie value names, when it is well-formed, signed with this token
    /// and not expired; otherwise `nil`. The signature is compared in constant time.
    public static func verify(_ cookie: String, adminToken: Secret, now: Double) -> ConsoleSession? {
        let parts = cookie.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4, parts[0] == Self.version, parts[1].utf8.count == 32,
              parts[1].utf8.allSatisfy(isLowerHex), let expiresAt = Int64(parts[2]) else { return nil }
        let body = parts[0...2].joined(separator: ".")
        let expected = mac(body, key: key(adminToken, purpose: "session"))
        guard ConstantTime.equals(Array(parts[3].utf8), Array(expected.utf8)), Double(expiresAt) > now else { return nil }
        return ConsoleSession(id: String(parts[1]), expiresAt: expiresAt)
    }

    /// The token every state-changing console request must send back (`X-CSRF-Token`, or
    /// the `csrf` form field of sign-out).
    public func csrfToken(adminToken: Secret) -> String {
        Self.mac("csrf.\(id).\(expiresAt)", key: Self.key(adminToken, purpose: "csrf"))
    }

    public func acceptsCSRF(_ given: String?, adminToken: Secret) -> Bool {
        guard let given, !given.isEmpty else { return false }
        return ConstantTime.equals(Array(given.utf8), Array(csrfToken(adminToken: adminToken).utf8))
    }

    static func key(_ token: Secret, purpose: String) -> SymmetricKey {
        HKDF<SHA256>.deriveKey(inputKeyMaterial: SymmetricKey(data: token.bytes), salt: Array("taskbridge-console".utf8),
                               info: Array(purpose.utf8), outputByteCount: 32)
    }

    static func mac(_ text: String, key: SymmetricKey) -> String {
        Hex.lowercase(HMAC<SHA256>.authenticationCode(for: Array(text.utf8), using: key))
    }

    static func isLowerHex(_ c: UInt8) -> Bool { (0x30...0x39).contains(c) || (0x61...0x66).contains(c) }
}
