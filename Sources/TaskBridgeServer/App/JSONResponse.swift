import Hummingbird
import NIOCore
import TaskBridgeCore

/// JSON responses, including the `{"error": "…"}` body every refusal carries.
enum JSONResponse {
    static func make(_ status: HTTPResponse.Status, _ value: JSONValue, headers: HTTPFields = [:]) -> Response {
        var h = headers
        h[.contentType] = "application/json"
        return Response(status: status, headers: h, body: .init(byteBuffer: ByteBuffer(bytes: JSONWriter.serializeBytes(value))))
    }

    static func error(_ status: Int, _ message: String, headers: HTTPFields = [:]) -> Response {
        make(HTTPResponse.Status(code: status), ["error": .string(message)], headers: headers)
    }
}

/// Turns router misses and unexpected errors into JSON error bodies; nothing leaves as
/// an empty 404 or a stack trace.
struct JSONErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as HTTPError {
            let message = error.body ?? (error.status == .notFound
                ? "no route for \(request.method.rawValue) \(request.uri.path)" : error.status.reasonPhrase)
            return JSONResponse.error(Int(error.status.code), message, headers: error.headers)
        } catch let error as any HTTPResponseError {
            return JSONResponse.error(Int(error.status.code), error.status.reasonPhrase)
        } catch {
            context.logger.error("unexpected error handling \(request.method.rawValue) \(request.uri.path): \(error)")
            return JSONResponse.error(500, "internal error")
        }
    }
}
