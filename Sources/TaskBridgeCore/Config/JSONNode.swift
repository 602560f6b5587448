/// A JSON value being read as configuration: it knows where it sits in its file and
/// reports type errors and unknown keys to a ``DiagnosticSink`` instead of throwing,
/// so a reader can keep going and report every problem at once.
public struct JSONNode {
    public let value: JSONValue
    public let path: String
    public let sink: DiagnosticSink

    public init(value: JSONValue, path: String = "", sink: DiagnosticSink) {
        self.value = value
        self.path = path
        self.sink = sink
    }

    public func report(_ message: String) {
        sink.report(path, message)
    }

    /// Reads this node as an object whose keys must come from `allowed`; other keys are
    /// reported (with a suggestion when one is close) — a typo must never silently
    /// disable a setting.
    public func object(allowed: [String]) -> JSONObjectNode? {
        guard case .object(let members) = value else {
            report("expected an object, found \(value.typeName)")
            return nil
        }
        for key in members.keys.sorted() where !allowed.contains(key) {
            let hint = Spelling.suggestion(for: key, among: allowed).map { " (did you mean \"\($0)\"?)" } ?? ""
            sink.report(PathText.child(path, key), "unknown key \"\(key)\"\(hint)")
        }
        return JSONObjectNode(members: members, path: path, sink: sink)
    }

    public func array() -> [JSONNode]? {
        guard case .array(let items) = value else {
            report("expected an array, found \(value.typeName)")
            return nil
        }
        return items.enumerated().map { JSONNode(value: $1, path: PathText.index(path, $0), sink: sink) }
    }

    public func string(nonEmpty: Bool = true) -> String? {
        guard case .string(let s) = value else {
            report("expected a string, found \(value.typeName)")
            return nil
        }
        if nonEmpty && s.isEmpty {
            report("must not be empty")
            return nil
        }
        return s
    }

    /// How a number is named in a message: JSON allows `1e400`, which reads as ±∞ and
    /// would print as `null`.
    static func describe(_ n: Double) -> String {
        n.isFinite ? JSONWriter.format(number: n) : (n > 0 ? "a number too large to represent" : "a number too small to represent")
    }

    public func int(in range: ClosedRange<Int>? = nil) -> Int? {
        guard case .number(let n) = value, n == n.rounded() else {
            report("expected an integer, found \(value.typeName == "number" ? "a fraction" : value.typeName)")
            return nil
        }
        // Beyond ±10^15 a double no longer holds every integer; such a value is out of any
        // range a setting has, and converting it could trap.
        guard abs(n) < 1e15, let i = Int(exactly: n) else {
            report("\(Self.describe(n)) is out of range\(range.map { " \($0.lowerBound)...\($0.upperBound)" } ?? " for an integer")")
            return nil
        }
        if let range, !range.contains(i) {
            report("\(i) is out of range \(range.lowerBound)...\(range.upperBound)")
            return nil
        }
        return i
    }

    public func double(in range: ClosedRange<Double>? = nil) -> Double? {
        guard case .number(let n) = value else {
            report("expected a number, found \(value.typeName)")
            return nil
        }
        if let range, !range.contains(n) {
            report("\(Self.describe(n)) is out of range \(JSONWriter.format(number: range.lowerBound))...\(JSONWriter.format(number: range.upperBound))")
            return nil
        }
        return n
    }

    /// A number greater than 0 and at most `max`: a rate, where 0 would mean "never".
    public func positiveDouble(atMost max: Double) -> Double? {
        guard case .number(let n) = value else {
            report("expected a number, found \(value.typeName)")
            return nil
        }
        guard n > 0, n <= max else {
            report("\(Self.describe(n)) is out of range: must be greater than 0 and at most \(JSONWriter.format(number: max))")
            return nil
        }
        return n
    }

    public func bool() -> Bool? {
        guard case .bool(let b) = value else {
            report("expected true or false, found \(value.typeName)")
            return nil
        }
        return b
    }

