import TaskBridgeCore

/// Executes `zylon.chat` steps against one Zylon organisation: sends the project chat,
/// then follows the interaction it started — durably, as a waiting job, polling
/// `GET /api/v1/app/interaction/{id}` with a backoff — until it is `Completed` (the
/// answer text becomes the step's output) or `Error` (the step fails with Zylon's
/// message), within the step's `maxMinutes`.
///
/// Exactly once: Zylon has no idempotency key and no way to find a project chat
/// without its interaction id (docs/targets-research.md §2.6). So a chat whose outcome
/// is unknown — sent, and then no answer (timeout, reset, a gateway error), or an
/// attempt cut short by a crash before the id was stored — is never sent again by
/// itself: the step fails saying the chat may have run. Once the id is received it is
/// the step's wait state, and polling resumes from it after a restart.
public struct ZylonConnector: TargetConnector {
    public let target: String
    let transport: any ZylonTransport
    let defaultProject: String?
    let wallClock: @Sendable () -> Double
    /// The live transport, whose credentials a reload may replace, and the config they
    /// are read from.
    let live: HTTPZylonTransport?
    var config: TargetConfig?

    /// What a finished step outputs (and a job keeps): later steps read
    /// `{{ steps.<id>.text }}`; `usage` is Zylon's token count (`input_tokens`, `output_tokens`).
    public static let outputKeys = ["text", "state", "interaction", "project", "usage"]
    /// The first poll comes this long after the chat; each next one 1.5 times later, up
    /// to ``maxPollSeconds``.
    public static let firstPollSeconds = 2.0
    public static let maxPollSeconds = 30.0
    /// How long a step waits for its interaction unless it sets `maxMinutes`.
    public static let defaultMaxMinutes = 10.0
    static let maxMinutesLimit = 1440.0

    public init(target: String, transport: any ZylonTransport, defaultProject: String?,
                wallClock: @escaping @Sendable () -> Double, live: HTTPZylonTransport? = nil) {
        self.target = target
        self.transport = transport
        self.defaultProject = defaultProject
        self.wallClock = wallClock
        self.live = live
    }

    public func compact(_ output: JSONValue) -> JSONValue {
        guard case .object(let o) = output else { return output }
        return .object(o.filter { Self.outputKeys.contains($0.key) })
    }

    public func reloadCredentials(secrets: SecretResolver) -> Bool {
        guard let live, let config, case .value(let token)? = config.token.map(secrets.resolve),
              let org = ZylonKind.settings(config).org?.resolve(secrets.environment), !org.isEmpty
        else { return false }
        return live.replaceCredentials(ZylonCredentials(token: token, org: org))
    }

    /// What a waiting step keeps between polls (the job's wait state).
    struct Wait: Sendable, Hashable {
        var interaction: String
        var project: String
        /// Wall-clock seconds when the chat was answered: `maxMinutes` counts from here.
        var startedAt: Double
        var polls: Int

        init(interaction: String, project: String, startedAt: Double, polls: Int = 0) {
            self.interaction = interaction
            self.project = project
            self.startedAt = startedAt
            self.polls = polls
        }

        init(_ state: JSONValue) throws(StepFailure) {
            guard let id = state["interaction"]?.stringValue, !id.isEmpty else {
                throw StepFailure.permanent("zylon.chat: the step's wait state names no interaction: \(JSONWriter.serialize(state).prefix(200))")
            }
            self.init(interaction: id, project: state["project"]?.stringValue ?? "", startedAt: state["startedAt"]?.numberValue ?? 0,
                      polls: Int(exactly: (state["polls"]?.numberValue ?? 0).rounded()) ?? 0)
        }

        var json: JSONValue {
            ["interaction": .string(interaction), "project": .string(project), "startedAt": .number(startedAt),
             "polls": .number(Double(polls))]
        }

