import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import TaskBridgeCore

/// The web console at `P/admin/`: sign-in and sign-out, the page shell and its assets.
/// Everything it shows comes from the admin API (`AdminController`) with the session
/// cookie; nothing here reads the store.
struct ConsoleController: Sendable {
    let runtime: TaskBridgeRuntime
    let prefix: String

    /// No script, style, frame or form may come from or go anywhere but this origin; no
    /// inline script or style runs, so injected markup cannot execute.
    static let contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        + "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

    var consolePath: String { "\(prefix)/admin/" }
    var loginPath: String { "\(prefix)/admin/login" }
    /// The cookie is sent only to the console and its API.
    var cookiePath: String { "\(prefix)/admin" }

    func register(on router: Router<TaskBridgeRequestContext>) {
        router.get("\(prefix)/admin") { req, ctx in self.shell(req, ctx) }
        router.get("\(prefix)/admin/login") { req, ctx in self.loginPage(req, ctx) }
        router.post("\(prefix)/admin/login") { req, ctx in try await self.signIn(req, ctx) }
        router.post("\(prefix)/admin/logout") { req, ctx in try await self.signOut(req, ctx) }
        router.get("\(prefix)/admin/assets/:name") { req, ctx in self.asset(req, ctx.parameters.get("name") ?? "") }
    }

    static func page(_ status: HTTPResponse.Status, _ html: String, headers extra: HTTPFields = [:]) -> Response {
        var h = pageHeaders
        for field in extra { h[field.name] = field.value }
        h[.contentType] = "text/html; charset=utf-8"
        return Response(status: status, headers: h, body: .init(byteBuffer: ByteBuffer(string: html)))
    }

    static let pageHeaders: HTTPFields = [
        .contentSecurityPolicy: contentSecurityPolicy, .xContentTypeOptions: "nosniff", .xFrameOptions: "DENY",
        .referrerPolicy: "no-referrer", .cacheControl: "no-store", .crossOriginOpenerPolicy: "same-origin",
    ]

    static func redirect(_ location: String, headers extra: HTTPFields = [:]) -> Response {
        var h = pageHeaders
        for field in extra { h[field.name] = field.value }
        h[.location] = location
        return Response(status: .seeOther, headers: h)
    }

    static let disabledPage = page(.notFound, """
        <!doctype html><meta charset="utf-8"><title>TaskBridge console</title>
        <p>The console is off: set <code>TASKBRIDGE_ADMIN_TOKEN</code> (<code>admin.token</code>) and restart TaskBridge.</p>
        """)

    var now: Double { Double(WallClock.nowMillis()) / 1000 }

    func shell(_ request: Request, _ context: TaskBridgeRequestContext) -> Response {
        guard runtime.adminAuth.token != nil else { return Self.disabledPage }
        // Relative links in the page (assets/…, login, logout) need the trailing slash.
        guard request.uri.path.hasSuffix("/") else { return Self.redirect(consolePath) }
        guard runtime.adminAuth.session(request.headers, now: now) != nil else { return Self.redirect(loginPath) }
        return Self.page(.ok, ConsoleAssets.index.text)
    }

    func loginPage(_ request: Request, _ context: TaskBridgeRequestContext, error: String? = nil,
                   status: HTTPResponse.Status = .ok, headers: HTTPFields = [:]) -> Response {
        guard runtime.adminAuth.token != nil else { return Self.disabledPage }
        if error == nil, runtime.adminAuth.session(request.headers, now: now) != nil { return Self.redirect(consolePath) }
        var html = ConsoleAssets.login.text
        if let error {
            html = html.replacingOccurrences(of: "<!--error-->",
                                             with: "<p id=\"login-error\" class=\"error\" role=\"alert\">\(HTMLText.escape(error))</p>")
        }
        return Self.page(status, html, headers: headers)
    }

    /// Sign-in form bodies are a few dozen bytes; anything much larger is not one.
    static let maxFormBytes = 8192

    func form(_ request: Request) async -> [String: String]? {
        guard let body = try? await request.body.collect(upTo: Self.maxFormBytes),
              let pairs = try? FormURLEncoding.decode(Array(buffer: body)) else { return nil }
        var fields: [String: String] = [:]
        for (k, v) in pairs where fields[k] == nil { fields[k] = v }
        return fields
    }

    func signIn(_ request: Request, _ context: TaskBridgeRequestContext) async throws -> Response {
        guard runtime.adminAuth.token != nil else { return Self.disabledPage }
        if case .forbidden(let why)? = AdminAuth.crossSite(request.headers) {
            return loginPage(request, context, error: why, status: .forbidden)
        }
        guard let fields = await form(request) else {
            return loginPage(request, context, error: "The sign-in form could not be read; try again.", status: .badRequest)
        }
        let random = Hex.randomBytes(16)
        let client = runtime.clientIP(request, context)
        let token = (fields["token"] ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        switch runtime.adminAuth.signIn(given: token, client: client, now: now, random: random) {
        case .success(let session):
            let value = session.cookieValue(adminToken: runtime.adminAuth.token ?? Secret(""))
            let cookie = AdminAuth.setCookie(value, path: cookiePath, secure: runtime.isHTTPS(request, context),
                                             maxAge: Int(AdminAuth.sessionSeconds))
            runtime.logger.notice("console sign-in", metadata: ["client": "\(client)"])
            return Self.redirect(consolePath, headers: [.setCookie: cookie])
        case .failure(.throttled(let after)):
            return loginPage(request, context, error: "Too many wrong tokens from this address; try again in \(after) s.",
                             status: .tooManyRequests, headers: [.retryAfter: "\(after)"])
        case .failure(.unauthenticated(let why)):
            runtime.logger.warning("console sign-in refused: wrong token", metadata: ["client": "\(client)"])
            return loginPage(request, context, error: why, status: .unauthorized)
        case .failure(let other):
            return loginPage(request, context, error: "\(other)", status: .forbidden)
        }
    }

    func signOut(_ request: Request, _ context: TaskBridgeRequestContext) async throws -> Response {
        guard let token = runtime.adminAuth.token else { return Self.disabledPage }
        let clear = AdminAuth.setCookie("", path: cookiePath, secure: runtime.isHTTPS(request, context), maxAge: 0)
        guard let session = runtime.adminAuth.session(request.headers, now: now) else {
            return Self.redirect(loginPath, headers: [.setCookie: clear])
        }
        let fields = await form(request) ?? [:]
        guard AdminAuth.crossSite(request.headers) == nil, session.acceptsCSRF(fields["csrf"], adminToken: token) else {
            return Self.page(.forbidden, """
                <!doctype html><meta charset="utf-8"><title>TaskBridge console</title>
                <p>Sign-out was refused: the request did not carry this session's CSRF token. <a href="\(HTMLText.escape(consolePath))">Back to the console</a></p>
                """)
        }
        runtime.adminAuth.signOut(session, now: now)
        return Self.redirect(loginPath, headers: [.setCookie: clear])
    }

    func asset(_ request: Request, _ name: String) -> Response {
        guard let asset = ConsoleAssets.byName[name] else { return JSONResponse.error(404, "no console asset \(name.prefix(60))") }
        // `no-cache`: revalidated on every load (a 304 when unchanged), so an upgrade's new
        // script is never mixed with an old page.
        return asset.response(request, cacheControl: "no-cache")
    }
}
