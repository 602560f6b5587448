import Crypto
import Logging
import Synchronization
import TaskBridgeCore
import TaskBridgeStore
import TaskBridgeTargets

/// Runs one claimed job: renders each remaining step against the stored event and the
/// outputs of earlier steps, executes it, and makes the outcome durable before moving
/// on — so a retry resumes at the failed step and a step that succeeded is never sent
/// again.
final class JobRunner: Sendable {
    let runtime: TaskBridgeRuntime
    let targets: [String: TargetRuntime]
    let owner: String
    let leaseMillis: Int64
    private let storedRules = Mutex<[String: Rule]>([:])
    /// Per rule version: the payload paths its steps read and the steps whose outputs
    /// later steps read — derived once, not for every job.
    private let readPlans = Mutex<[String: (payload: PathTrie, stepsReadLater: Set<String>)]>([:])

    init(runtime: TaskBridgeRuntime, targets: [String: TargetRuntime], owner: String, leaseMillis: Int64) {
        self.runtime = runtime
        self.targets = targets
        self.owner = owner
        self.leaseMillis = leaseMillis
    }

    var store: any Store { runtime.store }
    var logger: Logger { runtime.logger }

    /// The rule version the job was planned with: from the live rule set, else from the
    /// stored versions.
    func rule(_ job: ClaimedJob) async throws -> Rule? {
        if let r = runtime.rules.rule(versionHash: job.ruleVersion) { return r }
        if let r = storedRules.withLock({ $0[job.ruleVersion] }) { return r }
        guard let stored = try await store.ruleVersion(job.ruleVersion) else { return nil }
        let parsed = try RuleParser(config: runtime.config).parseStoredRule(stored.json, file: stored.file)
        storedRules.withLock { $0[job.ruleVersion] = parsed }
        return parsed
    }

    func readPlan(_ rule: Rule) -> (payload: PathTrie, stepsReadLater: Set<String>) {
        readPlans.withLock { plans in
            if let plan = plans[rule.versionHash] { return plan }
            let plan = (payload: rule.stepPayloadTrie, stepsReadLater: rule.stepsReadLater)
            plans[rule.versionHash] = plan
            return plan
        }
    }

    /// `Idempotency-Key` for a step: stable per (source, event dedupe key, rule, step), so
    /// a retry is recognised upstream; a replay (generation > 0) is new work with new keys.
    static func idempotencyKey(source: String, dedupeKey: String?, eventId: String, ruleId: String, step: Int,
                               generation: Int = 0) -> String {
        var material = "\(source)|\(dedupeKey ?? eventId)|\(ruleId)|\(step)"
        if generation > 0 { material += "|replay \(generation)" }
        let digest = SHA256.hash(data: Array(material.utf8))
        return "tb_" + Hex.lowercase(digest.prefix(16))
    }

    /// Records an outcome under the job's claim. Returns `false` when it was not
    /// recorded — the lease is lost, or the store failed — and the runner must stop:
    /// another worker owns the job, or will once the lease expires (and reconciles).
    @discardableResult
    func finish(_ job: ClaimedJob, _ lease: JobLease, _ change: JobUpdate.Change, attempt: AttemptRecord? = nil,
                link: LinkRecord? = nil) async -> Bool {
        guard !lease.isLost else { return false }
        do {
            let held = try await store.update(JobUpdate(jobSeq: job.seq, fence: job.fence, change: change, attempt: attempt,
                                                        link: link, nowMillis: WallClock.nowMillis()))
            if !held {
                lease.lose("a report was refused: the job's claim is no longer current")
                logger.warning("job lease was lost before its outcome was recorded", metadata: ["job": "\(job.id)"])
            }
            return held
        } catch {
            // The lease will expire and the job will be taken again (as uncertain).
            logger.error("could not record job outcome", metadata: ["job": "\(job.id)", "error": "\(error)"])
            return false
        }
    }

