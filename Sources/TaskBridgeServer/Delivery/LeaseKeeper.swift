import Logging
import Synchronization
import TaskBridgeCore
import TaskBridgeStore
import TaskBridgeTargets

/// Keeps the leases of the jobs this process runs alive, and takes a job away from its
/// runner the moment its lease is lost.
///
/// Every `leaseSeconds / 3` it renews all held leases in one store write (fenced: a
/// lease counts only with its claim's token) and hands back jobs whose lease ended
/// elsewhere — a dead or stalled worker's — as suspects to reconcile. A runner whose
/// claim is no longer current, or whose lease ran out while the store could not be
/// written, is cancelled and writes nothing more.
final class LeaseKeeper: Sendable {
    let store: any Store
    let leaseMillis: Int64
    let maxCrashes: Int
    let logger: Logger
    private let leases = Mutex<[Int64: JobLease]>([:])

    init(store: any Store, leaseSeconds: Double, maxCrashes: Int, logger: Logger) {
        self.store = store
        self.leaseMillis = Int64(leaseSeconds * 1000)
        self.maxCrashes = maxCrashes
        self.logger = logger
    }

    var tickSeconds: Double { max(0.2, Double(leaseMillis) / 3000) }

    func register(_ job: ClaimedJob) -> JobLease {
        let lease = JobLease(job: job, keeper: self)
        leases.withLock { $0[job.seq] = lease }
        return lease
    }

    func unregister(_ lease: JobLease) {
        leases.withLock { all in
            if all[lease.ref.jobSeq] === lease { all[lease.ref.jobSeq] = nil }
        }
    }

    var held: Int { leases.withLock { $0.count } }

    /// Renews until cancelled; `onRecovered` hears of jobs taken back from expired leases.
    func run(onRecovered: @escaping @Sendable (RecoveryResult) -> Void) async {
        while !Task.isCancelled {
            try? await Task.sleep(nanoseconds: tickSeconds.sleepNanoseconds(atMost: 3600))
            if Task.isCancelled { return }
            await renewAll()
            do {
                let recovered = try await store.recoverJobs(expiredBeforeMillis: WallClock.nowMillis(), maxCrashes: maxCrashes,
                                                            nowMillis: WallClock.nowMillis())
                if recovered.suspects + recovered.poisoned > 0 { onRecovered(recovered) }
            } catch {
                logger.error("cannot hand back jobs whose lease expired", metadata: ["error": "\(error)"])
            }
        }
    }

    /// One renewal round for every held lease.
    func renewAll() async {
        let current = leases.withLock { Array($0.values) }
        guard !current.isEmpty else { return }
        let now = WallClock.nowMillis()
        let until = now + leaseMillis
        do {
            let held = try await store.renewLeases(current.map(\.ref), untilMillis: until, nowMillis: now)
            for lease in current {
                if held.contains(lease.ref.jobSeq) {
                    lease.extended(to: until)
                } else {
                    lease.lose("its claim is no longer current (the lease expired and the job was taken over, or it was retried)")
                }
            }
        } catch {
            logger.error("cannot renew job leases", metadata: ["error": "\(error)", "jobs": "\(current.count)"])
            for lease in current where lease.deadlineMillis <= WallClock.nowMillis() {
                lease.lose("its lease ran out while the store could not be written")
            }
        }
    }

    /// Extends one lease now (before a request that would outlast it).
    func extend(_ lease: JobLease, untilMillis: Int64) async -> Bool {
        do {
            let held = try await store.renewLeases([lease.ref], untilMillis: untilMillis, nowMillis: WallClock.nowMillis())
            return held.contains(lease.ref.jobSeq)
        } catch {
            logger.warning("cannot extend a job's lease", metadata: ["job": "\(lease.jobId)", "error": "\(error)"])
            return false
        }
    }
}

/// One claimed job's lease, as its runner sees it: the fencing token to report with,
/// the deadline known to be held, and whether it is lost. It is the runner's
/// ``SendGuard``: no request leaves unless the lease covers it.
final class JobLease: SendGuard {
    let ref: LeaseRef
    let jobId: String
    private let keeper: LeaseKeeper

    private struct State {
        var deadlineMillis: Int64
        var lostReason: String?
        var task: Task<Void, Never>?
    }

    private let state: Mutex<State>

    /// Margin kept between a request's timeout and the lease's end.
    static let marginMillis: Int64 = 1000

    init(job: ClaimedJob, keeper: LeaseKeeper) {
        self.ref = LeaseRef(jobSeq: job.seq, fence: job.fence)
        self.jobId = job.id
        self.keeper = keeper
        self.state = Mutex(State(deadlineMillis: job.leaseUntilMillis))
    }

    var isLost: Bool { state.withLock { $0.lostReason != nil } }
    var deadlineMillis: Int64 { state.withLock { $0.deadlineMillis } }

    /// The task running the job, cancelled if the lease is lost.
    func attach(_ task: Task<Void, Never>) {
        let cancelNow = state.withLock { s -> Bool in
            s.task = task
            return s.lostReason != nil
        }
        if cancelNow { task.cancel() }
    }

    func extended(to untilMillis: Int64) {
        state.withLock { $0.deadlineMillis = max($0.deadlineMillis, untilMillis) }
    }

    func lose(_ reason: String) {
        let (newly, task) = state.withLock { s -> (Bool, Task<Void, Never>?) in
            guard s.lostReason == nil else { return (false, nil) }
            s.lostReason = reason
            return (true, s.task)
        }
        guard newly else { return }
        keeper.logger.warning("job lease lost; its runner stops and writes nothing", metadata: ["job": "\(jobId)", "reason": "\(reason)"])
        task?.cancel()
    }

    func admit(forSeconds seconds: Double) async throws(StepFailure) {
        if let reason = state.withLock({ $0.lostReason }) { throw .lostLease("job \(jobId) lost its lease: \(reason)") }
        let now = WallClock.nowMillis()
        let needed = now + (seconds.clamped(to: 0...86_400) * 1000).clampedToInt64 + Self.marginMillis
        if deadlineMillis >= needed { return }
        let until = max(needed, now + keeper.leaseMillis)
        guard await keeper.extend(self, untilMillis: until) else {
            lose("its lease could not be extended to cover the request")
            throw .lostLease("job \(jobId) lost its lease before sending: it could not be extended to cover the request")
        }
        extended(to: until)
    }
}
