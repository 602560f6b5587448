import HTTPTypes
import Hummingbird
import TaskBridgeCore

extension TaskBridgeRuntime {
    /// The client's address: the peer, or what trusted proxies say it is.
    func clientIP(_ request: Request, _ context: TaskBridgeRequestContext) -> String {
        let name: HTTPField.Name = switch clientResolver.header {
        case .xForwardedFor: .xForwardedFor
        case .forwarded: .forwarded
        case .xRealIP: .xRealIP
        }
        return clientResolver.clientAddress(peer: context.remoteAddress?.ipAddress, headerValues: request.headers[values: name])
    }

    /// Whether the client reached a trusted proxy over https.
    func isHTTPS(_ request: Request, _ context: TaskBridgeRequestContext) -> Bool {
        clientResolver.isHTTPS(peer: context.remoteAddress?.ipAddress,
                               forwardedProto: request.headers[values: .xForwardedProto],
                               forwarded: request.headers[values: .forwarded])
    }
}
