import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import TaskBridgeCore
import TaskBridgeStore

/// `POST {prefix}/hooks/{source}`: refuse early (unknown source, origin, rate limit,
/// content type, size), verify, plan, commit — and only then answer 202.
struct IngressController: Sendable {
    let runtime: TaskBridgeRuntime

    func register(on router: Router<TaskBridgeRequestContext>, prefix: String) {
        router.post("\(prefix)/hooks/:source") { request, context in
            try await self.receive(request, context)
        }
        router.on("\(prefix)/hooks/:source", method: .options) { request, context in
            self.preflight(request, context)
        }
    }

    /// CORS headers for an allowed browser origin (exact match), else none.
    func corsHeaders(_ source: SourceRuntime, origin: String?) -> HTTPFields {
        guard let origin, let normalized = Origin.normalize(origin), source.allowedOrigins.contains(normalized) else { return [:] }
        var h = HTTPFields()
        h[.accessControlAllowOrigin] = origin
        h[.vary] = "Origin"
        // The widget reads Retry-After to say when to try again after a 429.
        h[.accessControlExposeHeaders] = "Retry-After"
        return h
    }

    func preflight(_ request: Request, _ context: TaskBridgeRequestContext) -> Response {
        let name = context.parameters.get("source") ?? ""
        guard let source = runtime.sources[name] else { return JSONResponse.error(404, "unknown source \"\(name)\"") }
        guard source.config.kind == .widget else {
            return JSONResponse.error(405, "source \"\(name)\" is not called from browsers; use POST")
        }
        var h = corsHeaders(source, origin: request.headers[.origin])
        guard !h.isEmpty else { return JSONResponse.error(403, "origin \(request.headers[.origin].map { "\"\($0.prefix(200))\"" } ?? "(none)") is not allowed for source \"\(name)\"") }
        h[.accessControlAllowMethods] = "POST, OPTIONS"
        h[.accessControlAllowHeaders] = "Content-Type, Idempotency-Key"
        h[.accessControlMaxAge] = "600"
        return Response(status: .noContent, headers: h)
    }

    func receive(_ request: Request, _ context: TaskBridgeRequestContext) async throws -> Response {
        let name = context.parameters.get("source") ?? ""
        guard let source = runtime.sources[name] else {
            runtime.metrics.rejected(source: "unknown", status: 404)
            return JSONResponse.error(404, "unknown source \"\(String(name.prefix(100)))\"")
        }
        let ip = runtime.clientIP(request, context)
        var cors: HTTPFields = [:]
        if source.config.kind == .widget, let origin = request.headers[.origin] {
            cors = corsHeaders(source, origin: origin)
            if cors.isEmpty { return reject(source, ip, IngressError.forbidden("origin \"\(origin.prefix(200))\" is not allowed"), cors) }
        }
        if let after = source.rateLimit(clientIP: ip, now: MonotonicClock.seconds()) {
            return reject(source, ip, IngressError(status: 429, message: "too many requests; retry later", retryAfter: max(1, Int(after.rounded(FloatingPointRoundingRule.up)))), cors)
        }
        var headers = HeaderFields()
        for field in request.headers { headers.append(field.name.canonicalName, field.value) }
        if let error = source.unavailableReason.map({ IngressError(status: 503, message: "source \"\(name)\" is not configured: its secret is not set", retryAfter: 60, reasonForLog: $0) })
            ?? source.planner.precheck(headers) {
            return reject(source, ip, error, cors)
        }
        let limit = source.config.maxBodyBytes
        let declared = request.headers[.contentLength].flatMap({ Int($0) })
        if let length = declared, length > limit {
            return reject(source, ip, IngressError.payloadTooLarge("body of \(length) bytes exceeds the \(limit)-byte limit of source \"\(name)\""), cors)
        }
        // Every byte buffered is reserved in the global budget first (the declared length
        // up front, else chunk by chunk) and given back when this request is answered,
        // however it ends — success, refusal, a thrown error or a client that went away.
        var reservation = BodyReservation(budget: runtime.bodyBudget)
        defer { reservation.release() }
        if let length = declared, !reservation.grow(to: length) {
            return reject(source, ip, bodyBudgetExceeded(), cors)
        }
        var body = ByteBuffer()
        for try await chunk in request.body {
            let size = body.readableBytes + chunk.readableBytes
            if size > limit {
                return reject(source, ip, IngressError.payloadTooLarge("body exceeds the \(limit)-byte limit of source \"\(name)\""), cors)
            }
            if !reservation.grow(to: size) { return reject(source, ip, bodyBudgetExceeded(), cors) }
            if body.readableBytes == 0 { body.reserveCapacity(declared ?? chunk.readableBytes) }
            body.writeImmutableBuffer(chunk)
        }
        let received = WallClock.nowMillis()
        let eventId = Identifier.make(prefix: "evt", millis: received)
        let planned: PlannedEvent
        do {
            planned = try source.planner.plan(
                IngestPlanner.Request(headers: headers, body: Array(buffer: body), clientIP: ip, receivedAtMillis: received),
                rules: runtime.rules, eventId: eventId)
        } catch {
            return reject(source, ip, error, cors)
        }
        if planned.discard {
            runtime.metrics.event(source: name, type: planned.type, outcome: "discarded")
            runtime.logger.info("widget honeypot filled; submission dropped", metadata: ["source": "\(name)", "client_ip": "\(ip)"])
            return JSONResponse.make(.accepted, ["event": .string(eventId), "duplicate": false], headers: cors)
        }
        let outcome: IngestOutcome
        do {
            outcome = try await runtime.store.ingest(planned)
        } catch {
            runtime.logger.error("could not store event", metadata: ["source": "\(name)", "event": "\(eventId)", "error": "\(error)"])
            runtime.metrics.rejected(source: name, status: 503)
            var h = cors
            h[.retryAfter] = "5"
            return JSONResponse.error(503, "the event could not be stored; retry shortly", headers: h)
        }
        if outcome.duplicate {
            runtime.metrics.event(source: name, type: planned.type, outcome: "duplicate")
            runtime.logger.info("duplicate event", metadata: ["source": "\(name)", "event": "\(outcome.eventId)", "type": "\(planned.type)",
                                                              "dedupe_key": "\(planned.dedupeKey ?? "")"])
            return JSONResponse.make(.ok, ["event": .string(outcome.eventId), "duplicate": true], headers: cors)
        }
        runtime.metrics.event(source: name, type: planned.type, outcome: planned.status.rawValue)
        runtime.logger.info("event accepted", metadata: [
            "source": "\(name)", "event": "\(outcome.eventId)", "type": "\(planned.type)", "status": "\(planned.status.rawValue)",
            "jobs": "\(outcome.jobsPlanned)", "client_ip": "\(ip)",
        ])
        if outcome.jobsPlanned > 0 { runtime.wake.signal() }
        return JSONResponse.make(.accepted, ["event": .string(outcome.eventId), "duplicate": false], headers: cors)
    }

    func bodyBudgetExceeded() -> IngressError {
        let budget = runtime.bodyBudget
        return IngressError(status: 503, message: "too many request bodies are being received at once; retry shortly", retryAfter: 2,
                            reasonForLog: "request bodies in flight would exceed server.maxBufferedBodyBytes (\(budget.limit) bytes; \(budget.reserved) reserved)")
    }

    func reject(_ source: SourceRuntime, _ ip: String, _ error: IngressError, _ cors: HTTPFields) -> Response {
        runtime.metrics.rejected(source: source.config.name, status: error.status)
        var h = cors
        if let after = error.retryAfter { h[.retryAfter] = String(after) }
        let level: Logger.Level = error.status == 503 ? .error : .notice
        runtime.logger.log(level: level, "webhook refused", metadata: [
            "source": "\(source.config.name)", "status": "\(error.status)", "reason": "\(error.reasonForLog ?? error.message)", "client_ip": "\(ip)",
        ])
        return JSONResponse.error(error.status, error.message, headers: h)
    }
}

/// The bytes one request holds in the ``BodyBudget``; released exactly once.
struct BodyReservation {
    let budget: BodyBudget
    private(set) var held = 0

    init(budget: BodyBudget) {
        self.budget = budget
    }

    /// Holds at least `bytes`, reserving the difference; `false` if the budget is spent.
    mutating func grow(to bytes: Int) -> Bool {
        guard bytes > held else { return true }
        guard budget.tryReserve(bytes - held) else { return false }
        held = bytes
        return true
    }

    mutating func release() {
        budget.release(held)
        held = 0
    }
}
