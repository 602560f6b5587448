import Testing
@testable import TaskBridgeCore

/// ``AgentRunMachine``'s decisions and ``AgentRunRecord``'s stored form.
@Suite("AgentRunMachine")
struct AgentRunMachineTests {
    static func record(_ kind: String = "posthog") -> AgentRunRecord {
        AgentRunRecord(runId: "run-1", agent: "coder", taskId: "task-1", prompt: "Fix the login bug", backendTarget: kind == "posthog" ? "ph" : "zy",
                       backendKind: kind, discoveredAtMillis: 1_000)
    }

    static func close(_ a: Double, _ b: Double) -> Bool { abs(a - b) < 1e-9 }

    // MARK: Reconciliation

    static let other = "in GroupChat, so this turn is not worked on"
    static let stoppedThere = AgentRunMachine.Reconciled.ended(.stopped, "the run was stopped in GroupChat")

    /// phase → status → expected, for every phase and every GroupChat status.
    static let table: [AgentRunRecord.Phase: [String: AgentRunMachine.Reconciled]] = [
        .queued: [
            "PENDING": .sendStart,
            "RUNNING": .ended(.stopped, "the run is already RUNNING: something else started it"),
            "WAITING": .ended(.stopped, "the run is already WAITING: something else started it"),
            "FINISHED": .ended(.stopped, "the run is FINISHED " + other),
            "ERROR": .ended(.stopped, "the run is ERROR " + other),
            "STOPPED": stoppedThere,
        ],
        .starting: [
            "PENDING": .sendStart, "RUNNING": .working, "WAITING": .working,
            "FINISHED": .ended(.stopped, "the run is FINISHED " + other),
            "ERROR": .ended(.stopped, "the run is ERROR " + other),
            "STOPPED": stoppedThere,
        ],
        .working: [
            "PENDING": .working, "RUNNING": .working, "WAITING": .working,
            "FINISHED": .ended(.stopped, "the run is FINISHED " + other),
            "ERROR": .ended(.stopped, "the run is ERROR " + other),
            "STOPPED": stoppedThere,
        ],
        .finishing: [
            "PENDING": .ended(.stopped, "the run is PENDING again (a new turn): this turn is over"),
            "RUNNING": .sendFinish, "WAITING": .sendFinish,
            "FINISHED": .ended(.completed, "the run was finished in GroupChat by something else"),
            "ERROR": .ended(.failed, "the run was ended with an error in GroupChat by something else"),
            "STOPPED": stoppedThere,
        ],
        .done: [
            "PENDING": .ended(.stopped, "already done"), "RUNNING": .ended(.stopped, "already done"),
            "WAITING": .ended(.stopped, "already done"), "FINISHED": .ended(.stopped, "already done"),
            "ERROR": .ended(.stopped, "already done"), "STOPPED": stoppedThere,
        ],
    ]

    @Test func theReconcileTableCoversEveryPhaseAndStatus() {
        #expect(Set(Self.table.keys) == Set(AgentRunRecord.Phase.allCases))
        for phase in AgentRunRecord.Phase.allCases {
            let row = Self.table[phase] ?? [:]
            #expect(Set(row.keys) == AgentRunMachine.statuses, "\(phase)")
            for (status, expected) in row {
                #expect(AgentRunMachine.reconcile(phase, remoteStatus: status, intent: nil) == expected, "\(phase) × \(status)")
            }
        }
    }

