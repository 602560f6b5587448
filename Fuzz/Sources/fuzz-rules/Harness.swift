import FuzzSupport
import TaskBridgeCore

/// RuleParser (one rule file against the shipped config), then matching and step
/// rendering of the accepted rules on real fixture events. Invariants:
/// - every diagnostic names the file and says something;
/// - each accepted rule's canonical JSON re-reads (`parseStoredRule`, as jobs do) to the
///   same id, canonical text and version hash;
/// - matching on the partially parsed payload (only the paths the rules read at ingest,
///   plus the adapter's) gives the same rules, captures and ordering keys as matching on
///   the fully parsed payload;
/// - rendering each matched rule's steps on the payload parsed with the rule's step trie
///   (what the dispatcher does) gives the same result or error as on the full payload.
nonisolated(unsafe) let parser = RuleParser(config: Repo.shippedConfig)
let fixtures = Repo.fixtureEvents
let adapterPaths: [String: [FieldPath]] = Repo.shippedConfig.sources.mapValues { WebhookAdapters.adapter(for: $0).payloadPaths }

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    let input = fuzzBytes(start, count)
    let file = "rules/fuzz.json"
    let set: RuleSet
    do {
        set = try parser.parse([.init(path: file, bytes: input)])
    } catch {
        invariant(!error.diagnostics.isEmpty, "rejected without a diagnostic")
        for d in error.diagnostics { invariant(d.file == file && !d.message.isEmpty, "diagnostic without file or message: \(d)") }
        return 0
    }
    for rule in set.rules {
        let stored = Result { () throws(DiagnosticsError) in try parser.parseStoredRule(rule.canonicalJSON, file: file) }
        if case .success(let s) = stored, s.id == rule.id, s.canonicalJSON == rule.canonicalJSON, s.versionHash == rule.versionHash {
            continue
        }
        invariant(false, "stored rule \(rule.id) re-reads as \(stored) from \(escaped(rule.canonicalJSON))")
    }
    if set.rules.isEmpty { return 0 }
    var rng = InputRandom(input)
    for _ in 0..<2 {
        let fx = fixtures[Int(rng.next() % UInt64(fixtures.count))]
        check(set, fx)
    }
    return 0
}

func check(_ set: RuleSet, _ fx: Repo.FixtureEvent) {
    var trie = set.payloadTrie(for: fx.source)
    for p in adapterPaths[fx.source] ?? [] where p.root == "body" && !trie.contains(p.tail) { trie.insert(p.tail) }
    guard let partial = try? JSONParser.parse(fx.bytes, keeping: trie) else {
        invariant(false, "fixture does not parse with the rules' trie")
        return
    }
    let full = fuzzContext(source: fx.source, type: fx.type, body: fx.payload)
    let part = fuzzContext(source: fx.source, type: fx.type, body: partial)
    let a = set.match(source: fx.source, type: fx.type, context: full)
    let b = set.match(source: fx.source, type: fx.type, context: part)
    let describe = { (ms: [RuleMatch]) in ms.map { "\($0.rule.id) \($0.captures) \($0.orderingKey ?? "-")" } }
    invariant(describe(a) == describe(b), "\(fx.source) \(fx.type): full match \(describe(a)) but partial \(describe(b))")
    _ = set.explain(source: fx.source, type: fx.type, context: full)

    for m in a {
        guard let stepBody = try? JSONParser.parse(fx.bytes, keeping: m.rule.stepPayloadTrie) else {
            invariant(false, "fixture does not parse with the step trie")
            return
        }
        var outputs: [String: JSONValue] = [:]
        var previous: String?
        for (i, step) in m.rule.steps.enumerated() {
            let cf = fuzzContext(source: fx.source, type: fx.type, body: fx.payload, steps: outputs, captures: m.captures)
            let cp = fuzzContext(source: fx.source, type: fx.type, body: stepBody, steps: outputs, captures: m.captures)
            let rf = Result { () throws(StepRenderError) in try step.render(cf, previousTask: previous) }
            let rp = Result { () throws(StepRenderError) in try step.render(cp, previousTask: previous) }
            switch (rf, rp) {
            case (.success(let x), .success(let y)):
                invariant(x == y, "\(m.rule.id) step \(step.id): full render \(x) but step-trie render \(y)")
            case (.failure(let x), .failure(let y)):
                invariant(x == y, "\(m.rule.id) step \(step.id): full error \(x) but step-trie error \(y)")
            default:
                invariant(false, "\(m.rule.id) step \(step.id): full \(rf) but step-trie \(rp)")
            }
            let id = "task-\(i)"
            outputs[step.id] = ["task": ["id": .string(id), "title": "Fuzz", "stage": "Backlog"]]
            previous = id
        }
    }
}

/// The program's entry point (SwiftPM links `main` to `<module>_main`).
@_cdecl("fuzz_rules_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runLibFuzzer(argc, argv, fuzz) { _ = parser; _ = fixtures; _ = adapterPaths; _ = Repo.exampleRules }
}
