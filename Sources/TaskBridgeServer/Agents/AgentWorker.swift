import AsyncHTTPClient
import Logging
import Synchronization
import TaskBridgeCore
import TaskBridgeStore
import TaskBridgeTargets

/// Works one configured agent: learns who it is (`GET /agent/me`), lists its PENDING runs
/// every `pollSeconds` (with jitter, and backoff and `Retry-After` on errors), records
/// each new run durably before acting on it, and drives up to `concurrency` runs at once
/// through their life (``AgentWorker/advance(_:_:)``). Every run's state is in the store,
/// so a restart — or kill -9 — resumes each where it was.
final class AgentWorker: Sendable {
    let config: AgentConfig
    let runtime: TaskBridgeRuntime
    let api: GroupChatAgentClient?
    let unavailableReason: String?
    /// The backend target as the dispatcher runs it (the same gate and connector).
    let backend: TargetRuntime?
    let plan: AgentBackendPlan
    let wake = WakeSignal()
    let random: @Sendable () -> Double
    private let active = Mutex<Set<String>>([])

    var name: String { config.name }
    var store: any Store { runtime.store }
    var logger: Logger { runtime.logger }

    init(config: AgentConfig, runtime: TaskBridgeRuntime, client: HTTPClient, backend: TargetRuntime?,
         random: @escaping @Sendable () -> Double = { Double.random(in: 0..<1) }) {
        self.config = config
        self.runtime = runtime
        self.backend = backend
        self.plan = AgentBackendPlan(agent: config)
        self.random = random
        var reason: String?
        var api: GroupChatAgentClient?
        let baseURL = config.baseURL.resolve(runtime.secrets.environment) ?? ""
        switch config.token.map(runtime.secrets.resolve) {
        case .value(let token)?:
            if !token.text.hasPrefix("gca_") {
                reason = "agent \(config.name): the token is not a GroupChat agent token (they start with gca_)"
            } else if baseURL.isEmpty {
                reason = "agent \(config.name) has no baseURL"
            } else {
                let gate = TargetGate(name: "agent:" + config.name, concurrency: config.concurrency + 2, rateLimit: nil, breaker: BreakerSettings())
                api = GroupChatAgentClient(client: client, baseURL: baseURL, token: token, timeoutSeconds: config.timeoutSeconds, gate: gate)
            }
        case .missing(let why)?: reason = "agent \(config.name) has no token (\(why)); it picks up no runs until one is set and TaskBridge restarted"
        case nil: reason = "agent \(config.name) has no token"
        }
        if backend?.connector == nil, reason == nil {
            reason = "agent \(config.name): backend target \(config.backend.target) cannot deliver (\(backend?.unavailableReason ?? "not configured")); runs stay PENDING"
        }
        self.api = api
        self.unavailableReason = reason
    }

    /// Reads the token again on reload (a rotated `{"file": …}` secret).
    func reloadCredentials() -> String? {
        guard let api, case .value(let token)? = config.token.map(runtime.secrets.resolve), api.replaceToken(token) else { return nil }
        let resumed = api.gate.resumeAuthentication()
        wake.signal()  // whoever waits on a refused token tries the new one now
        return "agent \(name): new token loaded" + (resumed ? "; runs resume" : "")
    }

    func run() async {
        guard let api, unavailableReason == nil else {
            let reason = unavailableReason ?? "agent \(name) cannot run"
            logger.error("\(reason)")
            runtime.agentStatus.update(name) { $0.problem = reason }
            try? await Task.sleep(nanoseconds: UInt64.max / 2)
            return
        }
        guard await learnIdentity(api) else { return }
        await withDiscardingTaskGroup { group in
            var failures = 0
            while !Task.isCancelled {
                let (ok, retryAfter) = await pollPending(api)
                failures = ok ? 0 : failures + 1
                runtime.agentStatus.update(name) {
                    $0.lastPollMillis = WallClock.nowMillis()
                    $0.pollFailures = failures
                }
                await schedule(api, group: &group)
                let delay = AgentRunMachine.pollDelay(pollSeconds: config.pollSeconds, failures: failures, retryAfter: retryAfter, random: random())
                await wake.wait(upTo: delay)
            }
            group.cancelAll()
        }
    }

