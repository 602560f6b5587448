#if canImport(Glibc)
import Glibc
#endif
import AsyncHTTPClient
import Foundation
import NIOCore
import Testing
import TaskBridgeCore
import TaskBridgeStore
import TaskBridgeTestSupport

@Suite struct SlowClientAndConcurrencyTests {
    /// Opens a raw TCP connection, sends `bytes`, and reports whether the server closed
    /// the connection (EOF) within `bound` seconds — a client trickling a request must
    /// be cut off, not wait forever.
    func serverCloses(port: Int, after bytes: String, bound: Int = 15) throws -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        #expect(fd >= 0)
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        #expect(connected == 0)
        var timeout = timeval(tv_sec: bound, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        _ = bytes.withCString { send(fd, $0, strlen($0), 0) }
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = recv(fd, &buffer, buffer.count, 0)
            if n == 0 { return true }  // orderly close by the server
            if n < 0 { return errno == ECONNRESET }  // timed out (EAGAIN) means it never closed
        }
    }

    @Test func clientsThatStallOrTrickleAreCutOff() async throws {
        let server = #"{"headerTimeoutSeconds": 1, "requestTimeoutSeconds": 2, "idleTimeoutSeconds": 1}"#
        try await withBridge(config: testConfig(server: server)) { bridge async throws in
            let port = try #require(bridge.client.port)
            // Never finishes its headers.
            #expect(try serverCloses(port: port, after: "POST /hooks/github HTTP/1.1\r\nHost: x\r\nContent-Type: app"))
            // Promises a body it never sends.
            #expect(try serverCloses(port: port, after: "POST /hooks/github HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 5000\r\n\r\n{\"a\":"))
            // Opens a connection and says nothing.
            #expect(try serverCloses(port: port, after: ""))
            // The server still serves others afterwards (on a new connection: the test
            // client's idle one was closed by the 1 s idle timeout, as it should be).
            try await withHTTPClient { client in
                let health = try await client.execute(HTTPClientRequest(url: "http://127.0.0.1:\(port)/healthz"), timeout: .seconds(10))
                #expect(health.status.code == 200)
            }
        }
    }

    /// Fifty concurrent deliveries of the same GitHub delivery id over separate
    /// connections: one 202, the rest 200 with the same event id, one stored event.
    @Test func concurrentDuplicatesOverHTTPStoreOneEvent() async throws {
        try await withBridge { bridge async throws in
            let port = try #require(bridge.client.port)
            let body = Fixtures.bytes("github/pull_request.opened.json")
            let headers = Signed.github(body, secret: TestEnv.githubSecret, event: "pull_request", delivery: "same-delivery")
            let results = try await withHTTPClient { client in try await withThrowingTaskGroup(of: (Int, String).self) { group in
                for _ in 0..<50 {
                    group.addTask {
                        var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)/hooks/github")
                        request.method = .POST
                        for (n, v) in headers { request.headers.add(name: n, value: v) }
                        request.body = .bytes(ByteBuffer(bytes: body))
                        let response = try await client.execute(request, timeout: .seconds(30))
                        let bytes = try await response.body.collect(upTo: 1 << 16)
                        let json = try JSONParser.parse(Array(buffer: bytes))
                        return (Int(response.status.code), json["event"]?.stringValue ?? "")
                    }
                }
                return try await group.reduce(into: [(Int, String)]()) { $0.append($1) }
            } }
            #expect(results.filter { $0.0 == 202 }.count == 1)
            #expect(results.filter { $0.0 == 200 }.count == 49)
            #expect(Set(results.map(\.1)).count == 1)
            #expect(try await bridge.store.listEvents(EventFilter()).count == 1)
            #expect(try await bridge.store.listJobs(JobFilter()).count == 0)
        }
    }
}
