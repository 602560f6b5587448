/// A compiled `matches` regular expression. Named groups (`(?<task>GC-\d+)`) become
/// `captures.task` for later conditions and templates.
public struct PatternMatcher: Sendable {
    public let pattern: String
    public let groupNames: [String]
    /// Text the pattern cannot match without; checked before the regex engine runs.
    public let requiredLiteral: RequiredLiteral?
    private let compiled: CompiledRegex

    public init(_ pattern: String) throws {
        self.pattern = pattern
        let regex = try Regex(pattern)
        self.compiled = CompiledRegex(regex)
        self.groupNames = PatternMatcher.namedGroups(in: pattern, compiled: regex)
        self.requiredLiteral = RequiredLiteral(pattern: pattern)
    }

    /// Captures of the first match, or `nil` when there is none.
    public func match(_ text: String) -> [String: String]? {
        if let literal = requiredLiteral, !literal.occurs(in: text) { return nil }
        guard let m = try? compiled.regex.firstMatch(in: text) else { return nil }
        var captures: [String: String] = [:]
        for element in m.output {
            if let name = element.name, let sub = element.substring { captures[name] = String(sub) }
        }
        return captures
    }

    /// Names declared with `(?<name>…)`, `(?P<name>…)` or `(?'name'…)` that the regex
    /// really captures: the scan alone also finds `(?<name>` inside a class, a comment or
    /// quoted text, which no match ever fills. (A pattern that does not compile keeps
    /// every candidate; its error is reported where it is compiled.)
    static func namedGroups(in pattern: String, compiled: Regex<AnyRegexOutput>? = nil) -> [String] {
        let candidates = candidateGroupNames(in: pattern)
        guard !candidates.isEmpty, let regex = compiled ?? (try? Regex(pattern)) else { return candidates }
        return candidates.filter { regex.contains(captureNamed: $0) }
    }

    static func candidateGroupNames(in pattern: String) -> [String] {
        var names: [String] = []
        let chars = Array(pattern)
        var i = 0
        while i < chars.count {
            if chars[i] == "\\" { i += 2; continue }
            if chars[i] == "(", i + 2 < chars.count, chars[i + 1] == "?" {
                var j = i + 2
                if j < chars.count, chars[j] == "P" { j += 1 }
                if j < chars.count, chars[j] == "<" || chars[j] == "'", j + 1 < chars.count, chars[j + 1] != "=", chars[j + 1] != "!" {
                    let close: Character = chars[j] == "<" ? ">" : "'"
                    var name = ""
                    j += 1
                    while j < chars.count, chars[j] != close { name.append(chars[j]); j += 1 }
                    if !name.isEmpty, !names.contains(name) { names.append(name) }
                }
            }
            i += 1
        }
        return names
    }
}

/// Holds a regex compiled from a user's pattern so it is compiled once, at rule load.
///
/// `@unchecked Sendable`: `Regex<AnyRegexOutput>` is not `Sendable` only because its
/// *output* type may carry arbitrary `Any` captures. The regex itself is an immutable
/// value whose lazily lowered program is published atomically by the standard library
/// (that is what makes `Regex<Output: Sendable>` Sendable), and each match builds its
/// own output, so sharing one across tasks is safe.
final class CompiledRegex: @unchecked Sendable {
    let regex: Regex<AnyRegexOutput>

    init(_ regex: Regex<AnyRegexOutput>) {
        self.regex = regex
    }
}
