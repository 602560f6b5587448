import AsyncHTTPClient
import UpstreamFakes
import Logging
import Testing
import TaskBridgeCore
import TaskBridgeTestSupport
@testable import TaskBridgeTargets

/// The Zylon connector over real HTTP against the strict fake: the chat, the durable
/// wait and the polls, the answer text, and every failure class.
@Suite struct ZylonConnectorTests {
    static let chat = ActionSpec("zylon.chat", fields: [], needsTask: false)
    static let chatPath = "/api/v1/app/project/proj_support/chat"

    struct Rig {
        let fake: ZylonFake
        let connector: ZylonConnector
        let gate: TargetGate
        let clock: Locked<Double>
        /// The gate's clock (auth-pause backoff).
        let monotonic: Locked<Double>

        func run(_ step: RenderedStep, uncertain: Bool = false, wait: JSONValue? = nil) async -> StepResult {
            await connector.execute(step, context: .init(idempotencyKey: "tb_zylon", uncertain: uncertain, waitState: wait,
                                                         lookupLink: { _ in nil }))
        }
    }

    func withRig(token: String = ZylonFake.token, org: String = ZylonFake.orgSlug, project: String? = "proj_support",
                 _ body: (Rig) async throws -> Void) async throws {
        let fake = ZylonFake()
        try await fake.start()
        let clock = Locked(1_700_000_000.0)
        let monotonic = Locked(1000.0)
        do {
            try await withHTTPClient { client in
                let gate = TargetGate(name: "zylon", concurrency: 4, rateLimit: nil, breaker: BreakerSettings(),
                                      monotonic: { monotonic.withLock { $0 } })
                let transport = HTTPZylonTransport(client: client, baseURL: fake.baseURL + "/",
                                                   credentials: ZylonCredentials(token: Secret(token), org: org), timeoutSeconds: 5, gate: gate)
                let connector = ZylonConnector(target: "zylon", transport: transport, defaultProject: project,
                                               wallClock: { clock.withLock { $0 } }, live: transport)
                try await body(Rig(fake: fake, connector: connector, gate: gate, clock: clock, monotonic: monotonic))
            }
        } catch {
            await fake.stop()
            throw error
        }
        await fake.stop()
    }

    static func step(_ values: [String: JSONValue] = [:]) -> RenderedStep {
        RenderedStep(stepId: "summary", action: chat, target: "zylon", values: ["message": "Summarise this"].merging(values) { $1 })
    }

    func output(_ r: StepResult) -> JSONValue? {
        if case .success(let o, _) = r.outcome { return o }
        return nil
    }

    func failure(_ r: StepResult) -> StepFailure? {
        if case .failure(let f) = r.outcome { return f }
        return nil
    }

    func wait(_ r: StepResult) -> (seconds: Double, state: JSONValue)? {
        if case .wait(let s, let state) = r.outcome { return (s, state) }
        return nil
    }

    @Test func chatWaitsThenPollsToTheAnswer() async throws {
        try await withRig { rig in
            rig.fake.script(.answer("Checkout is broken. Category: bug", after: 1))
            let step = Self.step(["system": "Be brief.", "maxTokens": 80, "temperature": 0.2, "allArtifacts": true])
            let first = await rig.run(step)
            let (seconds, state) = try #require(wait(first))
            #expect(seconds == 2)
            #expect(state["interaction"] == "inter_1")
            #expect(state["project"] == "proj_support")
            #expect(state["startedAt"] == 1_700_000_000)
            #expect(first.wire.map(\.status) == [200])

            // Exactly the documented body, the x-org header and the bearer token.
            let posted = try #require(rig.fake.requests("POST", Self.chatPath).first)
            #expect(posted.headers["x-org"] == "default")
            #expect(posted.headers["authorization"] == "Bearer \(ZylonFake.token)")
            #expect(posted.body == [
                "all_artifacts": true,
                "pgpt": ["messages": [["role": "user", "content": [["type": "text", "text": "Summarise this"]]]],
                         "system": ["text": "Be brief."], "max_tokens": 80, "temperature": 0.2, "correlation_id": "tb_zylon"],
            ])
            let input = try #require(rig.fake.interactions.first?.input)
            #expect(input.system == "Be brief.")
            #expect(input.allArtifacts == true)

