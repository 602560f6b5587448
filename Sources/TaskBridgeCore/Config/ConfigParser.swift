/// Reads `taskbridge.json`. Every problem is reported with its location; unknown keys
/// are errors.
public enum ConfigParser {
    /// - Parameter kinds: the target kinds the build knows (`TargetKinds.all` in
    ///   TaskBridgeTargets); a target of any other kind is an error.
    public static func parse(_ bytes: [UInt8], file: String, kinds: [any TargetKindParser]) throws(DiagnosticsError) -> TaskBridgeConfig {
        let sink = DiagnosticSink(file: file)
        let root: JSONValue
        do {
            root = try JSONParser.parse(bytes)
        } catch {
            throw DiagnosticsError([Diagnostic(file: file, path: "", message: error.description)])
        }
        let config = read(JSONNode(value: root, sink: sink), kinds: kinds)
        if sink.hasErrors { throw DiagnosticsError(sink.diagnostics) }
        return config
    }

    static func read(_ node: JSONNode, kinds list: [any TargetKindParser]) -> TaskBridgeConfig {
        var config = TaskBridgeConfig()
        let kinds = Dictionary(list.map { ($0.kind, $0) }, uniquingKeysWith: { a, _ in a })
        for kind in list {
            for action in kind.actions { config.actionKinds[action.name, default: []].append(kind.kind) }
        }
        guard let root = node.object(allowed: ["$schema", "server", "storage", "sources", "targets", "rules",
                                               "admin", "delivery", "retention", "logging", "agents"]) else { return config }
        if let n = root.node("server") { config.server = readServer(n) }
        if let n = root.node("storage") { config.storage = readStorage(n) }
        if let n = root.required("sources"), let o = n.object(allowed: Array(n.value.objectValue?.keys ?? [:].keys)) {
            if o.members.isEmpty { o.report("define at least one source") }
            for (name, sourceNode) in o.children {
                if !isValidName(name) {
                    sourceNode.report("source name \"\(name)\" must be letters, digits, \"-\" or \"_\" (it becomes the URL path /hooks/\(name))")
                    continue
                }
                if let source = readSource(name: name, sourceNode) { config.sources[name] = source }
            }
        }
        if let largest = config.sources.values.max(by: { $0.maxBodyBytes < $1.maxBodyBytes }),
           largest.maxBodyBytes > config.server.maxBufferedBodyBytes {
            // Only reachable when set explicitly: the default is above every source's ceiling.
            root.sink.report(PathText.child(PathText.child(root.path, "server"), "maxBufferedBodyBytes"),
                             "\(config.server.maxBufferedBodyBytes) is less than sources.\(largest.name).maxBodyBytes (\(largest.maxBodyBytes)); "
                                 + "a body that size could never be buffered, so raise it to at least \(largest.maxBodyBytes)")
        }
        if let n = root.node("targets"), let o = n.object(allowed: Array(n.value.objectValue?.keys ?? [:].keys)) {
            for (name, targetNode) in o.children {
                if !isValidName(name) {
                    targetNode.report("target name \"\(name)\" must be letters, digits, \"-\" or \"_\"")
                    continue
                }
                if let target = readTarget(name: name, targetNode, kinds: kinds) { config.targets[name] = target }
            }
        }
        if let n = root.node("agents") { readAgents(n, into: &config) }
        if let n = root.node("rules") {
            if let globs = n.stringOrStringArray() { config.rules = globs }
        }
        if let n = root.node("admin"), let o = n.object(allowed: ["token"]) {
            // `"token": null` turns the admin API off; without the key the default
            // (TASKBRIDGE_ADMIN_TOKEN) applies.
            if let t = o.node("token") { config.admin.token = t.value.isNull ? nil : SecretReference.read(t) }
        }
        if let n = root.node("delivery"),
           let o = n.object(allowed: ["maxInFlight", "leaseSeconds", "pollIntervalSeconds", "shutdownGraceSeconds", "maxCrashes"]) {
            if let v = o.int("maxCrashes", in: 1...100) { config.delivery.maxCrashes = v }
            if let v = o.int("maxInFlight", in: 1...100_000) { config.delivery.maxInFlight = v }
            if let v = o.double("leaseSeconds", in: 5...86_400) { config.delivery.leaseSeconds = v }
            if let v = o.double("pollIntervalSeconds", in: 0.01...60) { config.delivery.pollIntervalSeconds = v }
            if let v = o.double("shutdownGraceSeconds", in: 0...600) { config.delivery.shutdownGraceSeconds = v }
        }
        if let n = root.node("retention"), let o = n.object(allowed: ["days", "pruneIntervalSeconds"]) {
            if let v = o.double("days", in: 0.001...36_500) { config.retention.days = v }
            if let v = o.double("pruneIntervalSeconds", in: 1...604_800) { config.retention.pruneIntervalSeconds = v }
        }
        if let n = root.node("logging"), let o = n.object(allowed: ["format", "level"]) {
            if let f = o.node("format")?.oneOf([("text", LoggingSettings.Format.text), ("json", .json)]) {
                config.logging.format = f
            }
            if let l = o.node("level")?.oneOf(["trace", "debug", "info", "notice", "warning", "error", "critical"].map { ($0, $0) }) {
                config.logging.level = l
            }
        }
        return config
    }