    func deadLetter(_ job: ClaimedJob, _ lease: JobLease, _ event: StoredEvent?, _ reason: String, attempt: AttemptRecord? = nil) async {
        guard await finish(job, lease, .dead(error: reason), attempt: attempt) else { return }
        runtime.metrics.jobFinished(target: job.target, state: "dead", sinceReceivedSeconds: nil)
        logger.error("job dead-lettered", metadata: [
            "job": "\(job.id)", "event": "\(event?.id ?? "?")", "rule": "\(job.ruleId)", "target": "\(job.target)", "reason": "\(reason)",
        ])
    }

    /// Hands a claimed job its event once, so the runner holds the only copy of the raw
    /// body and can drop it as soon as the payload is parsed: a full in-flight window
    /// then costs the parsed fields its steps read, not every event's body.
    final class EventSlot: Sendable {
        private let slot: Mutex<StoredEvent?>
        init(_ event: StoredEvent?) { slot = Mutex(event) }
        func take() -> StoredEvent? { slot.withLock { $0.take() } }
    }

    func run(_ job: ClaimedJob, event slot: EventSlot, lease: JobLease) async {
        guard var event = slot.take() else {
            await deadLetter(job, lease, nil, "the job's event is missing from the store")
            return
        }
        let rule: Rule
        do {
            guard let r = try await self.rule(job) else {
                await deadLetter(job, lease, event, "rule \(job.ruleId) version \(job.ruleVersion) is not stored")
                return
            }
            rule = r
        } catch {
            await deadLetter(job, lease, event, "rule \(job.ruleId) version \(job.ruleVersion) no longer loads: \(error)")
            return
        }
        guard let source = runtime.config.sources[event.source] else {
            await deadLetter(job, lease, event, "source \(event.source) is no longer configured")
            return
        }
        let plan = readPlan(rule)
        let payload: JSONValue
        do {
            var headers = HeaderFields()
            headers.append("content-type", event.contentType)
            let document = try WebhookAdapters.adapter(for: source).payloadDocument(headers, body: event.body)
            payload = try JSONParser.parse(document, keeping: plan.payload)
        } catch {
            await deadLetter(job, lease, event, "stored payload cannot be read: \(error)")
            return
        }
        event.body = []
        var cursor = StepCursor(steps: rule.steps, context: EventContext(
            id: event.id, type: event.type, source: event.source, receivedAtMillis: event.receivedAtMillis, dedupeKey: event.dedupeKey,
            body: payload, headers: event.headers, clientIP: event.clientIP, captures: job.captures, steps: job.outputs), start: job.step)
        let laterStepsRead = plan.stepsReadLater
        while let spec = cursor.current {
            if lease.isLost { return }
            let step = cursor.index
            let rendered: RenderedStep
            do {
                rendered = try cursor.render()
            } catch {
                await deadLetter(job, lease, event, "\(rule.file): \(error.description)")
                return
            }
            guard let target = targets[rendered.target], let connector = target.connector else {
                if let target = targets[rendered.target] {
                    // No token: wait (without spending an attempt) rather than spin.
                    await finish(job, lease, .deferred(untilMillis: WallClock.nowMillis() + Self.noTokenDeferMillis,
                                                       reason: target.unavailableReason ?? "target \(rendered.target) is not available"))
                } else {
                    await deadLetter(job, lease, event, "target \(rendered.target) is no longer configured")
                }
                return
            }
            let firstTry = step == job.step
            let store = self.store
            let started = WallClock.nowMillis()
            let result = await connector.execute(rendered, context: StepContext(
                idempotencyKey: Self.idempotencyKey(source: event.source, dedupeKey: event.dedupeKey, eventId: event.id,
                                                    ruleId: rule.id, step: step, generation: job.generation),
                uncertain: firstTry && job.uncertain,
                fullTask: laterStepsRead.contains(spec.id),
                waitState: firstTry ? job.waitState : nil,
                lookupLink: { key in
                    try await store.link(target: rendered.target, key: key).map {
                        LinkedTask(taskId: $0.taskId, projectId: $0.projectId)
                    }
                }))
            let attempt = record(result, step: step, startedAt: started, target: rendered.target)
            runtime.metrics.gauge("taskbridge_breaker_state", [("target", rendered.target)], Double(target.gate.breakerGauge))
            switch result.outcome {
            case .success(let output, let link):
                let last = cursor.isLast
                cursor.advance(output: output, kept: laterStepsRead.contains(spec.id) ? output : connector.compact(output))
                let outputs = cursor.context.steps
                let linkRecord = link.map { LinkRecord(target: rendered.target, key: $0.key, taskId: $0.taskId, projectId: $0.projectId) }
                log(job, event, rule, step, rendered, attempt, "ok", nil)
                if last {
                    if await finish(job, lease, .succeeded(outputs: outputs), attempt: attempt, link: linkRecord) {
                        runtime.metrics.jobFinished(target: job.target, state: "succeeded",
                                                    sinceReceivedSeconds: Double(WallClock.nowMillis() - event.receivedAtMillis) / 1000)
                    }
                } else {
                    // Progress not recorded (lease lost, store failing): stop here. The next
                    // owner resumes at this step, as uncertain, and reconciles it.
                    guard await finish(job, lease, .progressed(nextStep: step + 1, outputs: outputs,
                                                               leaseUntilMillis: WallClock.nowMillis() + leaseMillis),
                                       attempt: attempt, link: linkRecord) else { return }
                }
            case .wait(let seconds, let state):
                // Nothing to hold on to meanwhile: the job waits in the store.
                var a = attempt
                a?.outcome = "waiting"
                log(job, event, rule, step, rendered, a, "waiting", nil)
                let due = WallClock.nowMillis() + (seconds.clamped(to: 0.05...86_400) * 1000).clampedToInt64
                await finish(job, lease, .waiting(untilMillis: due, state: state), attempt: a)
                return
            case .failure(let failure):
                await handle(failure, job: job, lease: lease, event: event, rule: rule, step: step, firstTry: firstTry, rendered: rendered,
                             attempt: attempt, target: target)
                return
            }
            if Task.isCancelled, cursor.current != nil {
                await finish(job, lease, .released(uncertain: false))
                return
            }
        }
    }