        /// Seconds until the next poll: 2, 3, 4.5, … up to 30.
        var delay: Double {
            var d = ZylonConnector.firstPollSeconds
            for _ in 0..<min(max(polls, 0), 16) { d *= 1.5 }
            return min(ZylonConnector.maxPollSeconds, d)
        }
    }

    public func execute(_ step: RenderedStep, context: StepContext) async -> StepResult {
        var wire: [WireRecord] = []
        do throws(StepFailure) {
            let outcome: StepResult.Outcome
            if let state = context.waitState {
                outcome = try await poll(step, try Wait(state), inline: false, &wire)
            } else if context.uncertain {
                throw Self.mayHaveRun("the previous attempt was cut short after the chat may have reached Zylon, before its interaction id was recorded",
                                      key: context.idempotencyKey, retryHelps: false)
            } else {
                outcome = try await chat(step, context, &wire)
            }
            return StepResult(outcome: outcome, wire: wire)
        } catch {
            return StepResult(outcome: .failure(error), wire: wire)
        }
    }

    /// The permanent failure for a chat whose outcome is unknown. `sent` stays set, so a
    /// shutdown that hands the job back marks it uncertain and it fails the same way.
    static func mayHaveRun(_ why: String, key: String, retryHelps: Bool) -> StepFailure {
        let remedy = retryHelps ? "retry the job to send it anyway" : "replay the event to send it anyway"
        return StepFailure(.permanent, "zylon.chat: \(why); the chat may have run, so it is not sent again (Zylon cannot look a chat up "
                           + "without its interaction id) — \(remedy) (pgpt.correlation_id \(key))", sent: true)
    }

    // MARK: Chat

    private func chat(_ step: RenderedStep, _ ctx: StepContext, _ wire: inout [WireRecord]) async throws(StepFailure) -> StepResult.Outcome {
        let project = try projectId(step)
        let body = try Self.chatBody(step, correlationId: ctx.idempotencyKey)
        _ = try Self.maxMinutes(step)  // refused before anything is sent
        let request = ZylonRequest.chat(project: project, body: body)
        let response: GatedHTTP.Answer
        do {
            response = try await send(request, &wire)
        } catch {
            // Refused before it left (open breaker, lost lease, no connection): nothing ran.
            guard error.sent, !error.leaseLost, !error.breakerOpen else { throw error }
            throw Self.mayHaveRun(error.reason, key: ctx.idempotencyKey, retryHelps: true)
        }
        guard (200..<300).contains(response.status) else {
            // A gateway's 502/504 says Zylon itself may still be running the chat.
            if response.status == 502 || response.status == 504 {
                throw Self.mayHaveRun("\(request.method) \(request.path) answered \(response.status): \(Self.errorMessage(response))",
                                      key: ctx.idempotencyKey, retryHelps: true)
            }
            throw failure(response, request, notFound: "no project \(project) in the organisation")
        }
        guard let id = response.json?["id"]?.stringValue, !id.isEmpty else {
            throw Self.mayHaveRun("\(request.method) \(request.path) answered \(response.status) without an interaction id",
                                  key: ctx.idempotencyKey, retryHelps: true)
        }
        let wait = Wait(interaction: id, project: project, startedAt: wallClock())
        switch response.json?["state"]?.stringValue {
        case "Completed", "Error":
            // Finished already (as Zylon's documented example answers): read it now.
            return try await poll(step, wait, inline: true, &wire)
        default:
            return .wait(seconds: wait.delay, state: wait.json)
        }
    }

    private func projectId(_ step: RenderedStep) throws(StepFailure) -> String {
        let given = step.values["project"]?.stringValue ?? defaultProject
        guard let project = given, project.contains(where: { !$0.isWhitespace }) else {
            throw StepFailure.permanent("zylon.chat needs a project: set \"project\" on the step or on target \(target)")
        }
        return project
    }

