/// The decisions of an agent run's life, pure so they are tested without sockets: what
/// GroupChat's answer about a run means in each phase, when to try again, which progress
/// comments are due, and what the closing comment says. ``AgentRunRecord`` holds the
/// state; the server's runner does the I/O these decisions call for.
public enum AgentRunMachine {
    /// GroupChat's run statuses.
    public static let statuses: Set<String> = ["PENDING", "RUNNING", "FINISHED", "ERROR", "STOPPED", "WAITING"]

    /// What to do after reading the run in GroupChat (after a 409, or to reconcile a
    /// transition whose answer was lost).
    public enum Reconciled: Sendable, Hashable {
        /// Still PENDING: send `/start`.
        case sendStart
        /// It is RUNNING (our start applied, or someone else's): go on working.
        case working
        /// RUNNING and the finishing call did not apply: send it.
        case sendFinish
        /// The run is over in GroupChat: stop following it, with this outcome.
        case ended(AgentRunRecord.Outcome, String)
    }

    public static func reconcile(_ phase: AgentRunRecord.Phase, remoteStatus status: String, intent: String?) -> Reconciled {
        switch (phase, status) {
        case (.queued, "PENDING"), (.starting, "PENDING"): return .sendStart
        // Queued runs were never sent `/start` by us: running means something else works on it.
        case (.queued, "RUNNING"), (.queued, "WAITING"): return .ended(.stopped, "the run is already \(status): something else started it")
        case (.starting, "RUNNING"), (.starting, "WAITING"): return .working
        case (.working, "RUNNING"), (.working, "WAITING"), (.working, "PENDING"): return .working
        case (.finishing, "RUNNING"), (.finishing, "WAITING"): return .sendFinish
        case (_, "STOPPED"): return .ended(.stopped, "the run was stopped in GroupChat")
        case (.finishing, "FINISHED"):
            return .ended(.completed, intent == "complete" ? "completed" : "the run was finished in GroupChat by something else")
        case (.finishing, "ERROR"):
            return .ended(.failed, intent == "error" ? "failed" : "the run was ended with an error in GroupChat by something else")
        case (.finishing, "PENDING"):
            // Our call applied (its answer was lost) and the owner has answered since.
            if intent == "complete" { return .ended(.completed, "completed; the run is PENDING again for a new turn") }
            if intent == "error" { return .ended(.failed, "failed; the run is PENDING again for a new turn") }
            return .ended(.stopped, "the run is PENDING again (a new turn): this turn is over")
        case (.done, _): return .ended(.stopped, "already done")
        default:
            return .ended(.stopped, "the run is \(status) in GroupChat, so this turn is not worked on")
        }
    }

    /// Seconds before trying a failed call again: doubling from 1 s to 5 min, at least
    /// what a `Retry-After` asked for (capped at an hour), with ±20% jitter (`random` in 0..<1).
    public static func retryDelay(failures: Int, retryAfter: Double?, random: Double) -> Double {
        let base = min(300, pow2(max(0, failures - 1)))
        let jittered = base * (0.8 + 0.4 * random.clamped(to: 0...1))
        return max(jittered, min(3_600, retryAfter ?? 0))
    }

    static func pow2(_ n: Int) -> Double {
        var v = 1.0
        for _ in 0..<min(n, 20) { v *= 2 }
        return v
    }

    /// The wait before the next list of PENDING runs: `pollSeconds` ±20%, or after
    /// failures the retry delay (never less than `pollSeconds`).
    public static func pollDelay(pollSeconds: Double, failures: Int, retryAfter: Double?, random: Double) -> Double {
        let normal = pollSeconds * (0.8 + 0.4 * random.clamped(to: 0...1))
        guard failures > 0 else { return normal }
        return max(normal, min(60, retryDelay(failures: failures, retryAfter: nil, random: random)), min(3_600, retryAfter ?? 0))
    }

    /// The run has been worked on longer than the agent allows.
    public static func overTime(_ r: AgentRunRecord, nowMillis: Int64, maxRunMinutes: Double) -> Bool {
        guard let started = r.startedAtMillis else { return false }
        return Double(nowMillis - started) > maxRunMinutes * 60_000
    }