    static func isValidName(_ name: String) -> Bool {
        !name.isEmpty && name.count <= 64 && name.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") }
    }

    static func readServer(_ node: JSONNode) -> ServerSettings {
        var s = ServerSettings()
        guard let o = node.object(allowed: ["host", "port", "pathPrefix", "trustedProxies", "forwardedHeader", "idleTimeoutSeconds",
                                            "headerTimeoutSeconds", "requestTimeoutSeconds", "maxConnections",
                                            "maxBufferedBodyBytes"]) else { return s }
        s.host = o.string("host")
        s.port = o.int("port", in: 0...65_535)
        if let p = o.node("pathPrefix"), let prefix = p.string(nonEmpty: false) {
            let trimmed = prefix.hasSuffix("/") ? String(prefix.dropLast()) : prefix
            if !trimmed.isEmpty && !trimmed.hasPrefix("/") {
                p.report("must start with \"/\", e.g. \"/taskbridge\"")
            } else if trimmed.contains("?") || trimmed.contains("#") || trimmed.contains(" ") {
                p.report("must be a plain path")
            } else {
                s.pathPrefix = trimmed
            }
        }
        if let list = o.node("trustedProxies")?.array() {
            for item in list {
                guard let text = item.string() else { continue }
                if let cidr = CIDR(text) { s.trustedProxies.append(cidr) } else { item.report("\"\(text)\" is not an IP address or CIDR block") }
            }
        }
        if let v = o.double("idleTimeoutSeconds", in: 1...3_600) { s.idleTimeoutSeconds = v }
        if let v = o.double("headerTimeoutSeconds", in: 1...600) { s.headerTimeoutSeconds = v }
        if let v = o.double("requestTimeoutSeconds", in: 1...3_600) { s.requestTimeoutSeconds = v }
        if let v = o.int("maxConnections", in: 1...1_000_000) { s.maxConnections = v }
        if let h = o.node("forwardedHeader")?.oneOf(ForwardedHeader.allCases.map { ($0.rawValue, $0) }) { s.forwardedHeader = h }
        if let v = o.int("maxBufferedBodyBytes", in: 1024...(1 << 40)) { s.maxBufferedBodyBytes = v }
        return s
    }

