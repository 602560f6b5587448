import FuzzSupport
import TaskBridgeCore

/// The widget adapter and the ingest planner for every shipped source, the way the
/// server calls them: `IngestPlanner.plan` → adapter.verify → payloadDocument → partial
/// parse with the rules' trie → identity → rule matching.
///
/// Input: a selector byte (source, content type, widget settings, event type) and the
/// body. GitHub and Sentry bodies are signed with the planner's secret so they get past
/// the signature check. Invariants:
/// - a refusal is a 4xx with a message;
/// - an accepted event keeps the exact body bytes, its source, and only known jobs;
/// - matching on the partially parsed document (what `plan` does) gives the same jobs as
///   matching on the fully parsed document;
/// - a widget document is a JSON object of allowed fields only, each a trimmed string
///   within its limit and free of control characters other than tab, CR and LF, with a
///   non-empty `message`, a plausible email and an http(s) page — or just the honeypot
///   marker; the form, JSON and text/plain encodings of the same fields agree.
let config = Repo.shippedConfig
let rules = Repo.exampleRules
let secret = Secret("fuzz-webhook-secret")
let planners: [String: IngestPlanner] = config.sources.mapValues { IngestPlanner(source: $0, secrets: [secret]) }

let strictWidget: WidgetSettings = {
    var w = WidgetSettings()
    w.honeypotField = nil
    w.extraFields = ["company", "plan"]
    w.fieldLimits = ["message": 40, "name": 5, "email": 30, "page": 60, "company": 3]
    return w
}()

let githubEvents = ["pull_request", "issues", "ping", "push", "installation"]
let sentryResources = ["issue", "error", "event_alert", "comment", "installation", "metric_alert"]
let contentTypes = ["application/json", "application/x-www-form-urlencoded", "text/plain;charset=UTF-8", "application/json; charset=utf-8"]

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    let input = fuzzBytes(start, count)
    guard let selector = input.first else { return 0 }
    let body = Array(input.dropFirst())
    let contentType = contentTypes[Int(selector >> 2) % contentTypes.count]
    switch selector & 3 {
    case 0: checkWidgetAdapter(WidgetAdapter(settings: config.sources["widget"]!.widget!), contentType, body)
    case 1: checkWidgetAdapter(WidgetAdapter(settings: strictWidget), contentType, body)
    default: break
    }
    let source = ["widget", "widget", "github", "sentry"][Int(selector & 3)]
    var headers: [(String, String)] = [("Content-Type", contentType), ("User-Agent", "fuzz")]
    switch source {
    case "github":
        headers += [("X-Hub-Signature-256", "sha256=" + HMACSignature.sign(body, secret: secret)),
                    ("X-GitHub-Event", githubEvents[Int(selector >> 4) % githubEvents.count]), ("X-GitHub-Delivery", "d-1")]
    case "sentry":
        headers += [("Sentry-Hook-Signature", HMACSignature.sign(body, secret: secret)),
                    ("Sentry-Hook-Resource", sentryResources[Int(selector >> 4) % sentryResources.count]), ("Request-ID", "r-1")]
    default:
        headers += [("Origin", "http://localhost:3000")]
        if selector & 0x80 != 0 { headers.append(("Idempotency-Key", "key-\(selector)")) }
    }
    checkPlan(planners[source]!, HeaderFields(headers), body)
    return 0
}

