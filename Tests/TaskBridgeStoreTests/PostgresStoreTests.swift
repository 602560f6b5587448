import Foundation
import Logging
import PostgresNIO
import Testing
import TaskBridgeCore
import TaskBridgeTestSupport
@testable import TaskBridgeStore

/// What only a shared store has: migrations under concurrent starts, and several
/// processes (here: several `PostgresStore`s, each with its own pool, as replicas have)
/// claiming, deduping, waking and holding names on one database. The rest of the
/// `Store` contract runs against PostgreSQL in the conformance suites.
@Suite(.enabled(if: PostgresTestDatabase.available, Comment(rawValue: PostgresTestDatabase.skipReason)))
struct PostgresStoreTests {
    static func settings() -> StorageSettings {
        var s = StorageSettings()
        s.kind = .postgres
        s.poolSize = 4
        s.tls = .disable
        return s
    }

    static func open(_ url: String, version: Int? = nil) async throws -> PostgresStore {
        try await PostgresStore.open(url: url, settings: settings(), schemaVersion: version, logger: Logger(label: "test"))
    }

    /// A fresh database, dropped afterwards.
    func withDatabase(_ body: (String) async throws -> Void) async throws {
        let url = try await PostgresTestDatabase.create()
        do {
            try await body(url)
            await PostgresTestDatabase.drop(url)
        } catch {
            await PostgresTestDatabase.drop(url)
            throw error
        }
    }

