/// Reads rule files into a validated ``RuleSet``. Every problem in every file is
/// reported as `file: json.path: reason`: unknown keys, duplicate ids, unknown sources
/// or targets, bad regexes, bad paths and templates, dangling step references.
public struct RuleParser {
    public let config: TaskBridgeConfig

    public init(config: TaskBridgeConfig) {
        self.config = config
    }

    public struct RuleFile: Sendable {
        public var path: String
        public var bytes: [UInt8]

        public init(path: String, bytes: [UInt8]) {
            self.path = path
            self.bytes = bytes
        }
    }

    public func parse(_ files: [RuleFile]) throws(DiagnosticsError) -> RuleSet {
        var diagnostics: [Diagnostic] = []
        var rules: [Rule] = []
        var seen: [String: (file: String, location: String)] = [:]
        for file in files.sorted(by: { $0.path < $1.path }) {
            let sink = DiagnosticSink(file: file.path)
            let root: JSONValue
            do {
                root = try JSONParser.parse(file.bytes)
            } catch {
                diagnostics.append(Diagnostic(file: file.path, path: "", message: error.description))
                continue
            }
            let node = JSONNode(value: root, sink: sink)
            if let obj = node.object(allowed: ["$schema", "rules"]), let list = obj.required("rules")?.array() {
                for item in list {
                    guard let rule = parseRule(item, file: file.path) else { continue }
                    if let previous = seen[rule.id] {
                        sink.report(PathText.child(item.path, "id"),
                                    "duplicate rule id \"\(rule.id)\" (first defined in \(previous.file): \(previous.location))")
                        continue
                    }
                    seen[rule.id] = (file.path, rule.location)
                    rules.append(rule)
                }
            }
            diagnostics += sink.diagnostics
        }
        if !diagnostics.isEmpty { throw DiagnosticsError(diagnostics) }
        return RuleSet(rules: rules, adapterPaths: adapterPaths())
    }

    /// Re-reads one stored rule version (jobs run the version they were planned with).
    public func parseStoredRule(_ json: String, file: String) throws(DiagnosticsError) -> Rule {
        let sink = DiagnosticSink(file: file)
        let value: JSONValue
        do {
            value = try JSONParser.parse(json)
        } catch {
            throw DiagnosticsError([Diagnostic(file: file, path: "", message: error.description)])
        }
        let node = JSONNode(value: value, path: "", sink: sink)
        guard let rule = parseRule(node, file: file), !sink.hasErrors else { throw DiagnosticsError(sink.diagnostics) }
        return rule
    }

    func adapterPaths() -> [String: [FieldPath]] {
        var out: [String: [FieldPath]] = [:]
        for (name, source) in config.sources { out[name] = WebhookAdapters.adapter(for: source).payloadPaths }
        return out
    }

    static let ruleKeys = ["id", "description", "sources", "events", "when", "orderingKey", "target", "enabled", "do"]

