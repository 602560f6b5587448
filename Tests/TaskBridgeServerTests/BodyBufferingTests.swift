#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Testing
import TaskBridgeCore
import TaskBridgeStore
import TaskBridgeTestSupport

/// `server.maxBufferedBodyBytes`: request bodies being received share one budget; past
/// it, webhooks get 503 with Retry-After, and every request gives its bytes back.
@Suite struct BodyBufferingTests {
    /// The smallest budget the test config allows: the sentry source keeps the default
    /// 1 MiB maxBodyBytes.
    static let budget = 1 << 20
    static let config = testConfig(server: #"{"maxBufferedBodyBytes": \#(budget), "trustedProxies": []}"#)
    let pr = Fixtures.bytes("github/pull_request.opened.json")

    @Test func aBodyThatDoesNotFitTheBudgetGets503AndTheBudgetIsReleasedAfterwards() async throws {
        try await withBridge(config: Self.config) { bridge async throws in
            let budget = bridge.runtime.bodyBudget
            #expect(budget.limit == Self.budget)
            // Another request is buffering: all but 10,000 bytes are taken.
            let held = Self.budget - 10_000
            #expect(budget.tryReserve(held))
            let refused = try await bridge.github(pr, event: "pull_request", delivery: "busy")
            #expect(refused.status.code == 503)
            #expect(refused.headers[.retryAfter] == "2")
            #expect(refused.json["error"] == "too many request bodies are being received at once; retry shortly")
            #expect(budget.reserved == held, "the refused request holds nothing")
            // A small body still fits.
            let sentry = try await bridge.sentry(Fixtures.bytes("sentry/issue.created.json"), resource: "issue", requestID: "small")
            #expect(sentry.status.code == 202)
            budget.release(held)

            let accepted = try await bridge.github(pr, event: "pull_request", delivery: "busy")
            #expect(accepted.status.code == 202)
            #expect(budget.reserved == 0)
            // Refusals after the body was read give it back too.
            #expect(try await bridge.github(pr, event: "pull_request", delivery: "bad", secret: "wrong").status.code == 401)
            #expect(try await bridge.github(Array(repeating: UInt8(ascii: " "), count: 70_000), event: "pull_request", delivery: "big").status.code == 413)
            #expect(budget.reserved == 0)
            #expect(try await bridge.store.listEvents(EventFilter()).map(\.dedupeKey).compactMap { $0 }.sorted() == ["busy", "small"])
        }
    }

    /// A chunked body has no Content-Length: its bytes are reserved as they arrive, and
    /// the request is refused once they no longer fit.
    @Test func aChunkedBodyIsReservedAsItArrives() async throws {
        try await withBridge(config: Self.config) { bridge async throws in
            let budget = bridge.runtime.bodyBudget
            let held = Self.budget - 20_000
            #expect(budget.tryReserve(held))
            let port = try #require(bridge.client.port)
            let chunk = String(repeating: " ", count: 15_000)
            let chunked = "POST /hooks/github HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
                + String(15_000, radix: 16) + "\r\n" + chunk + "\r\n" + String(15_000, radix: 16) + "\r\n" + chunk + "\r\n0\r\n\r\n"
            let head = try RawClient(port: port).send(chunked).readHead()
            #expect(head.hasPrefix("HTTP/1.1 503"), "\(head)")
            #expect(head.lowercased().contains("retry-after: 2"))
            #expect(await eventually(10) { budget.reserved == held })
            budget.release(held)
        }
    }

    /// A client that disconnects half-way through its body gives its reservation back.
    @Test func aClientThatDisconnectsReleasesItsReservation() async throws {
        try await withBridge(config: Self.config) { bridge async throws in
            let budget = bridge.runtime.bodyBudget
            let port = try #require(bridge.client.port)
            var client: RawClient? = try RawClient(port: port)
            try client?.send("POST /hooks/github HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 30000\r\n\r\n{\"action\":")
            #expect(await eventually(10) { budget.reserved == 30_000 }, "reserved by Content-Length while the body arrives")
            client = nil  // closes the socket
            #expect(await eventually(10) { budget.reserved == 0 })
        }
    }
}

/// A blocking loopback TCP client for requests the test HTTP client cannot send.
final class RawClient {
    let fd: Int32

    init(port: Int) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        var timeout = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        guard fd >= 0, connected == 0 else { throw POSIXError(.ECONNREFUSED) }
    }

    deinit { close(fd) }

    /// Sends what the server reads; stops quietly if the server has closed the connection.
    @discardableResult
    func send(_ text: String) throws -> RawClient {
        var bytes = Array(text.utf8)[...]
        while !bytes.isEmpty {
            let n = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { break }
            bytes = bytes.dropFirst(n)
        }
        return self
    }

    /// The response head (status line and headers), or what arrived before a close or timeout.
    func readHead() -> String {
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while !received.isEmpty ? !String(decoding: received, as: UTF8.self).contains("\r\n\r\n") : true {
            let n = recv(fd, &buffer, buffer.count, 0)
            if n <= 0 { break }
            received += buffer[0..<n]
        }
        return String(decoding: received, as: UTF8.self)
    }
}