func checkPlan(_ planner: IngestPlanner, _ headers: HeaderFields, _ body: [UInt8]) {
    if let e = planner.precheck(headers) {
        invariant((400..<500).contains(e.status) && !e.message.isEmpty, "precheck answered \(e)")
        return
    }
    let request = IngestPlanner.Request(headers: headers, body: body, clientIP: "203.0.113.9", receivedAtMillis: 1_700_000_000_000)
    let event: PlannedEvent
    do {
        event = try planner.plan(request, rules: rules, eventId: "evt_fuzz")
    } catch {
        invariant((400..<500).contains(error.status) && !error.message.isEmpty, "plan refused with \(error)")
        return
    }
    invariant(event.body == body && event.source == planner.source.name, "planned event changed the body or source")
    let known = Set(rules.rules.map(\.id))
    invariant(event.jobs.allSatisfy { known.contains($0.ruleId) }, "planned an unknown rule")
    if event.discard { invariant(event.jobs.isEmpty, "a discarded event has jobs") }

    // The same match on the fully parsed document.
    guard let document = try? planner.adapter.payloadDocument(headers, body: body),
          let full = try? JSONParser.parse(document) else {
        invariant(false, "an accepted body does not parse in full")
        return
    }
    guard let identity = try? planner.adapter.identity(headers, payload: full) else {
        invariant(false, "identity fails on the full document")
        return
    }
    invariant(identity.type == event.type && identity.dedupeKey == event.dedupeKey, "identity differs on the full document")
    guard identity.producesWork else { return }
    let context = EventContext(id: "evt_fuzz", type: identity.type, source: planner.source.name,
                               receivedAtMillis: request.receivedAtMillis, dedupeKey: identity.dedupeKey,
                               body: full, headers: planner.adapter.headersOfInterest(headers), clientIP: request.clientIP)
    let jobs = rules.match(source: planner.source.name, type: identity.type, context: context)
        .map { "\($0.rule.id) \($0.captures) \($0.orderingKey ?? "-")" }
    let planned = event.jobs.map { "\($0.ruleId) \($0.captures) \($0.orderingKey ?? "-")" }
    invariant(jobs == planned, "plan (partial parse) has jobs \(planned) but the full document matches \(jobs)")
}

func checkWidgetAdapter(_ adapter: WidgetAdapter, _ contentType: String, _ body: [UInt8]) {
    let headers = HeaderFields([("Content-Type", contentType)])
    let document: [UInt8]
    do {
        document = try adapter.payloadDocument(headers, body: body)
    } catch {
        invariant(error.status == 400 && !error.message.isEmpty, "widget refused with \(error)")
        return
    }
    guard case .object(let fields)? = try? JSONParser.parse(document) else {
        invariant(false, "widget document is not a JSON object: \(escaped(document))")
        return
    }
    if fields["$honeypot"] != nil {
        invariant(fields == ["$honeypot": true], "honeypot document has more: \(escaped(document))")
        return
    }
    let allowed = WidgetSettings.standardFields + adapter.settings.extraFields
    for (name, value) in fields {
        invariant(allowed.contains(name), "field \(escaped(name)) is not allowed")
        guard case .string(let s) = value else {
            invariant(false, "field \(name) is not a string")
            return
        }
        invariant(!s.isEmpty && s.count <= adapter.settings.limit(for: name), "field \(name) has \(s.count) characters, limit \(adapter.settings.limit(for: name))")
        invariant(s.first?.isWhitespace == false && s.last?.isWhitespace == false, "field \(name) is not trimmed: \(escaped(s))")
        invariant(!s.unicodeScalars.contains { $0.value < 0x20 && $0 != "\n" && $0 != "\r" && $0 != "\t" }, "field \(name) has control characters")
    }
    invariant(fields["message"] != nil, "document without a message")
    if let page = fields["page"]?.stringValue { invariant(page.hasPrefix("https://") || page.hasPrefix("http://"), "page \(escaped(page))") }
    if let email = fields["email"]?.stringValue { invariant(email.contains("@") && !email.contains(" "), "email \(escaped(email))") }

    // The same fields in the other encodings normalize to the same document.
    let pairs = fields.keys.sorted().map { ($0, fields[$0]!.stringValue!) }
    let form = Array(FormURLEncoding.encode(pairs).utf8)
    let json = JSONWriter.serializeBytes(.object(fields))
    for (type, encoded) in [("application/x-www-form-urlencoded", form), ("application/json", json), ("text/plain", json)] {
        let again = try? adapter.payloadDocument(HeaderFields([("Content-Type", type)]), body: encoded)
        invariant(again == document, "\(type) encoding of \(escaped(document)) normalizes to \(again.map { escaped($0) } ?? "an error")")
    }
}

/// The program's entry point (SwiftPM links `main` to `<module>_main`).
@_cdecl("fuzz_widget_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runLibFuzzer(argc, argv, fuzz) { _ = config; _ = rules; _ = planners; _ = strictWidget }
}