    /// A progress comment that is due and not yet posted: its marker and text. The API
    /// asks agents to comment sparingly: once when the backend starts working, once when
    /// a pull request (or, before one, a branch) appears.
    public static func dueComment(_ r: AgentRunRecord) -> (marker: String, body: String)? {
        let b = r.backend
        if let pr = b.prURL, !r.comments.contains("pr") {
            return ("pr", "Pull request opened: \(pr)" + (b.branch.map { " (branch \($0))" } ?? ""))
        }
        if let branch = b.branch, b.prURL == nil, !r.comments.contains("branch"), !r.comments.contains("pr") {
            return ("branch", "Working on branch \(branch).")
        }
        if !r.comments.contains("working"), r.comments.isEmpty {
            switch r.backendKind {
            case "posthog" where b.runId != nil:
                let task = b.taskSlug ?? b.taskId ?? "?"
                return ("working", "PostHog's coding agent is working on this (PostHog task \(task)).")
            case "zylon" where b.waitState != nil:
                return ("working", "Asked Zylon; waiting for its answer.")
            default: return nil
            }
        }
        return nil
    }

    /// The closing comment's longest text: GroupChat shows it on the task.
    public static let maxBodyCharacters = 20_000

    /// What `/complete` says: the PR for PostHog, the answer for Zylon.
    public static func completionBody(_ r: AgentRunRecord) -> String {
        var text: String
        switch r.backendKind {
        case "zylon":
            let answer = r.backend.answer?.trimmingCharacters() ?? ""
            text = answer.isEmpty ? "Zylon finished without an answer." : answer
        default:
            let task = r.backend.taskSlug ?? r.backend.taskId ?? "?"
            if let pr = r.backend.prURL {
                text = "Done. PostHog's coding agent opened a pull request: \(pr)\n\nPostHog task \(task)."
            } else {
                text = "Done. PostHog's coding agent finished (PostHog task \(task)) without opening a pull request."
            }
            if !r.backend.reported.isEmpty {
                text += "\n\nPostHog reported:\n" + r.backend.reported.map { "- " + $0 }.joined(separator: "\n")
            }
        }
        return clip(text)
    }

    /// What `/error` says.
    public static func errorBody(_ reason: String) -> String { clip("I could not finish this: \(reason)") }

    static func clip(_ text: String) -> String {
        text.count <= maxBodyCharacters ? text : String(text.prefix(maxBodyCharacters - 1)) + "…"
    }

    /// A daily budget is spent: the run must fail instead of starting its backend.
    public static func overBudget(spentUsd: Double, nextRunUsd: Double?, capUsd: Double?) -> Bool {
        guard let cap = capUsd else { return false }
        return spentUsd + (nextRunUsd ?? 0) > cap || spentUsd >= cap
    }

    /// A listed PENDING run whose turn we started and finished: the owner answered, and
    /// this is a new turn. A run we gave up on before starting it (GroupChat kept refusing
    /// `/start`) is not picked up again, or it would be tried every poll.
    public static func isNewTurn(_ r: AgentRunRecord, listedStatus: String) -> Bool {
        r.phase == .done && r.startedAtMillis != nil && r.pendingEvents.isEmpty && listedStatus == "PENDING"
    }

    /// The record made ready for the run's next turn: backend, comments and results start
    /// over; the run's identity and history stay.
    public static func nextTurn(_ r: AgentRunRecord, prompt: String, appearedAtMillis: Int64?, nowMillis: Int64) -> AgentRunRecord {
        var n = AgentRunRecord(runId: r.runId, agent: r.agent, taskId: r.taskId, prompt: prompt, backendTarget: r.backendTarget,
                               backendKind: r.backendKind, discoveredAtMillis: nowMillis)
        n.turn = r.turn + 1
        n.taskTitle = r.taskTitle
        n.taskDescription = r.taskDescription
        n.projectId = r.projectId
        n.workspaceId = r.workspaceId
        n.appearedAtMillis = appearedAtMillis ?? nowMillis
        n.earlierTurnsCostUsd = r.totalCostUsd
        return n
    }
}
