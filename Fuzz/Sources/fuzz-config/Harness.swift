import FuzzSupport
import TaskBridgeCore

/// ConfigParser (`taskbridge.json`). Invariants:
/// - parsing is deterministic (same config or same diagnostics twice);
/// - every diagnostic names the file and says something;
/// - an accepted config is within the documented limits: at least one source, valid
///   source and target names, ports and timeouts in range, rate limits with a burst of at
///   least one and a finite, positive rate, widget origins already normalized;
/// - the example rule files can be checked against any accepted config without trapping,
///   and each source's adapter and planner can be built and prechecked.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    let input = fuzzBytes(start, count)
    let file = "config/fuzz.json"
    let config: TaskBridgeConfig
    do {
        config = try ConfigParser.parse(input, file: file, kinds: Repo.targetKinds)
    } catch {
        invariant(!error.diagnostics.isEmpty, "rejected without a diagnostic")
        for d in error.diagnostics {
            invariant(d.file == file && !d.message.isEmpty, "diagnostic without file or message: \(d)")
        }
        do {
            _ = try ConfigParser.parse(input, file: file, kinds: Repo.targetKinds)
            invariant(false, "second parse accepted what the first rejected")
        } catch let again {
            invariant(again.diagnostics.map(\.description) == error.diagnostics.map(\.description), "diagnostics differ between runs")
        }
        return 0
    }
    invariant(!config.sources.isEmpty, "accepted a config without sources")
    for (name, source) in config.sources {
        invariant(validName(name) && source.name == name, "bad source name \(escaped(name))")
        invariant((1...SourceConfig.maxBodyBytesLimit).contains(source.maxBodyBytes), "maxBodyBytes \(source.maxBodyBytes)")
        for rl in [source.rateLimitPerClient, source.rateLimitPerSource].compactMap({ $0 }) { checkRate(rl, name) }
        if let w = source.widget {
            for o in w.allowedOrigins {
                invariant(o != "*" && Origin.normalize(o) == o, "origin \(escaped(o)) is not normalized")
            }
            for (_, limit) in w.fieldLimits { invariant(limit >= 1, "field limit \(limit)") }
        }
        let planner = IngestPlanner(source: source, secrets: [Secret("s")])
        _ = planner.precheck(HeaderFields([("Content-Type", "application/json")]))
        _ = planner.adapter.payloadPaths
    }
    for (name, target) in config.targets {
        invariant(validName(name) && target.name == name, "bad target name \(escaped(name))")
        if let rl = target.rateLimit { checkRate(rl, name) }
        let r = target.retry
        invariant(r.maxAttempts >= 1 && r.initialDelaySeconds > 0 && r.maxDelaySeconds >= r.initialDelaySeconds
                  && r.maxAgeSeconds > 0 && r.retryAfterCapSeconds >= 0, "retry settings out of range: \(r)")
        invariant(target.concurrency >= 1 && target.timeoutSeconds > 0, "target limits out of range")
    }
    if let port = config.server.port { invariant((0...65_535).contains(port), "port \(port)") }
    invariant(config.server.pathPrefix.isEmpty || config.server.pathPrefix.hasPrefix("/"), "pathPrefix \(escaped(config.server.pathPrefix))")
    invariant(!config.server.pathPrefix.hasSuffix("/"), "pathPrefix ends with /")
    invariant(config.delivery.maxInFlight >= 1 && config.delivery.pollIntervalSeconds > 0, "delivery settings out of range")
    for cidr in config.server.trustedProxies { invariant(cidr.contains(cidr.network), "CIDR \(cidr) does not contain its network") }

    _ = try? RuleParser(config: config).parse(Repo.exampleRuleFiles.map { .init(path: $0, bytes: exampleRuleBytes[$0]!) })
    return 0
}

let exampleRuleBytes: [String: [UInt8]] = Dictionary(uniqueKeysWithValues: Repo.exampleRuleFiles.map { ($0, Repo.file($0)) })

func validName(_ name: String) -> Bool {
    !name.isEmpty && name.count <= 64 && name.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") }
}

func checkRate(_ rl: RateLimitSettings, _ owner: String) {
    invariant(rl.burst >= 1, "\(owner): burst \(rl.burst)")
    invariant(rl.perSecond.isFinite && rl.perSecond > 0, "\(owner): rate \(rl.perSecond)/s")
}

/// The program's entry point (SwiftPM links `main` to `<module>_main`).
@_cdecl("fuzz_config_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runLibFuzzer(argc, argv, fuzz) { _ = exampleRuleBytes; _ = Repo.shippedConfig }
}
