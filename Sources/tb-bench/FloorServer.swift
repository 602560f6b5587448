import ArgumentParser
import Hummingbird
import Logging

/// The floor: a bare Hummingbird server that reads the whole body and answers 202 —
/// what any HTTP service built on the same stack costs before doing any work.
struct FloorServer: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "floor", abstract: "Bare Hummingbird: read the body, answer 202.")
    @Option var host = "127.0.0.1"
    @Option var port = 8091

    func run() async throws {
        let router = Router()
        router.post("/**") { request, _ -> Response in
            _ = try await request.body.collect(upTo: 32 << 20)
            return Response(status: .accepted)
        }
        var logger = Logger(label: "floor")
        logger.logLevel = .warning
        let app = Application(router: router, configuration: .init(address: .hostname(host, port: port)), logger: logger)
        try await app.runService(gracefulShutdownSignals: [.sigterm, .sigint])
    }
}
