import TaskBridgeCore
import TaskBridgeStore
import TaskBridgeTargets

/// One action of one agent run at a time (``advance(_:)``), with the calls it made kept
/// for the run's record. The rules it follows (``AgentRunMachine``):
///
/// - **queued**: read the run (prompt, task); still PENDING → `starting` (the daily
///   budget was decided when the run was admitted, ``AgentWorker/schedule(_:group:)``).
/// - **starting**: save the intent, then `/start`. A 409, or an answer lost in transit,
///   is reconciled by reading the run: RUNNING means our start applied; STOPPED and the
///   like end it.
/// - **working**: stop if the user STOPPED it or `maxRunMinutes` passed; post a progress
///   comment when one is due (at most once each); execute the next backend step through
///   the backend target's connector, marked uncertain while it may be in flight so a
///   restart reconciles instead of creating a second task or chat.
/// - **finishing**: save the intent, then `/complete` (summary, PR, cost) or `/error`
///   (reason, cost); a 409 or a lost answer is reconciled the same way; three 409s while
///   GroupChat still says RUNNING end it rather than loop.
struct AgentRunContext {
    let worker: AgentWorker
    let api: GroupChatAgentClient
    var calls: [AgentCallRecord] = []
    /// Transitions this process sent for the run: an intent found saved that is not here
    /// was sent by a process that stopped before the answer was saved.
    var sentHere: Set<String> = []

    init(worker: AgentWorker, api: GroupChatAgentClient) {
        self.worker = worker
        self.api = api
    }

    var config: AgentConfig { worker.config }
    var plan: AgentBackendPlan { worker.plan }
    static let maxConflicts = 3

    /// Saves the run (and the calls made since the last save); retried briefly, as an
    /// upstream call must never go out before its intent is durable.
    mutating func persist(_ r: inout AgentRunRecord) async -> Bool {
        r.updatedAtMillis = WallClock.nowMillis()
        for pause in [0.2, 1.0, 3.0, 0] {
            do {
                try await worker.store.saveAgentRun(r, calls: calls)
                calls.removeAll()
                return true
            } catch {
                worker.logger.error("agent \(worker.name): cannot save run \(r.runId): \(error)")
                if pause == 0 || Task.isCancelled { break }
                try? await Task.sleep(nanoseconds: pause.sleepNanoseconds(atMost: 5))
            }
        }
        return false
    }

    /// Does the run's next action; returns the seconds to wait before the one after.
    mutating func advance(_ r: inout AgentRunRecord) async -> Double {
        switch r.phase {
        case .queued: return await read(&r)
        case .starting: return await start(&r)
        case .working: return await work(&r)
        case .finishing: return await finish(&r)
        case .done: return 0
        }
    }

    // MARK: - GroupChat calls

    /// A call to GroupChat, recorded; `nil` when it failed without an answer (`failure`).
    mutating func groupchat(_ r: AgentRunRecord, _ label: String,
                            _ send: @Sendable () async throws(StepFailure) -> GatedHTTP.Answer) async -> Result<GatedHTTP.Answer, StepFailure> {
        let now = WallClock.nowMillis()
        do {
            let answer = try await send()
            calls.append(AgentCallRecord(runId: r.runId, atMillis: now, api: "groupchat", request: answer.record.request, status: answer.status,
                                         latencyMillis: answer.record.latencyMillis, response: answer.record.response))
            if answer.status == 401 || answer.status == 403 {
                let reason = "agent \(worker.name): GroupChat refused the agent token (\(answer.status)) on \(label)"
                if api.gate.pauseForAuthentication(reason) { worker.logger.error("\(reason); calls pause until it works again or a new token is loaded") }
            }
            return .success(answer)
        } catch {
            if !error.breakerOpen && error.deferSeconds == nil {
                calls.append(AgentCallRecord(runId: r.runId, atMillis: now, api: "groupchat", request: label, status: nil, latencyMillis: 0,
                                             response: error.reason))
            }
            return .failure(error)
        }
    }

    /// The run as GroupChat has it now, or the wait before trying again.
    mutating func remoteStatus(_ r: inout AgentRunRecord) async -> Result<(status: String, run: JSONValue), Wait> {
        let id = r.runId
        let api = self.api
        switch await groupchat(r, "GET /api/v1/agent/runs/\(id)", { () async throws(StepFailure) in try await api.run(id) }) {
        case .failure(let f): return .failure(.retry(retry(&r, f)))
        case .success(let a):
            if a.status == 404 { return .failure(.gone) }
            guard a.status == 200, let run = a.json, let status = run["status"]?.stringValue else {
                return .failure(.retry(answerFailure(&r, a, "GET /api/v1/agent/runs/{id}")))
            }
            return .success((status, run))
        }
    }

    enum Wait: Error {
        case retry(Double)
        case gone
    }

