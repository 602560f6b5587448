/// A validated set of rules, indexed by source and event type so matching costs only
/// the rules that can possibly apply — a thousand rules for other sources or types add
/// nothing to an event's cost.
public struct RuleSet: Sendable {
    public let rules: [Rule]
    private let index: [String: SourceIndex]
    private let tries: [String: PathTrie]
    private let byHash: [String: Int]

    struct SourceIndex: Sendable {
        var exact: [String: [Int]] = [:]
        var globs: [(Glob, Int)] = []
    }

    public static let empty = RuleSet(rules: [])

    public init(rules: [Rule], adapterPaths: [String: [FieldPath]] = [:]) {
        self.rules = rules
        var index: [String: SourceIndex] = [:]
        var tries: [String: PathTrie] = [:]
        var byHash: [String: Int] = [:]
        for (source, paths) in adapterPaths {
            for p in paths where p.root == "body" { tries[source, default: PathTrie()].insert(p.tail) }
        }
        for (i, rule) in rules.enumerated() {
            byHash[rule.versionHash] = i
            guard rule.enabled else { continue }
            for source in rule.sources {
                var entry = index[source] ?? SourceIndex()
                for glob in rule.events {
                    if glob.isLiteral {
                        if entry.exact[glob.pattern]?.last != i { entry.exact[glob.pattern, default: []].append(i) }
                    } else {
                        entry.globs.append((glob, i))
                    }
                }
                index[source] = entry
                for p in rule.ingestPaths where p.root == "body" { tries[source, default: PathTrie()].insert(p.tail) }
            }
        }
        self.index = index
        self.tries = tries
        self.byHash = byHash
    }

    /// The payload paths rules on `source` read at ingest: the parse filter for its events.
    public func payloadTrie(for source: String) -> PathTrie {
        tries[source] ?? PathTrie()
    }

    public func rule(versionHash: String) -> Rule? {
        byHash[versionHash].map { rules[$0] }
    }

    public func rule(id: String) -> Rule? {
        rules.first { $0.id == id }
    }

    /// Rules that listen to this source and type, in declaration order.
    public func candidates(source: String, type: String) -> [Int] {
        guard let entry = index[source] else { return [] }
        var hits = entry.exact[type] ?? []
        for (glob, i) in entry.globs where glob.matches(type) { hits.append(i) }
        if entry.globs.isEmpty { return hits }
        var seen = Set<Int>()
        return hits.sorted().filter { seen.insert($0).inserted }
    }

    public func match(source: String, type: String, context: EventContext) -> [RuleMatch] {
        var out: [RuleMatch] = []
        for i in candidates(source: source, type: type) {
            let rule = rules[i]
            var captures: [String: String] = [:]
            if let when = rule.when {
                let outcome = when.evaluate(context)
                guard outcome.matched else { continue }
                captures = outcome.captures
            }
            var keyContext = context
            keyContext.captures = captures
            let key = try? rule.effectiveOrderingKey?.render(keyContext)
            out.append(RuleMatch(rule: rule, captures: captures, orderingKey: key.flatMap { $0.isEmpty ? nil : $0 }))
        }
        return out
    }

    /// For `taskbridge test --explain`: why each rule did or did not match.
    public func explain(source: String, type: String, context: EventContext) -> [(rule: Rule, reason: String?)] {
        let candidates = Set(self.candidates(source: source, type: type))
        return rules.enumerated().map { i, rule in
            if !rule.enabled { return (rule, "disabled") }
            if !rule.sources.contains(source) { return (rule, "listens to \(rule.sources.joined(separator: ", ")), not \(source)") }
            if !candidates.contains(i) {
                return (rule, "event type \(type) is not in \(rule.events.map(\.pattern).joined(separator: ", "))")
            }
            if let when = rule.when {
                let outcome = when.evaluate(context, explain: true)
                if !outcome.matched { return (rule, outcome.reason ?? "condition did not match") }
            }
            return (rule, nil)
        }
    }
}

extension RuleSet {
    /// One hash for the whole set, from its rules' versions in order: it changes when
    /// any rule does, so the console can show which set is loaded.
    public var version: String {
        Rule.hash(rules.map { "\($0.id)=\($0.versionHash)" }.joined(separator: "\n"))
    }
}
