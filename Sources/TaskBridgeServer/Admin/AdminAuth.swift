import HTTPTypes
import Hummingbird
import Synchronization
import TaskBridgeCore

/// Who may use `/admin/`: the CLI with `Authorization: Bearer <token>`, or a person
/// signed in to the console with its session cookie. A session's state-changing requests
/// must carry its CSRF token; wrong tokens are throttled per client address.
final class AdminAuth: Sendable {
    let token: Secret?
    static let cookieName = "tb_session"
    /// How long a console sign-in lasts.
    static let sessionSeconds = 8.0 * 3600

    private let throttle = Mutex(SignInThrottle())
    /// Sessions signed out before they expire, by id. Per process: another replica
    /// accepts a signed-out cookie until it expires (the README says so).
    private let revoked = Mutex(Revocations())

    struct Revocations {
        /// Session id → its expiry (kept until then).
        var ids: [String: Int64] = [:]
        /// Sessions issued before this Unix second are refused (set when `ids` is full).
        var issuedBefore: Int64 = 0
    }

    init(token: Secret?) {
        self.token = token
    }

    enum Caller: Sendable {
        case bearer
        case session(ConsoleSession)
    }

    enum Refusal: Error, Sendable {
        /// No admin token is configured: the admin API and console are off.
        case disabled
        case unauthenticated(String)
        case forbidden(String)
        /// Too many wrong tokens from this client; retry after this many seconds.
        case throttled(Int)
    }

    /// Checks a request to the admin API. `mutating` is true for POSTs: a session must
    /// then send its CSRF token in `X-CSRF-Token`, and a cross-site request is refused.
    func authenticate(_ headers: HTTPFields, mutating: Bool, client: String, now: Double) -> Result<Caller, Refusal> {
        guard let token else { return .failure(.disabled) }
        // Only a bearer token is an attempt at the admin token: a proxy's Basic auth in
        // front of the console leaves the browser's cookie to speak.
        if let header = headers[.authorization], header.count >= 7, header.prefix(7).lowercased() == "bearer " {
            if let after = throttled(client, now) { return .failure(.throttled(after)) }
            let given = Array(header.utf8.dropFirst(7))
            guard !given.isEmpty, ConstantTime.equals(given, token.bytes) else {
                throttle.withLock { $0.recordFailure(client: client, now: now) }
                return .failure(.unauthenticated("missing or wrong admin token (send Authorization: Bearer <token>)"))
            }
            return .success(.bearer)
        }
        guard let session = session(headers, now: now) else {
            return .failure(.unauthenticated("not signed in: send Authorization: Bearer <token>, or sign in to the console at /admin/"))
        }
        if mutating {
            if let refusal = Self.crossSite(headers) { return .failure(refusal) }
            guard session.acceptsCSRF(headers[.xCSRFToken], adminToken: token) else {
                return .failure(.forbidden("missing or wrong CSRF token: console requests that change something must send X-CSRF-Token"))
            }
        }
        return .success(.session(session))
    }

    /// A browser's own word that the request came from another site (`Sec-Fetch-Site`).
    static func crossSite(_ headers: HTTPFields) -> Refusal? {
        guard let site = headers[.secFetchSite]?.lowercased() else { return nil }
        return site == "same-origin" || site == "none" ? nil : .forbidden("cross-site requests to the console are refused")
    }

    /// The signed-in session the request's cookie names, if any and still valid.
    func session(_ headers: HTTPFields, now: Double) -> ConsoleSession? {
        guard let token, let value = Cookies(from: headers[values: .cookie])[Self.cookieName]?.value,
              let session = ConsoleSession.verify(value, adminToken: token, now: now) else { return nil }
        let issuedAt = session.expiresAt - Int64(Self.sessionSeconds)
        return revoked.withLock { $0.ids[session.id] == nil && issuedAt >= $0.issuedBefore } ? session : nil
    }

    /// Signs in with the token typed into the console, or says why not.
    func signIn(given: String, client: String, now: Double, random: [UInt8]) -> Result<ConsoleSession, Refusal> {
        guard let token else { return .failure(.disabled) }
        if let after = throttled(client, now) { return .failure(.throttled(after)) }
        guard !given.isEmpty, ConstantTime.equals(Array(given.utf8), token.bytes) else {
            throttle.withLock { $0.recordFailure(client: client, now: now) }
            return .failure(.unauthenticated("That is not the admin token."))
        }
        return .success(ConsoleSession.issue(now: now, lifetimeSeconds: Self.sessionSeconds, random: random))
    }

    func signOut(_ session: ConsoleSession, now: Double) {
        revoked.withLock { r in
            r.ids = r.ids.filter { Double($0.value) > now }
            if r.ids.count < Self.maxRevoked {
                r.ids[session.id] = session.expiresAt
            } else {
                // Never forget a sign-out: past the bound, every session issued until now ends.
                r.ids.removeAll()
                r.issuedBefore = Int64(now.rounded(.down))
            }
        }
    }

    static let maxRevoked = 100_000

    private func throttled(_ client: String, _ now: Double) -> Int? {
        throttle.withLock { $0.retryAfter(client: client, now: now) }.map { max(1, Int($0.rounded(.up))) }
    }

    /// `Set-Cookie` for a session: scoped to the console's path, never readable by scripts,
    /// never sent cross-site, `Secure` when the client came over https.
    static func setCookie(_ value: String, path: String, secure: Bool, maxAge: Int) -> String {
        "\(cookieName)=\(value); Path=\(path); Max-Age=\(maxAge); HttpOnly; SameSite=Strict" + (secure ? "; Secure" : "")
    }
}