    /// `GET /agent/me`, until it answers. A refused token is logged once per change and
    /// pauses the agent's gate, which lets one try through after 30 s, doubling to 10 min;
    /// a reload that brings a new token resumes it and tries at once.
    func learnIdentity(_ api: GroupChatAgentClient) async -> Bool {
        var failures = 0
        var lastProblem: String?
        while !Task.isCancelled {
            var problem: String
            var retryAfter: Double?
            do {
                let answer = try await api.me()
                if answer.status == 200, let me = answer.json, me["agentUserId"]?.stringValue != nil {
                    runtime.agentStatus.update(name) {
                        $0.identity = me
                        $0.problem = nil
                    }
                    logger.notice("agent \(name) is GroupChat agent \(me["name"]?.stringValue ?? "?") (\(me["agentUserId"]?.stringValue ?? "?")), owned by \(me["ownerName"]?.stringValue ?? "?"); backend \(config.backend.kind.rawValue) target \(config.backend.target)")
                    return true
                }
                problem = Self.describe(answer, "GET /api/v1/agent/me")
                if answer.status == 401 || answer.status == 403 {
                    problem = "agent \(name): GroupChat refused the agent token (\(answer.status)); check it, or create a new one in the agent's settings"
                    api.gate.pauseForAuthentication(problem)
                }
                retryAfter = Self.retryAfter(answer)
            } catch {
                // Held back by the pause a refusal started: the refusal is still the problem.
                problem = error.deferSeconds != nil ? (lastProblem ?? error.reason) : "agent \(name): cannot reach GroupChat: \(error.reason)"
                retryAfter = error.deferSeconds
            }
            failures += 1
            if problem != lastProblem { logger.error("\(problem)") }
            lastProblem = problem
            runtime.agentStatus.update(name) { $0.problem = problem }
            // At most a minute (a try held back by the gate's pause costs nothing); a reload
            // that brings a new token wakes it at once.
            let delay = min(60, max(AgentRunMachine.retryDelay(failures: failures, retryAfter: retryAfter, random: random()), failures > 6 ? 60 : 0))
            await wake.wait(upTo: delay)
        }
        return false
    }

    static func retryAfter(_ answer: GatedHTTP.Answer) -> Double? {
        RetryPolicy.parseRetryAfter(answer.retryAfter, now: Double(WallClock.nowMillis()) / 1000)
    }

    static func describe(_ answer: GatedHTTP.Answer, _ request: String) -> String {
        let message = answer.json?["error"]?.stringValue ?? String(decoding: answer.body.prefix(200), as: UTF8.self)
        return "\(request) answered \(answer.status): \(message.prefix(300))"
    }