    static func readRateLimit(_ node: JSONNode) -> RateLimitSettings? {
        guard let o = node.object(allowed: ["burst", "perSecond", "perMinute"]) else { return nil }
        let burst = o.int("burst", in: 1...1_000_000, required: true)
        // A rate of 0 would never refill the bucket: the source or target would refuse
        // forever after its burst.
        let perSecond = o.positiveDouble("perSecond", atMost: 1_000_000)
        let perMinute = o.positiveDouble("perMinute", atMost: 60_000_000)
        switch (perSecond, perMinute) {
        case (let s?, nil): return burst.map { RateLimitSettings(burst: $0, perSecond: s) }
        case (nil, let m?): return burst.map { RateLimitSettings(burst: $0, perSecond: m / 60) }
        case (.some, .some): o.report("give either \"perSecond\" or \"perMinute\", not both")
        case (nil, nil):
            // An invalid rate was already reported where it is; only a missing one is reported here.
            if !o.has("perSecond") && !o.has("perMinute") { o.report("missing required key \"perSecond\" or \"perMinute\"") }
        }
        return nil
    }

    static func readSource(name: String, _ node: JSONNode) -> SourceConfig? {
        let common = ["kind", "secrets", "maxBodyBytes", "rateLimit"]
        let widgetKeys = ["allowedOrigins", "honeypotField", "fieldLimits", "extraFields"]
        let kindValue = node.value["kind"].flatMap(\.stringValue)
        if kindValue == SourceKind.agent.rawValue {
            JSONNode(value: node.value["kind"] ?? .null, path: PathText.child(node.path, "kind"), sink: node.sink).report("no source has kind \"agent\": agent-run events come from the \"agents\" section, as source \"agent\"")
            return nil
        }
        let allowed = kindValue == "widget" ? common + widgetKeys : common
        guard let o = node.object(allowed: allowed) else { return nil }
        // `agent` sources are made by `agents`, not written.
        guard let kind = o.required("kind")?.oneOf(SourceKind.allCases.filter { $0 != .agent }.map { ($0.rawValue, $0) }) else { return nil }
        var source = SourceConfig(name: name, kind: kind)
        if let list = o.node("secrets")?.array() {
            source.secrets = list.compactMap(SecretReference.read)
            if list.isEmpty { o.node("secrets")?.report("list at least one secret, or remove the key") }
        } else if kind != .widget {
            o.report("missing required key \"secrets\" (\(kind == .github ? "the GitHub webhook secret" : "the Sentry integration's client secret"))")
        }
        if let v = o.int("maxBodyBytes", in: 1...SourceConfig.maxBodyBytesLimit) { source.maxBodyBytes = v }
        if let rl = o.node("rateLimit"), let ro = rl.object(allowed: ["perClient", "perSource"]) {
            source.rateLimitPerClient = ro.node("perClient").flatMap(readRateLimit)
            source.rateLimitPerSource = ro.node("perSource").flatMap(readRateLimit)
        }
        if kind == .widget {
            var w = WidgetSettings()
            if let origins = o.node("allowedOrigins")?.array() {
                w.allowedOrigins = origins.compactMap { item in
                    guard let text = item.string() else { return nil }
                    if text == "*" {
                        item.report("\"*\" is not allowed; list each origin exactly (scheme://host[:port])")
                        return nil
                    }
                    guard let origin = Origin.normalize(text) else {
                        item.report("\"\(text)\" is not an origin; expected scheme://host[:port] with no path")
                        return nil
                    }
                    return origin
                }
            }
            if let h = o.node("honeypotField") {
                if case .null = h.value { w.honeypotField = nil } else { w.honeypotField = h.string() }
            }
            if let extras = o.stringArray("extraFields") {
                for (i, f) in extras.enumerated() where WidgetSettings.standardFields.contains(f) || f == w.honeypotField {
                    o.node("extraFields")?.sink.report(PathText.index(PathText.child(o.path, "extraFields"), i), "\"\(f)\" is already a widget field")
                }
                w.extraFields = extras
            }
            if let fl = o.node("fieldLimits") {
                let known = WidgetSettings.standardFields + w.extraFields
                if let lo = fl.object(allowed: known) {
                    for key in lo.members.keys where known.contains(key) {
                        if let v = lo.int(key, in: 1...1_000_000) { w.fieldLimits[key] = v }
                    }
                }
            }
            source.widget = w
            if !o.has("maxBodyBytes") { source.maxBodyBytes = 64 * 1024 }
        }
        return source
    }

    static func readTarget(name: String, _ node: JSONNode, kinds: [String: any TargetKindParser]) -> TargetConfig? {
        guard case .object(let members) = node.value else {
            node.report("expected an object, found \(node.value.typeName)")
            return nil
        }
        let raw = JSONObjectNode(members: members, path: node.path, sink: node.sink)
        guard let kindNode = raw.required("kind"), let kindName = kindNode.string() else { return nil }
        guard let kind = kinds[kindName] else {
            let known = kinds.keys.sorted()
            let hint = Spelling.suggestion(for: kindName, among: known).map { " (did you mean \"\($0)\"?)" } ?? ""
            kindNode.report("unknown value \"\(kindName)\"\(hint); expected one of \(known.map { "\"\($0)\"" }.joined(separator: ", "))")
            return nil
        }
        guard let o = node.object(allowed: TargetConfig.commonKeys + kind.settingKeys) else { return nil }
        var t = TargetConfig(name: name, kind: kind.kind, baseURL: kind.defaultBaseURL)
        if let n = o.node("baseURL"), let v = StringSetting.read(n) { t.baseURL = v }
        if let n = o.required("token") { t.token = SecretReference.read(n) }
        if let v = o.double("timeoutSeconds", in: 0.1...600) { t.timeoutSeconds = v }
        if let v = o.int("concurrency", in: 1...4096) { t.concurrency = v }
        t.rateLimit = o.node("rateLimit").flatMap(readRateLimit)
        if let n = o.node("retry"), let r = n.object(allowed: ["maxAttempts", "maxAgeSeconds", "initialDelaySeconds",
                                                               "maxDelaySeconds", "retryAfterCapSeconds"]) {
            if let v = r.int("maxAttempts", in: 1...100_000) { t.retry.maxAttempts = v }
            if let v = r.double("maxAgeSeconds", in: 1...(365 * 86_400)) { t.retry.maxAgeSeconds = v }
            if let v = r.double("initialDelaySeconds", in: 0.001...86_400) { t.retry.initialDelaySeconds = v }
            if let v = r.double("maxDelaySeconds", in: 0.001...86_400) { t.retry.maxDelaySeconds = v }
            if let v = r.double("retryAfterCapSeconds", in: 0...86_400) { t.retry.retryAfterCapSeconds = v }
            if t.retry.maxDelaySeconds < t.retry.initialDelaySeconds {
                r.report("maxDelaySeconds must be at least initialDelaySeconds")
            }
        }
        if let n = o.node("breaker"), let b = n.object(allowed: ["failureThreshold", "openSeconds"]) {
            if let v = b.int("failureThreshold", in: 1...100_000) { t.breaker.failureThreshold = v }
            if let v = b.double("openSeconds", in: 0.01...86_400) { t.breaker.openSeconds = v }
        }
        if let n = o.node("taskLink"), let text = n.string() {
            switch TaskLinkTemplate.parse(text) {
            case .success(let link): t.taskLink = link
            case .failure(let e): n.report(e.message)
            }
        }
        t.settings = kind.readSettings(o)
        t.actions = kind.actions
        return t
    }
}

/// Browser origins, compared exactly after normalization (lower-case scheme and host,
/// default port dropped).
public enum Origin {
    public static func normalize(_ text: String) -> String? {
        let lower = text.lowercased()
        guard let schemeEnd = lower.firstRange(of: "://") else { return nil }
        let scheme = String(lower[..<schemeEnd.lowerBound])
        guard scheme == "http" || scheme == "https" else { return nil }
        var rest = String(lower[schemeEnd.upperBound...])
        if rest.hasSuffix("/") { rest.removeLast() }
        guard !rest.isEmpty, !rest.contains("/"), !rest.contains("?"), !rest.contains("#"), !rest.contains("@") else { return nil }
        if scheme == "http", rest.hasSuffix(":80") { rest.removeLast(3) }
        if scheme == "https", rest.hasSuffix(":443") { rest.removeLast(4) }
        return scheme + "://" + rest
    }
}
