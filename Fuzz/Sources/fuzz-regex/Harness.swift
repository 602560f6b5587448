import FuzzSupport
import TaskBridgeCore

/// `matches` conditions: PatternMatcher and its RequiredLiteral pre-filter, against the
/// regex engine alone.
///
/// Input: a pattern (at most 48 bytes), a NUL byte, a text (at most 24 bytes; short, so a
/// backtracking pattern cannot stall the run). Invariants:
/// - whenever the regex matches the text, the required literal occurs in it (the
///   pre-filter never hides a match), so PatternMatcher agrees with the bare regex;
/// - the captures PatternMatcher returns are the regex's named groups;
/// - the group names it declares (what rules may read as `captures.<name>`) are exactly
///   the regex's named groups.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    let input = fuzzBytes(start, count)
    let (p, t) = splitOnce(input)
    guard p.count <= 48, t.count <= 24 else { return 0 }
    let pattern = String(decoding: p, as: UTF8.self)
    let text = String(decoding: t, as: UTF8.self)
    guard let regex = try? Regex(pattern), let matcher = try? PatternMatcher(pattern) else { return 0 }
    let direct = try? regex.firstMatch(in: text)
    let ours = matcher.match(text)
    if direct != nil, let literal = matcher.requiredLiteral {
        invariant(literal.occurs(in: text),
                  "pattern \(escaped(pattern)) matches \(escaped(text)) but its required literal \(escaped(literal.bytes)) (ignoreCase \(literal.ignoreCase)) does not occur")
    }
    invariant((direct != nil) == (ours != nil), "PatternMatcher(\(escaped(pattern))) disagrees with Regex on \(escaped(text))")
    if let m = direct {
        var names: [String: String] = [:]
        var all: Set<String> = []
        for element in m.output {
            if let name = element.name {
                all.insert(name)
                if let sub = element.substring { names[name] = String(sub) }
            }
        }
        invariant(ours == names, "captures \(String(describing: ours)) but the regex gives \(names)")
        invariant(Set(matcher.groupNames) == all, "pattern \(escaped(pattern)) declares groups \(matcher.groupNames) but has \(all.sorted())")
    }
    return 0
}

/// The program's entry point (SwiftPM links `main` to `<module>_main`).
@_cdecl("fuzz_regex_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runLibFuzzer(argc, argv, fuzz)
}