    /// Lists PENDING runs and records the new ones (and new turns of finished ones).
    /// Returns whether the list was read, and a `Retry-After` when one came.
    func pollPending(_ api: GroupChatAgentClient) async -> (Bool, Double?) {
        let answer: GatedHTTP.Answer
        do {
            answer = try await api.pendingRuns()
        } catch {
            logger.warning("agent \(name): listing PENDING runs failed: \(error.reason)")
            return (false, error.deferSeconds ?? error.retryAfterSeconds)
        }
        guard answer.status == 200, let runs = answer.json?["runs"]?.arrayValue else {
            let problem = "agent \(name): \(Self.describe(answer, "GET /api/v1/agent/runs?status=PENDING"))"
            logger.warning("\(problem)")
            if answer.status == 401 || answer.status == 403 { api.gate.pauseForAuthentication(problem) }
            return (false, Self.retryAfter(answer))
        }
        let now = WallClock.nowMillis()
        for run in runs where run["status"]?.stringValue == "PENDING" {
            guard let id = run["id"]?.stringValue, !id.isEmpty, id.utf8.count <= 200 else { continue }
            let appeared = (run["updatedAt"]?.numberValue ?? run["createdAt"]?.numberValue)?.clampedToInt64
            do {
                if let known = try await store.agentRun(id: id) {
                    // A run we are done with, listed PENDING: the owner answered, or the
                    // list was read before our last call applied. A fresh read tells.
                    guard AgentRunMachine.isNewTurn(known, listedStatus: "PENDING"), !active.withLock({ $0.contains(id) }),
                          let fresh = try? await api.run(id), fresh.status == 200, fresh.json?["status"]?.stringValue == "PENDING" else { continue }
                    let next = AgentRunMachine.nextTurn(known, prompt: run["prompt"]?.stringValue ?? known.prompt,
                                                        appearedAtMillis: appeared, nowMillis: now)
                    try await store.saveAgentRun(next, calls: [])
                    logger.info("agent \(name): run \(id) is PENDING again: turn \(next.turn)")
                    continue
                }
                var record = AgentRunRecord(runId: id, agent: name, taskId: run["taskId"]?.stringValue ?? "", prompt: run["prompt"]?.stringValue ?? "",
                                            backendTarget: config.backend.target, backendKind: config.backend.kind.rawValue, discoveredAtMillis: now)
                record.taskTitle = run["taskTitle"]?.stringValue
                record.appearedAtMillis = run["createdAt"]?.numberValue?.clampedToInt64 ?? now
                if try await store.insertAgentRun(record) {
                    logger.info("agent \(name): new run \(id) for task \(record.taskId)")
                }
            } catch {
                logger.error("agent \(name): cannot record run \(id): \(error)")
            }
        }
        return (true, nil)
    }

    /// Starts driving the open runs not driven yet: all that are already started, and
    /// queued ones while fewer than `concurrency` are active. The daily budget is decided
    /// here, one queued run at a time, so runs read at once cannot all slip under it: a
    /// run admitted under the cap reserves its known price (`costUsdPerRun`), one over it
    /// is set to fail without starting the backend.
    func schedule(_ api: GroupChatAgentClient, group: inout DiscardingTaskGroup) async {
        guard let open = try? await store.openAgentRuns(agent: name) else { return }
        for run in open {
            let admitted = active.withLock { set -> Bool in
                if set.contains(run.runId) { return false }
                if run.phase == .queued && set.count >= config.concurrency { return false }
                set.insert(run.runId)
                return true
            }
            guard admitted else { continue }
            if run.phase == .queued, run.finish == nil, run.costUsd == nil, let cap = config.maxCostUsdPerDay {
                guard await decideBudget(run, cap: cap) else {
                    active.withLock { _ = $0.remove(run.runId) }
                    continue
                }
            }
            let count = active.withLock { $0.count }
            runtime.agentStatus.update(name) { $0.activeRuns = count }
            let id = run.runId
            group.addTask {
                // Read again: the snapshot may predate the last driver's final save.
                if let fresh = try? await self.store.agentRun(id: id), fresh.phase != .done || !fresh.pendingEvents.isEmpty {
                    await self.drive(fresh, api)
                }
                let left = self.active.withLock { set -> Int in
                    set.remove(id)
                    return set.count
                }
                self.runtime.agentStatus.update(self.name) { $0.activeRuns = left }
                self.wake.signal()
            }
        }
    }

