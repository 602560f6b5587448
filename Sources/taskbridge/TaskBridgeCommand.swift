import ArgumentParser

@main
struct TaskBridgeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "taskbridge",
        abstract: "Turns Sentry, GitHub and website-widget webhooks into tasks on GroupChat.",
        subcommands: [ServeCommand.self, CheckCommand.self, TestCommand.self, EventsCommand.self, DeadLetterCommand.self, AgentsCommand.self, RunsCommand.self, MigrateCommand.self,
                      ReplayCommand.self, DemoCommand.self],
        defaultSubcommand: ServeCommand.self)
}
