import TaskBridgeCore
import Testing

@Suite("RecentMap: a bounded cache of recently used keys")
struct RecentMapTests {
    @Test func holdsAtMostTwoGenerationsHoweverManyKeysPass() {
        var map = RecentMap<Int>(capacity: 100)
        for i in 0..<10_000 { map.set(i, for: "task-\(i)") }
        #expect(map.storedCount <= 200)
        // The newest keys are all there; the oldest are gone.
        for i in 9_900..<10_000 { #expect(map.value(for: "task-\(i)") == i) }
        #expect(map.value(for: "task-0") == nil)
        #expect(map.value(for: "task-9799") == nil)
    }

    @Test func aKeyReadFromThePreviousGenerationSurvivesTheNextTurnover() {
        var map = RecentMap<String>(capacity: 3)
        map.set("p1", for: "a")
        map.set("p2", for: "b")
        map.set("p3", for: "c")
        map.set("p4", for: "d")            // a, b, c become the previous generation
        #expect(map.value(for: "a") == "p1") // read: copied forward
        map.set("p5", for: "e")            // current: d, a, e — full
        map.set("p6", for: "f")            // turnover: d, a, e previous; b and c dropped
        #expect(map.value(for: "a") == "p1")
        #expect(map.value(for: "b") == nil)
        #expect(map.value(for: "c") == nil)
    }

    @Test func overwritingAKeyDoesNotTurnTheGenerationOver() {
        var map = RecentMap<Int>(capacity: 2)
        map.set(1, for: "a")
        map.set(2, for: "b")
        map.set(3, for: "b")
        map.set(4, for: "a")
        #expect(map.storedCount == 2)
        #expect(map.value(for: "a") == 4)
        #expect(map.value(for: "b") == 3)
    }
}
