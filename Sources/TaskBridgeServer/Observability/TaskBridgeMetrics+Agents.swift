import Metrics
import TaskBridgeStore

/// Agent runs on `/metrics`: runs by state (a gauge the housekeeper refreshes), pickup
/// latency (appeared in GroupChat → started), run duration and cost.
extension TaskBridgeMetrics {
    public func agentRunStarted(agent: String, pickupSeconds: Double) {
        timer("taskbridge_agent_run_pickup_seconds", [("agent", agent)]).recordNanoseconds(Int64(max(0, min(pickupSeconds, 1e6)) * 1e9))
    }

    public func agentRunFinished(agent: String, outcome: String, durationSeconds: Double?, costUsd: Double?) {
        counter("taskbridge_agent_runs_finished_total", [("agent", agent), ("outcome", outcome)]).increment()
        if let d = durationSeconds {
            timer("taskbridge_agent_run_duration_seconds", [("agent", agent)]).recordNanoseconds(Int64(max(0, min(d, 1e7)) * 1e9))
        }
        if let c = costUsd, c.isFinite, c > 0 {
            FloatingPointCounter(label: "taskbridge_agent_cost_usd_total", dimensions: [("agent", agent)], factory: factory).increment(by: c)
        }
    }

    /// Every state of every configured agent, so a state that empties reads 0.
    func agentRunGauges(agents: [String], counts: [AgentRunCount]) {
        let states = ["queued", "starting", "working", "finishing", "completed", "failed", "stopped"]
        for agent in agents {
            for state in states {
                let n = counts.filter { $0.agent == agent && ($0.phase == "done" ? $0.outcome == state : $0.phase == state) }.reduce(0) { $0 + $1.count }
                gauge("taskbridge_agent_runs", [("agent", agent), ("state", state)], Double(n))
            }
        }
    }
}
