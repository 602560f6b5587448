import Hummingbird
import TaskBridgeCore

/// `/healthz` (the process answers), `/readyz` (config loaded and the store takes
/// writes — checked at most once a second however often it is asked, see
/// ``ReadinessCheck``) and `/metrics` (Prometheus text format).
struct HealthController: Sendable {
    let runtime: TaskBridgeRuntime

    func register(on router: Router<TaskBridgeRequestContext>, prefix: String) {
        router.get("\(prefix)/healthz") { _, _ in JSONResponse.make(.ok, ["status": "ok"]) }
        router.get("\(prefix)/readyz") { _, _ in await self.ready() }
        router.get("\(prefix)/metrics") { _, _ in
            Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                     body: .init(byteBuffer: ByteBuffer(bytes: self.runtime.metrics.render())))
        }
    }

    func ready() async -> Response {
        guard await runtime.readiness.isReady() else { return JSONResponse.error(503, "the store does not accept writes") }
        return JSONResponse.make(.ok, ["status": "ready", "rules": .number(Double(runtime.rules.rules.count))])
    }
}