    @Test func aFinishingRunsOwnTransitionIsRecognisedByItsIntent() {
        #expect(AgentRunMachine.reconcile(.finishing, remoteStatus: "FINISHED", intent: "complete") == .ended(.completed, "completed"))
        #expect(AgentRunMachine.reconcile(.finishing, remoteStatus: "ERROR", intent: "error") == .ended(.failed, "failed"))
        // The other transition's intent means something else ended it.
        #expect(AgentRunMachine.reconcile(.finishing, remoteStatus: "FINISHED", intent: "error")
            == .ended(.completed, "the run was finished in GroupChat by something else"))
        #expect(AgentRunMachine.reconcile(.finishing, remoteStatus: "ERROR", intent: "complete")
            == .ended(.failed, "the run was ended with an error in GroupChat by something else"))
        #expect(AgentRunMachine.reconcile(.working, remoteStatus: "ARCHIVED", intent: nil) == .ended(.stopped, "the run is ARCHIVED " + Self.other))
        // Our call applied, its answer was lost, and the owner has answered since: the turn
        // still ended the way we ended it (its event must not be lost).
        #expect(AgentRunMachine.reconcile(.finishing, remoteStatus: "PENDING", intent: "complete")
            == .ended(.completed, "completed; the run is PENDING again for a new turn"))
        #expect(AgentRunMachine.reconcile(.finishing, remoteStatus: "PENDING", intent: "error")
            == .ended(.failed, "failed; the run is PENDING again for a new turn"))
    }

    // MARK: Delays

    @Test func theRetryDelayDoublesFromOneSecondToFiveMinutes() {
        let expected: [(Int, Double)] = [(0, 1), (1, 1), (2, 2), (3, 4), (4, 8), (9, 256), (10, 300), (11, 300), (1_000, 300), (.max, 300)]
        for (failures, base) in expected {
            #expect(Self.close(AgentRunMachine.retryDelay(failures: failures, retryAfter: nil, random: 0.5), base), "\(failures)")
            #expect(Self.close(AgentRunMachine.retryDelay(failures: failures, retryAfter: nil, random: 0), base * 0.8), "\(failures)")
            #expect(Self.close(AgentRunMachine.retryDelay(failures: failures, retryAfter: nil, random: 1), base * 1.2), "\(failures)")
        }
        // `random` outside 0...1 is clamped, so the jitter stays within ±20%.
        #expect(Self.close(AgentRunMachine.retryDelay(failures: 3, retryAfter: nil, random: -7), 3.2))
        #expect(Self.close(AgentRunMachine.retryDelay(failures: 3, retryAfter: nil, random: 7), 4.8))
    }

    @Test func aRetryAfterIsHonouredUpToAnHour() {
        #expect(AgentRunMachine.retryDelay(failures: 1, retryAfter: 30, random: 0) == 30)
        #expect(Self.close(AgentRunMachine.retryDelay(failures: 1, retryAfter: 0.5, random: 0), 0.8), "shorter than the backoff")
        #expect(AgentRunMachine.retryDelay(failures: 1, retryAfter: 86_400, random: 1) == 3_600)
        #expect(Self.close(AgentRunMachine.retryDelay(failures: 12, retryAfter: 100, random: 1), 360))
    }

    @Test func thePollDelayIsPollSecondsJitteredOrTheRetryDelayAfterFailures() {
        #expect(Self.close(AgentRunMachine.pollDelay(pollSeconds: 5, failures: 0, retryAfter: nil, random: 0), 4))
        #expect(Self.close(AgentRunMachine.pollDelay(pollSeconds: 5, failures: 0, retryAfter: nil, random: 0.5), 5))
        #expect(Self.close(AgentRunMachine.pollDelay(pollSeconds: 5, failures: 0, retryAfter: nil, random: 1), 6))
        // One failure backs off less than a poll: the poll interval wins.
        #expect(Self.close(AgentRunMachine.pollDelay(pollSeconds: 5, failures: 1, retryAfter: nil, random: 0), 4))
        #expect(Self.close(AgentRunMachine.pollDelay(pollSeconds: 5, failures: 5, retryAfter: nil, random: 0), 12.8))
        // The backoff is capped at a minute, a Retry-After at an hour.
        #expect(AgentRunMachine.pollDelay(pollSeconds: 5, failures: 20, retryAfter: nil, random: 1) == 60)
        #expect(AgentRunMachine.pollDelay(pollSeconds: 5, failures: 1, retryAfter: 120, random: 0) == 120)
        #expect(AgentRunMachine.pollDelay(pollSeconds: 5, failures: 1, retryAfter: 99_999, random: 0) == 3_600)
    }

    @Test func aRunIsOverTimeOnlyAfterMaxRunMinutesFromItsStart() {
        var r = Self.record()
        #expect(AgentRunMachine.overTime(r, nowMillis: 999_999_999, maxRunMinutes: 1) == false, "never started")
        r.startedAtMillis = 10_000
        #expect(AgentRunMachine.overTime(r, nowMillis: 10_000 + 120 * 60_000, maxRunMinutes: 120) == false)
        #expect(AgentRunMachine.overTime(r, nowMillis: 10_000 + 120 * 60_000 + 1, maxRunMinutes: 120))
        #expect(AgentRunMachine.overTime(r, nowMillis: 10_000 + 90_001, maxRunMinutes: 1.5))
    }

    // MARK: Comments

    /// Posts every due comment (as the runner does) and returns them in order.
    static func drain(_ r: inout AgentRunRecord) -> [String] {
        var posted: [String] = []
        while let c = AgentRunMachine.dueComment(r), posted.count < 10 {
            r.comments.append(c.marker)
            posted.append(c.marker + ": " + c.body)
        }
        return posted
    }

    @Test func postHogCommentsOnceWhenItWorksThenOnTheBranchThenOnThePR() {
        var r = Self.record()
        #expect(Self.drain(&r) == [])
        r.backend.taskId = "ph-task-9"
        r.backend.waitState = ["phase": "start", "task": "ph-task-9", "before": .null]
        #expect(Self.drain(&r) == [], "no comment before the backend run exists")
        r.backend.runId = "ph-run-1"
        #expect(Self.drain(&r) == ["working: PostHog's coding agent is working on this (PostHog task ph-task-9)."])
        r.backend.taskSlug = "ABC-1"
        #expect(Self.drain(&r) == [], "working is said once")
        r.backend.branch = "fix/login"
        #expect(Self.drain(&r) == ["branch: Working on branch fix/login."])
        r.backend.branch = "fix/login-2"
        #expect(Self.drain(&r) == [], "one branch comment")
        r.backend.prURL = "https://github.com/acme/api/pull/7"
        #expect(Self.drain(&r) == ["pr: Pull request opened: https://github.com/acme/api/pull/7 (branch fix/login-2)"])
        #expect(r.comments == ["working", "branch", "pr"])
    }

    @Test func aPRSeenWithItsBranchIsTheOnlyCommentAfterWorking() {
        var r = Self.record()
        r.backend.runId = "ph-run-1"
        r.comments = ["working"]
        r.backend.branch = "main"
        r.backend.prURL = "https://github.com/acme/api/pull/1"
        #expect(Self.drain(&r) == ["pr: Pull request opened: https://github.com/acme/api/pull/1 (branch main)"])
        var bare = Self.record()
        bare.backend.runId = "ph-run-1"
        bare.backend.prURL = "https://github.com/acme/api/pull/2"
        #expect(Self.drain(&bare) == ["pr: Pull request opened: https://github.com/acme/api/pull/2"], "the PR says it all: no working comment")
    }

    @Test func theWorkingCommentNamesTheTaskItHas() {
        var r = Self.record()
        r.backend.runId = "ph-run-1"
        #expect(AgentRunMachine.dueComment(r)?.body == "PostHog's coding agent is working on this (PostHog task ?).")
        r.backend.taskId = "ph-task-9"
        r.backend.taskSlug = "ABC-1"
        #expect(AgentRunMachine.dueComment(r)?.body == "PostHog's coding agent is working on this (PostHog task ABC-1).")
    }

    @Test func zylonCommentsOnceItsChatIsWaiting() {
        var r = Self.record("zylon")
        r.backend.runId = "not-a-zylon-thing"
        #expect(Self.drain(&r) == [])
        r.backend.waitState = ["interaction": "int-1", "project": "p", "startedAt": 1, "polls": 0]
        #expect(Self.drain(&r) == ["working: Asked Zylon; waiting for its answer."])
        #expect(Self.drain(&r) == [])
    }

    // MARK: Closing text

    @Test func theCompletionBodyNamesThePROrSaysThereIsNone() {
        var r = Self.record()
        r.backend.taskId = "ph-task-9"
        #expect(AgentRunMachine.completionBody(r) == "Done. PostHog's coding agent finished (PostHog task ph-task-9) without opening a pull request.")
        r.backend.taskSlug = "ABC-1"
        r.backend.prURL = "https://github.com/acme/api/pull/1"
        #expect(AgentRunMachine.completionBody(r) == "Done. PostHog's coding agent opened a pull request: https://github.com/acme/api/pull/1\n\nPostHog task ABC-1.")
    }

    @Test func theZylonCompletionBodyIsItsAnswer() {
        var r = Self.record("zylon")
        #expect(AgentRunMachine.completionBody(r) == "Zylon finished without an answer.")
        r.backend.answer = " \n\t "
        #expect(AgentRunMachine.completionBody(r) == "Zylon finished without an answer.")
        r.backend.answer = "\n  Restart the worker.\n"
        #expect(AgentRunMachine.completionBody(r) == "Restart the worker.")
    }

    @Test func longBodiesAreClippedToTheLimit() {
        var r = Self.record("zylon")
        let limit = AgentRunMachine.maxBodyCharacters
        #expect(limit == 20_000)
        r.backend.answer = String(repeating: "é", count: limit)
        #expect(AgentRunMachine.completionBody(r) == r.backend.answer, "exactly the limit is kept")
        r.backend.answer = String(repeating: "a", count: limit) + "tail"
        let clipped = AgentRunMachine.completionBody(r)
        #expect(clipped.count == limit)
        #expect(clipped == String(repeating: "a", count: limit - 1) + "…")
        #expect(AgentRunMachine.errorBody("timeout") == "I could not finish this: timeout")
        #expect(AgentRunMachine.errorBody(String(repeating: "x", count: limit)).count == limit)
        #expect(AgentRunMachine.errorBody(String(repeating: "x", count: limit)).hasSuffix("x…"))
    }

    // MARK: Budget and turns

    @Test func aRunIsOverBudgetWhenItWouldPassTheCap() {
        #expect(AgentRunMachine.overBudget(spentUsd: 1_000, nextRunUsd: 5, capUsd: nil) == false, "no cap")
        #expect(AgentRunMachine.overBudget(spentUsd: 4, nextRunUsd: 1, capUsd: 5) == false, "reaching the cap exactly is allowed")
        #expect(AgentRunMachine.overBudget(spentUsd: 4, nextRunUsd: 1.5, capUsd: 5))
        #expect(AgentRunMachine.overBudget(spentUsd: 4.99, nextRunUsd: nil, capUsd: 5) == false)
        #expect(AgentRunMachine.overBudget(spentUsd: 5, nextRunUsd: nil, capUsd: 5), "spent")
        #expect(AgentRunMachine.overBudget(spentUsd: 0, nextRunUsd: nil, capUsd: 0), "a zero budget allows nothing")
    }

    @Test func aDoneRunListedPendingIsANewTurnThatStartsOver() {
        var r = Self.record()
        r.taskTitle = "Login broken"
        r.taskDescription = "Users cannot log in"
        r.projectId = "proj-1"
        r.workspaceId = "ws-1"
        #expect(AgentRunMachine.isNewTurn(r, listedStatus: "PENDING") == false, "queued, not done")
        r.phase = .done
        r.outcome = .completed
        r.startedAtMillis = 2_000
        r.finishedAtMillis = 3_000
        r.backend.taskId = "ph-task-9"
        r.backend.prURL = "https://github.com/acme/api/pull/1"
        r.comments = ["working", "pr"]
        r.costUsd = 2
        r.failures = 3
        r.summary = "done"
        #expect(AgentRunMachine.isNewTurn(r, listedStatus: "PENDING"))
        #expect(AgentRunMachine.isNewTurn(r, listedStatus: "RUNNING") == false)
        var unsent = r
        unsent.pendingEvents = ["agent.run.completed"]
        #expect(AgentRunMachine.isNewTurn(unsent, listedStatus: "PENDING") == false, "not before this turn's events are stored")
        var neverStarted = r
        neverStarted.startedAtMillis = nil
        #expect(AgentRunMachine.isNewTurn(neverStarted, listedStatus: "PENDING") == false,
                "a run given up before it started is not tried again every poll")

        let next = AgentRunMachine.nextTurn(r, prompt: "Also fix logout", appearedAtMillis: 9_000, nowMillis: 10_000)
        var expected = AgentRunRecord(runId: "run-1", agent: "coder", taskId: "task-1", prompt: "Also fix logout", backendTarget: "ph",
                                      backendKind: "posthog", discoveredAtMillis: 10_000)
        expected.turn = 2
        expected.taskTitle = "Login broken"
        expected.taskDescription = "Users cannot log in"
        expected.projectId = "proj-1"
        expected.workspaceId = "ws-1"
        expected.appearedAtMillis = 9_000
        expected.earlierTurnsCostUsd = 2
        #expect(next == expected)
        #expect(next.totalCostUsd == 2, "the earlier turn's cost still counts against the budget")
        #expect(AgentRunMachine.nextTurn(next, prompt: "p", appearedAtMillis: nil, nowMillis: 20_000).appearedAtMillis == 20_000)
        #expect(AgentRunMachine.nextTurn(next, prompt: "p", appearedAtMillis: nil, nowMillis: 20_000).turn == 3)
    }
}

