import Testing
import TaskBridgeCore
@testable import TaskBridgeStore

/// The console's event list: delivery status computed in SQL (it must agree with
/// `DeliveryStatus.of`, which the event page uses), search by id or dedupe key, and cursor paging.
@Suite struct EventListTests {
    func claim(_ store: any Store, target: String) async throws -> ClaimedJob {
        try #require(try await store.claimJobs(target: target, limit: 1, owner: "w", nowMillis: 10_000, leaseMillis: 60_000).first)
    }

    @Test(arguments: TestBackend.all) func deliveryStatusFiltersAndAgreesWithTheEventPage(_ backend: TestBackend) async throws {
        try await withStore(backend) { store, _ async throws in
            _ = try await store.ingest(event("e-none", key: "1", at: 1))
            _ = try await store.ingest(event("e-planned", key: "2", at: 2, jobs: [job("a", target: "t-planned")]))
            _ = try await store.ingest(event("e-failed", key: "3", at: 3, jobs: [job("a", target: "t-failed"), job("b", target: "t-ok")]))
            _ = try await store.ingest(event("e-dead", key: "4", at: 4, jobs: [job("a", target: "t-dead")]))
            _ = try await store.ingest(event("e-delivered", key: "5", at: 5, jobs: [job("a", target: "t-delivered")]))
            let failing = try await claim(store, target: "t-failed")
            #expect(try await store.update(JobUpdate(jobSeq: failing.seq, fence: failing.fence,
                                                     change: .retry(atMillis: 90_000, error: "HTTP 503", uncertain: false), nowMillis: 10_001)))
            let ok = try await claim(store, target: "t-ok")
            #expect(try await store.update(JobUpdate(jobSeq: ok.seq, fence: ok.fence, change: .succeeded(outputs: [:]), nowMillis: 10_001)))
            let dying = try await claim(store, target: "t-dead")
            #expect(try await store.update(JobUpdate(jobSeq: dying.seq, fence: dying.fence, change: .dead(error: "HTTP 400"), nowMillis: 10_001)))
            let done = try await claim(store, target: "t-delivered")
            #expect(try await store.update(JobUpdate(jobSeq: done.seq, fence: done.fence, change: .succeeded(outputs: [:]), nowMillis: 10_001)))

            let all = try await store.listEvents(EventFilter())
            #expect(all.map(\.id) == ["e-delivered", "e-dead", "e-failed", "e-planned", "e-none"])
            #expect(all.map(\.delivery) == ["delivered", "dead", "failed", "planned", "none"])
            for summary in all {
                let detail = try #require(try await store.eventDetail(id: summary.id))
                #expect(DeliveryStatus.of(detail.jobs.map { ($0.state, $0.lastError, $0.generation) }).rawValue == summary.delivery, "\(summary.id)")
                let only = try await store.listEvents(EventFilter(delivery: summary.delivery))
                #expect(only.map(\.id) == [summary.id])
            }
            #expect(try await store.listEvents(EventFilter(status: "unmatched", delivery: "none")).map(\.id) == ["e-none"])
            let dead = try #require(try await store.eventDetail(id: "e-dead"))
            #expect(dead.jobs.first?.ruleVersion == "v-a", "the job names the rule version that planned it")
        }
    }

    @Test(arguments: TestBackend.all) func searchesByIdOrDedupeKeyAndPagesByCursor(_ backend: TestBackend) async throws {
        try await withStore(backend) { store, _ async throws in
            for i in 1...7 { _ = try await store.ingest(event("e\(i)", key: "delivery-\(i)", at: Int64(i))) }
            _ = try await store.ingest(event("e8", source: "sentry", key: "delivery-3", at: 8))
            #expect(try await store.listEvents(EventFilter(query: "e5")).map(\.id) == ["e5"])
            #expect(try await store.listEvents(EventFilter(query: "delivery-3")).map(\.id) == ["e8", "e3"], "a key may repeat across sources")
            #expect(try await store.listEvents(EventFilter(source: "github", query: "delivery-3")).map(\.id) == ["e3"])
            #expect(try await store.listEvents(EventFilter(query: "delivery-")).isEmpty, "exact, not a prefix")
            #expect(try await store.listEvents(EventFilter(query: "' OR 1=1 --")).isEmpty)

            var seen: [String] = []
            var before: Int64?
            for _ in 0..<5 {
                let page = try await store.listEvents(EventFilter(limit: 3, before: before))
                seen += page.map(\.id)
                guard page.count == 3, let last = page.last else { break }
                before = last.cursor
            }
            #expect(seen == ["e8", "e7", "e6", "e5", "e4", "e3", "e2", "e1"], "every event once, newest first")
            // A page cursor still works after newer events arrive.
            let first = try await store.listEvents(EventFilter(limit: 2))
            _ = try await store.ingest(event("e9", key: "delivery-9", at: 9))
            #expect(try await store.listEvents(EventFilter(limit: 2, before: first.last?.cursor)).map(\.id) == ["e6", "e5"])
        }
    }

    @Test(arguments: TestBackend.all) func aReplaysJobsSpeakForTheEvent(_ backend: TestBackend) async throws {
        try await withStore(backend) { store, _ async throws in
            _ = try await store.ingest(event("e1", key: "1", at: 1, jobs: [job("a", target: "t")]))
            let first = try await claim(store, target: "t")
            #expect(try await store.update(JobUpdate(jobSeq: first.seq, fence: first.fence, change: .dead(error: "HTTP 400"), nowMillis: 10_001)))
            #expect(try await store.listEvents(EventFilter(delivery: "dead")).map(\.id) == ["e1"])
            let replayed = try await store.addJobs(eventId: "e1", jobs: [job("a", target: "t")], nowMillis: 20_000)
            #expect(replayed.count == 1)
            #expect(try await store.listEvents(EventFilter()).first?.delivery == "planned")
            let second = try #require(try await store.claimJobs(target: "t", limit: 1, owner: "w", nowMillis: 20_000, leaseMillis: 60_000).first)
            #expect(try await store.update(JobUpdate(jobSeq: second.seq, fence: second.fence, change: .succeeded(outputs: [:]), nowMillis: 20_001)))
            #expect(try await store.listEvents(EventFilter()).first?.delivery == "delivered")
            #expect(try await store.listEvents(EventFilter(delivery: "dead")).isEmpty, "the dead letter stays, but no longer speaks for the event")
            #expect(try await store.listJobs(JobFilter(state: "dead")).count == 1)
            let detail = try #require(try await store.eventDetail(id: "e1"))
            #expect(detail.jobs.map(\.generation) == [0, 1])
        }
    }
}