    mutating func retry(_ r: inout AgentRunRecord, _ f: StepFailure) -> Double {
        r.lastError = f.reason
        if let d = f.deferSeconds { return d }
        r.failures += 1
        return AgentRunMachine.retryDelay(failures: r.failures, retryAfter: f.retryAfterSeconds, random: worker.random())
    }

    mutating func answerFailure(_ r: inout AgentRunRecord, _ a: GatedHTTP.Answer, _ request: String) -> Double {
        r.lastError = AgentWorker.describe(a, request)
        if a.status == 401 || a.status == 403 { return 30 }
        r.failures += 1
        return AgentRunMachine.retryDelay(failures: r.failures, retryAfter: AgentWorker.retryAfter(a), random: worker.random())
    }

    // MARK: - Phases

    mutating func read(_ r: inout AgentRunRecord) async -> Double {
        let remote: (status: String, run: JSONValue)
        switch await remoteStatus(&r) {
        case .failure(.gone): return end(&r, .stopped, "GroupChat no longer has this run (404)")
        case .failure(.retry(let d)): return d
        case .success(let s): remote = s
        }
        let run = remote.run
        if let p = run["prompt"]?.stringValue { r.prompt = p }
        if let task = run["task"], task.objectValue != nil {
            if let id = task["id"]?.stringValue, !id.isEmpty { r.taskId = id }
            r.taskTitle = task["title"]?.stringValue ?? r.taskTitle
            r.taskDescription = task["description"]?.stringValue
            r.projectId = task["projectId"]?.stringValue
            r.workspaceId = task["workspaceId"]?.stringValue
        }
        r.failures = 0
        switch AgentRunMachine.reconcile(.queued, remoteStatus: remote.status, intent: nil) {
        case .sendStart:
            r.phase = .starting
            return 0
        case .ended(let outcome, let why): return end(&r, outcome, why)
        case .working, .sendFinish: return end(&r, .stopped, "the run is \(remote.status) in GroupChat")
        }
    }

    var startMessage: String {
        switch config.backend.kind {
        case .posthog: "I'm on it: PostHog's coding agent will work on this in \(config.backend.repository ?? "the repository")."
        case .zylon: "I'm on it: asking Zylon."
        }
    }

    /// Notes, in the run's calls, a transition a previous process sent without saving the answer.
    mutating func noteLostAnswer(_ r: AgentRunRecord, _ transition: String) {
        guard !sentHere.contains(transition) else { return }
        calls.append(AgentCallRecord(runId: r.runId, atMillis: r.updatedAtMillis, api: "groupchat",
                                     request: "POST /api/v1/agent/runs/\(r.runId)/\(transition)", status: nil, latencyMillis: 0,
                                     response: "outcome unknown: the process stopped before the answer was saved; reconciled by reading the run"))
        sentHere.insert(transition)  // noted once, however many reads the reconciling takes
    }

    mutating func start(_ r: inout AgentRunRecord) async -> Double {
        if r.intent == "start" {
            noteLostAnswer(r, "start")
            switch await remoteStatus(&r) {
            case .failure(.gone): return end(&r, .stopped, "GroupChat no longer has this run (404)")
            case .failure(.retry(let d)): return d
            case .success(let remote):
                switch AgentRunMachine.reconcile(.starting, remoteStatus: remote.status, intent: r.intent) {
                case .sendStart: break
                case .working, .sendFinish: return started(&r)
                case .ended(let outcome, let why): return end(&r, outcome, why)
                }
            }
        }
        let before = r.intent
        r.intent = "start"
        guard await persist(&r) else {
            r.intent = before
            return 1
        }
        sentHere.insert("start")
        let (id, api, message) = (r.runId, self.api, r.finish == nil ? startMessage : "Looking at this.")
        switch await groupchat(r, "POST /api/v1/agent/runs/\(id)/start", { () async throws(StepFailure) in
            try await api.post(.start, run: id, text: message)
        }) {
        case .failure(let f):
            if !f.sent { r.intent = nil }
            return retry(&r, f)
        case .success(let a):
            switch a.status {
            case 200..<300: return started(&r)
            case 409:
                r.conflicts += 1
                r.lastError = AgentWorker.describe(a, "POST /start")
                if r.conflicts > Self.maxConflicts {
                    return end(&r, .stopped, "GroupChat answered 409 to /start \(r.conflicts) times while the run reads PENDING; gave up")
                }
                return AgentRunMachine.retryDelay(failures: r.conflicts, retryAfter: nil, random: worker.random())
            case 404: return end(&r, .stopped, "GroupChat no longer has this run (404)")
            case 401, 403, 408, 429, 500...:
                // A 5xx may have applied: the intent stays, and the next try reads the run first.
                if a.status < 500 { r.intent = nil }
                return answerFailure(&r, a, "POST /start")
            default:
                r.intent = nil
                return end(&r, .stopped, "GroupChat refused /start: " + AgentWorker.describe(a, "POST /start"))
            }
        }
    }