/// ``AgentRunRecord`` as stored: the JSON round trip, and damaged rows read without a crash.
@Suite("AgentRunMachine.record")
struct AgentRunMachineRecordTests {
    /// Through the text the store keeps.
    static func stored(_ r: AgentRunRecord) throws -> AgentRunRecord? {
        AgentRunRecord(json: try JSONParser.parse(JSONWriter.serialize(r.json)))
    }

    static func parsed(_ text: String) throws -> AgentRunRecord? {
        AgentRunRecord(json: try JSONParser.parse(text))
    }

    @Test func everyFieldSurvivesTheRoundTrip() throws {
        var r = AgentRunRecord(runId: "run-1", agent: "coder", taskId: "task-1", prompt: "Fix it", backendTarget: "ph", backendKind: "posthog",
                               discoveredAtMillis: 1_700_000_000_000)
        r.taskTitle = "Login broken"
        r.taskDescription = "Users \"cannot\" log in\n…"
        r.projectId = "proj-1"
        r.workspaceId = "ws-1"
        r.turn = 3
        r.phase = .finishing
        r.outcome = .failed
        r.appearedAtMillis = 1_699_999_999_000
        r.startedAtMillis = 1_700_000_001_000
        r.finishedAtMillis = 1_700_000_009_000
        r.updatedAtMillis = 1_700_000_010_000
        r.nextAtMillis = 1_700_000_011_000
        r.intent = "error"
        r.finish = .init(kind: .error, body: "I could not finish this: timeout")
        r.backend.step = 1
        r.backend.waitState = ["phase": "poll", "task": "ph-task-9", "run": "ph-run-1", "polls": 2, "summary": ["slug": "ABC-1"]]
        r.backend.uncertain = true
        r.backend.taskId = "ph-task-9"
        r.backend.taskSlug = "ABC-1"
        r.backend.runId = "ph-run-1"
        r.backend.status = "in_progress"
        r.backend.branch = "main"
        r.backend.prURL = "https://github.com/acme/api/pull/1"
        r.backend.answer = "an answer"
        r.backend.inputTokens = 1_234
        r.backend.outputTokens = 56.5
        r.comments = ["working", "branch"]
        r.summary = "summary"
        r.error = "timeout"
        r.costUsd = 0.25
        r.pendingEvents = ["agent.run.started", "agent.run.failed"]
        r.failures = 4
        r.lastError = "503 from GroupChat"
        r.conflicts = 2
        #expect(AgentRunRecord(json: r.json) == r)
        #expect(try Self.stored(r) == r)
    }

