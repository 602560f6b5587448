import HTTPTypes
import NIOCore
import NIOHTTPTypes

/// Cuts off clients that send too slowly. The idle timeout alone cannot: a client that
/// trickles one byte every few seconds never looks idle. So a request head must arrive
/// within `firstHeadDeadline` of the connection opening (`nextHeadDeadline` of the
/// previous response, which allows for keep-alive idling), and
/// the whole request within `requestDeadline` of its head; otherwise the connection is
/// closed. No request can hold the process hostage.
final class RequestDeadlineHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    let firstHeadDeadline: TimeAmount
    let nextHeadDeadline: TimeAmount
    let requestDeadline: TimeAmount
    private var timer: Scheduled<Void>?

    init(firstHeadDeadline: TimeAmount, nextHeadDeadline: TimeAmount, requestDeadline: TimeAmount) {
        self.firstHeadDeadline = firstHeadDeadline
        self.nextHeadDeadline = nextHeadDeadline
        self.requestDeadline = requestDeadline
    }

    func handlerAdded(context: ChannelHandlerContext) {
        arm(context, firstHeadDeadline)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head: arm(context, requestDeadline)
        case .end:
            timer?.cancel()
            timer = nil
        case .body: break
        }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if case .end = unwrapOutboundIn(data) { arm(context, nextHeadDeadline) }
        context.write(data, promise: promise)
    }

    private func arm(_ context: ChannelHandlerContext, _ after: TimeAmount) {
        timer?.cancel()
        let loopBound = NIOLoopBound(context, eventLoop: context.eventLoop)
        timer = context.eventLoop.scheduleTask(in: after) {
            loopBound.value.close(promise: nil)
        }
    }
}
