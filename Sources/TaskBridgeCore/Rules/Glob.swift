/// Event-type patterns such as `pull_request.*` or `issue.?esolved`: `*` matches any run
/// of characters (dots included), `?` one character.
public struct Glob: Sendable, Hashable, CustomStringConvertible {
    public let pattern: String
    private let chars: [Character]

    public init(_ pattern: String) {
        self.pattern = pattern
        self.chars = Array(pattern)
    }

    public var description: String { pattern }
    public var isLiteral: Bool { !pattern.contains("*") && !pattern.contains("?") }

    public func matches(_ text: String) -> Bool {
        let t = Array(text)
        var p = 0, s = 0, star = -1, mark = 0
        while s < t.count {
            if p < chars.count, chars[p] == "?" || chars[p] == t[s] {
                p += 1
                s += 1
            } else if p < chars.count, chars[p] == "*" {
                star = p
                mark = s
                p += 1
            } else if star >= 0 {
                p = star + 1
                mark += 1
                s = mark
            } else {
                return false
            }
        }
        while p < chars.count, chars[p] == "*" { p += 1 }
        return p == chars.count
    }
}