    func parseRule(_ node: JSONNode, file: String) -> Rule? {
        let sink = node.sink
        let before = sink.diagnostics.count
        guard let o = node.object(allowed: RuleParser.ruleKeys) else { return nil }
        Self.reportNonFiniteNumbers(node)
        let id = o.string("id", required: true)
        if let id, !id.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "-_.:".contains($0)) }) || id.count > 100 {
            o.node("id")?.report("rule id \"\(id)\" must be up to 100 letters, digits, \"-\", \"_\", \".\" or \":\"")
        }
        // Sources: must exist in the config.
        var sources: [String] = []
        let sourcesNode = o.required("sources")
        let sourceList = sourcesNode?.stringOrStringArray()
        if let n = sourcesNode, let list = sourceList {
            if list.isEmpty { n.report("list at least one source") }
            for (i, name) in list.enumerated() {
                if config.sources[name] == nil {
                    let known = config.sources.keys.sorted()
                    var hint = Spelling.suggestion(for: name, among: known).map { " (did you mean \"\($0)\"?)" } ?? ""
                    if name == AgentEvents.source { hint = " (agent-run events exist once \"agents\" are configured)" }
                    sink.report(n.value.arrayValue == nil ? n.path : PathText.index(n.path, i),
                                "unknown source \"\(name)\"\(hint); configured sources: \(known.joined(separator: ", "))")
                } else {
                    sources.append(name)
                }
            }
        }
        var events: [Glob] = []
        if let n = o.required("events"), let list = n.stringOrStringArray() {
            if list.isEmpty { n.report("list at least one event type, e.g. \"issue.created\" or \"pull_request.*\"") }
            events = list.map(Glob.init)
        }
        let keptHeaders = Set(sources.compactMap { config.sources[$0]?.kind }.flatMap(WebhookAdapters.keptHeaders(for:)))
        var scope = Scope(keptHeaders: keptHeaders, checkHeaders: sources.count == (sourceList?.count ?? 0))
        let when = o.node("when").flatMap { parseCondition($0, scope: &scope) }
        var orderingKey: Template?
        if let n = o.node("orderingKey"), let text = n.string() {
            orderingKey = parseTemplate(text, at: n, scope: scope, allowSteps: false)
        }
        // Target: explicit, or the only configured one.
        var target = ""
        if let n = o.node("target"), let name = n.string() {
            if config.targets[name] == nil {
                let known = config.targets.keys.sorted()
                let hint = Spelling.suggestion(for: name, among: known).map { " (did you mean \"\($0)\"?)" } ?? ""
                n.report("unknown target \"\(name)\"\(hint); configured targets: \(known.isEmpty ? "none" : known.joined(separator: ", "))")
            } else {
                target = name
            }
        } else if config.targets.count == 1 {
            target = config.targets.keys.first!
        } else if config.targets.isEmpty {
            o.report("no target is configured; add one under \"targets\" in the config")
        } else {
            o.report("several targets are configured (\(config.targets.keys.sorted().joined(separator: ", "))); name one with \"target\"")
        }
        let enabled = o.bool("enabled") ?? true
        var steps: [StepSpec] = []
        if let n = o.required("do"), let list = n.array() {
            if list.isEmpty { n.report("a rule needs at least one step") }
            for item in list {
                if let step = parseStep(item, index: steps.count, ruleTarget: target, earlier: steps, scope: scope) {
                    steps.append(step)
                }
            }
        }
        guard let id, sink.diagnostics.count == before else { return nil }
        let canonical = JSONWriter.serialize(node.value)
        return Rule(id: id, description: o.string("description", nonEmpty: false), sources: sources, events: events,
                    when: when, orderingKey: orderingKey, target: target, enabled: enabled, steps: steps,
                    file: file, location: node.path, canonicalJSON: canonical, versionHash: Rule.hash(canonical))
    }

    /// A number too large for a Double (`1e999`) reads as ±infinity, which the rule's
    /// canonical JSON — the version jobs re-read — can only write as `null`: such a rule
    /// would check fine and then fail (or change meaning) in every job. Refused where it
    /// is written.
    static func reportNonFiniteNumbers(_ node: JSONNode) {
        switch node.value {
        case .number(let n) where !n.isFinite:
            node.report("number out of range: beyond ±1.8e308, a 64-bit float cannot hold it")
        case .object(let members):
            for (key, value) in members.sorted(by: { $0.key < $1.key }) {
                reportNonFiniteNumbers(JSONNode(value: value, path: PathText.child(node.path, key), sink: node.sink))
            }
        case .array(let items):
            for (i, item) in items.enumerated() {
                reportNonFiniteNumbers(JSONNode(value: item, path: PathText.index(node.path, i), sink: node.sink))
            }
        default:
            break
        }
    }

    /// What names a rule's paths may use.
    struct Scope {
        var keptHeaders: Set<String>
        var checkHeaders: Bool
        var captureNames: Set<String> = []
    }

    func parsePath(_ text: String, at node: JSONNode, scope: Scope, allowSteps: Bool) -> FieldPath? {
        let path: FieldPath
        do {
            path = try FieldPath(parsing: text)
        } catch {
            node.report(error.description)
            return nil
        }
        let roots = allowSteps ? EventContext.roots : EventContext.roots.filter { $0 != "steps" }
        guard roots.contains(path.root) else {
            if path.root == "steps" {
                node.report("\"\(text)\": step outputs exist only when steps run; use them in step fields, not in conditions or ordering keys")
            } else {
                let hint = Spelling.suggestion(for: path.root, among: roots).map { " (did you mean \"\($0)\"?)" } ?? ""
                node.report("\"\(text)\": unknown root \"\(path.root)\"\(hint); paths start with \(roots.joined(separator: ", "))")
            }
            return nil
        }
        if path.root == "headers" {
            guard path.tail.count == 1, case .key(let name)? = path.tail.first else {
                node.report("\"\(text)\": write a header as headers.<name>")
                return nil
            }
            if scope.checkHeaders, !scope.keptHeaders.contains(name.lowercased()) {
                node.report("\"\(text)\": header \"\(name)\" is not kept for this rule's sources; available: \(scope.keptHeaders.sorted().joined(separator: ", "))")
                return nil
            }
        }
        if path.root == "captures" {
            guard path.tail.count == 1, case .key(let name)? = path.tail.first else {
                node.report("\"\(text)\": write a capture as captures.<group name>")
                return nil
            }
            if !scope.captureNames.contains(name) {
                node.report("\"\(text)\": no matches condition in this rule defines a named group \"\(name)\"")
                return nil
            }
        }
        if path.root == "event" {
            let fields = ["id", "type", "source", "receivedAt", "dedupeKey"]
            guard path.tail.count == 1, case .key(let name)? = path.tail.first, fields.contains(name) else {
                node.report("\"\(text)\": event fields are \(fields.map { "event." + $0 }.joined(separator: ", "))")
                return nil
            }
        }
        if path.root == "client", path.description != "client.ip" {
            node.report("\"\(text)\": the only client field is client.ip")
            return nil
        }
        return path
    }

    func parseTemplate(_ text: String, at node: JSONNode, scope: Scope, allowSteps: Bool, earlierSteps: [String] = []) -> Template? {
        let template: Template
        do {
            template = try Template(parsing: text)
        } catch {
            node.report(error.reason)
            return nil
        }
        var ok = true
        for path in template.paths {
            if parsePath(path.description, at: node, scope: scope, allowSteps: allowSteps) == nil { ok = false; continue }
            if path.root == "steps" {
                guard case .key(let stepId)? = path.tail.first else {
                    node.report("\"\(path)\": write a step output as steps.<step id>.…")
                    ok = false
                    continue
                }
                if !earlierSteps.contains(stepId) {
                    node.report("\"\(path)\": no earlier step has id \"\(stepId)\"\(earlierSteps.isEmpty ? "" : "; earlier steps: \(earlierSteps.joined(separator: ", "))")")
                    ok = false
                }
            }
        }
        return ok ? template : nil
    }
}
