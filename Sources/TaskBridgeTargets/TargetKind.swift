import AsyncHTTPClient
import Logging
import Synchronization
import TaskBridgeCore

/// A request as `taskbridge test` shows it: what goes on the wire, secrets redacted.
public struct PlannedRequest: Sendable {
    public var method: String
    public var path: String
    public var headers: [(String, String)]
    public var body: JSONValue?

    public init(method: String, path: String, headers: [(String, String)], body: JSONValue?) {
        self.method = method
        self.path = path
        self.headers = headers
        self.body = body
    }
}

/// Collects the requests a dry-run connector plans (or sends, with `--live`).
public final class RequestLog: Sendable {
    private let entries = Mutex<[PlannedRequest]>([])
    public init() {}
    public func append(_ r: PlannedRequest) { entries.withLock { $0.append(r) } }
    public var requests: [PlannedRequest] { entries.withLock { $0 } }
}

/// What a connector is built from.
public struct ConnectorEnvironment: Sendable {
    public var client: HTTPClient?
    public var secrets: SecretResolver
    /// The target's limits and breaker: every request passes through it.
    public var gate: TargetGate
    public var logger: Logger
    public var wallClock: @Sendable () -> Double

    public init(client: HTTPClient?, secrets: SecretResolver, gate: TargetGate, logger: Logger,
                wallClock: @escaping @Sendable () -> Double = { Double(WallClock.nowMillis()) / 1000 }) {
        self.client = client
        self.secrets = secrets
        self.gate = gate
        self.logger = logger
        self.wallClock = wallClock
    }
}

/// Why a target cannot deliver (no token, a token of the wrong shape): its jobs wait.
public struct TargetUnavailable: Error, Sendable, CustomStringConvertible {
    public var reason: String
    public init(_ reason: String) { self.reason = reason }
    public var description: String { reason }
}

/// A target kind: its config keys and actions (``TargetKindParser``) and the connectors
/// that execute its steps. Adding a kind is a folder under `Sources/TaskBridgeTargets/`
/// with one type conforming to this, and one line in ``TargetKinds/all``.
public protocol TargetKind: TargetKindParser {
    /// The connector that delivers for a configured target, or why there is none.
    func connector(for config: TargetConfig, environment: ConnectorEnvironment) throws(TargetUnavailable) -> any TargetConnector
    /// A connector for `taskbridge test`: it records every request in `log` (secrets
    /// redacted) and answers with placeholders; with `live` it sends them too.
    func dryRunConnector(for config: TargetConfig, environment: ConnectorEnvironment, live: Bool, log: RequestLog) -> any TargetConnector
}

/// Every target kind this build knows.
public enum TargetKinds {
    public static let all: [any TargetKind] = [
        GroupChatKind(),
        PostHogKind(),
        ZylonKind(),
    ]

    public static func named(_ kind: String) -> (any TargetKind)? { all.first { $0.kind == kind } }
}
