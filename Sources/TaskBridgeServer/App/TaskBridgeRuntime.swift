import Logging
import Synchronization
import TaskBridgeCore
import TaskBridgeTargets
import TaskBridgeStore

/// What one running TaskBridge shares between ingress, the dispatcher and the admin
/// API: the configuration, the current rule set (swapped atomically on reload), the
/// store, metrics and the dispatcher's wake-up signal.
public final class TaskBridgeRuntime: Sendable {
    public let config: TaskBridgeConfig
    public let configPath: String
    public let store: any Store
    public let metrics: TaskBridgeMetrics
    public let logger: Logger
    let sources: [String: SourceRuntime]
    let wake = WakeSignal()
    private let currentRules: Mutex<RuleSet>
    let clientResolver: ClientAddressResolver
    /// Request-body bytes being buffered by all requests at once (`server.maxBufferedBodyBytes`).
    public let bodyBudget: BodyBudget
    /// `/readyz`'s store check: cached for a second, one in flight at a time.
    let readiness: ReadinessCheck
    let adminToken: Secret?
    /// Where secrets (and `{"env": …}` settings) are looked up.
    public let secrets: SecretResolver
    /// The configured agents' identities and health, kept by their workers.
    public let agentStatus = AgentStatusBoard()
    /// The dispatcher's target gates, for `GET /admin/api/targets`.
    let targetStatus = TargetStatusBoard()
    /// When rules were installed and how the last reload went.
    let ruleStatus = RuleStatusBoard()
    /// Bearer and console-session checks, sign-in throttling and sign-out.
    let adminAuth: AdminAuth

    public init(loaded: ConfigLoader.Loaded, store: any Store, secrets: SecretResolver = SecretResolver(),
                logger: Logger, metrics: TaskBridgeMetrics = TaskBridgeMetrics()) {
        self.config = loaded.config
        self.configPath = loaded.configPath
        self.secrets = secrets
        self.store = store
        self.metrics = metrics
        self.logger = logger
        self.currentRules = Mutex(loaded.rules)
        self.bodyBudget = BodyBudget(limit: loaded.config.server.maxBufferedBodyBytes)
        self.readiness = ReadinessCheck { await store.checkWritable() }
        self.clientResolver = ClientAddressResolver(trustedProxies: loaded.config.server.trustedProxies,
                                                    header: loaded.config.server.forwardedHeader)
        let now = MonotonicClock.seconds()
        var sources: [String: SourceRuntime] = [:]
        // The `agent` source is not received over HTTP: ingress does not know it (404).
        for (name, source) in loaded.config.sources where source.kind != .agent {
            var values: [Secret] = []
            var missing: [String] = []
            for ref in source.secrets {
                switch secrets.resolve(ref) {
                case .value(let s): values.append(s)
                case .missing(let why): missing.append(why)
                }
            }
            var reason: String?
            if source.kind != .widget && values.isEmpty {
                reason = "source \(name) has no usable secret (\(missing.joined(separator: "; "))); it answers 503 until one is set"
                logger.error("\(reason!)")
            } else if !missing.isEmpty {
                logger.warning("source \(name): some secrets are unavailable (\(missing.joined(separator: "; "))); verifying with the others")
            }
            sources[name] = SourceRuntime(config: source, secrets: values, unavailableReason: reason, now: now)
        }
        self.sources = sources
        switch loaded.config.admin.token.map(secrets.resolve) {
        case .value(let s)?: adminToken = s
        default: adminToken = nil
        }
        adminAuth = AdminAuth(token: adminToken)
    }

    public var rules: RuleSet { currentRules.withLock { $0 } }

    /// How many times `/readyz` has checked the store itself (the rest were answered
    /// from the cached result or joined a check in flight).
    public var readinessStoreChecks: Int { readiness.storeChecks }

    private let reloadHooks = Mutex<[@Sendable () async -> Void]>([])

    /// Runs `hook` on every reload (SIGHUP or changed rule files): the dispatcher reads
    /// target credentials again there.
    func onReload(_ hook: @escaping @Sendable () async -> Void) {
        reloadHooks.withLock { $0.append(hook) }
    }

    func runReloadHooks() async {
        for hook in reloadHooks.withLock({ $0 }) { await hook() }
    }

    /// Swaps in a validated rule set, after recording its versions so the dispatcher can
    /// always find the version a job was planned with.
    public func install(_ rules: RuleSet) async throws {
        try await store.saveRuleVersions(rules.rules)
        currentRules.withLock { $0 = rules }
        ruleStatus.installed(atMillis: WallClock.nowMillis())
    }
}

/// Wakes the dispatcher when work arrives; a wait also ends after a timeout.
final class WakeSignal: Sendable {
    private struct State {
        var pending = false
        var waiter: CheckedContinuation<Void, Never>?
    }

    private let state = Mutex(State())

    func signal() {
        let waiter = state.withLock { s -> CheckedContinuation<Void, Never>? in
            if let w = s.waiter {
                s.waiter = nil
                return w
            }
            s.pending = true
            return nil
        }
        waiter?.resume()
    }

    func wait(upTo seconds: Double) async {
        let ready = state.withLock { s -> Bool in
            if s.pending {
                s.pending = false
                return true
            }
            return false
        }
        if ready || seconds <= 0 { return }
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                await withCheckedContinuation { (cont: CheckedContinuation<Void, Never>) in
                    let resumeNow = self.state.withLock { s -> Bool in
                        if s.pending {
                            s.pending = false
                            return true
                        }
                        s.waiter = cont
                        return false
                    }
                    if resumeNow { cont.resume() }
                }
            }
            group.addTask {
                try? await Task.sleep(nanoseconds: seconds.sleepNanoseconds(atMost: 3600))
                self.signal()
            }
            await group.next()
            group.cancelAll()
            // The sleeper may have signalled after the waiter was resumed by someone else.
        }
        state.withLock { $0.pending = false }
    }
}