    public func stringArray(nonEmptyItems: Bool = true) -> [String]? {
        guard let items = array() else { return nil }
        let strings = items.compactMap { $0.string(nonEmpty: nonEmptyItems) }
        return strings.count == items.count ? strings : nil
    }

    /// A string or an array of strings, for fields such as `sources` and `events`.
    public func stringOrStringArray() -> [String]? {
        if case .string = value { return string().map { [$0] } }
        return stringArray()
    }

    public func oneOf<T>(_ choices: [(String, T)]) -> T? {
        guard let s = string() else { return nil }
        if let hit = choices.first(where: { $0.0 == s }) { return hit.1 }
        let names = choices.map(\.0)
        let hint = Spelling.suggestion(for: s, among: names).map { " (did you mean \"\($0)\"?)" } ?? ""
        report("unknown value \"\(s)\"\(hint); expected one of \(names.map { "\"\($0)\"" }.joined(separator: ", "))")
        return nil
    }
}

/// An object member accessor that locates every reported problem at its key.
public struct JSONObjectNode {
    public let members: [String: JSONValue]
    public let path: String
    public let sink: DiagnosticSink

    public func has(_ key: String) -> Bool { members[key] != nil }

    public func node(_ key: String) -> JSONNode? {
        members[key].map { JSONNode(value: $0, path: PathText.child(path, key), sink: sink) }
    }

    /// Every member as a node, in key order (for maps of named things: sources, targets, agents).
    public var children: [(name: String, node: JSONNode)] {
        members.keys.sorted().map { ($0, JSONNode(value: members[$0] ?? .null, path: PathText.child(path, $0), sink: sink)) }
    }

    /// Like ``node(_:)`` but reports the key as missing.
    public func required(_ key: String) -> JSONNode? {
        if let n = node(key) { return n }
        sink.report(path, "missing required key \"\(key)\"")
        return nil
    }

    public func report(_ message: String) {
        sink.report(path, message)
    }

    public func string(_ key: String, required: Bool = false, nonEmpty: Bool = true) -> String? {
        (required ? self.required(key) : node(key))?.string(nonEmpty: nonEmpty)
    }

    public func int(_ key: String, in range: ClosedRange<Int>? = nil, required: Bool = false) -> Int? {
        (required ? self.required(key) : node(key))?.int(in: range)
    }

    public func double(_ key: String, in range: ClosedRange<Double>? = nil, required: Bool = false) -> Double? {
        (required ? self.required(key) : node(key))?.double(in: range)
    }

    public func positiveDouble(_ key: String, atMost max: Double, required: Bool = false) -> Double? {
        (required ? self.required(key) : node(key))?.positiveDouble(atMost: max)
    }

    public func bool(_ key: String) -> Bool? {
        node(key)?.bool()
    }

    public func stringArray(_ key: String, required: Bool = false) -> [String]? {
        (required ? self.required(key) : node(key))?.stringArray()
    }
}

/// "Did you mean …?" hints for misspelled keys, operators and names.
public enum Spelling {
    public static func suggestion(for word: String, among candidates: [String]) -> String? {
        let lower = word.lowercased()
        var best: (String, Int)?
        for c in candidates {
            let d = distance(lower, c.lowercased())
            if d <= max(1, min(3, c.count / 3)), best == nil || d < best!.1 { best = (c, d) }
        }
        return best?.0
    }

    /// Damerau–Levenshtein (optimal string alignment) distance.
    public static func distance(_ a: String, _ b: String) -> Int {
        let a = Array(a), b = Array(b)
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var d = Array(repeating: Array(repeating: 0, count: b.count + 1), count: a.count + 1)
        for i in 0...a.count { d[i][0] = i }
        for j in 0...b.count { d[0][j] = j }
        for i in 1...a.count {
            for j in 1...b.count {
                let cost = a[i - 1] == b[j - 1] ? 0 : 1
                d[i][j] = min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost)
                if i > 1, j > 1, a[i - 1] == b[j - 2], a[i - 2] == b[j - 1] {
                    d[i][j] = min(d[i][j], d[i - 2][j - 2] + 1)
                }
            }
        }
        return d[a.count][b.count]
    }
}
