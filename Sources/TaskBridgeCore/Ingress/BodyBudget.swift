import Synchronization

/// The request-body bytes all requests together may hold in memory at once
/// (`server.maxBufferedBodyBytes`). Each source caps one body (`maxBodyBytes`, up to
/// 25 MiB for GitHub), but without a global cap fifty parallel uploads would hold over a
/// gigabyte before a single signature is checked. A request reserves its bytes before
/// it buffers them — its Content-Length up front, or chunk by chunk — and gives them
/// back when it is answered, whatever the outcome.
public final class BodyBudget: Sendable {
    public let limit: Int
    private let used = Mutex(0)

    public init(limit: Int) {
        self.limit = limit
    }

    /// Bytes reserved right now.
    public var reserved: Int { used.withLock { $0 } }

    /// Reserves `bytes` if they fit under the limit; `false` (reserving nothing) if not.
    public func tryReserve(_ bytes: Int) -> Bool {
        guard bytes > 0 else { return true }
        return used.withLock { used in
            guard bytes <= limit - used else { return false }
            used += bytes
            return true
        }
    }

    public func release(_ bytes: Int) {
        guard bytes > 0 else { return }
        used.withLock { $0 = max(0, $0 - bytes) }
    }
}
