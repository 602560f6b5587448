/// A rule's `when`: a tree of `all` / `any` / `not` over field tests.
public indirect enum Condition: Sendable {
    case all([Condition], at: String)
    case any([Condition], at: String)
    case not(Condition, at: String)
    case test(FieldTest)

    public static let operators = ["equals", "notEquals", "in", "exists", "contains", "startsWith", "endsWith",
                                   "matches", "gt", "gte", "lt", "lte"]

    /// Every path the condition reads.
    public var paths: [FieldPath] {
        switch self {
        case .all(let cs, _), .any(let cs, _): cs.flatMap(\.paths)
        case .not(let c, _): c.paths
        case .test(let t): t.paths
        }
    }

    public struct Outcome: Sendable {
        public var matched: Bool
        public var captures: [String: String]
        /// For a failed match: the first test that failed and why (for `--explain`).
        public var reason: String?
    }

    /// - Parameter explain: build the `reason` of a failed match (for `--explain`); the
    ///   ingest path leaves it off, since describing values costs more than testing them.
    public func evaluate(_ context: EventContext, explain: Bool = false) -> Outcome {
        switch self {
        case .all(let items, _):
            var captures: [String: String] = [:]
            for item in items {
                let r = item.evaluate(context, explain: explain)
                if !r.matched { return Outcome(matched: false, captures: [:], reason: r.reason) }
                captures.merge(r.captures) { _, new in new }
            }
            return Outcome(matched: true, captures: captures, reason: nil)
        case .any(let items, let at):
            var reasons: [String] = []
            for item in items {
                let r = item.evaluate(context, explain: explain)
                if r.matched { return r }
                if let reason = r.reason { reasons.append(reason) }
            }
            return Outcome(matched: false, captures: [:], reason: explain ? "\(at): none matched (\(reasons.joined(separator: "; ")))" : nil)
        case .not(let inner, let at):
            let r = inner.evaluate(context, explain: explain)
            return Outcome(matched: !r.matched, captures: [:], reason: r.matched && explain ? "\(at): the negated condition matched" : nil)
        case .test(let t):
            return t.evaluate(context, explain: explain)
        }
    }
}

/// `{"path": "body.action", "equals": "closed"}` and friends.
public struct FieldTest: Sendable {
    public enum Operand: Sendable, Hashable {
        case literal(JSONValue)
        /// `{"path": "…"}`: compare with another field of the event.
        case path(FieldPath)
    }

    public enum Operator: Sendable {
        case equals(Operand)
        case notEquals(Operand)
        case isIn([JSONValue])
        case exists(Bool)
        case contains(Operand)
        case startsWith(Operand)
        case endsWith(Operand)
        case matches(PatternMatcher)
        case greater(Operand, orEqual: Bool)
        case less(Operand, orEqual: Bool)
    }

    public var path: FieldPath
    public var op: Operator
    public var ignoreCase: Bool
    /// Where the test sits in its file (`rules[2].when.all[0]`), for explanations.
    public var location: String

    public init(path: FieldPath, op: Operator, ignoreCase: Bool = false, location: String) {
        self.path = path
        self.op = op
        self.ignoreCase = ignoreCase
        self.location = location
    }

    var paths: [FieldPath] {
        var out = [path]
        switch op {
        case .equals(.path(let p)), .notEquals(.path(let p)), .contains(.path(let p)), .startsWith(.path(let p)),
             .endsWith(.path(let p)), .greater(.path(let p), _), .less(.path(let p), _):
            out.append(p)
        default: break
        }
        return out
    }

    var hasWildcard: Bool { path.segments.contains(.wildcard) }

    func operand(_ o: Operand, _ context: EventContext) -> JSONValue? {
        switch o {
        case .literal(let v): v
        case .path(let p): context.resolve(p)
        }
    }

