import Testing
import TaskBridgeCore
import TaskBridgeStore
import TaskBridgeTestSupport

@Suite struct ProxyAndHealthTests {
    func storedClientIP(_ bridge: Bridge, forwardedFor: [(String, String)]) async throws -> String? {
        let r = try await bridge.post("/hooks/widget", [("Content-Type", "application/json")] + forwardedFor, Array(#"{"message":"hi"}"#.utf8))
        #expect(r.status.code == 202)
        return try await bridge.store.eventDetail(id: r.json["event"]?.stringValue ?? "")?.event.clientIP
    }

    @Test func forwardingHeadersCountOnlyFromTrustedProxies() async throws {
        try await withBridge(config: testConfig(server: #"{"trustedProxies": ["127.0.0.1/32", "10.0.0.0/8"]}"#)) { bridge async throws in
            #expect(try await storedClientIP(bridge, forwardedFor: [("X-Forwarded-For", "203.0.113.7")]) == "203.0.113.7")
            // The nearest untrusted hop wins; a client cannot prepend its own pick.
            #expect(try await storedClientIP(bridge, forwardedFor: [("X-Forwarded-For", "1.2.3.4, 203.0.113.9, 10.1.2.3")]) == "203.0.113.9")
            #expect(try await storedClientIP(bridge, forwardedFor: []) == "127.0.0.1")
            // Only the configured header counts (X-Forwarded-For by default): a proxy that
            // appends X-Forwarded-For passes a client's Forwarded header through.
            #expect(try await storedClientIP(bridge, forwardedFor: [("Forwarded", "for=\"[2001:db8::1]:4711\""), ("X-Forwarded-For", "203.0.113.8")]) == "203.0.113.8")
            #expect(try await storedClientIP(bridge, forwardedFor: [("Forwarded", "for=198.51.100.1"), ("X-Real-IP", "198.51.100.2")]) == "127.0.0.1")
        }
        try await withBridge(config: testConfig(server: #"{"trustedProxies": ["127.0.0.1/32"], "forwardedHeader": "forwarded"}"#)) { bridge async throws in
            #expect(try await storedClientIP(bridge, forwardedFor: [("Forwarded", "for=\"[2001:db8::1]:4711\";proto=https"), ("X-Forwarded-For", "6.6.6.6")]) == "2001:db8::1")
            #expect(try await storedClientIP(bridge, forwardedFor: [("X-Forwarded-For", "203.0.113.7")]) == "127.0.0.1")
        }
        try await withBridge(config: testConfig(server: #"{"trustedProxies": ["127.0.0.1/32"], "forwardedHeader": "x-real-ip"}"#)) { bridge async throws in
            #expect(try await storedClientIP(bridge, forwardedFor: [("X-Real-IP", "198.51.100.20"), ("X-Forwarded-For", "6.6.6.6")]) == "198.51.100.20")
            #expect(try await storedClientIP(bridge, forwardedFor: [("X-Forwarded-For", "203.0.113.7")]) == "127.0.0.1")
        }
        try await withBridge(config: testConfig(server: #"{"trustedProxies": []}"#)) { bridge async throws in
            #expect(try await storedClientIP(bridge, forwardedFor: [("X-Forwarded-For", "203.0.113.7")]) == "127.0.0.1")
        }
    }

    @Test func rateLimitBucketsFollowTheResolvedClient() async throws {
        let server = #"{"trustedProxies": ["127.0.0.1/32"]}"#
        let widget = #", "rateLimit": {"perClient": {"burst": 1, "perMinute": 1}}"#
        try await withBridge(config: testConfig(server: server, widget: widget)) { bridge async throws in
            func send(_ ip: String) async throws -> UInt {
                UInt(try await bridge.post("/hooks/widget", [("Content-Type", "application/json"), ("X-Forwarded-For", ip)],
                                           Array(#"{"message":"hi"}"#.utf8)).status.code)
            }
            #expect(try await send("198.51.100.1") == 202)
            #expect(try await send("198.51.100.1") == 429)
            #expect(try await send("198.51.100.2") == 202)
        }
        // Untrusted peer: the header is ignored, so rotating it does not escape the limit.
        try await withBridge(config: testConfig(widget: widget)) { bridge async throws in
            let first = try await bridge.post("/hooks/widget", [("Content-Type", "application/json"), ("X-Forwarded-For", "198.51.100.1")],
                                              Array(#"{"message":"hi"}"#.utf8))
            let second = try await bridge.post("/hooks/widget", [("Content-Type", "application/json"), ("X-Forwarded-For", "198.51.100.2")],
                                               Array(#"{"message":"hi"}"#.utf8))
            #expect(first.status.code == 202)
            #expect(second.status.code == 429)
        }
    }

    @Test func healthReadinessAndMetrics() async throws {
        try await withBridge { bridge async throws in
            let health = try await bridge.get("/healthz")
            #expect(health.status.code == 200)
            #expect(health.json == ["status": "ok"])
            let ready = try await bridge.get("/readyz")
            #expect(ready.status.code == 200)
            #expect(ready.json["status"] == "ready")
            #expect(ready.json["rules"] == 10)
            _ = try await bridge.sentry(Fixtures.bytes("sentry/issue.created.json"), resource: "issue", requestID: "m1")
            _ = try await bridge.post("/hooks/github", [("Content-Type", "application/json")], Array("{}".utf8))
            let metrics = try await bridge.get("/metrics")
            #expect(metrics.status.code == 200)
            #expect(metrics.text.contains(#"taskbridge_events_total{source="sentry",type="issue.created",outcome="planned"} 1"#))
            #expect(metrics.text.contains(#"taskbridge_ingress_rejected_total{source="github",status="401"} 1"#))
            #expect(!metrics.text.contains(TestEnv.githubSecret))
        }
    }

    /// `/readyz` is public and its check writes to the store: a burst of calls shares one
    /// check, and results are reused for a second.
    @Test func readinessChecksTheStoreAtMostOncePerInterval() async throws {
        try await withBridge { bridge async throws in
            let start = ContinuousClock.now
            let codes = try await withThrowingTaskGroup(of: UInt.self) { group in
                for _ in 0..<200 { group.addTask { UInt(try await bridge.get("/readyz").status.code) } }
                return try await group.reduce(into: [UInt]()) { $0.append($1) }
            }
            let elapsed = Double((ContinuousClock.now - start).components.seconds) + 1
            #expect(codes.count == 200)
            #expect(codes.allSatisfy { $0 == 200 })
            // One check per started second of the burst at most (one, when it is quick).
            let checks = bridge.runtime.readinessStoreChecks
            #expect(checks >= 1)
            #expect(Double(checks) <= elapsed + 1, "\(checks) store checks for 200 calls in under \(elapsed) s")
            // Later calls after the interval check again, once.
            try await Task.sleep(nanoseconds: 1_100_000_000)
            #expect(try await bridge.get("/readyz").status.code == 200)
            #expect(try await bridge.get("/readyz").status.code == 200)
            #expect((checks + 1...checks + 2).contains(bridge.runtime.readinessStoreChecks))
        }
    }

    @Test func unknownRoutesGetJSONErrors() async throws {
        try await withBridge { bridge async throws in
            let r = try await bridge.get("/nope")
            #expect(r.status.code == 404)
            #expect(r.json == ["error": "no route for GET /nope"])
        }
    }
}