    @Test func aMinimalRecordSurvivesTheRoundTripWithItsDefaults() throws {
        let r = AgentRunRecord(runId: "r", agent: "a", taskId: "t", prompt: "", backendTarget: "zy", backendKind: "zylon", discoveredAtMillis: 5)
        let back = try #require(try Self.stored(r))
        #expect(back == r)
        #expect(back.turn == 1)
        #expect(back.phase == .queued)
        #expect(back.updatedAtMillis == 5)
        #expect(back.nextAtMillis == 5)
        #expect(back.backend == AgentRunRecord.Backend())
        // Only the required keys: the rest default.
        let bare = try #require(try Self.parsed(#"{"runId": "r", "agent": "a", "taskId": "t", "backendTarget": "zy", "backendKind": "zylon", "phase": "queued", "discoveredAt": 5}"#))
        #expect(bare == r)
    }

    /// A stored `"waitState": null` is no wait state: a Zylon run reloaded before its chat
    /// was sent has nothing to follow and nothing to say yet.
    @Test func aNullWaitStateReadsAsNone() throws {
        let r = AgentRunRecord(runId: "r", agent: "a", taskId: "t", prompt: "q", backendTarget: "zy", backendKind: "zylon", discoveredAtMillis: 5)
        #expect(r.json["backend"]?["waitState"] == .null)
        let back = try #require(try Self.stored(r))
        #expect(back.backend.waitState == nil)
        #expect(AgentRunMachine.dueComment(back) == nil)
    }

