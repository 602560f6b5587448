import ArgumentParser
import Hummingbird
import Logging
import NIOCore
import NIOPosix
import Synchronization
import TaskBridgeCore

#if canImport(Glibc)
import Glibc
#endif

/// The durable ceiling: the least work any design of durable ingest must do — the
/// floor, plus the HMAC-SHA256 check of the body, plus appending the body to a file and
/// `fdatasync`ing it (group-committed) before the 202. No parsing, no dedupe, no rules,
/// no database. Whatever this reaches on a machine bounds what TaskBridge can reach
/// there, so the bench reports it next to the floor.
struct CeilingServer: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ceiling",
        abstract: "Floor + HMAC-SHA256 verify + append the body to a file, fdatasync per group, then 202.")
    @Option var host = "127.0.0.1"
    @Option var port = 8094
    @Option(help: "File the bodies are appended to (truncated at start).") var file: String
    @Option(help: "Secret the X-Hub-Signature-256 header is checked against.") var secret: String
    @Flag(help: "Skip the append and fdatasync: measures floor + HMAC alone.") var noDisk = false

    func run() async throws {
        let secrets = [Secret(secret)]
        let log = noDisk ? nil : try GroupCommitFile(path: file)
        let router = Router()
        router.post("/**") { request, _ -> Response in
            let body = try await request.body.collect(upTo: 32 << 20)
            let bytes = Array(body.readableBytesView)
            let outcome = HMACSignature.verify(
                hex: request.headers[.init("X-Hub-Signature-256")!], prefix: "sha256=", body: bytes, secrets: secrets)
            guard outcome == .valid else { return Response(status: .unauthorized) }
            if let log { try await log.append(body) }
            return Response(status: .accepted)
        }
        var logger = Logger(label: "ceiling")
        logger.logLevel = .warning
        let app = Application(router: router, configuration: .init(address: .hostname(host, port: port)), logger: logger)
        try await app.runService(gracefulShutdownSignals: [.sigterm, .sigint])
    }
}

/// An append-only file with group commit: requests that arrive while a write+fdatasync
/// is under way are written together by the next one, on one dedicated thread.
final class GroupCommitFile: Sendable {
    private struct State {
        var pending: [(ByteBuffer, CheckedContinuation<Void, any Error>)] = []
        var flushing = false
    }

    private let fd: CInt
    private let state = Mutex(State())
    private let pool: NIOThreadPool

    init(path: String) throws {
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw ValidationError("cannot open \(path): errno \(errno)") }
        pool = NIOThreadPool(numberOfThreads: 1)
        pool.start()
    }

    func append(_ buffer: ByteBuffer) async throws {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            let startFlush = state.withLock { state -> Bool in
                state.pending.append((buffer, continuation))
                if state.flushing { return false }
                state.flushing = true
                return true
            }
            if startFlush { pool.submit { _ in self.flushUntilEmpty() } }
        }
    }

    private func flushUntilEmpty() {
        while true {
            let batch = state.withLock { state in
                let batch = state.pending
                state.pending = []
                if batch.isEmpty { state.flushing = false }
                return batch
            }
            if batch.isEmpty { return }
            var failure: (any Error)?
            for (buffer, _) in batch where failure == nil {
                buffer.withUnsafeReadableBytes { raw in
                    var offset = 0
                    while offset < raw.count {
                        let n = write(fd, raw.baseAddress! + offset, raw.count - offset)
                        if n < 0 { failure = ValidationError("write failed: errno \(errno)"); return }
                        offset += n
                    }
                }
            }
            if failure == nil, fdatasync(fd) != 0 { failure = ValidationError("fdatasync failed: errno \(errno)") }
            for (_, continuation) in batch {
                if let failure { continuation.resume(throwing: failure) } else { continuation.resume() }
            }
        }
    }
}
