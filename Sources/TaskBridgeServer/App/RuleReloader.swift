import Foundation
import Logging
import ServiceLifecycle
import TaskBridgeCore
import UnixSignals

/// Reloads rules on SIGHUP and when rule files change (polled). A new set is validated
/// in full before it replaces the old one atomically; an invalid set is logged with
/// every problem and the old set keeps serving.
public struct RuleReloader: Service {
    let runtime: TaskBridgeRuntime
    let pollSeconds: Double

    public init(runtime: TaskBridgeRuntime, pollSeconds: Double = 2) {
        self.runtime = runtime
        self.pollSeconds = pollSeconds
    }

    /// Loads and installs the rule files; returns the problems if the set is invalid.
    @discardableResult
    public func reload(reason: String) async -> [Diagnostic] {
        await runtime.runReloadHooks()
        do {
            let (rules, files) = try ConfigLoader.loadRules(config: runtime.config, configPath: runtime.configPath)
            try await runtime.install(rules)
            runtime.ruleStatus.reloaded(atMillis: WallClock.nowMillis(), error: nil)
            runtime.logger.notice("rules reloaded", metadata: ["reason": "\(reason)", "rules": "\(rules.rules.count)", "files": "\(files.count)"])
            return []
        } catch let e as DiagnosticsError {
            runtime.ruleStatus.reloaded(atMillis: WallClock.nowMillis(), error: e.diagnostics.map(\.description).joined(separator: "\n"))
            runtime.logger.error("new rules rejected; the previous rules keep serving", metadata: [
                "reason": "\(reason)", "problems": "\(e.diagnostics.map(\.description).joined(separator: "\n"))",
            ])
            return e.diagnostics
        } catch {
            runtime.ruleStatus.reloaded(atMillis: WallClock.nowMillis(), error: "rules could not be installed: \(error)")
            runtime.logger.error("rules could not be installed; the previous rules keep serving", metadata: ["error": "\(error)"])
            return [Diagnostic(file: runtime.configPath, path: "rules", message: "\(error)")]
        }
    }

    /// Names, sizes and modification times of the rule files the config's globs match.
    func fingerprint() -> [String] {
        let files = (try? ConfigLoader.expand(runtime.config.rules, relativeTo: ConfigLoader.directory(of: runtime.configPath),
                                              configPath: runtime.configPath)) ?? []
        return files.map { path in
            let attrs = try? FileManager.default.attributesOfItem(atPath: path)
            let size = (attrs?[.size] as? NSNumber)?.int64Value ?? -1
            let mtime = (attrs?[.modificationDate] as? Date)?.timeIntervalSince1970 ?? -1
            return "\(path)|\(size)|\(mtime)"
        }
    }

    public func run() async throws {
        let signals = await UnixSignalsSequence(trapping: .sighup)
        var last = fingerprint()
        await withDiscardingTaskGroup { group in
            group.addTask {
                for await _ in signals { await self.reload(reason: "SIGHUP") }
            }
            while !Task.isShuttingDownGracefully && !Task.isCancelled {
                try? await cancelWhenGracefulShutdown { try await Task.sleep(nanoseconds: pollSeconds.sleepNanoseconds(atMost: 3600)) }
                let now = fingerprint()
                if now != last {
                    last = now
                    await reload(reason: "rule files changed")
                }
            }
            group.cancelAll()
        }
    }
}
