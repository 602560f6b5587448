import TaskBridgeCore

/// Coalesces task updates that are due together into `POST /api/v1/tasks/batch`
/// calls (≤ 200 operations each) and hands each operation its own result.
///
/// Adaptive, not timed: the first update goes out at once, alone (as a plain PATCH);
/// updates arriving while calls are in flight queue up and leave together in the next
/// call. Idle, nothing waits; under load, calls fill up.
public actor BatchCoalescer {
    public enum ItemResult: Sendable {
        case ok(task: JSONValue, wire: WireRecord)
        case failed(StepFailure, wire: WireRecord?)
    }

    struct Pending {
        var id: String
        var fields: [String: JSONValue]
        var idempotencyKey: String
        /// The job keeps the whole task (a later step reads it), not just its summary.
        var fullTask: Bool
        /// The lease guard of the job this update is for (checked before its call).
        var guardian: (any SendGuard)?
        var continuation: CheckedContinuation<ItemResult, Never>
    }

    let transport: any GroupChatTransport
    let maxOperations: Int
    let maxCallsInFlight: Int
    let wallClock: @Sendable () -> Double
    let callSeconds: Double
    private var queue: [Pending] = []
    private var inFlight = 0

    /// - Parameter callSeconds: how long one call may take (the request timeout): each
    ///   job's lease must cover it before its operation joins a call.
    public init(transport: any GroupChatTransport, maxOperations: Int, maxCallsInFlight: Int = 2, callSeconds: Double = 30,
                wallClock: @escaping @Sendable () -> Double) {
        self.callSeconds = callSeconds
        self.transport = transport
        self.maxOperations = min(200, max(1, maxOperations))
        self.maxCallsInFlight = max(1, maxCallsInFlight)
        self.wallClock = wallClock
    }

    /// `fullTask: false` lets the call's response be parsed for the task summary only
    /// (``GroupChatConnector/taskSummaryKeys``), which is all the job keeps.
    public func update(id: String, fields: [String: JSONValue], idempotencyKey: String, fullTask: Bool = true) async -> ItemResult {
        let guardian = SendGuards.current
        return await withCheckedContinuation { cont in
            queue.append(Pending(id: id, fields: fields, idempotencyKey: idempotencyKey, fullTask: fullTask, guardian: guardian,
                                 continuation: cont))
            pump()
        }
    }

    /// Updates waiting for a call (tests wait on it to make calls coalesce).
    var queuedCount: Int { queue.count }

    private func pump() {
        while inFlight < maxCallsInFlight, !queue.isEmpty {
            let n = min(maxOperations, queue.count)
            let items = Array(queue.prefix(n))
            queue.removeFirst(n)
            inFlight += 1
            // The call is made for many jobs: each job's own guard is checked in `send`,
            // not the guard of whichever job's task happened to start the call.
            Task { await SendGuards.$current.withValue(nil) { await self.send(items) } }
        }
    }

    private func finished() {
        inFlight -= 1
        pump()
    }

    /// What is read from a batch response: each result's `ok` and `error`, and its task
    /// whole or as its summary.
    static let keepFullResults = resultsTrie(task: [[FieldPath.Segment.key("task")]])
    static let keepResultSummaries = resultsTrie(task: GroupChatConnector.taskSummaryKeys.map { [.key("task"), .key($0)] })

    static func resultsTrie(task paths: [[FieldPath.Segment]]) -> PathTrie {
        var trie = PathTrie()
        let tails: [[FieldPath.Segment]] = [[.key("ok")], [.key("error")]] + paths
        for tail in tails { trie.insert(([.key("results"), .wildcard] + tail)[...]) }
        return trie
    }

    /// Sends one update as a plain PATCH, under its job's guard.
    private func sendAlone(_ item: Pending, now: Double) async -> ItemResult {
        var body = item.fields
        body["id"] = .string(item.id)
        let request = GroupChatRequest(method: "PATCH", path: "/api/v1/tasks", body: .object(body), idempotencyKey: item.idempotencyKey)
        let transport = self.transport
        return await SendGuards.$current.withValue(item.guardian) { () async -> ItemResult in
            var wire: [WireRecord] = []
            do throws(StepFailure) {
                let response = try await transport.call(request, wire: &wire, now: now)
                return .ok(task: response.json ?? .object([:]), wire: wire.last!)
            } catch {
                return .failed(error, wire: wire.last)
            }
        }
    }

    /// Checks each job's lease before its operation joins a call; a job that lost its
    /// lease gets its failure at once and is left out.
    private func admitted(_ items: [Pending], forSeconds seconds: Double) async -> [Pending] {
        // One after another: a lease that covers the call answers without suspending, so
        // this costs a call per operation (a task group per batch measured ~5% of a
        // batched drain); only a lease that must be extended first waits for a write.
        var kept: [Pending] = []
        kept.reserveCapacity(items.count)
        for item in items {
            do throws(StepFailure) {
                try await item.guardian?.admit(forSeconds: seconds)
                kept.append(item)
            } catch {
                item.continuation.resume(returning: .failed(error, wire: nil))
            }
        }
        return kept
    }

    private func send(_ items: [Pending]) async {
        defer { finished() }
        let now = wallClock()
        if items.count == 1 {
            items[0].continuation.resume(returning: await sendAlone(items[0], now: now))
            return
        }
        let items = await admitted(items, forSeconds: callSeconds)
        if items.isEmpty { return }
        if items.count == 1 {
            items[0].continuation.resume(returning: await sendAlone(items[0], now: now))
            return
        }
        let operations: [JSONValue] = items.map { item in
            var op = item.fields
            op["op"] = "update"
            op["id"] = .string(item.id)
            return .object(op)
        }
        // Each operation is serialized once: for the call's body and for its job's attempt.
        let operationTexts = operations.map(JSONWriter.serialize)
        let request = GroupChatRequest(method: "POST", path: "/api/v1/tasks/batch", body: .object(["operations": .array(operations)]),
                                       bodyText: #"{"operations":["# + operationTexts.joined(separator: ",") + "]}")
        var wire: [WireRecord] = []
        let response: GroupChatResponse
        do throws(StepFailure) {
            response = try await transport.call(request, wire: &wire, now: now)
        } catch {
            for item in items { item.continuation.resume(returning: .failed(error, wire: wire.last)) }
            return
        }
        let call = wire.last!
        var failedOperations: [(Pending, WireRecord, String)] = []
        let keep = items.contains(where: \.fullTask) ? Self.keepFullResults : Self.keepResultSummaries
        let results = GroupChatNames.items(try? JSONParser.parse(response.body, keeping: keep), key: "results") ?? []
        for (i, item) in items.enumerated() {
            // Each job's attempt shows its own operation and outcome, not the whole task
            // (the job's outputs keep that).
            let outcome: String? = i < results.count
                ? (results[i]["ok"]?.boolValue == true ? "ok" : "error: " + (results[i]["error"]?.stringValue ?? "operation failed"))
                : nil
            let record = WireRecord(request: "POST /api/v1/tasks/batch [operation \(i + 1) of \(items.count)] " + operationTexts[i],
                                    status: call.status, latencyMillis: call.latencyMillis, response: outcome)
            guard i < results.count else {
                item.continuation.resume(returning: .failed(StepFailure(.retryable, "batch response has no result for operation \(i + 1)", status: call.status, sent: true), wire: record))
                continue
            }
            let r = results[i]
            if r["ok"]?.boolValue == true {
                item.continuation.resume(returning: .ok(task: r["task"] ?? .object(["id": .string(item.id)]), wire: record))
            } else {
                failedOperations.append((item, record, r["error"]?.stringValue ?? "operation failed"))
            }
        }
        // A failed operation reports only a message (the call itself answered 200), so
        // its class is unknown: a validation error is permanent, an internal error is not.
        // Each one is sent again alone — an update is safe to repeat — and the status of
        // that request classifies it exactly as any single request would be.
        for (item, record, message) in failedOperations {
            switch await sendAlone(item, now: wallClock()) {
            case .ok(let task, let wire):
                var w = wire
                w.request = record.request + " [failed in the batch: " + message + "; sent again alone] " + wire.request
                item.continuation.resume(returning: .ok(task: task, wire: w))
            case .failed(var failure, let wire):
                failure.reason = "batch update of task \(item.id) failed (\(message)); sent again alone: \(failure.reason)"
                item.continuation.resume(returning: .failed(failure, wire: wire ?? record))
            }
        }
    }


}