    func handle(_ failure: StepFailure, job: ClaimedJob, lease: JobLease, event: StoredEvent, rule: Rule, step: Int, firstTry: Bool,
                rendered: RenderedStep, attempt: AttemptRecord?, target: TargetRuntime) async {
        if failure.leaseLost || lease.isLost { return }
        if failure.breakerOpen {
            // Nothing was sent: wait until the target takes requests again (a paused
            // target: see `pausedDeferSeconds`).
            let paused = target.gate.authPauseReason != nil
            let seconds = min(failure.deferSeconds ?? 1, paused ? Self.pausedDeferSeconds : 3600)
            await finish(job, lease, .deferred(untilMillis: WallClock.nowMillis() + (seconds.clamped(to: 0...3600) * 1000).clampedToInt64, reason: failure.reason))
            return
        }
        if Task.isCancelled {
            // Shutting down: hand the job back without spending an attempt.
            var a = attempt
            a?.outcome = "released"
            await finish(job, lease, .released(uncertain: failure.sent), attempt: a)
            return
        }
        switch failure.failureClass {
        case .authentication:
            // A refused token is the operator's problem, not the job's: pause the target,
            // and let this job (and every other) wait without spending attempts.
            runtime.metrics.authenticationFailure(target: rendered.target)
            if target.gate.pauseForAuthentication(failure.reason) {
                logger.error("target paused: it refused its credentials; its jobs wait without spending attempts until a reload brings a new token or a probe succeeds", metadata: [
                    "target": "\(rendered.target)", "reason": "\(failure.reason)",
                ])
            }
            var a = attempt
            a?.outcome = "paused"
            log(job, event, rule, step, rendered, a, "paused", failure.reason)
            // Short: while paused, the target's own jobs are not claimed at all (one probe
            // per backoff is), so this only bounds how soon they go once it resumes.
            let wait = min(target.gate.breakerReopensIn() ?? 5, Self.pausedDeferSeconds)
            await finish(job, lease, .deferred(untilMillis: WallClock.nowMillis() + (wait.clamped(to: 0.5...Self.pausedDeferSeconds) * 1000).clampedToInt64,
                                               reason: "paused: \(failure.reason)"), attempt: a)
        case .permanent:
            var a = attempt
            a?.outcome = "failed"
            log(job, event, rule, step, rendered, a, "failed", failure.reason)
            await deadLetter(job, lease, event, failure.reason, attempt: a)
        case .retryable:
            let attempts = (firstTry ? job.attempts : 0) + 1
            let firstDue = firstTry ? Double(job.firstDueAtMillis) / 1000 : Double(WallClock.nowMillis()) / 1000
            let decision = target.policy.decide(attempt: attempts, firstAttemptAt: firstDue, now: Double(WallClock.nowMillis()) / 1000,
                                                retryAfter: failure.retryAfterSeconds, random: Double.random(in: 0..<1))
            var a = attempt
            switch decision {
            case .retry(let at):
                a?.outcome = "retry"
                log(job, event, rule, step, rendered, a, "retry", failure.reason)
                await finish(job, lease, .retry(atMillis: Int64(at * 1000), error: failure.reason, uncertain: failure.sent), attempt: a)
            case .deadLetter(let why):
                a?.outcome = "failed"
                log(job, event, rule, step, rendered, a, "failed", failure.reason)
                await deadLetter(job, lease, event, "\(why); last error: \(failure.reason)", attempt: a)
            }
        }
    }

