import Synchronization
import TaskBridgeCore

/// Whether the store takes writes, as `/readyz` reports it. The endpoint is
/// unauthenticated and the check is a real write, so it must stay cheap and bounded
/// however often it is called: a result is reused for `ttl` seconds, concurrent calls
/// share one check in flight, and a check that hangs reports "not ready" after
/// `timeout` seconds without a second one being started beside it. N parallel calls
/// thus make at most one store check per interval.
final class ReadinessCheck: Sendable {
    let ttl: Double
    let timeout: Double
    private let probe: @Sendable () async -> Bool

    private struct State {
        var result: Bool?
        var checkedAt = -Double.infinity
        var inFlight: Task<Bool, Never>?
        /// A store check that has not returned yet, possibly past its timeout.
        var probing = false
        var probes = 0
    }

    private let state = Mutex(State())

    init(ttl: Double = 1, timeout: Double = 2, probe: @escaping @Sendable () async -> Bool) {
        self.ttl = ttl
        self.timeout = timeout
        self.probe = probe
    }

    /// How many times the store itself was checked (for tests).
    var storeChecks: Int { state.withLock { $0.probes } }

    func isReady() async -> Bool {
        let now = MonotonicClock.seconds()
        enum Next { case answer(Bool), wait(Task<Bool, Never>) }
        let next = state.withLock { s -> Next in
            if let result = s.result, now - s.checkedAt < ttl { return .answer(result) }
            if let task = s.inFlight { return .wait(task) }
            let task = Task { await self.runCheck() }
            s.inFlight = task
            return .wait(task)
        }
        switch next {
        case .answer(let ready): return ready
        case .wait(let task): return await task.value
        }
    }

    /// One check, answered within `timeout`; records its result for everyone.
    private func runCheck() async -> Bool {
        let start = state.withLock { s -> Bool in
            guard !s.probing else { return false }
            s.probing = true
            s.probes += 1
            return true
        }
        let ready: Bool
        if start {
            ready = await firstOf(timeout: timeout) {
                let ok = await self.probe()
                self.state.withLock { $0.probing = false }
                return ok
            }
        } else {
            ready = false  // the previous check still hangs: the store is not taking writes
        }
        state.withLock { s in
            s.result = ready
            s.checkedAt = MonotonicClock.seconds()
            s.inFlight = nil
        }
        return ready
    }

    /// `operation`'s result, or `false` once `timeout` seconds pass; the operation keeps
    /// running on its own if it overruns (a write cannot be cancelled half-way).
    private func firstOf(timeout: Double, _ operation: @escaping @Sendable () async -> Bool) async -> Bool {
        await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
            let race = Race(continuation)
            let timer = Task {
                try? await Task.sleep(nanoseconds: UInt64(timeout * 1e9))
                race.finish(false)
            }
            Task {
                race.finish(await operation())
                timer.cancel()
            }
        }
    }
}

/// Resumes a continuation with whichever result comes first.
private final class Race: Sendable {
    private let continuation: Mutex<CheckedContinuation<Bool, Never>?>

    init(_ continuation: CheckedContinuation<Bool, Never>) {
        self.continuation = Mutex(continuation)
    }

    func finish(_ value: Bool) {
        let c = continuation.withLock { c -> CheckedContinuation<Bool, Never>? in
            defer { c = nil }
            return c
        }
        c?.resume(returning: value)
    }
}