    /// The `ProjectChatDTO` (docs/targets-research.md §2.3): the message as the user's
    /// text block, `system` as `pgpt.system.text`, `maxTokens`, `temperature`,
    /// `allArtifacts`; the step's idempotency key as `pgpt.correlation_id`, so an
    /// operator can find a chat whose outcome was lost in Zylon's own records.
    static func chatBody(_ step: RenderedStep, correlationId: String) throws(StepFailure) -> JSONValue {
        guard let message = step.values["message"]?.stringValue, message.contains(where: { !$0.isWhitespace }) else {
            throw StepFailure.permanent("zylon.chat needs a non-empty \"message\"")
        }
        var pgpt: [String: JSONValue] = [
            "messages": [["role": "user", "content": [["type": "text", "text": .string(message)]]]],
            "correlation_id": .string(correlationId),
        ]
        if let system = step.values["system"]?.stringValue, !system.isEmpty { pgpt["system"] = ["text": .string(system)] }
        if let v = step.values["maxTokens"] {
            guard let n = v.numberValue, n >= 1, n <= 1_000_000_000, n == n.rounded() else {
                throw StepFailure.permanent("zylon.chat: maxTokens must be a whole number of at least 1, got \(v.textValue.prefix(40))")
            }
            pgpt["max_tokens"] = .number(n)
        }
        if let v = step.values["temperature"] {
            guard let t = v.numberValue, t.isFinite, t >= 0 else {
                throw StepFailure.permanent("zylon.chat: temperature must be a number of at least 0, got \(v.textValue.prefix(40))")
            }
            pgpt["temperature"] = .number(t)
        }
        var body: [String: JSONValue] = ["pgpt": .object(pgpt)]
        if let v = step.values["allArtifacts"] {
            switch v {
            case .bool(let b): body["all_artifacts"] = .bool(b)
            case .string("true"): body["all_artifacts"] = true
            case .string("false"): body["all_artifacts"] = false
            default: throw StepFailure.permanent("zylon.chat: allArtifacts must be true or false, got \(v.textValue.prefix(40))")
            }
        }
        return .object(body)
    }

    static func maxMinutes(_ step: RenderedStep) throws(StepFailure) -> Double {
        guard let v = step.values["maxMinutes"] else { return defaultMaxMinutes }
        guard let m = v.numberValue, m > 0, m <= maxMinutesLimit else {
            throw StepFailure.permanent("zylon.chat: maxMinutes must be greater than 0 and at most \(Int(maxMinutesLimit)), got \(v.textValue.prefix(40))")
        }
        return m
    }

    /// Sends, keeping the attempt record (or the failure's, when no answer came) in `wire`.
    private func send(_ request: ZylonRequest, _ wire: inout [WireRecord]) async throws(StepFailure) -> GatedHTTP.Answer {
        try await GatedHTTP.recording(request.description, in: &wire) { () async throws(StepFailure) in
            let answer = try await transport.send(request)
            return (answer, answer.record)
        }
    }

    /// Zylon documents no error body for the Workspace API (docs/targets-research.md
    /// §2.5): a `message`, `error.message`, `detail` or `error` string when there is one,
    /// else a bounded excerpt of the body.
    static func errorMessage(_ answer: GatedHTTP.Answer) -> String {
        let json = answer.json
        for candidate in [json?["message"], json?["error"]?["message"], json?["detail"], json?["error"]] {
            if let s = candidate?.stringValue, !s.isEmpty { return s }
        }
        let text = String(decoding: answer.body.prefix(300), as: UTF8.self)
        return text.isEmpty ? "(empty body)" : text
    }

    // MARK: Poll

