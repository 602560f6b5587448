import Foundation
import Testing
import TaskBridgeCore
import TaskBridgeTestSupport
@testable import TaskBridgeStore

@Suite struct JobQueueTests {
    func claim(_ store: any Store, owner: String = "w1", now: Int64 = 10_000, lease: Int64 = 60_000, limit: Int = 100) async throws -> [ClaimedJob] {
        try await store.claimJobs(target: "gc", limit: limit, owner: owner, nowMillis: now, leaseMillis: lease)
    }

    func succeed(_ store: any Store, _ j: ClaimedJob, owner: String = "w1", now: Int64 = 10_001) async throws {
        #expect(try await store.update(JobUpdate(jobSeq: j.seq, fence: j.fence, change: .succeeded(outputs: [:]), nowMillis: now)))
    }

    @Test(arguments: TestBackend.all) func onlyTheHeadOfEachOrderingKeyIsClaimable(_ backend: TestBackend) async throws {
        try await withStore(backend) { store, _ async throws in
            _ = try await store.ingest(event("e1", key: "1", at: 1, jobs: [job("a", key: "issue:1")]))
            _ = try await store.ingest(event("e2", key: "2", at: 2, jobs: [job("b", key: "issue:1")]))
            _ = try await store.ingest(event("e3", key: "3", at: 3, jobs: [job("c", key: "issue:2")]))
            _ = try await store.ingest(event("e4", key: "4", at: 4, jobs: [job("d")]))
            let first = try await claim(store)
            #expect(first.map(\.ruleId) == ["a", "c", "d"])
            #expect(try await claim(store).isEmpty)
            try await succeed(store, first[0])
            #expect(try await claim(store).map(\.ruleId) == ["b"])
        }
    }

