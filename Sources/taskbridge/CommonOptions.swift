import ArgumentParser
import Foundation
import Logging
import TaskBridgeCore
import TaskBridgeServer

/// `--config`, resolved flag > `TASKBRIDGE_CONFIG` > `config/taskbridge.json`.
struct ConfigOption: ParsableArguments {
    @Option(name: .long, help: "Config file (default: $TASKBRIDGE_CONFIG or config/taskbridge.json).")
    var config: String?

    var path: String {
        config ?? ProcessInfo.processInfo.environment["TASKBRIDGE_CONFIG"].flatMap { $0.isEmpty ? nil : $0 } ?? "config/taskbridge.json"
    }

    /// Loads and validates; prints every problem and exits 1 when invalid.
    func load() throws -> ConfigLoader.Loaded {
        do {
            return try ConfigLoader.load(configPath: path)
        } catch {
            for d in error.diagnostics { printError(d.description) }
            printError("\(error.diagnostics.count) problem\(error.diagnostics.count == 1 ? "" : "s") found; fix them and try again")
            throw ExitCode(1)
        }
    }
}

/// Where the database lives: flag > `TASKBRIDGE_DATA_DIR` > config `storage.dataDir` > `data`.
struct DataDirOption: ParsableArguments {
    @Option(name: .customLong("data-dir"), help: "Data directory (default: $TASKBRIDGE_DATA_DIR, storage.dataDir, or ./data).")
    var dataDir: String?

    func resolve(_ config: TaskBridgeConfig?) -> String {
        dataDir ?? ProcessInfo.processInfo.environment["TASKBRIDGE_DATA_DIR"].flatMap { $0.isEmpty ? nil : $0 }
            ?? config?.storage.dataDir ?? "data"
    }
}

func printError(_ message: String) {
    FileHandle.standardError.write(Data((message + "\n").utf8))
}

enum LoggingSetup {
    static func bootstrap(format: LoggingSettings.Format, level: Logger.Level) {
        LoggingSystem.bootstrap { label in
            var handler: any LogHandler = format == .json ? JSONLogHandler(label: label) : TextLogHandler(label: label)
            handler.logLevel = level
            return handler
        }
    }
}
