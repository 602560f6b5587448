import Synchronization
import TaskBridgeCore

/// What each configured agent's worker knows about itself, for `GET /api/v1/agents` and
/// `taskbridge agents`: its identity from `GET /api/v1/agent/me`, or why there is none,
/// and how its polling goes.
public final class AgentStatusBoard: Sendable {
    public struct Status: Sendable {
        /// `name`, `agentUserId`, `ownerId`, `ownerName` from GroupChat.
        public var identity: JSONValue?
        /// Why the agent does not work (no token, token refused, GroupChat unreachable).
        public var problem: String?
        public var lastPollMillis: Int64?
        public var pollFailures = 0
        public var activeRuns = 0
    }

    private let statuses = Mutex<[String: Status]>([:])

    public init() {}

    public func update(_ agent: String, _ change: (inout Status) -> Void) {
        statuses.withLock { change(&$0[agent, default: Status()]) }
    }

    public func status(_ agent: String) -> Status { statuses.withLock { $0[agent] ?? Status() } }
}