    @Test(arguments: TestBackend.all) func aRetryingJobHoldsItsKeyAndADeadOneReleasesIt(_ backend: TestBackend) async throws {
        try await withStore(backend) { store, _ async throws in
            _ = try await store.ingest(event("e1", key: "1", at: 1, jobs: [job("a", key: "k")]))
            _ = try await store.ingest(event("e2", key: "2", at: 2, jobs: [job("b", key: "k")]))
            let a = try #require(try await claim(store).first)
            #expect(try await store.update(JobUpdate(jobSeq: a.seq, fence: a.fence,
                                                     change: .retry(atMillis: 50_000, error: "503", uncertain: false), nowMillis: 10_001)))
            #expect(try await claim(store, now: 20_000).isEmpty, "b must wait while a is retrying")
            let again = try #require(try await claim(store, now: 50_000).first)
            #expect(again.ruleId == "a")
            #expect(again.attempts == 1)
            #expect(try await store.update(JobUpdate(jobSeq: again.seq, fence: again.fence, change: .dead(error: "400 bad"), nowMillis: 50_001)))
            #expect(try await claim(store, now: 50_002).map(\.ruleId) == ["b"])
            let dead = try await store.listJobs(JobFilter(state: "dead"))
            #expect(dead.map(\.ruleId) == ["a"])
            #expect(dead.first?.lastError == "400 bad")
        }
    }

    @Test(arguments: TestBackend.all) func anExpiredLeaseIsTakenBackAsAnUncertainSuspectAndTheOldClaimCannotWrite(_ backend: TestBackend) async throws {
        try await withStore(backend) { store, _ async throws in
            _ = try await store.ingest(event("e1", key: "1", jobs: [job()]))
            let held = try #require(try await claim(store, owner: "old", now: 10_000, lease: 5_000).first)
            #expect(held.uncertain == false)
            #expect(try await store.recoverJobs(expiredBeforeMillis: 14_999, maxCrashes: 3, nowMillis: 14_999) == RecoveryResult())
            #expect(try await store.recoverJobs(expiredBeforeMillis: 15_001, maxCrashes: 3, nowMillis: 15_001) == RecoveryResult(suspects: 1))
            #expect(try await claim(store, owner: "new", now: 15_001).isEmpty, "a suspect is not claimed with other jobs")
            let taken = try #require(try await store.claimSuspect(targets: ["gc"], owner: "new", nowMillis: 15_001, leaseMillis: 5_000))
            #expect(taken.seq == held.seq)
            #expect(taken.uncertain)
            #expect(taken.solo)
            #expect(taken.fence > held.fence)
            let stale = try await store.update(JobUpdate(jobSeq: held.seq, fence: held.fence, change: .succeeded(outputs: [:]), nowMillis: 15_002))
            #expect(stale == false)
            #expect(try await store.renewLeases([LeaseRef(jobSeq: held.seq, fence: held.fence)], untilMillis: 99_000, nowMillis: 15_002).isEmpty)
            #expect(try await store.renewLeases([LeaseRef(jobSeq: taken.seq, fence: taken.fence)], untilMillis: 99_000, nowMillis: 15_002) == [taken.seq])
            try await succeed(store, taken, now: 15_003)
        }
    }

    @Test(arguments: TestBackend.all) func aRenewedLeaseIsNotTakenBack(_ backend: TestBackend) async throws {
        try await withStore(backend) { store, _ async throws in
            _ = try await store.ingest(event("e1", key: "1", jobs: [job()]))
            let held = try #require(try await claim(store, now: 10_000, lease: 5_000).first)
            #expect(try await store.renewLeases([LeaseRef(jobSeq: held.seq, fence: held.fence)], untilMillis: 20_000, nowMillis: 14_000) == [held.seq])
            #expect(try await store.recoverJobs(expiredBeforeMillis: 19_999, maxCrashes: 3, nowMillis: 19_999) == RecoveryResult())
            // A shorter renewal never shortens the lease.
            _ = try await store.renewLeases([LeaseRef(jobSeq: held.seq, fence: held.fence)], untilMillis: 16_000, nowMillis: 15_000)
            #expect(try await store.recoverJobs(expiredBeforeMillis: 19_999, maxCrashes: 3, nowMillis: 19_999) == RecoveryResult())
            try await succeed(store, held, now: 19_999)
        }
    }

    @Test(arguments: TestBackend.all) func orphansOfADeadProcessAreResumedAsUncertainSuspects(_ backend: TestBackend) async throws {
        try await withStore(backend) { store, _ async throws in
            _ = try await store.ingest(event("e1", key: "1", jobs: [job()]))
            _ = try await claim(store)
            #expect(try await store.recoverJobs(expiredBeforeMillis: nil, maxCrashes: 3, nowMillis: 10_500) == RecoveryResult(suspects: 1))
            #expect(try await store.nextSuspectDueMillis(targets: ["gc"]) != nil)
            let resumed = try #require(try await store.claimSuspect(targets: ["gc"], owner: "w2", nowMillis: 10_600, leaseMillis: 60_000))
            #expect(resumed.uncertain)
        }
    }

    @Test(arguments: TestBackend.all) func aJobThatKeepsCrashingTheProcessWhileAloneBecomesADeadLetter(_ backend: TestBackend) async throws {
        try await withStore(backend) { store, _ async throws in
            _ = try await store.ingest(event("e1", key: "1", jobs: [job("poison")]))
            _ = try await store.ingest(event("e2", key: "2", jobs: [job("innocent")]))
            // Both are in flight when the process dies: both become suspects, crashes = 1.
            #expect(try await claim(store).count == 2)
            #expect(try await store.recoverJobs(expiredBeforeMillis: nil, maxCrashes: 3, nowMillis: 10_100) == RecoveryResult(suspects: 2))
            // The first suspect runs alone and crashes the process again, twice.
            for crash in 2...3 {
                let alone = try #require(try await store.claimSuspect(targets: ["gc"], owner: "w", nowMillis: 10_200, leaseMillis: 60_000))
                #expect(alone.ruleId == "poison")
                let r = try await store.recoverJobs(expiredBeforeMillis: nil, maxCrashes: 3, nowMillis: 10_300)
                #expect(r == (crash < 3 ? RecoveryResult(suspects: 1) : RecoveryResult(poisonedTargets: ["gc"])))
            }
            let dead = try await store.listJobs(JobFilter(state: "dead"))
            #expect(dead.map(\.ruleId) == ["poison"])
            #expect(dead.first?.lastError?.contains("poison job") == true)
            #expect(dead.first?.lastError?.contains("3 times") == true)
            // The bystander was interrupted once, among others: it runs (alone) and succeeds.
            let innocent = try #require(try await store.claimSuspect(targets: ["gc"], owner: "w", nowMillis: 10_400, leaseMillis: 60_000))
            #expect(innocent.ruleId == "innocent")
            try await succeed(store, innocent, now: 10_401)
            // A retried poison job keeps running alone first.
            #expect(try await store.retryJob(id: dead[0].id, nowMillis: 10_500))
            #expect(try await claim(store, now: 10_600).isEmpty)
            #expect(try await store.claimSuspect(targets: ["gc"], owner: "w", nowMillis: 10_600, leaseMillis: 60_000)?.ruleId == "poison")
        }
    }

    @Test(arguments: TestBackend.all) func aDeferredJobWaitsWithoutSpendingAnAttempt(_ backend: TestBackend) async throws {
        try await withStore(backend) { store, _ async throws in
            _ = try await store.ingest(event("e1", key: "1", jobs: [job()]))
            let j = try #require(try await claim(store, now: 10_000).first)
            #expect(try await store.update(JobUpdate(jobSeq: j.seq, fence: j.fence,
                                                     change: .deferred(untilMillis: 40_000, reason: "paused: 401"), nowMillis: 10_001)))
            #expect(try await claim(store, now: 39_999).isEmpty)
            #expect(try await store.nextDueMillis(targets: ["gc"]) == 40_000)
            #expect(try await store.nextDueMillis(targets: ["other"]) == nil)
            let again = try #require(try await claim(store, now: 40_000).first)
            #expect(again.attempts == 0)
        }
    }

    /// A step waiting on the upstream holds no lease, keeps its ordering key, is due
    /// again at its poll time and hands its poll state back; progress clears it.
    @Test(arguments: TestBackend.all) func aWaitingJobIsClaimedAtItsPollTimeWithItsState(_ backend: TestBackend) async throws {
        try await withStore(backend) { store, _ async throws in
            _ = try await store.ingest(event("e1", key: "1", jobs: [job("run", key: "k")]))
            _ = try await store.ingest(event("e2", key: "2", jobs: [job("later", key: "k")]))
            let j = try #require(try await claim(store, now: 10_000).first)
            let state: JSONValue = ["task": "t1", "run": "r1"]
            #expect(try await store.update(JobUpdate(jobSeq: j.seq, fence: j.fence, change: .waiting(untilMillis: 20_000, state: state),
                                                     nowMillis: 10_001)))
            #expect(try await store.listJobs(JobFilter(state: "waiting")).map(\.ruleId) == ["run"])
            #expect(try await store.queueStats(nowMillis: 10_002).jobsByState["waiting"] == 1)
            #expect(try await claim(store, now: 19_999).isEmpty, "neither the waiting job nor the next one with its key")
            #expect(try await store.nextDueMillis(targets: ["gc"]) == 20_000, "the job behind it is not due: it waits for its key")
            let polled = try #require(try await claim(store, now: 20_000).first)
            #expect(polled.seq == j.seq)
            #expect(polled.waitState == state)
            #expect(polled.attempts == 0)
            #expect(try await store.update(JobUpdate(jobSeq: polled.seq, fence: polled.fence,
                                                     change: .progressed(nextStep: 1, outputs: ["run": state], leaseUntilMillis: 90_000),
                                                     nowMillis: 20_001)))
            _ = try await store.update(JobUpdate(jobSeq: polled.seq, fence: polled.fence, change: .released(uncertain: false), nowMillis: 20_002))
            #expect(try #require(try await claim(store, now: 20_003).first).waitState == nil)
        }
    }

    /// A dead letter that waited on an upstream job is retried afresh (its run failed:
    /// following it again would fail again); a pending one keeps what it follows.
    @Test(arguments: TestBackend.all) func retryingADeadLetterForgetsWhatItWaitedOn(_ backend: TestBackend) async throws {
        try await withStore(backend) { store, _ async throws in
            for i in 0..<3 { _ = try await store.ingest(event("e\(i)", key: "\(i)", jobs: [job("r\(i)")])) }
            let state: JSONValue = ["phase": "poll", "task": "t1", "run": "r1"]
            for j in try await claim(store, now: 10_000) {
                _ = try await store.update(JobUpdate(jobSeq: j.seq, fence: j.fence, change: .waiting(untilMillis: 10_100, state: state),
                                                     nowMillis: 10_001))
            }
            let polled = try await claim(store, now: 10_100)
            #expect(polled.map(\.waitState) == [state, state, state])
            _ = try await store.update(JobUpdate(jobSeq: polled[0].seq, fence: polled[0].fence, change: .dead(error: "run failed"), nowMillis: 10_101))
            _ = try await store.update(JobUpdate(jobSeq: polled[1].seq, fence: polled[1].fence, change: .dead(error: "run failed"), nowMillis: 10_101))
            _ = try await store.update(JobUpdate(jobSeq: polled[2].seq, fence: polled[2].fence,
                                                 change: .retry(atMillis: 10_200, error: "503", uncertain: true), nowMillis: 10_101))
            #expect(try await store.retryJob(id: polled[0].id, nowMillis: 10_300))
            #expect(try await store.retryDeadJobs(JobFilter(), nowMillis: 10_300) == 1)
            #expect(try await store.retryJob(id: polled[2].id, nowMillis: 10_300), "a pending job may be retried now")
            let again = try await claim(store, now: 10_300)
            #expect(again.map(\.waitState) == [nil, nil, state])
        }
    }

    @Test(arguments: TestBackend.all) func aReplayPlansANewGeneration(_ backend: TestBackend) async throws {
        try await withStore(backend) { store, _ async throws in
            _ = try await store.ingest(event("e1", key: "1", jobs: [job()]))
            #expect(try await claim(store).first?.generation == 0)
            _ = try await store.addJobs(eventId: "e1", jobs: [job()], nowMillis: 10_100)
            _ = try await store.addJobs(eventId: "e1", jobs: [job()], nowMillis: 10_200)
            #expect(try await claim(store, now: 10_300).map(\.generation) == [1, 2])
        }
    }

    @Test(arguments: TestBackend.all) func progressKeepsOutputsAndResetsAttempts(_ backend: TestBackend) async throws {
        try await withStore(backend) { store, _ async throws in
            _ = try await store.ingest(event("e1", key: "1", jobs: [job()]))
            let j = try #require(try await claim(store).first)
            _ = try await store.update(JobUpdate(jobSeq: j.seq, fence: j.fence, change: .retry(atMillis: 10_000, error: "x", uncertain: true), nowMillis: 10_000))
            let j2 = try #require(try await claim(store).first)
            #expect(j2.attempts == 1)
            #expect(j2.uncertain)
            let outputs: [String: JSONValue] = ["create": ["task": ["id": "task_9"]]]
            let ok = try await store.update(JobUpdate(
                jobSeq: j2.seq, fence: j2.fence, change: .progressed(nextStep: 1, outputs: outputs, leaseUntilMillis: 99_000),
                attempt: AttemptRecord(step: 0, startedAtMillis: 10_000, latencyMillis: 3.5, status: 200, outcome: "ok", error: nil,
                                       request: "POST /api/v1/tasks {}", response: "{}"),
                link: LinkRecord(target: "gc", key: "sentry-issue:1", taskId: "task_9", projectId: "proj"), nowMillis: 10_002))
            #expect(ok)
            _ = try await store.update(JobUpdate(jobSeq: j2.seq, fence: j2.fence, change: .released(uncertain: false), nowMillis: 10_003))
            let j3 = try #require(try await claim(store, now: 10_004).first)
            #expect(j3.step == 1)
            #expect(j3.attempts == 0)
            #expect(j3.uncertain == false)
            #expect(j3.outputs == outputs)
            #expect(try await store.link(target: "gc", key: "sentry-issue:1") == LinkRecord(target: "gc", key: "sentry-issue:1", taskId: "task_9", projectId: "proj"))
            #expect(try await store.link(target: "other", key: "sentry-issue:1") == nil)
            let detail = try #require(try await store.eventDetail(id: "e1"))
            #expect(detail.attempts[j3.id]?.map(\.status) == [200])
        }
    }

    @Test(arguments: TestBackend.all) func manualAndBulkRetriesMakeDeadLettersDue(_ backend: TestBackend) async throws {
        try await withStore(backend) { store, _ async throws in
            for i in 0..<3 { _ = try await store.ingest(event("e\(i)", key: "\(i)", jobs: [job("r\(i)")])) }
            for j in try await claim(store) {
                _ = try await store.update(JobUpdate(jobSeq: j.seq, fence: j.fence, change: .dead(error: "gone"), nowMillis: 10_001))
            }
            let one = try #require(try await store.listJobs(JobFilter(ruleId: "r0")).first)
            #expect(try await store.retryJob(id: one.id, nowMillis: 20_000))
            #expect(try await store.retryJob(id: "job_unknown", nowMillis: 20_000) == false)
            #expect(try await store.retryDeadJobs(JobFilter(), nowMillis: 20_000) == 2)
            #expect(try await claim(store, now: 20_000).count == 3)
        }
    }

    @Test(arguments: TestBackend.all) func replayAddsJobsToAnExistingEvent(_ backend: TestBackend) async throws {
        try await withStore(backend) { store, _ async throws in
            _ = try await store.ingest(event("e1", key: "1"))
            #expect(try await store.eventDetail(id: "e1")?.event.status == "unmatched")
            let ids = try await store.addJobs(eventId: "e1", jobs: [job("late")], nowMillis: 30_000)
            #expect(ids.count == 1)
            #expect(try await store.eventDetail(id: "e1")?.event.status == "planned")
            #expect(try await claim(store, now: 30_000).map(\.ruleId) == ["late"])
        }
    }

    @Test(arguments: TestBackend.all) func pruningKeepsDeadLettersAndRecentEvents(_ backend: TestBackend) async throws {
        try await withStore(backend) { store, _ async throws in
            _ = try await store.ingest(event("old-done", key: "1", at: 1_000, jobs: [job("a")]))
            _ = try await store.ingest(event("old-dead", key: "2", at: 1_000, jobs: [job("b")]))
            _ = try await store.ingest(event("old-unmatched", key: "3", at: 1_000))
            _ = try await store.ingest(event("new-done", key: "4", at: 90_000, jobs: [job("c")]))
            for j in try await claim(store, now: 100_000) {
                let change: JobUpdate.Change = j.ruleId == "b" ? .dead(error: "x") : .succeeded(outputs: [:])
                _ = try await store.update(JobUpdate(jobSeq: j.seq, fence: j.fence, change: change,
                                                     attempt: AttemptRecord(step: 0, startedAtMillis: 100_000, latencyMillis: 1, status: 200,
                                                                            outcome: "ok", error: nil, request: nil, response: nil),
                                                     nowMillis: 100_001))
            }
            let result = try await store.prune(beforeMillis: 50_000)
            #expect(result == PruneResult(events: 2, jobs: 1, attempts: 1))
            #expect(Set(try await store.listEvents(EventFilter()).map(\.id)) == ["old-dead", "new-done"])
        }
    }

    @Test(arguments: TestBackend.all) func queueStatsCountStatesAndDueJobs(_ backend: TestBackend) async throws {
        try await withStore(backend) { store, _ async throws in
            _ = try await store.ingest(event("e1", key: "1", at: 1_000, jobs: [job("a"), job("b", target: "other")]))
            let stats = try await store.queueStats(nowMillis: 4_000)
            #expect(stats.jobsByState == ["pending": 2])
            #expect(stats.dueByTarget == ["gc": 1, "other": 1])
            #expect(stats.oldestDueAgeSeconds["gc"] == 3)
            #expect(try await store.nextDueMillis(targets: ["gc"]) == 1_000)
        }
    }

    /// Many workers reporting at once share commits (group commit in both stores); each
    /// report still gets its own answer, and a stale claim in the batch changes nothing.
    @Test(arguments: TestBackend.all) func concurrentReportsAreAppliedTogetherEachWithItsOwnOutcome(_ backend: TestBackend) async throws {
        try await withStore(backend) { store, _ async throws in
            for i in 0..<300 { _ = try await store.ingest(event("e\(i)", key: "d\(i)", jobs: [job()])) }
            let claimed = try await claim(store, limit: 1000)
            #expect(claimed.count == 300)
            let answers = try await withThrowingTaskGroup(of: (Int64, Bool).self) { group in
                for (n, j) in claimed.enumerated() {
                    group.addTask {
                        let update: JobUpdate
                        switch n % 3 {
                        case 0:
                            update = JobUpdate(jobSeq: j.seq, fence: j.fence, change: .succeeded(outputs: ["task": ["id": .string("t\(n)")]]),
                                               attempt: AttemptRecord(step: 0, startedAtMillis: 10_000, latencyMillis: 1.5, status: 200, outcome: "ok",
                                                                      error: nil, request: "PATCH /t", response: "{}"),
                                               link: LinkRecord(target: "gc", key: "k\(n)", taskId: "t\(n)", projectId: nil), nowMillis: 10_001)
                        case 1:
                            update = JobUpdate(jobSeq: j.seq, fence: j.fence, change: .retry(atMillis: 20_000, error: "503", uncertain: true),
                                               attempt: AttemptRecord(step: 0, startedAtMillis: 10_000, latencyMillis: 2, status: 503, outcome: "retry",
                                                                      error: "503", request: nil, response: nil), nowMillis: 10_001)
                        default:
                            // A claim that is no longer current (its fence is old): must not write, link or count.
                            update = JobUpdate(jobSeq: j.seq, fence: j.fence - 1, change: .succeeded(outputs: [:]),
                                               link: LinkRecord(target: "gc", key: "stale\(n)", taskId: "x", projectId: nil), nowMillis: 10_001)
                        }
                        return (j.seq, try await store.update(update))
                    }
                }
                return try await group.reduce(into: [Int64: Bool]()) { $0[$1.0] = $1.1 }
            }
            for (n, j) in claimed.enumerated() { #expect(answers[j.seq] == (n % 3 != 2), "job \(n)") }
            let jobs = try await store.listJobs(JobFilter(limit: 1000))
            #expect(jobs.filter { $0.state == "succeeded" }.count == 100)
            #expect(jobs.filter { $0.state == "pending" && $0.attempts == 1 && $0.lastError == "503" }.count == 100)
            #expect(jobs.filter { $0.state == "running" }.count == 100, "stale reports left their jobs alone")
            #expect(try await store.link(target: "gc", key: "k0")?.taskId == "t0")
            #expect(try await store.link(target: "gc", key: "k297")?.taskId == "t297")
            #expect(try await store.link(target: "gc", key: "stale2") == nil)
            // Jobs were claimed in arrival order: e0 succeeded, e1 is retrying, e2's report was stale.
            for (id, statuses) in [("e0", [200]), ("e1", [503]), ("e2", [])] {
                let detail = try #require(try await store.eventDetail(id: id))
                #expect(detail.attempts.values.joined().map(\.status) == statuses, "\(id)")
            }
        }
    }
}

