import AsyncHTTPClient
import Logging
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
        /// Each wait before a poll, in seconds (a step that follows an upstream run).
        public var waits: [Double] = []
    }

    /// Polls a dry run follows before it gives up on a waiting step.
    static let maxPolls = 20

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
        let links = Mutex<[String: LinkedTask]>([:])
        for m in matches {
            var stepContext = context
            stepContext.captures = m.captures
            var steps: [StepReport] = []
            var cursor = StepCursor(steps: m.rule.steps, context: stepContext)
            while let spec = cursor.current {
                let i = cursor.index
                var step = StepReport(index: i, id: spec.id, action: spec.action.name, target: spec.target, requests: [])
                defer { steps.append(step) }
                let rendered: RenderedStep
                do {
                    rendered = try cursor.render()
                } catch {
                    step.error = error.description
                    break
                }
                guard let targetConfig = config.targets[rendered.target] else {
                    step.error = "unknown target \(rendered.target)"
                    break
                }
                guard let kind = TargetKinds.named(targetConfig.kind) else {
                    step.error = "target \(rendered.target) has kind \(targetConfig.kind), which this build does not know"
                    break
                }
                let log = RequestLog()
                let gate = TargetGate(name: targetConfig.name, concurrency: 1, rateLimit: nil, breaker: targetConfig.breaker)
                let connector = kind.dryRunConnector(
                    for: targetConfig, environment: ConnectorEnvironment(client: client, secrets: SecretResolver(environment: environment),
                                                                         gate: gate, logger: Logger(label: "taskbridge.test")),
                    live: live, log: log)
                let isCreate = rendered.action.createsTask
                let key = JobRunner.idempotencyKey(source: name, dedupeKey: identity.dedupeKey, eventId: eventId,
                                                   ruleId: m.rule.id, step: i)
                let lookup: @Sendable (String) async throws -> LinkedTask? = { k in
                    if let known = links.withLock({ $0[k] }) { return known }
                    // Without a store, assume a link exists for steps that act on one,
                    // and does not for creates (so the create request is shown).
                    return isCreate || live ? nil : LinkedTask(taskId: "<task linked to \(k)>", projectId: nil)
                }
                var result = await connector.execute(rendered, context: .init(idempotencyKey: key, uncertain: false, lookupLink: lookup))
                // A step that waits on the upstream is followed as the dispatcher would,
                // poll by poll (each poll's requests are shown), for a bounded number.
                var polls = 0
                while case .wait(let seconds, let state) = result.outcome, polls < Self.maxPolls {
                    polls += 1
                    step.waits.append(seconds)
                    if live { try? await Task.sleep(nanoseconds: seconds.sleepNanoseconds(atMost: 30)) }
                    result = await connector.execute(rendered, context: .init(idempotencyKey: key, uncertain: false, waitState: state,
                                                                             lookupLink: lookup))
                }
                step.requests = log.requests.map { SentRequest(method: $0.method, path: $0.path, headers: $0.headers, body: $0.body) }
                switch result.outcome {
                case .success(let output, let link):
                    step.output = output
                    cursor.advance(output: output, kept: output)
                    if let link { links.withLock { $0[link.key] = .init(taskId: link.taskId, projectId: link.projectId) } }
                case .failure(let f):
                    step.error = f.reason
                case .wait:
                    step.error = "still waiting after \(Self.maxPolls) polls; a delivery keeps polling until the step's own limit"
                }
                if step.error != nil { break }
            }
            report.matches.append(MatchReport(ruleId: m.rule.id, file: m.rule.file, orderingKey: m.orderingKey,
                                              captures: m.captures, steps: steps))
        }
        return report
    }

}