    public func evaluate(_ context: EventContext, explain: Bool = false) -> Condition.Outcome {
        let value = context.resolve(path)
        // A `[*]` path yields an array of element values; the test passes when any element
        // passes (and `notEquals` when none equals).
        let candidates: [JSONValue?]
        if hasWildcard, case .array(let items)? = value { candidates = items } else { candidates = [value] }

        if case .notEquals(let o) = op {
            let other = operand(o, context)
            let equal = candidates.contains { $0 != nil && equals($0!, other) }
            return outcome(!equal, value, explain ? "expected not to equal \(show(other))" : nil)
        }
        if case .exists(let want) = op {
            let present = candidates.contains { $0 != nil && !$0!.isNull } && !(hasWildcard && value?.arrayValue?.isEmpty == true)
            return outcome(present == want, value, explain ? (want ? "expected a value" : "expected no value") : nil)
        }
        for candidate in candidates {
            guard let v = candidate else { continue }
            if let captures = test(v, context) { return Condition.Outcome(matched: true, captures: captures, reason: nil) }
        }
        return outcome(false, value, explain ? expectation(context) : nil)
    }

    /// `nil` when the test fails; captures (possibly empty) when it passes.
    func test(_ v: JSONValue, _ context: EventContext) -> [String: String]? {
        switch op {
        case .equals(let o):
            return equals(v, operand(o, context)) ? [:] : nil
        case .isIn(let options):
            return options.contains { equals(v, $0) } ? [:] : nil
        case .contains(let o):
            guard let needle = operand(o, context) else { return nil }
            if case .array(let items) = v { return items.contains { equals($0, needle) } ? [:] : nil }
            guard case .string(let hay) = v, let n = needle.stringValue else { return nil }
            return fold(hay).contains(fold(n)) ? [:] : nil
        case .startsWith(let o):
            guard case .string(let s) = v, let p = operand(o, context)?.stringValue else { return nil }
            return fold(s).hasPrefix(fold(p)) ? [:] : nil
        case .endsWith(let o):
            guard case .string(let s) = v, let p = operand(o, context)?.stringValue else { return nil }
            return fold(s).hasSuffix(fold(p)) ? [:] : nil
        case .matches(let matcher):
            switch v {
            case .string, .number, .bool: return matcher.match(v.textValue)
            default: return nil
            }
        case .greater(let o, let orEqual):
            guard case .number(let a) = v, let b = operand(o, context)?.numberValue else { return nil }
            return (orEqual ? a >= b : a > b) ? [:] : nil
        case .less(let o, let orEqual):
            guard case .number(let a) = v, let b = operand(o, context)?.numberValue else { return nil }
            return (orEqual ? a <= b : a < b) ? [:] : nil
        case .notEquals, .exists:
            return nil
        }
    }

    func fold(_ s: String) -> String { ignoreCase ? s.lowercased() : s }

    func equals(_ a: JSONValue, _ b: JSONValue?) -> Bool {
        guard let b else { return false }
        if ignoreCase, case .string(let x) = a, case .string(let y) = b { return x.lowercased() == y.lowercased() }
        return a == b
    }

    func show(_ v: JSONValue?) -> String {
        guard let v else { return "(no value)" }
        let text = JSONWriter.serialize(v)
        return text.count > 60 ? String(text.prefix(59)) + "…" : text
    }

    func expectation(_ context: EventContext) -> String {
        switch op {
        case .equals(let o): "expected equals \(show(operand(o, context)))"
        case .notEquals(let o): "expected notEquals \(show(operand(o, context)))"
        case .isIn(let options): "expected one of \(show(.array(options)))"
        case .exists(let b): "expected exists \(b)"
        case .contains(let o): "expected contains \(show(operand(o, context)))"
        case .startsWith(let o): "expected startsWith \(show(operand(o, context)))"
        case .endsWith(let o): "expected endsWith \(show(operand(o, context)))"
        case .matches(let m): "expected matches \(show(.string(m.pattern)))"
        case .greater(let o, let e): "expected \(e ? "gte" : "gt") \(show(operand(o, context)))"
        case .less(let o, let e): "expected \(e ? "lte" : "lt") \(show(operand(o, context)))"
        }
    }

    func outcome(_ matched: Bool, _ value: JSONValue?, _ expectation: String?) -> Condition.Outcome {
        guard !matched, let expectation else { return Condition.Outcome(matched: matched, captures: [:], reason: nil) }
        return Condition.Outcome(matched: false, captures: [:], reason: "\(location): \(path) is \(show(value)); \(expectation)")
    }
}
