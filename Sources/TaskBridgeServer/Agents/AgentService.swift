import Logging
import ServiceLifecycle
import TaskBridgeCore
import TaskBridgeStore
import TaskBridgeTargets

/// Runs one ``AgentWorker`` per configured agent. It shares the dispatcher's HTTP client
/// and target runtimes, so a backend target's limits and breaker count the agent's
/// requests with the rules' ones; it is started after the dispatcher and so stopped
/// before it. On shutdown the workers are cancelled: every run is saved after each
/// action, and a call cut short is reconciled on the next start.
public final class AgentService: Service, Sendable {
    let workers: [AgentWorker]
    let store: any Store
    let logger: Logger

    public init(runtime: TaskBridgeRuntime, dispatcher: Dispatcher) {
        let workers = runtime.config.agents.keys.sorted().compactMap { name -> AgentWorker? in
            guard let agent = runtime.config.agents[name] else { return nil }
            return AgentWorker(config: agent, runtime: runtime, client: dispatcher.client, backend: dispatcher.targets[agent.backend.target])
        }
        self.workers = workers
        self.store = runtime.store
        self.logger = runtime.logger
        let logger = runtime.logger
        runtime.onReload {
            for w in workers { if let line = w.reloadCredentials() { logger.notice("\(line)") } }
        }
    }

    public func run() async throws {
        let workers = self.workers
        // Graceful shutdown cancels the workers, which interrupts their waits.
        await cancelWhenGracefulShutdown {
            await withDiscardingTaskGroup { group in
                // One replica works an agent's runs at a time (a shared store hands the
                // agent to another replica when this one stops or dies).
                for w in workers { group.addTask { await self.store.runExclusively("agent \(w.config.name)") { await w.run() } } }
            }
        }
        logger.info("agent runners stopped")
    }
}
