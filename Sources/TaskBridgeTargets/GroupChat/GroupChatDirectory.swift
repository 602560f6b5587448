import TaskBridgeCore

/// Cached GroupChat lists (projects, statuses, members, agents) for name resolution.
/// Entries live for the target's `directoryCacheSeconds`; a name that is not found
/// triggers one refresh (someone may have just renamed a column) before the step fails
/// with the names that do exist. Concurrent misses share one fetch.
public actor GroupChatDirectory {
    public enum Kind: String, Sendable, CaseIterable {
        case projects, statuses, members, agents
    }

    let transport: any GroupChatTransport
    let ttl: Double
    let clock: @Sendable () -> Double
    let wallClock: @Sendable () -> Double
    private var lists: [Kind: (items: [JSONValue], fetchedAt: Double)] = [:]
    private var fetching: [Kind: Task<Result<[JSONValue], StepFailure>, Never>] = [:]
    /// Tasks never move between projects, so what we learn here stays true. Bounded: a
    /// miss costs one extra request, an unbounded map would grow with every task.
    private var taskProjects = RecentMap<String>(capacity: GroupChatDirectory.rememberedTasks)
    static let rememberedTasks = 10_000

    public init(transport: any GroupChatTransport, ttl: Double, clock: @escaping @Sendable () -> Double = TargetGate.monotonicSeconds,
                wallClock: @escaping @Sendable () -> Double) {
        self.transport = transport
        self.ttl = ttl
        self.clock = clock
        self.wallClock = wallClock
    }

    func list(_ kind: Kind, refresh: Bool, wire: [WireRecord]) async throws(StepFailure) -> ([JSONValue], [WireRecord]) {
        let now = clock()
        if !refresh, let entry = lists[kind], now - entry.fetchedAt < ttl {
            return (entry.items, wire)
        }
        var wire = wire
        if let running = fetching[kind] {
            return (try await running.value.get(), wire)
        }
        let transport = self.transport
        let wallNow = wallClock()
        let path = "/api/v1/" + kind.rawValue
        let task = Task { () -> (Result<[JSONValue], StepFailure>, [WireRecord]) in
            var records: [WireRecord] = []
            do throws(StepFailure) {
                let response = try await transport.call(GroupChatRequest(method: "GET", path: path), wire: &records, now: wallNow)
                guard let items = GroupChatNames.items(response.json, key: kind.rawValue) else {
                    return (.failure(StepFailure(.retryable, "GET \(path) returned no list", status: response.status, sent: true)), records)
                }
                return (.success(items), records)
            } catch {
                return (.failure(error), records)
            }
        }
        let shared = Task { await task.value.0 }
        fetching[kind] = shared
        let (result, records) = await task.value
        fetching[kind] = nil
        wire += records
        let items = try result.get()
        lists[kind] = (items, clock())
        return (items, wire)
    }

    /// Resolves with one refresh on a miss; unknown and ambiguous names are permanent.
    func resolve(_ kind: Kind, _ what: String, _ ref: String, wire: [WireRecord],
                 match: ([JSONValue]) -> GroupChatNames.Match) async throws(StepFailure) -> (JSONValue, [WireRecord]) {
        var (items, wire) = try await list(kind, refresh: false, wire: wire)
        var result = match(items)
        if case .notFound = result {
            (items, wire) = try await list(kind, refresh: true, wire: wire)
            result = match(items)
        }
        switch result {
        case .found(let v): return (v, wire)
        case .ambiguous(let ids):
            throw StepFailure.permanent("\(what) \"\(ref)\" is ambiguous: it matches \(ids.joined(separator: ", ")); use an id")
        case .notFound(let known):
            let shown = known.prefix(20).joined(separator: ", ")
            throw StepFailure.permanent("unknown \(what) \"\(ref)\"; known: \(shown.isEmpty ? "none" : shown)")
        }
    }

    public func projectId(_ ref: String, wire: [WireRecord]) async throws(StepFailure) -> (String, [WireRecord]) {
        let (v, w) = try await resolve(.projects, "project", ref, wire: wire) { GroupChatNames.project(ref, in: $0) }
        return (v["id"]?.stringValue ?? ref, w)
    }

    public func stageId(_ ref: String, projectId: String, wire: [WireRecord]) async throws(StepFailure) -> (String, [WireRecord]) {
        let (v, w) = try await resolve(.statuses, "stage in project \(projectId)", ref, wire: wire) {
            GroupChatNames.stage(ref, projectId: projectId, in: $0)
        }
        return (v["id"]?.stringValue ?? ref, w)
    }

    public func ownerId(_ ref: String, wire: [WireRecord]) async throws(StepFailure) -> (String, [WireRecord]) {
        let (v, w) = try await resolve(.members, "member", ref, wire: wire) { GroupChatNames.member(ref, in: $0) }
        return (v["userId"]?.stringValue ?? v["id"]?.stringValue ?? ref, w)
    }

    public func agentUserId(_ ref: String, wire: [WireRecord]) async throws(StepFailure) -> (String, [WireRecord]) {
        let (v, w) = try await resolve(.agents, "agent", ref, wire: wire) { GroupChatNames.agent(ref, in: $0) }
        return (v["agentUserId"]?.stringValue ?? v["userId"]?.stringValue ?? v["id"]?.stringValue ?? ref, w)
    }

    public func knownProject(ofTask taskId: String) -> String? {
        taskProjects.value(for: taskId)
    }

    public func remember(task: JSONValue?) {
        guard let id = task?["id"]?.stringValue, let project = task?["projectId"]?.stringValue else { return }
        taskProjects.set(project, for: id)
    }
}