    /// One attempt row per step execution (lookups included in its request text), and
    /// one metric sample per HTTP call.
    func record(_ result: StepResult, step: Int, startedAt: Int64, target: String) -> AttemptRecord? {
        for w in result.wire { runtime.metrics.attempt(target: target, status: w.status, seconds: w.latencyMillis / 1000) }
        guard let main = result.wire.last else {
            if case .failure(let f) = result.outcome, !f.breakerOpen {
                return AttemptRecord(step: step, startedAtMillis: startedAt, latencyMillis: 0, status: nil, outcome: "failed",
                                     error: f.reason, request: nil, response: nil)
            }
            if case .success = result.outcome {
                return AttemptRecord(step: step, startedAtMillis: startedAt, latencyMillis: 0, status: nil, outcome: "ok",
                                     error: nil, request: "(no request: the link already names the task)", response: nil)
            }
            return nil
        }
        var error: String?
        if case .failure(let f) = result.outcome { error = f.reason }
        return AttemptRecord(step: step, startedAtMillis: startedAt,
                             latencyMillis: result.wire.reduce(0) { $0 + $1.latencyMillis }, status: main.status,
                             outcome: error == nil ? "ok" : "retry", error: error,
                             request: result.wire.map(\.request).joined(separator: "\n"), response: main.response)
    }

    /// How long a job deferred by a target's auth pause waits before it is looked at
    /// again (and so, at most, how long after a reload with a new token it resumes).
    static let pausedDeferSeconds = 5.0

    /// How long a step for a target without a token waits before it is looked at again.
    static let noTokenDeferMillis: Int64 = 30_000

    func log(_ job: ClaimedJob, _ event: StoredEvent, _ rule: Rule, _ step: Int, _ rendered: RenderedStep,
             _ attempt: AttemptRecord?, _ outcome: String, _ error: String?) {
        var meta: Logger.Metadata = [
            "event": "\(event.id)", "job": "\(job.id)", "rule": "\(rule.id)", "step": "\(step)", "action": "\(rendered.action.name)",
            "target": "\(rendered.target)", "outcome": "\(outcome)",
        ]
        if let s = attempt?.status { meta["status"] = "\(s)" }
        if let l = attempt?.latencyMillis { meta["latency_ms"] = "\((l * 10).rounded() / 10)" }
        if let error { meta["error"] = "\(error)" }
        logger.log(level: outcome == "ok" || outcome == "waiting" ? .info : .warning, "delivery attempt", metadata: meta)
    }
}