@Suite struct ReadConsistencyTests {
    /// A read that starts after a commit must see it, even while other reads are in
    /// flight (two statements on one SQLite connection would share an older snapshot:
    /// a dispatcher then missed a link committed a moment before).
    @Test(arguments: TestBackend.all) func readsSeeEveryEarlierCommitWhileOtherReadsRun(_ backend: TestBackend) async throws {
        try await withStore(backend) { store, _ async throws in
            for i in 0..<400 { _ = try await store.ingest(event("bulk\(i)", key: "b\(i)", jobs: [job("x\(i)")])) }
            let stop = Locked(false)
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<3 {
                    group.addTask {
                        while !stop.value { _ = try await store.listJobs(JobFilter(limit: 1000)) }
                    }
                }
                for i in 0..<150 {
                    _ = try await store.ingest(event("e\(i)", key: "k\(i)", jobs: [job("r")]))
                    let claimed = try #require(try await store.claimJobs(target: "gc", limit: 1000, owner: "w", nowMillis: 9_999_999,
                                                                        leaseMillis: 60_000).first { $0.ruleId == "r" })
                    _ = try await store.update(JobUpdate(jobSeq: claimed.seq, fence: claimed.fence, change: .succeeded(outputs: [:]),
                                                         link: LinkRecord(target: "gc", key: "link-\(i)", taskId: "task_\(i)", projectId: nil),
                                                         nowMillis: 10_000_000))
                    let seen = try await store.link(target: "gc", key: "link-\(i)")
                    #expect(seen?.taskId == "task_\(i)", "iteration \(i)")
                    let events = try await store.events(seqs: [claimed.eventSeq])
                    #expect(events[claimed.eventSeq] != nil)
                }
                stop.withLock { $0 = true }
                try await group.waitForAll()
            }
        }
    }
}