    static let required = #""runId": "r", "agent": "a", "taskId": "t", "backendTarget": "zy", "backendKind": "zylon", "phase": "done", "discoveredAt": 5"#

    @Test func somethingThatIsNotARecordIsRefused() throws {
        for text in ["null", "[]", "\"run\"", "1e400", "{}"] {
            #expect(try Self.parsed(text) == nil, "\(text)")
        }
        let keys = ["runId", "agent", "taskId", "backendTarget", "backendKind", "phase", "discoveredAt"]
        let full = try JSONParser.parse("{" + Self.required + "}")
        #expect(AgentRunRecord(json: full) != nil)
        for key in keys {
            var missing = full.objectValue ?? [:]
            missing[key] = nil
            #expect(AgentRunRecord(json: .object(missing)) == nil, "without \(key)")
            var wrong = full.objectValue ?? [:]
            wrong[key] = key == "discoveredAt" ? "5" : 5
            #expect(AgentRunRecord(json: .object(wrong)) == nil, "\(key) of the wrong type")
        }
        #expect(try Self.parsed(#"{"runId": "r", "agent": "a", "taskId": "t", "backendTarget": "zy", "backendKind": "zylon", "phase": "sleeping", "discoveredAt": 5}"#) == nil)
    }

    @Test func optionalFieldsOfTheWrongTypeAreDropped() throws {
        let r = try #require(try Self.parsed("{" + Self.required + #", "taskTitle": 7, "outcome": "exploded", "turn": "2", "comments": [1, "pr", null], "pendingEvents": "agent.run.started", "backend": "x", "finish": {"kind": "explode"}, "costUsd": "1", "startedAt": true}"#))
        #expect(r.taskTitle == nil)
        #expect(r.outcome == nil)
        #expect(r.turn == 1)
        #expect(r.comments == ["pr"])
        #expect(r.pendingEvents == [])
        #expect(r.backend == AgentRunRecord.Backend())
        #expect(r.finish == nil)
        #expect(r.costUsd == nil)
        #expect(r.startedAtMillis == nil)
    }

