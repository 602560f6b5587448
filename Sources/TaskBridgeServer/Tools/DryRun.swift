import AsyncHTTPClient
import Synchronization
import TaskBridgeCore
import TaskBridgeTargets

/// `taskbridge test`: runs a payload through the rules and shows what would be sent —
/// matched rules, why others did not match, and the exact requests per step (secrets
/// redacted). Nothing is sent unless `live` is set.
public struct DryRun: Sendable {
    public let config: TaskBridgeConfig
    public let rules: RuleSet
    public let environment: [String: String]

    public init(config: TaskBridgeConfig, rules: RuleSet, environment: [String: String]) {
        self.config = config
        self.rules = rules
        self.environment = environment
    }

    public struct SentRequest: Sendable {
        public var method: String
        public var path: String
        public var headers: [(String, String)]
        public var body: JSONValue?
    }

    public struct StepReport: Sendable {
        public var index: Int
        public var id: String
        public var action: String
        public var target: String
        public var requests: [SentRequest]
        public var output: JSONValue?
        public var error: String?
    }

    public struct MatchReport: Sendable {
        public var ruleId: String
        public var file: String
        public var orderingKey: String?
        public var captures: [String: String]
        public var steps: [StepReport]
    }

    public struct Report: Sendable {
        public var source: String
        public var type: String
        public var dedupeKey: String?
        public var producesWork: Bool
        public var matches: [MatchReport]
        public var notMatched: [(rule: String, reason: String)]
    }

    public enum Failure: Error, CustomStringConvertible {
        case unknownSource(String, known: [String])
        case badRequest(String)

        public var description: String {
            switch self {
            case .unknownSource(let s, let known): "unknown source \"\(s)\"; configured: \(known.joined(separator: ", "))"
            case .badRequest(let m): m
            }
        }
    }

    /// Fills in headers a provider always sends but a file on disk lacks, so a payload
    /// can be tried as is.
    func withDefaults(_ headers: HeaderFields, kind: SourceKind) -> HeaderFields {
        var h = headers
        if h["content-type"] == nil { h.append("content-type", "application/json") }
        switch kind {
        case .github where h["x-github-delivery"] == nil: h.append("x-github-delivery", "dry-run")
        case .sentry where h["request-id"] == nil: h.append("request-id", "dry-run")
        default: break
        }
        return h
    }

    public func run(source name: String, headers given: HeaderFields, body: [UInt8], live: Bool,
                    client: HTTPClient? = nil) async throws(Failure) -> Report {
        guard let source = config.sources[name] else { throw .unknownSource(name, known: config.sources.keys.sorted()) }
        let adapter = WebhookAdapters.adapter(for: source)
        let headers = withDefaults(given, kind: source.kind)
        let payload: JSONValue
        let identity: EventIdentity
        do {
            let document = try adapter.payloadDocument(headers, body: body)
            payload = try JSONParser.parse(document)
            identity = try adapter.identity(headers, payload: payload)
        } catch let e as IngressError {
            throw .badRequest(e.message)
        } catch {
            throw .badRequest("payload is not valid JSON: \(error)")
        }
        let now = WallClock.nowMillis()
        let eventId = Identifier.make(prefix: "evt", millis: now)
        let kept = adapter.headersOfInterest(headers)
        let context = EventContext(id: eventId, type: identity.type, source: name, receivedAtMillis: now,
                                   dedupeKey: identity.dedupeKey, body: payload, headers: kept, clientIP: "127.0.0.1")
        var report = Report(source: name, type: identity.type, dedupeKey: identity.dedupeKey, producesWork: identity.producesWork,
                            matches: [], notMatched: [])
        guard identity.producesWork else { return report }
        let matches = rules.match(source: name, type: identity.type, context: context)
        for (rule, reason) in rules.explain(source: name, type: identity.type, context: context) {
            if let reason { report.notMatched.append((rule.id, reason)) }
        }
        let links = Mutex<[String: GroupChatConnector.LinkedTask]>([:])
        for m in matches {
            var stepContext = context
            stepContext.captures = m.captures
            var steps: [StepReport] = []
            var previousTask: String?
            for (i, spec) in m.rule.steps.enumerated() {
                var step = StepReport(index: i, id: spec.id, action: spec.action.rawValue, target: spec.target, requests: [])
                defer { steps.append(step) }
                let rendered: RenderedStep
                do {
                    rendered = try spec.render(stepContext, previousTask: previousTask)
                } catch {
                    step.error = error.description
                    break
                }
                guard let targetConfig = config.targets[rendered.target] else {
                    step.error = "unknown target \(rendered.target)"
                    break
                }
                let recorder = RecordingTransport()
                let connector = makeConnector(targetConfig, live: live, client: client, recorder: recorder)
                let isCreate = rendered.action == .taskCreate
                let key = JobRunner.idempotencyKey(source: name, dedupeKey: identity.dedupeKey, eventId: eventId,
                                                   ruleId: m.rule.id, step: i)
                let result = await connector.execute(rendered, context: .init(idempotencyKey: key, uncertain: false, lookupLink: { k in
                    if let known = links.withLock({ $0[k] }) { return known }
                    // Without a store, assume a link exists for steps that act on one,
                    // and does not for creates (so the create request is shown).
                    return isCreate || live ? nil : GroupChatConnector.LinkedTask(taskId: "<task linked to \(k)>", projectId: nil)
                }))
                step.requests = recorder.requests.map { describe($0, targetConfig) }
                switch result.outcome {
                case .success(let output, let link):
                    step.output = output
                    stepContext.steps[spec.id] = output
                    if let id = output["task"]?["id"]?.stringValue { previousTask = id }
                    if let link { links.withLock { $0[link.key] = .init(taskId: link.taskId, projectId: link.projectId) } }
                case .failure(let f):
                    step.error = f.reason
                }
                if step.error != nil { break }
            }
            report.matches.append(MatchReport(ruleId: m.rule.id, file: m.rule.file, orderingKey: m.orderingKey,
                                              captures: m.captures, steps: steps))
        }
        return report
    }