    mutating func started(_ r: inout AgentRunRecord) -> Double {
        let now = WallClock.nowMillis()
        r.intent = nil
        r.conflicts = 0
        r.failures = 0
        r.startedAtMillis = now
        r.phase = r.finish == nil ? .working : .finishing
        r.pendingEvents.append(AgentEvents.started)
        let latency = Double(now - (r.appearedAtMillis ?? r.discoveredAtMillis)) / 1000
        worker.runtime.metrics.agentRunStarted(agent: worker.name, pickupSeconds: latency)
        worker.logger.info("agent \(worker.name): started run \(r.runId) (task \(r.taskId)), \(JSONWriter.format(number: (latency * 10).rounded() / 10)) s after it appeared")
        return 0
    }

    mutating func work(_ r: inout AgentRunRecord) async -> Double {
        let now = WallClock.nowMillis()
        if AgentRunMachine.overTime(r, nowMillis: now, maxRunMinutes: config.maxRunMinutes) {
            let still = r.backend.taskId.map { " (the \(config.backend.kind.rawValue) work, task \(r.backend.taskSlug ?? $0), may still finish there)" } ?? ""
            return fail(&r, "the run took longer than \(JSONWriter.format(number: config.maxRunMinutes)) minutes (maxRunMinutes)\(still)")
        }
        switch await remoteStatus(&r) {
        case .failure(.gone): return end(&r, .stopped, "GroupChat no longer has this run (404)")
        case .failure(.retry):
            break  // Not knowing whether it was stopped is no reason to stall the backend.
        case .success(let remote):
            if case .ended(let outcome, let why) = AgentRunMachine.reconcile(.working, remoteStatus: remote.status, intent: nil) {
                return end(&r, outcome, why)
            }
        }
        if let comment = AgentRunMachine.dueComment(r) {
            r.comments.append(comment.marker)
            guard await persist(&r) else {
                r.comments.removeLast()
                return 1
            }
            let (id, api) = (r.runId, self.api)
            let result = await groupchat(r, "POST /api/v1/agent/runs/\(id)/comment", { () async throws(StepFailure) in
                try await api.post(.comment, run: id, text: comment.body)
            })
            // At most once: only a comment surely not sent is tried again.
            switch result {
            case .failure(let f) where !f.sent: r.comments.removeAll { $0 == comment.marker }
            case .success(let a) where a.status == 429 || (a.status >= 400 && a.status < 500 && a.status != 409 && a.status != 400):
                r.comments.removeAll { $0 == comment.marker }
            default: break
            }
        }
        guard r.backend.step < plan.stepCount else { return complete(&r) }
        return await runBackend(&r)
    }

    mutating func runBackend(_ r: inout AgentRunRecord) async -> Double {
        guard let connector = worker.backend?.connector else {
            r.lastError = worker.backend?.unavailableReason ?? "backend target \(config.backend.target) is not available"
            return 30
        }
        guard r.backendTarget == config.backend.target, r.backendKind == config.backend.kind.rawValue else {
            return fail(&r, "the agent's backend changed from \(r.backendKind) target \(r.backendTarget) to \(config.backend.kind.rawValue) target "
                        + "\(config.backend.target) while this run was on it; it is not moved to the new backend")
        }
        let index = r.backend.step
        let step: RenderedStep
        do throws(StepFailure) {
            step = try plan.step(index, for: r)
        } catch {
            return fail(&r, error.reason)
        }
        let context = StepContext(idempotencyKey: AgentBackendPlan.idempotencyKey(r, step: index), uncertain: r.backend.uncertain,
                                  fullTask: true, waitState: r.backend.waitState, lookupLink: { _ in nil })
        // Until its outcome is saved, the step may be in flight: a restart reconciles it.
        r.backend.uncertain = true
        guard await persist(&r) else {
            r.backend.uncertain = context.uncertain
            return 1
        }
        let started = WallClock.nowMillis()
        let result = await connector.execute(step, context: context)
        for w in result.wire {
            calls.append(AgentCallRecord(runId: r.runId, atMillis: started, api: config.backend.target, request: w.request, status: w.status,
                                         latencyMillis: w.latencyMillis, response: w.response))
        }
        switch result.outcome {
        case .success(let output, _):
            plan.absorb(step: index, output: output, waitState: nil, into: &r)
            r.backend.step += 1
            r.backend.waitState = nil
            r.backend.uncertain = false
            r.failures = 0
            return 0
        case .wait(let seconds, let state):
            plan.absorb(step: index, output: nil, waitState: state, into: &r)
            r.backend.waitState = state
            r.backend.uncertain = false
            r.failures = 0
            return max(0, seconds)
        case .failure(let f):
            // An attempt that surely did not leave does not settle one that may have.
            r.backend.uncertain = context.uncertain || f.sent
            if f.failureClass == .permanent { return fail(&r, f.reason) }
            if f.failureClass == .authentication, let gate = worker.backend?.gate {
                // As the dispatcher does: the target's token is the operator's problem.
                worker.runtime.metrics.authenticationFailure(target: config.backend.target)
                if gate.pauseForAuthentication(f.reason) {
                    worker.logger.error("target \(config.backend.target) paused: it refused its credentials (\(f.reason)); agent runs on it wait")
                }
                r.lastError = f.reason
                return 30
            }
            return retry(&r, f)
        }
    }

