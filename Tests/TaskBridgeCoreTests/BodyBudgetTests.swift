import Testing
@testable import TaskBridgeCore
import TaskBridgeTestSupport

@Suite("Body budget")
struct BodyBudgetTests {
    @Test func reservesUpToTheLimitAndNoFurther() {
        let budget = BodyBudget(limit: 100)
        #expect(budget.tryReserve(60))
        #expect(!budget.tryReserve(41), "a reservation that does not fit takes nothing")
        #expect(budget.reserved == 60)
        #expect(budget.tryReserve(40))
        #expect(!budget.tryReserve(1))
        budget.release(60)
        #expect(budget.reserved == 40)
        #expect(budget.tryReserve(60))
        budget.release(100)
        #expect(budget.reserved == 0)
        #expect(budget.tryReserve(0))
        #expect(!budget.tryReserve(101))
    }

    @Test func concurrentReservationsNeverExceedTheLimit() async {
        let budget = BodyBudget(limit: 1_000)
        let peak = Locked(0)
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<64 {
                group.addTask {
                    for _ in 0..<200 where budget.tryReserve(37) {
                        let now = budget.reserved
                        peak.withLock { $0 = max($0, now) }
                        budget.release(37)
                    }
                }
            }
        }
        #expect(peak.value <= 1_000)
        #expect(budget.reserved == 0)
    }
}