    /// Reads the interaction. `inline` is the read right after the chat, before its id is
    /// stored: anything but a permanent answer then makes the step wait (storing the id)
    /// instead of failing, which would lose the id.
    private func poll(_ step: RenderedStep, _ wait: Wait, inline: Bool, _ wire: inout [WireRecord]) async throws(StepFailure) -> StepResult.Outcome {
        let request = ZylonRequest.interaction(wait.interaction)
        let response: GatedHTTP.Answer
        do {
            response = try await send(request, &wire)
        } catch {
            if inline && !error.leaseLost { return .wait(seconds: max(wait.delay, error.deferSeconds ?? 0), state: wait.json) }
            throw error
        }
        guard (200..<300).contains(response.status) else {
            let f = failure(response, request, notFound: "interaction \(wait.interaction) not found: the chat ran, but Zylon no longer "
                                                + "returns it (project chats are ephemeral)")
            if inline && f.failureClass != .permanent {
                return .wait(seconds: max(wait.delay, f.retryAfterSeconds ?? 0), state: wait.json)
            }
            throw f
        }
        let json = response.json
        let state = json?["state"]?.stringValue ?? ""
        switch state {
        case "Completed":
            guard let output = json?["assistant_output"], output.objectValue != nil else {
                throw StepFailure.permanent("Zylon interaction \(wait.interaction) is Completed without an answer (no assistant_output)")
            }
            return .success(output: ["text": .string(Self.answerText(output)), "state": "Completed",
                                     "interaction": .string(wait.interaction), "project": .string(wait.project),
                                     "usage": output["usage"] ?? .null],
                            link: nil)
        case "Error":
            let output = json?["assistant_output"]
            let messages = (output?["errors"]?.arrayValue ?? []).compactMap { $0["message"]?.stringValue }.filter { !$0.isEmpty }
            let why = messages.isEmpty ? (output?["stop_reason"]?.stringValue.map { "stop_reason \($0)" } ?? "no error message") : messages.joined(separator: "; ")
            throw StepFailure.permanent("Zylon interaction \(wait.interaction) ended in Error: \(why)")
        default:
            // Processing, or a state this build does not know: keep waiting, within bounds.
            let limit = try Self.maxMinutes(step)
            let now = wallClock()
            let deadline = wait.startedAt + limit * 60
            if now >= deadline {
                throw StepFailure.permanent("Zylon interaction \(wait.interaction) is still \(state.isEmpty ? "unfinished" : state) after "
                                            + "\(JSONWriter.format(number: limit)) minutes (the step's maxMinutes); retrying the job polls it once more")
            }
            var next = wait
            next.polls += 1
            return .wait(seconds: min(next.delay, max(1, deadline - now)), state: next.json)
        }
    }

    /// The assistant's text: the `text` blocks of `assistant_output.content`, in order
    /// (thinking, tool use and other blocks are skipped).
    static func answerText(_ output: JSONValue) -> String {
        (output["content"]?.arrayValue ?? []).compactMap { block in
            block["type"]?.stringValue == "text" ? block["text"]?.stringValue : nil
        }.joined()
    }

    /// Classifies an answer that is not 2xx. Only 401 is a refused credential (it pauses
    /// the target); 403 is Zylon's "not a project member", 404 a missing project or
    /// interaction, 409 a conflict: all permanent, with Zylon's reason. 408, 425, 429 and
    /// 5xx are retried (an error answer means the request was not taken).
    func failure(_ response: GatedHTTP.Answer, _ request: ZylonRequest, notFound: String) -> StepFailure {
        let status = response.status
        var reason = "\(request.method) \(request.path) answered \(status): \(Self.errorMessage(response))"
        switch status {
        case 401:
            return StepFailure(.authentication, reason + " (check the target's token)", status: status)
        case 403:
            reason += " (the token's user is not a member of the project, or the target's org is not its organisation)"
        case 404:
            reason += " (\(notFound))"
        default:
            if FailureClass.classify(status: status) == .retryable {
                return StepFailure(.retryable, reason, status: status,
                                   retryAfterSeconds: RetryPolicy.parseRetryAfter(response.retryAfter, now: wallClock()))
            }
        }
        return StepFailure(.permanent, reason, status: status)
    }
}
