import Hummingbird
import NIOCore

/// Request context carrying the TCP peer, which client-IP resolution needs.
public struct TaskBridgeRequestContext: RequestContext, RemoteAddressRequestContext {
    public var coreContext: CoreRequestContextStorage
    public let remoteAddress: SocketAddress?

    public init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.remoteAddress = source.channel.remoteAddress
    }

    /// Ingress reads bodies itself, each against its source's limit.
    public var maxUploadSize: Int { 25 * 1024 * 1024 }
}
