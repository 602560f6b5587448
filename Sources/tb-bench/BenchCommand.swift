import ArgumentParser

/// Benchmark helpers driven by scripts/bench.sh. Not part of the product.
@main
struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tb-bench",
        abstract: "TaskBridge benchmark helpers (see scripts/bench.sh).",
        subcommands: [FloorServer.self, CeilingServer.self, FakeTarget.self, SeedBacklog.self, FixedRate.self, DrainTimer.self, MakeRules.self,
                      AgentPickup.self])
}
