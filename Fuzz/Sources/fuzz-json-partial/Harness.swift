import FuzzSupport
import TaskBridgeCore

/// JSONParser with a PathTrie "keeping" set, against the full parse.
///
/// Input: newline-separated paths (FieldPath syntax relative to the document, e.g.
/// `pull_request.head.ref`, `labels[*].name`, `["odd key"]`), a NUL byte, then the JSON
/// document. Invariants:
/// - the partial parse accepts exactly what the full parse accepts, failing at the same
///   offset (the whole input is always validated);
/// - every kept path resolves to the same value in the partial and the full result;
/// - the trie contains every inserted path, and merging one trie per path gives the
///   same trie as inserting them all.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    let input = fuzzBytes(start, count)
    let (spec, document) = splitOnce(input)
    var paths: [FieldPath] = []
    for line in spec.split(separator: UInt8(ascii: "\n")).prefix(16) {
        let text = String(decoding: line, as: UTF8.self)
        let rooted = text.hasPrefix("[") ? "body" + text : "body." + text
        if let p = try? FieldPath(parsing: rooted) { paths.append(p) }
    }
    var trie = PathTrie()
    for p in paths { trie.insert(p.tail) }
    var merged = PathTrie()
    for p in paths.reversed() {
        var one = PathTrie()
        one.insert(p.tail)
        merged.merge(one)
    }
    invariant(merged == trie, "merging per-path tries differs from inserting \(paths)")
    for p in paths { invariant(trie.contains(p.tail), "trie does not contain inserted path \(p)") }

    let full = Result { () throws(JSONParseError) in try JSONParser.parse(document) }
    let partial = Result { () throws(JSONParseError) in try JSONParser.parse(document, keeping: trie) }
    switch (full, partial) {
    case (.failure(let a), .failure(let b)):
        invariant(a.offset == b.offset, "full parse fails at \(a.offset) (\(a.reason)), partial at \(b.offset) (\(b.reason)) for \(escaped(document))")
    case (.success, .failure(let e)):
        invariant(false, "partial parse rejects (\(e)) what the full parse accepts, paths \(paths): \(escaped(document))")
    case (.failure(let e), .success):
        invariant(false, "partial parse accepts what the full parse rejects (\(e)), paths \(paths): \(escaped(document))")
    case (.success(let f), .success(let q)):
        for p in paths {
            let a = p.resolveTail(in: f), b = p.resolveTail(in: q)
            invariant(a == b, "kept path \(p) is \(show(a)) in the full parse but \(show(b)) in the partial one: \(escaped(document))")
        }
        if trie.keepAll { invariant(f == q, "a keep-everything trie changed the value") }
    }
    return 0
}

/// The program's entry point (SwiftPM links `main` to `<module>_main`).
@_cdecl("fuzz_json_partial_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runLibFuzzer(argc, argv, fuzz)
}
