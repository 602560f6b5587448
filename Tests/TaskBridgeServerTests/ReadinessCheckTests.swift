import Testing
import TaskBridgeTestSupport
@testable import TaskBridgeServer

@Suite struct ReadinessCheckTests {
    /// A store write that never returns: `/readyz` says "not ready" after the timeout,
    /// and later calls do not pile more writes onto the stuck store.
    @Test func aHangingStoreCheckIsNotReadyAndIsNotRepeated() async {
        let calls = Locked(0)
        let check = ReadinessCheck(ttl: 0.05, timeout: 0.2) {
            calls.withLock { $0 += 1 }
            try? await Task.sleep(nanoseconds: 60_000_000_000)
            return true
        }
        let first = await withTaskGroup(of: Bool.self) { group in
            for _ in 0..<20 { group.addTask { await check.isReady() } }
            return await group.reduce(into: [Bool]()) { $0.append($1) }
        }
        #expect(first == Array(repeating: false, count: 20))
        try? await Task.sleep(nanoseconds: 100_000_000)
        #expect(await check.isReady() == false)
        #expect(calls.value == 1)
        #expect(check.storeChecks == 1)
    }

    @Test func aFailingStoreIsReportedAndRecheckedAfterTheInterval() async {
        let healthy = Locked(false)
        let check = ReadinessCheck(ttl: 0.05, timeout: 5) { healthy.value }
        #expect(await check.isReady() == false)
        healthy.withLock { $0 = true }
        try? await Task.sleep(nanoseconds: 100_000_000)
        #expect(await check.isReady() == true)
        #expect(check.storeChecks == 2)
    }
}
