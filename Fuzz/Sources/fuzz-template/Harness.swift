import FuzzSupport
import TaskBridgeCore

/// Template parsing and rendering (`{{ path | filter … }}`) against random payloads.
///
/// Input: the template text, a NUL byte, then a JSON payload (when that part is not JSON,
/// a real fixture payload is used instead). The payload is the event body and also the
/// output of a step `s1`. Invariants:
/// - a parsed template keeps its text as `description` and reads only known roots;
/// - a template without placeholders renders to its own text;
/// - rendering is deterministic, and `renderValue` agrees with `render`;
/// - rendering on the payload parsed with only the template's paths kept gives the same
///   text or error as on the full payload (what ingest and the dispatcher rely on);
/// - the rendered text, escaped with JSONWriter.escape and quoted, parses back to itself.
let fixtures = Repo.fixtureEvents

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    let input = fuzzBytes(start, count)
    let (templateBytes, rest) = splitOnce(input)
    let text = String(decoding: templateBytes, as: UTF8.self)
    let template: Template
    do {
        template = try Template(parsing: text)
    } catch {
        invariant(!error.reason.isEmpty, "template error without a reason")
        return 0
    }
    invariant(template.description == text, "description \(escaped(template.description)) is not the text \(escaped(text))")
    for p in template.paths { invariant(EventContext.roots.contains(p.root), "path \(p) has an unknown root") }
    var payloadBytes = rest
    let body: JSONValue
    if let v = try? JSONParser.parse(rest) {
        body = v
    } else {
        let fx = fixtures[rest.count % fixtures.count]
        payloadBytes = fx.bytes
        body = fx.payload
    }

    let context = fuzzContext(source: "github", type: "pull_request.opened", body: body, steps: ["s1": body])
    let first = Result { () throws(TemplateError) in try template.render(context) }
    let second = Result { () throws(TemplateError) in try template.render(context) }
    invariant(sameResult(first, second), "rendering is not deterministic")
    let value = Result { () throws(TemplateError) in try template.renderValue(context) }
    switch (first, value) {
    case (.success(let s), .success(let v)):
        if template.parts.count == 1, case .expression = template.parts[0] {
            invariant(v.textValue == s, "renderValue \(show(v)) disagrees with render \(escaped(s))")
        } else {
            invariant(v == .string(s), "renderValue \(show(v)) is not the rendered string \(escaped(s))")
        }
    case (.failure(let a), .failure(let b)):
        invariant(a == b, "render and renderValue fail differently: \(a) / \(b)")
    default:
        invariant(false, "render \(first) but renderValue \(value)")
    }
    if template.isConstant, template.parts.allSatisfy({ if case .literal = $0 { true } else { false } }) {
        invariant((try? template.render(context)) == text, "a template without placeholders does not render to itself")
    }

    var trie = PathTrie()
    var stepTrie = PathTrie()
    for p in template.paths {
        if p.root == "body" { trie.insert(p.tail) }
        if p.root == "steps" { stepTrie.insert(p.tail.dropFirst()) }
    }
    if let partialBody = try? JSONParser.parse(payloadBytes, keeping: trie),
       let partialStep = try? JSONParser.parse(payloadBytes, keeping: stepTrie) {
        let pc = fuzzContext(source: "github", type: "pull_request.opened", body: partialBody, steps: ["s1": partialStep])
        let partial = Result { () throws(TemplateError) in try template.render(pc) }
        invariant(sameResult(first, partial), "full payload renders \(first) but the partial payload renders \(partial)")
    } else {
        invariant(false, "payload does not parse partially")
    }

    if case .success(let s) = first {
        let quoted = "\"" + JSONWriter.escape(s) + "\""
        invariant((try? JSONParser.parse(quoted)) == .string(s), "escape does not round-trip: \(escaped(s)) → \(escaped(quoted))")
    }
    return 0
}

func sameResult(_ a: Result<String, TemplateError>, _ b: Result<String, TemplateError>) -> Bool {
    switch (a, b) {
    case (.success(let x), .success(let y)): x == y
    case (.failure(let x), .failure(let y)): x == y
    default: false
    }
}

/// The program's entry point (SwiftPM links `main` to `<module>_main`).
@_cdecl("fuzz_template_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runLibFuzzer(argc, argv, fuzz) { _ = fixtures }
}
