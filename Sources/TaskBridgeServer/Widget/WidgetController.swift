import HTTPTypes
import Hummingbird

/// `GET P/widget.js`: the embeddable feedback widget, when the config has a widget
/// source. Host pages load it cross-origin from a `<script>` tag, so it is cached a
/// day by browsers and revalidated by ETag after that.
struct WidgetController: Sendable {
    let runtime: TaskBridgeRuntime

    func register(on router: Router<TaskBridgeRequestContext>, prefix: String) {
        router.get("\(prefix)/widget.js") { req, _ in self.script(req) }
    }

    func script(_ request: Request) -> Response {
        guard runtime.config.sources.values.contains(where: { $0.kind == .widget }) else {
            return JSONResponse.error(404, "no widget source is configured, so there is no widget.js")
        }
        return ConsoleAssets.widget.response(request, cacheControl: "public, max-age=86400, stale-while-revalidate=604800", headers: [
            // Host pages that isolate themselves (COEP) may still load it.
            .crossOriginResourcePolicy: "cross-origin",
        ])
    }
}