    @Test func anEmptyDatabaseIsMigratedToTheCurrentVersionByReplicasStartingTogether() async throws {
        try await withDatabase { url in
            let stores = try await withThrowingTaskGroup(of: PostgresStore.self) { group in
                for _ in 0..<4 { group.addTask { try await Self.open(url) } }
                return try await group.reduce(into: [PostgresStore]()) { $0.append($1) }
            }
            for s in stores { #expect(try await s.schemaVersion() == PostgresSchema.version) }
            #expect(try await stores[0].ingest(event("e1", key: "k", jobs: [job()])).duplicate == false)
            #expect(try await stores[1].listEvents(EventFilter()).map(\.id) == ["e1"])
            for s in stores { try await s.close() }
        }
    }

    /// A database at version 1 (before agent runs) gets the agent tables and keeps its data.
    @Test func aDatabaseAtThePreviousVersionIsMigratedAndKeepsItsEvents() async throws {
        try await withDatabase { url in
            let old = try await Self.open(url, version: 1)
            #expect(try await old.schemaVersion() == 1)
            _ = try await old.ingest(event("e1", key: "k", jobs: [job()]))
            await #expect(throws: (any Error).self) { _ = try await old.agentRun(id: "r1") }
            try await old.close()

            let store = try await Self.open(url)
            #expect(try await store.schemaVersion() == PostgresSchema.version)
            #expect(try await store.listEvents(EventFilter()).map(\.id) == ["e1"])
            let claimed = try #require(try await store.claimJobs(target: "gc", limit: 10, owner: "w", nowMillis: 10_000, leaseMillis: 60_000).first)
            #expect(try await store.update(JobUpdate(jobSeq: claimed.seq, fence: claimed.fence, change: .succeeded(outputs: [:]), nowMillis: 10_001)))
            let run = AgentRunStoreTests.run("r1")
            #expect(try await store.insertAgentRun(run))
            #expect(try await store.agentRun(id: "r1")?.runId == "r1")
            try await store.close()
        }
    }

    @Test func aDatabaseFromANewerTaskBridgeIsRefused() async throws {
        try await withDatabase { url in
            let store = try await Self.open(url)
            try await store.close()
            try await PostgresTestDatabase.execute(url, "UPDATE meta SET value = '99' WHERE key = 'schema_version'")
            await #expect { _ = try await Self.open(url) } throws: { "\($0)".contains("newer than this taskbridge") }
        }
    }

    /// Operator tools never migrate: a database at another version is refused, so a
    /// newer CLI cannot upgrade the schema under an older fleet.
    @Test func operatorToolsCheckTheSchemaInsteadOfMigratingIt() async throws {
        try await withDatabase { url in
            await #expect { _ = try await PostgresStore.open(url: url, settings: Self.settings(), migrate: false) } throws: {
                "\($0)".contains("no TaskBridge schema yet")
            }
            let old = try await Self.open(url, version: 1)
            try await old.close()
            await #expect { _ = try await PostgresStore.open(url: url, settings: Self.settings(), migrate: false) } throws: {
                "\($0)".contains("schema version 1, older than this taskbridge") && "\($0)".contains("run taskbridge migrate")
            }
            let store = try await Self.open(url, version: 99)
            #expect(try await store.schemaVersion() == PostgresSchema.version, "a version past the newest is the newest")
            try await store.close()
            let tool = try await PostgresStore.open(url: url, settings: Self.settings(), migrate: false)
            #expect(try await tool.schemaVersion() == PostgresSchema.version)
            try await tool.close()
        }
    }

    @Test func aMissingDatabaseIsReportedWithoutThePassword() async throws {
        let server = try #require(PostgresTestDatabase.serverURL)
        var c = try #require(URLComponents(string: server))
        c.password = "s3cret-pw"
        c.path = "/no_such_database_here"
        let error = await #expect(throws: StoreError.self) { _ = try await Self.open(c.string ?? "") }
        let text = "\(error.map { "\($0)" } ?? "")"
        #expect(text.contains("no_such_database_here") && text.contains("does not exist"), "\(text)")
        #expect(!text.contains("s3cret-pw"))
    }

    /// Two replicas claim one backlog at once: every job is run exactly once, and jobs
    /// of one key never run at the same time and run in arrival order.
    @Test func twoReplicasClaimingTogetherRunEveryJobOnceInPerKeyOrder() async throws {
        try await withDatabase { url in
            let a = try await Self.open(url), b = try await Self.open(url)
            for i in 0..<240 { _ = try await (i % 2 == 0 ? a : b).ingest(event("e\(i)", key: "d\(i)", at: Int64(i), jobs: [job(key: "key-\(i % 12)")])) }
            let log = Locked(ClaimLog())
            try await withThrowingTaskGroup(of: Void.self) { group in
                for (n, store) in [a, b, a, b].enumerated() {
                    group.addTask {
                        var idle = 0
                        while idle < 20 {
                            let jobs = try await store.claimJobs(target: "gc", limit: 5, owner: "w\(n)", nowMillis: 10_000, leaseMillis: 60_000)
                            if jobs.isEmpty { idle += 1; try await Task.sleep(nanoseconds: 5_000_000); continue }
                            idle = 0
                            log.withLock { l in
                                for j in jobs {
                                    l.runs[j.seq, default: 0] += 1
                                    let key = j.orderingKey ?? ""
                                    if !l.running.insert(key).inserted { l.overlaps += 1 }
                                    l.order[key, default: []].append(j.seq)
                                }
                            }
                            for j in jobs {
                                log.withLock { _ = $0.running.remove(j.orderingKey ?? "") }
                                #expect(try await store.update(JobUpdate(jobSeq: j.seq, fence: j.fence, change: .succeeded(outputs: [:]), nowMillis: 10_001)))
                            }
                        }
                    }
                }
                try await group.waitForAll()
            }
            let l = log.value
            #expect(l.runs.count == 240)
            #expect(l.runs.values.allSatisfy { $0 == 1 })
            #expect(l.overlaps == 0)
            for (key, seqs) in l.order { #expect(seqs == seqs.sorted(), "key \(key)") }
            #expect(try await a.openJobCount() == 0)
            try await a.close()
            try await b.close()
        }
    }

    @Test func theSameDeliveryAtTwoReplicasAtOnceIsOneEvent() async throws {
        try await withDatabase { url in
            let a = try await Self.open(url), b = try await Self.open(url)
            let outcomes = try await withThrowingTaskGroup(of: IngestOutcome.self) { group in
                for i in 0..<100 { group.addTask { try await (i % 2 == 0 ? a : b).ingest(event("evt_\(i)", key: "delivery-1", jobs: [job()])) } }
                return try await group.reduce(into: [IngestOutcome]()) { $0.append($1) }
            }
            #expect(Set(outcomes.map(\.eventId)).count == 1)
            #expect(outcomes.filter { !$0.duplicate }.count == 1)
            #expect(try await a.listJobs(JobFilter(limit: 1000)).count == 1)
            try await a.close()
            try await b.close()
        }
    }

    /// A lease taken over by another replica after it expired fences the first claim out.
    @Test func aClaimTakenOverByAnotherReplicaCannotWrite() async throws {
        try await withDatabase { url in
            let a = try await Self.open(url), b = try await Self.open(url)
            _ = try await a.ingest(event("e1", key: "k", jobs: [job(key: "x")]))
            let first = try #require(try await a.claimJobs(target: "gc", limit: 1, owner: "a", nowMillis: 10_000, leaseMillis: 5_000).first)
            #expect(try await b.recoverJobs(expiredBeforeMillis: 14_000, maxCrashes: 3, nowMillis: 14_000) == RecoveryResult())
            #expect(try await b.recoverJobs(expiredBeforeMillis: 15_001, maxCrashes: 3, nowMillis: 15_001) == RecoveryResult(suspects: 1))
            let second = try #require(try await b.claimSuspect(targets: ["gc"], owner: "b", nowMillis: 15_002, leaseMillis: 5_000))
            #expect(second.fence == first.fence + 1 && second.uncertain)
            #expect(try await a.renewLeases([LeaseRef(jobSeq: first.seq, fence: first.fence)], untilMillis: 99_000, nowMillis: 15_003) == [])
            #expect(try await a.update(JobUpdate(jobSeq: first.seq, fence: first.fence, change: .succeeded(outputs: [:]), nowMillis: 15_004)) == false)
            #expect(try await b.update(JobUpdate(jobSeq: second.seq, fence: second.fence, change: .succeeded(outputs: [:]), nowMillis: 15_005)))
            try await a.close()
            try await b.close()
        }
    }

    /// New jobs at one replica wake the others (LISTEN/NOTIFY), and so do retries.
    @Test func workAddedAtOneReplicaWakesTheOthers() async throws {
        try await withDatabase { url in
            let a = try await Self.open(url), b = try await Self.open(url)
            let heard = Locked(0)
            let listener = Task { await b.listenForWork { heard.withLock { $0 += 1 } } }
            // The first call comes when listening starts (work may have been missed before).
            try #require(await eventually(10) { heard.value >= 1 }, "listening")
            let before = heard.value
            _ = try await a.ingest(event("e1", key: "k1", jobs: [job()]))
            try #require(await eventually(10) { heard.value > before }, "woken by the ingest")
            let afterIngest = heard.value
            _ = try await a.ingest(event("e2", key: "k2"))
            _ = try await a.ingest(event("e1", key: "k1", jobs: [job()]))
            try await Task.sleep(nanoseconds: 300_000_000)
            #expect(heard.value == afterIngest, "an event without jobs, or a duplicate, is no work")
            _ = try await a.ingest(event("e3", key: "k3", jobs: [job(key: "issue-3")]))
            try #require(await eventually(10) { heard.value > afterIngest }, "woken by an ingest of a job with an ordering key")
            let afterKeyed = heard.value
            let j = try #require(try await a.claimJobs(target: "gc", limit: 1, owner: "a", nowMillis: 10_000, leaseMillis: 60_000).first)
            _ = try await a.update(JobUpdate(jobSeq: j.seq, fence: j.fence, change: .dead(error: "no"), nowMillis: 10_001))
            #expect(try await a.retryJob(id: j.id, nowMillis: 10_002))
            try #require(await eventually(10) { heard.value > afterKeyed }, "woken by the retry")
            listener.cancel()
            await listener.value
            try await a.close()
            try await b.close()
        }
    }

    /// One replica at a time runs a name; when it stops, another takes over.
    @Test func aNameIsRunByOneReplicaAtATimeAndTakenOverWhenItsHolderStops() async throws {
        try await withDatabase { url in
            let a = try await Self.open(url), b = try await Self.open(url)
            let holders = Locked<[String]>([])
            let concurrent = Locked(0), maxConcurrent = Locked(0)
            func body(_ who: String) -> @Sendable () async -> Void {
                {
                    holders.withLock { $0.append(who) }
                    let now = concurrent.withLock { $0 += 1; return $0 }
                    maxConcurrent.withLock { $0 = max($0, now) }
                    while !Task.isCancelled { try? await Task.sleep(nanoseconds: 50_000_000) }
                    concurrent.withLock { $0 -= 1 }
                }
            }
            let first = Task { await a.runExclusively("agent coder", body("a")) }
            try #require(await eventually(10) { holders.value == ["a"] }, "a holds the name")
            let second = Task { await b.runExclusively("agent coder", body("b")) }
            try await Task.sleep(nanoseconds: 1_000_000_000)
            #expect(holders.value == ["a"], "b waits while a holds the name")
            first.cancel()
            await first.value
            try #require(await eventually(15) { holders.value == ["a", "b"] }, "b takes over")
            #expect(maxConcurrent.value == 1)
            second.cancel()
            await second.value
            try await a.close()
            try await b.close()
        }
    }
}