    func makeConnector(_ target: TargetConfig, live: Bool, client: HTTPClient?, recorder: RecordingTransport) -> GroupChatConnector {
        let wall: @Sendable () -> Double = { Double(WallClock.nowMillis()) / 1000 }
        if live, let client, case .value(let token)? = target.token.map(SecretResolver(environment: environment).resolve),
           let credentials = try? GroupChatCredentials(token: token, workspaceId: target.workspaceId?.resolve(environment)) {
            let gate = TargetGate(name: target.name, concurrency: 1, rateLimit: nil, breaker: target.breaker)
            let http = HTTPGroupChatTransport(client: client, baseURL: target.baseURL.resolve(environment) ?? "https://groupchat.ai",
                                              credentials: credentials, timeoutSeconds: target.timeoutSeconds, gate: gate, wallClock: wall)
            let both = TeeTransport(primary: http, recorder: recorder)
            return GroupChatConnector(target: target.name, transport: both,
                                      directory: GroupChatDirectory(transport: both, ttl: 60, wallClock: wall),
                                      defaultProject: target.defaultProject, batcher: nil, wallClock: wall)
        }
        return GroupChatConnector(target: target.name, transport: recorder, directory: SymbolicNames(),
                                  defaultProject: target.defaultProject, batcher: nil, wallClock: wall)
    }

    /// The request as it goes on the wire, with the token redacted.
    func describe(_ r: GroupChatRequest, _ target: TargetConfig) -> SentRequest {
        var headers: [(String, String)] = [("Authorization", "Bearer <redacted>")]
        if let ws = target.workspaceId?.resolve(environment), !ws.isEmpty { headers.append(("X-Workspace-Id", ws)) }
        headers.append(("Accept", "application/json"))
        if let k = r.idempotencyKey { headers.append(("Idempotency-Key", k)) }
        if r.body != nil { headers.append(("Content-Type", "application/json")) }
        return SentRequest(method: r.method, path: r.pathWithQuery, headers: headers, body: r.body)
    }
}

/// Sends through `primary` and records each request too (for `--live` output).
struct TeeTransport: GroupChatTransport {
    let primary: any GroupChatTransport
    let recorder: RecordingTransport

    func send(_ request: GroupChatRequest) async throws(StepFailure) -> (GroupChatResponse, WireRecord) {
        _ = try await recorder.send(request)
        return try await primary.send(request)
    }
}