            // Still Processing: wait longer (backing off), polls counted in the state.
            rig.clock.withLock { $0 += 2 }
            let second = await rig.run(step, wait: state)
            let (later, state2) = try #require(wait(second))
            #expect(later == 3)
            #expect(state2["polls"] == 1)
            #expect(state2["interaction"] == "inter_1")

            rig.clock.withLock { $0 += 3 }
            let done = await rig.run(step, wait: state2)
            // Zylon's token usage comes along (the agent runner prices it): the fake counts words.
            #expect(output(done) == ["text": "Checkout is broken. Category: bug", "state": "Completed", "interaction": "inter_1",
                                     "project": "proj_support", "usage": ["input_tokens": 2, "output_tokens": 5]])
            #expect(rig.fake.requests("POST", Self.chatPath).count == 1)
            #expect(rig.fake.requests("GET", "/api/v1/app/interaction/inter_1").count == 2)
            #expect(rig.fake.requests.allSatisfy { $0.headers["x-org"] == "default" })
            #expect(rig.connector.compact(output(done)!) == output(done))
        }
    }

    @Test func aChatThatIsCompletedAtOnceIsReadInTheSameAttempt() async throws {
        try await withRig { rig in
            rig.fake.script(.answer("Done.", after: 0))
            let r = await rig.run(Self.step(["project": "proj_feedback"]))
            #expect(output(r)?["text"] == "Done.")
            #expect(output(r)?["project"] == "proj_feedback")
            #expect(r.wire.map { String($0.request.prefix(40)) } == [
                "POST /api/v1/app/project/proj_feedback/c", "GET /api/v1/app/interaction/inter_1",
            ])
        }
    }

    @Test func onlyTextBlocksMakeTheAnswer() {
        let output: JSONValue = ["content": [["type": "thinking", "thinking": "hmm"], ["type": "text", "text": "Hello, "],
                                             ["type": "tool_use", "name": "x"], ["type": "text", "text": "world"]]]
        #expect(ZylonConnector.answerText(output) == "Hello, world")
    }

    @Test func anErrorInteractionFailsPermanentlyWithZylonsMessage() async throws {
        try await withRig { rig in
            rig.fake.script(.error("context window exceeded", after: 1))
            let step = Self.step()
            let state = try #require(wait(await rig.run(step))).state
            _ = await rig.run(step, wait: state)
            let f = try #require(failure(await rig.run(step, wait: state)))
            #expect(f.failureClass == .permanent)
            #expect(f.reason == "Zylon interaction inter_1 ended in Error: context window exceeded")
        }
    }

    @Test func completedWithoutAnAnswerIsPermanent() async throws {
        try await withRig { rig in
            rig.fake.script(ZylonOrg.Script(processingPolls: 0, outcome: .completedWithoutOutput))
            let f = try #require(failure(await rig.run(Self.step())))
            #expect(f.failureClass == .permanent)
            #expect(f.reason.contains("no assistant_output"))
        }
    }

    @Test func notAMemberIsPermanentAndDoesNotPauseTheTarget() async throws {
        try await withRig { rig in
            let f = try #require(failure(await rig.run(Self.step(["project": "proj_finance"]))))
            #expect(f.failureClass == .permanent)
            #expect(f.status == 403)
            #expect(f.reason.hasPrefix("POST /api/v1/app/project/proj_finance/chat answered 403: Not a project member"))
            #expect(rig.gate.authPauseReason == nil)
            #expect(rig.fake.interactions.isEmpty)
            // The target still takes requests.
            rig.fake.script(.answer("ok", after: 0))
            #expect(output(await rig.run(Self.step()))?["text"] == "ok")
        }
    }

    @Test func aProbeAnsweredNotAMemberResumesAPausedTarget() async throws {
        try await withRig { rig in
            // Paused after a 401 (the runner's doing); the probe after the backoff gets a
            // 403, which proves the token works: the pause ends instead of sticking.
            rig.gate.pauseForAuthentication("POST … answered 401")
            rig.monotonic.withLock { $0 += 31 }
            let f = try #require(failure(await rig.run(Self.step(["project": "proj_finance"]))))
            #expect(f.status == 403)
            #expect(rig.gate.authPauseReason == nil)
            rig.fake.script(.answer("ok", after: 0))
            #expect(output(await rig.run(Self.step()))?["text"] == "ok")
        }
    }

    @Test func anUnknownProjectIsPermanent() async throws {
        try await withRig { rig in
            let f = try #require(failure(await rig.run(Self.step(["project": "proj_nope"]))))
            #expect(f.failureClass == .permanent)
            #expect(f.status == 404)
            #expect(f.reason.contains("Project not found"))
            #expect(f.reason.contains("no project proj_nope"))
        }
    }

    @Test func aProjectIdCannotChangeThePath() async throws {
        try await withRig { rig in
            _ = await rig.run(Self.step(["project": "../me?x=1"]))
            #expect(rig.fake.requests.map(\.path) == ["/api/v1/app/project/..%2Fme%3Fx%3D1/chat"])
        }
    }

    @Test func aStepWithoutAProjectFailsBeforeSending() async throws {
        try await withRig(project: nil) { rig in
            let f = try #require(failure(await rig.run(Self.step())))
            #expect(f.failureClass == .permanent)
            #expect(f.reason == "zylon.chat needs a project: set \"project\" on the step or on target zylon")
            let bad = try #require(failure(await rig.run(Self.step(["project": "p", "maxTokens": 0.5]))))
            #expect(bad.reason.contains("maxTokens must be a whole number"))
            #expect(rig.fake.requests.isEmpty)
        }
    }

    @Test func aRefusedTokenIsAnAuthenticationFailure() async throws {
        try await withRig(token: "zyl_wrong") { rig in
            let f = try #require(failure(await rig.run(Self.step())))
            #expect(f.failureClass == .authentication)
            #expect(f.status == 401)
        }
    }

    @Test func aChatWhoseAnswerWasLostIsNotSentAgain() async throws {
        try await withRig { rig in
            rig.fake.setChaos(FakeChaos(acceptedThenReset: 1, only: ["POST /api/v1/app/project/{id}/chat"]))
            let step = Self.step()
            let r = await rig.run(step)
            let f = try #require(failure(r))
            #expect(f.failureClass == .permanent)
            #expect(f.sent)
            #expect(f.reason.contains("POST /api/v1/app/project/proj_support/chat failed"))
            #expect(f.reason.contains("the chat may have run, so it is not sent again"))
            #expect(f.reason.contains("retry the job to send it anyway (pgpt.correlation_id tb_zylon)"))
            // The attempt records the request that went out, with no status.
            #expect(r.wire.count == 1)
            #expect(r.wire.first?.request.hasPrefix("POST /api/v1/app/project/proj_support/chat {") == true)
            #expect(r.wire.first?.status == nil)
            #expect(rig.fake.interactions.count == 1)

            // An attempt cut short (a crash) comes back uncertain: still not sent again.
            rig.fake.setChaos(.none)
            let again = try #require(failure(await rig.run(step, uncertain: true)))
            #expect(again.failureClass == .permanent)
            #expect(again.reason.contains("may have run"))
            #expect(again.reason.contains("replay the event"))
            #expect(rig.fake.requests("POST", Self.chatPath).count == 1)
            #expect(rig.fake.interactions.count == 1)
        }
    }

    @Test func anUncertainAttemptWithItsInteractionIdPolls() async throws {
        try await withRig { rig in
            rig.fake.script(.answer("Resumed", after: 1))
            let state = try #require(wait(await rig.run(Self.step()))).state
            _ = await rig.run(Self.step(), uncertain: true, wait: state)
            let r = await rig.run(Self.step(), uncertain: true, wait: state)
            #expect(output(r)?["text"] == "Resumed")
            #expect(rig.fake.interactions.count == 1)
        }
    }

    @Test func aPollThatFailsIsRetriedAndTheWaitIsBounded() async throws {
        try await withRig { rig in
            rig.fake.script(.stuck)
            let step = Self.step(["maxMinutes": 1])
            let state = try #require(wait(await rig.run(step))).state
            rig.fake.setChaos(FakeChaos(rateLimited: 1, retryAfterSeconds: 7, only: ["GET /api/v1/app/interaction/{id}"]))
            let limited = try #require(failure(await rig.run(step, wait: state)))
            #expect(limited.failureClass == .retryable)
            #expect(limited.retryAfterSeconds == 7)
            rig.fake.setChaos(.none)
            rig.clock.withLock { $0 += 58 }
            // The next poll is never later than the deadline (at least a second away).
            #expect(try #require(wait(await rig.run(step, wait: state))).seconds == 2)
            rig.clock.withLock { $0 += 2 }
            let f = try #require(failure(await rig.run(step, wait: state)))
            #expect(f.failureClass == .permanent)
            #expect(f.reason == "Zylon interaction inter_1 is still Processing after 1 minutes (the step's maxMinutes); retrying the job polls it once more")
        }
    }

    @Test func anInteractionZylonNoLongerReturnsFailsSayingSo() async throws {
        try await withRig { rig in
            let state = try #require(wait(await rig.run(Self.step()))).state
            rig.fake.mutate { $0.interactionsFetchable = false }
            let f = try #require(failure(await rig.run(Self.step(), wait: state)))
            #expect(f.failureClass == .permanent)
            #expect(f.status == 404)
            #expect(f.reason.contains("the chat ran, but Zylon no longer returns it"))
        }
    }

    @Test func aServerErrorOnTheChatIsRetried() async throws {
        try await withRig { rig in
            rig.fake.setChaos(FakeChaos(serverError: 1, only: ["POST /api/v1/app/project/{id}/chat"]))
            let f = try #require(failure(await rig.run(Self.step())))
            #expect(f.failureClass == .retryable)
            #expect(!f.sent)
            #expect(rig.fake.interactions.isEmpty)
        }
    }

    @Test func theDryRunRecordsRequestsAndAnswersAPlaceholder() async throws {
        var config = TargetConfig(name: "zylon", kind: "zylon", baseURL: "https://zylon.example.com")
        config.token = .env("ZYLON_TOKEN")
        var settings = ZylonSettings()
        settings.org = StringSetting(literal: "acme")
        settings.project = "proj_support"
        config.settings = settings
        let log = RequestLog()
        let env = ConnectorEnvironment(client: nil, secrets: SecretResolver(environment: ["ZYLON_TOKEN": "zyl_secret"]),
                                       gate: TargetGate(name: "zylon", concurrency: 1, rateLimit: nil, breaker: BreakerSettings()),
                                       logger: Logger(label: "test"))
        let connector = ZylonKind().dryRunConnector(for: config, environment: env, live: false, log: log)
        let step = Self.step()
        let context = StepContext(idempotencyKey: "tb_dry", uncertain: false, lookupLink: { _ in nil })
        let first = await connector.execute(step, context: context)
        let state = try #require(wait(first)).state
        var polled = context
        polled.waitState = state
        let done = await connector.execute(step, context: polled)
        #expect(output(done)?["text"] == "<answer from Zylon>")
        #expect(log.requests.map { "\($0.method) \($0.path)" } == [
            "POST /api/v1/app/project/proj_support/chat", "GET /api/v1/app/interaction/<interaction>",
        ])
        let headers = log.requests[0].headers.map { "\($0.0): \($0.1)" }
        #expect(headers.contains("Authorization: Bearer <redacted>"))
        #expect(headers.contains("x-org: acme"))
        #expect(!headers.joined().contains("zyl_secret"))
    }

    @Test func theConfigNeedsABaseURLAndAnOrg() {
        func problems(_ target: String) -> [String] {
            let text = #"{"sources": {"github": {"kind": "github", "secrets": [{"env": "S"}]}}, "targets": {"zylon": "# + target + "}}"
            do {
                _ = try ConfigParser.parse(Array(text.utf8), file: "c.json", kinds: TargetKinds.all)
                return []
            } catch {
                return error.diagnostics.map(\.description)
            }
        }
        #expect(problems(#"{"kind": "zylon", "token": {"env": "Z"}}"#) == [
            #"c.json: targets.zylon: missing required key "baseURL": Zylon is self-hosted, so there is no default (e.g. "https://zylon.example.com")"#,
            #"c.json: targets.zylon: missing required key "org""#,
        ])
        #expect(problems(#"{"kind": "zylon", "token": {"env": "Z"}, "baseURL": "https://z", "org": {"env": "ZYLON_ORG"}, "project": "p"}"#) == [])
        #expect(problems(#"{"kind": "zylon", "token": {"env": "Z"}, "baseURL": "https://z", "org": "default", "projcet": "p"}"#) == [
            #"c.json: targets.zylon.projcet: unknown key "projcet" (did you mean "project"?)"#,
        ])
    }
}