    /// Reserves the run's price, or sets it to fail over budget; saved before it is driven.
    func decideBudget(_ run: AgentRunRecord, cap: Double) async -> Bool {
        var r = run
        guard let spent = try? await store.agentSpendUsd(agent: name, sinceMillis: WallClock.nowMillis() - 86_400_000) else { return false }
        if AgentRunMachine.overBudget(spentUsd: spent, nextRunUsd: config.backend.costUsdPerRun, capUsd: cap) {
            r.error = "over the daily budget (maxCostUsdPerDay)"
            r.finish = .init(kind: .error, body: AgentRunMachine.errorBody(
                "this agent's daily budget (maxCostUsdPerDay $\(JSONWriter.format(number: cap))) is spent: $\(JSONWriter.format(number: (spent * 100).rounded() / 100)) in the last 24 hours. The \(config.backend.kind.rawValue) backend was not started."))
            logger.warning("agent \(name): run \(r.runId) is over the daily budget; it fails without starting the backend")
        } else {
            r.costUsd = config.backend.costUsdPerRun
        }
        do {
            try await store.saveAgentRun(r, calls: [])
            return true
        } catch {
            logger.error("agent \(name): cannot save run \(r.runId): \(error)")
            return false
        }
    }

    /// Advances one run until it is done (or the service stops), saving it after every
    /// action and emitting its events. Each action runs to its end even when the service
    /// is stopping (in a task that shutdown does not cancel): a call cut short would leave
    /// its outcome unknown, and an unknown Zylon chat fails its run. Only the waits
    /// between actions are cut short.
    func drive(_ start: AgentRunRecord, _ api: GroupChatAgentClient) async {
        var r = start
        var context = AgentRunContext(worker: self, api: api)
        while r.phase != .done && !Task.isCancelled {
            let (c, rr) = (context, r)
            let step = Task { () -> (AgentRunContext, AgentRunRecord, Double?) in
                var c = c, rr = rr
                let delay = await c.advance(&rr)
                // A run must not go on from a state the store does not have: keep trying
                // for a few minutes, then stop driving it (the store has the last state
                // saved, from which the next start reconciles).
                var pause = 1.0
                for _ in 0..<8 {
                    if await c.persist(&rr) {
                        await self.emitEvents(&rr)
                        return (c, rr, delay)
                    }
                    try? await Task.sleep(nanoseconds: pause.sleepNanoseconds(atMost: 30))
                    pause = min(pause * 2, 30)
                }
                self.logger.error("agent \(self.name): run \(rr.runId) cannot be saved; it is no longer driven until TaskBridge restarts")
                return (c, rr, nil)
            }
            let outcome = await step.value
            guard let delay = outcome.2 else { return }
            (context, r) = (outcome.0, outcome.1)
            if delay > 0 {
                do { try await Task.sleep(nanoseconds: delay.sleepNanoseconds(atMost: 3_600)) } catch { return }
            }
        }
        await emitEvents(&r)
        // Events that cannot be stored now are tried again on a later poll, not at once.
        if !r.pendingEvents.isEmpty { try? await Task.sleep(nanoseconds: 5_000_000_000) }
    }

    /// Stores the run's pending `agent.run.*` events (deduped by run and type) and wakes
    /// the dispatcher for the jobs they plan.
    func emitEvents(_ r: inout AgentRunRecord) async {
        guard !r.pendingEvents.isEmpty else { return }
        var left: [String] = []
        for type in r.pendingEvents {
            let now = WallClock.nowMillis()
            let planned = AgentEvents.plan(type: type, record: r, rules: runtime.rules,
                                           eventId: Identifier.make(prefix: "evt", millis: now), nowMillis: now)
            do {
                let outcome = try await store.ingest(planned)
                if !outcome.duplicate {
                    runtime.metrics.event(source: AgentEvents.source, type: type, outcome: planned.status.rawValue)
                    logger.info("agent-run event", metadata: ["event": "\(outcome.eventId)", "type": "\(type)", "run": "\(r.runId)",
                                                             "jobs": "\(planned.jobs.count)"])
                }
            } catch {
                logger.error("agent \(name): cannot store event \(type) of run \(r.runId): \(error)")
                left.append(type)
            }
        }
        let emitted = left.count < r.pendingEvents.count
        r.pendingEvents = left
        if emitted {
            try? await store.saveAgentRun(r, calls: [])
            runtime.wake.signal()
        }
    }
}
