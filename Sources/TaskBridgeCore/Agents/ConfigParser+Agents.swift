/// `agents`: GroupChat agents TaskBridge acts as. Read after `targets` (a backend names one)
/// and `sources` (the `agent` source of agent-run events is added here).
extension ConfigParser {
    static func readAgents(_ node: JSONNode, into config: inout TaskBridgeConfig) {
        guard let o = node.object(allowed: Array(node.value.objectValue?.keys ?? [:].keys)) else { return }
        for (name, agentNode) in o.children {
            if !isValidName(name) {
                agentNode.report("agent name \"\(name)\" must be letters, digits, \"-\" or \"_\"")
                continue
            }
            if let agent = readAgent(name: name, agentNode, targets: config.targets) { config.agents[name] = agent }
        }
        guard !config.agents.isEmpty else { return }
        if let clash = config.sources[AgentEvents.source] {
            node.sink.report(PathText.child("sources", clash.name),
                             "the source name \"\(AgentEvents.source)\" is taken by agent-run events while agents are configured; rename this source")
            return
        }
        config.sources[AgentEvents.source] = SourceConfig(name: AgentEvents.source, kind: .agent)
    }

    static func readAgent(name: String, _ node: JSONNode, targets: [String: TargetConfig]) -> AgentConfig? {
        guard let o = node.object(allowed: AgentConfig.keys) else { return nil }
        let token = o.required("token").flatMap(SecretReference.read)
        let baseURL = o.node("baseURL").flatMap(StringSetting.read)
        guard let b = o.required("backend"), let backend = readBackend(b, targets: targets) else { return nil }
        var agent = AgentConfig(name: name, backend: backend)
        agent.token = token
        if let baseURL { agent.baseURL = baseURL }
        if let v = o.int("concurrency", in: 1...256) { agent.concurrency = v }
        if let v = o.double("maxRunMinutes", in: 0.01...10_080) { agent.maxRunMinutes = v }
        if let v = o.double("pollSeconds", in: 0.2...300) { agent.pollSeconds = v }
        if let v = o.double("timeoutSeconds", in: 0.1...600) { agent.timeoutSeconds = v }
        if let n = o.node("maxCostUsdPerDay"), let v = n.double(in: 0...1_000_000) {
            agent.maxCostUsdPerDay = v
            if !backend.hasPricing {
                n.report(backend.kind == .posthog
                    ? "PostHog reports no cost: set backend.costUsdPerRun so runs can be counted against the budget"
                    : "set backend.usdPerMillionInputTokens and/or usdPerMillionOutputTokens so Zylon's token usage can be counted against the budget")
            }
        }
        return agent
    }

    static func readBackend(_ node: JSONNode, targets: [String: TargetConfig]) -> AgentBackendConfig? {
        guard let o = node.object(allowed: AgentBackendConfig.keys), let targetNode = o.required("target"),
              let targetName = targetNode.string() else { return nil }
        guard let target = targets[targetName] else {
            let known = targets.keys.sorted()
            let hint = Spelling.suggestion(for: targetName, among: known).map { " (did you mean \"\($0)\"?)" } ?? ""
            targetNode.report("unknown target \"\(targetName)\"\(hint); configured targets: \(known.isEmpty ? "none" : known.joined(separator: ", "))")
            return nil
        }
        guard let kind = AgentBackendConfig.Kind(rawValue: target.kind) else {
            targetNode.report("target \"\(targetName)\" is a \(target.kind) target; an agent's backend must be a posthog or zylon target")
            return nil
        }
        var backend = AgentBackendConfig(target: targetName, kind: kind)
        let posthogOnly = ["repository", "originProduct", "costUsdPerRun"]
        let zylonOnly = ["project", "usdPerMillionInputTokens", "usdPerMillionOutputTokens"]
        for key in (kind == .posthog ? zylonOnly : posthogOnly) where o.has(key) {
            o.node(key)?.report("\"\(key)\" is for \(kind == .posthog ? "zylon" : "posthog") backends; target \"\(targetName)\" is \(kind.rawValue)")
        }
        switch kind {
        case .posthog:
            if let n = o.required("repository"), let repo = n.string() {
                let parts = repo.split(separator: "/", omittingEmptySubsequences: false)
                if parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty, !repo.contains(" ") {
                    backend.repository = repo
                } else {
                    n.report("\"\(repo.prefix(80))\" is not a repository; expected \"org/repo\"")
                }
            }
            if let p = o.string("originProduct") { backend.originProduct = p }
            backend.costUsdPerRun = o.double("costUsdPerRun", in: 0...10_000)
        case .zylon:
            backend.project = o.string("project")
            backend.usdPerMillionInputTokens = o.double("usdPerMillionInputTokens", in: 0...10_000)
            backend.usdPerMillionOutputTokens = o.double("usdPerMillionOutputTokens", in: 0...10_000)
        }
        return backend
    }
}
