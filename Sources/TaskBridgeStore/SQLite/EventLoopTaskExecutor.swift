import NIOCore

/// Runs a task's nonisolated code on one NIO event loop.
///
/// The SQLite writer awaits a future per statement, and sqlite-nio completes those
/// futures on the connection's event loop. Left on the global pool, every statement
/// would cost one more thread wake-up to resume the writer there; with this preference
/// the writer resumes on the loop that completed its future.
final class EventLoopTaskExecutor: TaskExecutor {
    let loop: any EventLoop

    init(_ loop: any EventLoop) {
        self.loop = loop
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        loop.execute { job.runSynchronously(on: self.asUnownedTaskExecutor()) }
    }
}