    /// `1e400` reads as infinity: a damaged row must neither trap while it is read nor
    /// later, when the runner counts on from it or subtracts its times.
    @Test func hugeNumbersAreClampedSoNothingTrapsLater() throws {
        let r = try #require(try Self.parsed(#"{"runId": "r", "agent": "a", "taskId": "t", "backendTarget": "ph", "backendKind": "posthog", "phase": "done", "#
            + #""discoveredAt": 1e400, "startedAt": -1e400, "finishedAt": 1e400, "updatedAt": -1e400, "nextAt": 1e400, "appearedAt": 1e400, "#
            + #""turn": 1e400, "failures": 1e400, "conflicts": -1e400, "backend": {"step": 1e400, "inputTokens": 1e400}}"#))
        #expect(r.turn >= 1)
        #expect(r.failures >= 0)
        #expect(r.conflicts >= 0)
        #expect(r.backend.step >= 0)
        #expect(r.backend.inputTokens == .infinity)
        var counted = r
        counted.failures += 1
        counted.conflicts += 1
        counted.backend.step += 1
        #expect(counted.failures == r.failures + 1)
        let started = try #require(r.startedAtMillis)
        #expect(started >= 0, "a time is never negative")
        #expect(r.discoveredAtMillis - started >= 0)
        #expect(AgentRunMachine.overTime(r, nowMillis: 1_700_000_000_000, maxRunMinutes: 120))
        let next = AgentRunMachine.nextTurn(r, prompt: "again", appearedAtMillis: nil, nowMillis: 1_700_000_000_000)
        #expect(next.turn == r.turn + 1)
        #expect(AgentRunMachine.retryDelay(failures: r.failures, retryAfter: nil, random: 0.5) == 300)
    }
}