    mutating func complete(_ r: inout AgentRunRecord) -> Double {
        r.costUsd = plan.cost(r)
        r.finish = .init(kind: .complete, body: AgentRunMachine.completionBody(r))
        r.phase = .finishing
        return 0
    }

    mutating func fail(_ r: inout AgentRunRecord, _ reason: String) -> Double {
        r.costUsd = r.backend.runId != nil || r.backend.waitState != nil ? plan.cost(r) : nil
        r.error = reason
        r.finish = .init(kind: .error, body: AgentRunMachine.errorBody(reason))
        r.phase = .finishing
        worker.logger.warning("agent \(worker.name): run \(r.runId) fails: \(reason)")
        return 0
    }

    mutating func finish(_ r: inout AgentRunRecord) async -> Double {
        guard let finish = r.finish else { return complete(&r) }
        let kind = finish.kind.rawValue
        if r.intent == kind {
            noteLostAnswer(r, kind)
            switch await remoteStatus(&r) {
            case .failure(.gone): return end(&r, .stopped, "GroupChat no longer has this run (404)")
            case .failure(.retry(let d)): return d
            case .success(let remote):
                switch AgentRunMachine.reconcile(.finishing, remoteStatus: remote.status, intent: r.intent) {
                case .sendFinish, .sendStart, .working: break
                case .ended(let outcome, let why): return end(&r, outcome, why)
                }
            }
        }
        let before = r.intent
        r.intent = kind
        guard await persist(&r) else {
            r.intent = before
            return 1
        }
        sentHere.insert(kind)
        let (id, api, cost) = (r.runId, self.api, r.costUsd)
        let transition: GroupChatAgentClient.Transition = finish.kind == .complete ? .complete : .error
        switch await groupchat(r, "POST /api/v1/agent/runs/\(id)/\(kind)", { () async throws(StepFailure) in
            try await api.post(transition, run: id, text: finish.body, stepCostUsd: cost)
        }) {
        case .failure(let f):
            if !f.sent { r.intent = nil }
            return retry(&r, f)
        case .success(let a):
            switch a.status {
            case 200..<300: return end(&r, finish.kind == .complete ? .completed : .failed, r.error ?? "failed")
            case 409:
                r.conflicts += 1
                r.lastError = AgentWorker.describe(a, "POST /\(kind)")
                if r.conflicts > Self.maxConflicts {
                    return end(&r, .failed, "GroupChat answered 409 to /\(kind) \(r.conflicts) times while the run reads RUNNING; gave up")
                }
                return AgentRunMachine.retryDelay(failures: r.conflicts, retryAfter: nil, random: worker.random())
            case 404: return end(&r, .stopped, "GroupChat no longer has this run (404)")
            case 401, 403, 408, 429, 500...:
                if a.status < 500 { r.intent = nil }
                return answerFailure(&r, a, "POST /\(kind)")
            default:
                r.intent = nil
                return end(&r, .failed, "GroupChat refused /\(kind): " + AgentWorker.describe(a, "POST /\(kind)"))
            }
        }
    }

    /// The run is over: nothing more is sent for it.
    mutating func end(_ r: inout AgentRunRecord, _ outcome: AgentRunRecord.Outcome, _ why: String) -> Double {
        let now = WallClock.nowMillis()
        r.phase = .done
        r.outcome = outcome
        r.intent = nil
        r.finishedAtMillis = now
        switch outcome {
        case .completed:
            r.summary = r.finish?.kind == .complete ? r.finish?.body : why
            r.pendingEvents.append(AgentEvents.completed)
        case .failed:
            r.error = r.error ?? why
            r.pendingEvents.append(AgentEvents.failed)
        case .stopped:
            r.error = why
        }
        let duration = r.startedAtMillis.map { Double(now - $0) / 1000 }
        worker.runtime.metrics.agentRunFinished(agent: worker.name, outcome: outcome.rawValue, durationSeconds: duration, costUsd: r.costUsd)
        worker.logger.info("agent \(worker.name): run \(r.runId) \(outcome.rawValue)\(outcome == .completed ? "" : ": " + why)")
        return 0
    }
}
