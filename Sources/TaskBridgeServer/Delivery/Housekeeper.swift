import Logging
import ServiceLifecycle
import TaskBridgeCore
import TaskBridgeStore

/// Periodic chores: queue gauges for `/metrics`, and pruning delivered events past
/// their retention.
struct Housekeeper: Service {
    let runtime: TaskBridgeRuntime
    let dispatcher: Dispatcher?

    func run() async throws {
        var lastPrune = 0.0
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            await refreshGauges()
            let now = MonotonicClock.seconds()
            if now - lastPrune >= runtime.config.retention.pruneIntervalSeconds {
                lastPrune = now
                await prune()
            }
            try? await cancelWhenGracefulShutdown { try await Task.sleep(nanoseconds: 5_000_000_000) }
        }
    }

    func refreshGauges() async {
        guard let stats = try? await runtime.store.queueStats(nowMillis: WallClock.nowMillis()) else { return }
        for state in JobState.allCases {
            runtime.metrics.gauge("taskbridge_jobs", [("state", state.rawValue)], Double(stats.jobsByState[state.rawValue] ?? 0))
        }
        for target in runtime.config.targets.keys {
            runtime.metrics.gauge("taskbridge_queue_depth", [("target", target)], Double(stats.dueByTarget[target] ?? 0))
            runtime.metrics.gauge("taskbridge_oldest_due_job_age_seconds", [("target", target)], stats.oldestDueAgeSeconds[target] ?? 0)
        }
        if !runtime.config.agents.isEmpty, let counts = try? await runtime.store.agentRunCounts() {
            runtime.metrics.agentRunGauges(agents: runtime.config.agents.keys.sorted(), counts: counts)
        }
        for (target, state) in dispatcher?.breakerGauges() ?? [] {
            runtime.metrics.gauge("taskbridge_breaker_state", [("target", target)], Double(state))
        }
    }

    func prune() async {
        let cutoff = WallClock.nowMillis() - Int64(runtime.config.retention.days * 86_400_000)
        do {
            let result = try await runtime.store.prune(beforeMillis: cutoff)
            if result.events > 0 {
                runtime.logger.info("pruned delivered events past retention", metadata: [
                    "events": "\(result.events)", "jobs": "\(result.jobs)", "attempts": "\(result.attempts)",
                ])
            }
        } catch {
            runtime.logger.error("retention pruning failed", metadata: ["error": "\(error)"])
        }
    }
}