/// What the two-replica claim test saw.
struct ClaimLog: Sendable {
    var runs: [Int64: Int] = [:]
    var running: Set<String> = []
    var order: [String: [Int64]] = [:]
    var overlaps = 0
}

/// The database URL is read strictly, and never shown with its password.
@Suite struct PostgresLocationTests {
    @Test func aFullURLIsRead() throws {
        let l = try PostgresLocation(url: "postgres://tb%40ops:p%3Ass@db.internal:6543/taskbridge?sslmode=require", tls: .disable)
        #expect(l.host == "db.internal" && l.port == 6543 && l.user == "tb@ops" && l.password == "p:ss" && l.database == "taskbridge")
        #expect(l.tls == .require, "sslmode in the URL overrides storage.tls")
        #expect(l.description == "postgres://tb@ops@db.internal:6543/taskbridge")
        #expect(!l.description.contains("p:ss"))
    }

    @Test func reflectionNeverShowsThePassword() throws {
        let l = try PostgresLocation(url: "postgres://tb:hunter2-secret@db/x", tls: .prefer)
        var dumped = ""
        dump(l, to: &dumped)
        #expect(!dumped.contains("hunter2") && !String(reflecting: l).contains("hunter2"))
        let request = StoreOpenRequest(settings: StorageSettings(), dataDirectory: "/d", databaseURL: "postgres://tb:hunter2-secret@db/x",
                                       server: true, logger: Logger(label: "t"))
        var dumpedRequest = ""
        dump(request, to: &dumpedRequest)
        #expect(!dumpedRequest.contains("hunter2") && !String(reflecting: request).contains("hunter2") && !"\(request)".contains("hunter2"))
        #expect(PostgresStore.exclusiveKey("agent coder") != PostgresStore.exclusiveKey("agent helper"))
    }

    @Test func defaultsAreThePortAndTheConfiguredTLS() throws {
        let l = try PostgresLocation(url: "postgresql://u@localhost/db", tls: .prefer)
        #expect(l.port == 5432 && l.password == nil && l.tls == .prefer)
    }

    @Test(arguments: [
        ("mysql://u:p@h/db", "expected postgres://"),
        ("postgres://u:p@/db", "names no host"),
        ("postgres://h/db", "names no user"),
        ("postgres://u:p@h", "names no database"),
        ("postgres://u:p@h/db?sslmode=sometimes", "sslmode=sometimes"),
        ("postgres://u:p@h/db?pool=9", "unknown parameter \"pool\""),
        ("not a url at all", "expected postgres://"),
    ])
    func aBadURLIsRefusedWithoutShowingIt(_ url: String, _ message: String) {
        #expect { _ = try PostgresLocation(url: url, tls: .prefer) } throws: { error in
            let text = "\(error)"
            return text.contains(message) && !text.contains(":p@")
        }
    }
}
