import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import Synchronization
import Testing
import TaskBridgeCore
import TaskBridgeTestSupport
import UpstreamFakes

/// The fake's Agent API must hold agents to what GroupChat documents (auth, transitions,
/// cost derivation, field checks), or an agent worker tested against it proves nothing.
/// Every request goes over real HTTP.
@Suite struct GroupChatAgentFakeContractTests {
    enum Auth {
        case bearer(String), basic(String), header(String), none
    }

    /// A clock the test moves, for exact timestamps and ordering.
    final class TestClock: Sendable {
        let now = Mutex(1_000.0)
        func set(_ t: Double) { now.withLock { $0 = t } }
        var read: @Sendable () -> Double { { self.now.withLock { $0 } } }
    }

    static let coder = Auth.basic(GroupChatFake.coderAgentToken)
    static let triage = Auth.bearer(GroupChatFake.triageAgentToken)

    func send(_ fake: GroupChatFake, _ client: HTTPClient, _ method: HTTPMethod, _ path: String, auth: Auth = coder,
              workspace: String? = nil, body: String? = nil) async throws -> (Int, JSONValue) {
        var request = HTTPClientRequest(url: fake.baseURL + path)
        request.method = method
        switch auth {
        case .bearer(let token): request.headers.add(name: "Authorization", value: "Bearer \(token)")
        case .basic(let userColonPassword):
            let credentials = userColonPassword.contains(":") ? userColonPassword : userColonPassword + ":"
            request.headers.add(name: "Authorization", value: "Basic " + Data(credentials.utf8).base64EncodedString())
        case .header(let value): request.headers.add(name: "Authorization", value: value)
        case .none: break
        }
        if let workspace { request.headers.add(name: "X-Workspace-Id", value: workspace) }
        if let body {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(string: body))
        }
        let response = try await client.execute(request, timeout: .seconds(10))
        let bytes = try await response.body.collect(upTo: 1 << 20)
        return (Int(response.status.code), (try? JSONParser.parse(Array(buffer: bytes))) ?? .null)
    }

    func withFake(_ fake: GroupChatFake = GroupChatFake(), clock: TestClock? = nil,
                  _ body: (GroupChatFake, HTTPClient) async throws -> Void) async throws {
        if let clock { fake.mutate { $0.agentRuns.clock = clock.read } }
        try await fake.start()
        do { try await withHTTPClient { try await body(fake, $0) } } catch {
            await fake.stop()
            throw error
        }
        await fake.stop()
    }

    func ids(_ list: JSONValue?) -> [String] { list?["runs"]?.arrayValue?.compactMap { $0["id"]?.stringValue } ?? [] }

    @Test func authenticatesAgentTokensByBasicOrBearerOnly() async throws {
        try await withFake { fake, client async throws in
            #expect(try await send(fake, client, .GET, "/api/v1/agent/me") == (200, [
                "name": "PostHog Coder", "description": "Fixes bugs and opens pull requests", "agentUserId": "agent-coder01",
                "ownerId": "user_ada", "ownerName": "Ada Lovelace", "createdAt": 1_690_000_000_000,
            ]))
            #expect(try await send(fake, client, .GET, "/api/v1/agent/me", auth: Self.triage).1["agentUserId"] == "agent-triage01")
            #expect(try await send(fake, client, .GET, "/api/v1/agent/me", auth: .bearer(GroupChatFake.coderAgentToken)).1["name"] == "PostHog Coder")
            let refused: [Auth] = [
                .none, .bearer("gca_unknown"), .basic("gca_unknown"), .bearer(GroupChatFake.workspaceKey), .bearer(GroupChatFake.personalToken),
                .basic(GroupChatFake.workspaceKey), .basic(GroupChatFake.coderAgentToken + ":secret"),
                .header("Basic " + Data(GroupChatFake.coderAgentToken.utf8).base64EncodedString()), // no colon
                .header("Basic !!!!"), .header(GroupChatFake.coderAgentToken),
            ]
            for auth in refused {
                #expect(try await send(fake, client, .GET, "/api/v1/agent/me", auth: auth) == (401, ["error": "Unauthorized"]), "\(auth)")
            }
            // An agent token does not open the Workspace API, which still takes its own keys.
            #expect(try await send(fake, client, .GET, "/api/v1/projects", auth: .bearer(GroupChatFake.coderAgentToken)) == (401, ["error": "Unauthorized"]))
            #expect(try await send(fake, client, .GET, "/api/v1/projects", auth: .bearer(GroupChatFake.workspaceKey)).0 == 200)
            #expect(try await send(fake, client, .GET, "/api/v1/agent/nope") == (404, ["error": "Not found: GET /api/v1/agent/nope"]))
            #expect(try await send(fake, client, .GET, "/api/v1/agent/nope", auth: .none).0 == 401, "auth comes first")
            #expect(fake.requests("GET", "/api/v1/agent/me").count == 3 + refused.count)
        }
    }

    @Test func listsOnlyThisAgentsRunsMostRecentFirstWithFilters() async throws {
        let clock = TestClock()
        try await withFake(clock: clock) { fake, client async throws in
            clock.set(2_000)
            let a = fake.addAgentRun(agentUserId: "agent-coder01", taskId: "task_x", prompt: "A")
            clock.set(2_500)
            let b = fake.addAgentRun(agentUserId: "agent-triage01", taskId: "task_x", prompt: "B")
            clock.set(1_000)
            let c = fake.addAgentRun(agentUserId: "agent-coder01", taskId: "task_y", prompt: "C")
            clock.set(2_000)
            let d = fake.addAgentRun(agentUserId: "agent-coder01", taskId: "task_z", prompt: "D")
            // By createdAt, then the later-created first: d and a tie at 2000.
            #expect(ids(try await send(fake, client, .GET, "/api/v1/agent/runs").1) == [d, a, c])
            #expect(ids(try await send(fake, client, .GET, "/api/v1/agent/runs", auth: Self.triage).1) == [b])
            #expect(fake.agentRuns.compactMap { $0["id"]?.stringValue } == [a, b, c, d])
            clock.set(3_000)
            #expect(try await send(fake, client, .POST, "/api/v1/agent/runs/\(a)/start").0 == 200)
            #expect(ids(try await send(fake, client, .GET, "/api/v1/agent/runs?status=RUNNING").1) == [a])
            #expect(ids(try await send(fake, client, .GET, "/api/v1/agent/runs?status=PENDING").1) == [d, c])
            #expect(ids(try await send(fake, client, .GET, "/api/v1/agent/runs?status=FINISHED").1) == [])
            #expect(ids(try await send(fake, client, .GET, "/api/v1/agent/runs?limit=2").1) == [d, a])
            #expect(ids(try await send(fake, client, .GET, "/api/v1/agent/runs?workspaceId=ws_1&status=PENDING&limit=1").1) == [d])
            #expect(ids(try await send(fake, client, .GET, "/api/v1/agent/runs?workspaceId=ws_other").1) == [])
            let badStatus = (400, JSONValue.object(["error": "status must be one of PENDING, RUNNING, FINISHED, ERROR, STOPPED, WAITING"]))
            #expect(try await send(fake, client, .GET, "/api/v1/agent/runs?status=pending") == badStatus)
            #expect(try await send(fake, client, .GET, "/api/v1/agent/runs?status=DONE") == badStatus)
            for limit in ["0", "-1", "x", "1.5"] {
                #expect(try await send(fake, client, .GET, "/api/v1/agent/runs?limit=\(limit)") == (400, ["error": "limit must be a positive integer"]))
            }
            let list = try await send(fake, client, .GET, "/api/v1/agent/runs").1
            #expect(list["runs"]?[2] == [
                "id": .string(c), "taskId": "task_y", "taskTitle": nil, "status": "PENDING", "prompt": "C",
                "owner": ["id": "user_ada", "name": "Ada Lovelace"], "createdAt": 1_000, "updatedAt": 1_000,
                "totalCostUsd": nil, "costTurns": [],
            ])
            #expect(list["runs"]?[1]?["updatedAt"] == 3_000, "start touched a")
        }
    }

    @Test func detailCarriesTheTaskAndTheActivityAndHidesOtherAgentsRuns() async throws {
        let clock = TestClock()
        try await withFake(clock: clock) { fake, client async throws in
            let ws = Auth.bearer(GroupChatFake.personalToken)
            let (_, task) = try await send(fake, client, .POST, "/api/v1/tasks", auth: ws, workspace: "ws_1",
                                           body: #"{"projectId": "proj_eng", "title": "Fix login", "description": "500 on submit", "estimate": 3}"#)
            let taskId = try #require(task["id"]?.stringValue)
            clock.set(5_000)
            let (status, delegated) = try await send(fake, client, .POST, "/api/v1/agents/delegate", auth: ws, workspace: "ws_1",
                                                     body: "{\"taskId\": \"\(taskId)\", \"agentUserId\": \"agent-coder01\", \"prompt\": \"Fix it\"}")
            #expect(status == 200 && delegated["status"] == "created")
            let runId = try #require(delegated["runId"]?.stringValue)
            clock.set(6_000)
            #expect(try await send(fake, client, .POST, "/api/v1/agent/runs/\(runId)/start", body: #"{"message": "Looking now"}"#)
                == (200, ["id": .string(runId), "status": "RUNNING", "activityId": "act_1", "cost": nil]))
            clock.set(7_000)
            #expect(try await send(fake, client, .POST, "/api/v1/agent/runs/\(runId)/comment", body: #"{"body": "Found it @Ada Lovelace"}"#)
                == (200, ["id": .string(runId), "status": "RUNNING", "activityId": "act_2", "cost": nil]))
            let t = 1_700_000_000_000 // FakeWorkspace.clock, for tasks
            let expected: JSONValue = [
                "id": .string(runId), "status": "RUNNING", "prompt": "Fix it", "owner": ["id": "user_ada", "name": "Ada Lovelace"],
                "task": ["id": .string(taskId), "title": "Fix login", "description": "500 on submit", "status": "todo", "projectId": "proj_eng",
                         "workspaceId": "ws_1", "ownerId": "user_ada", "creator": ["id": "user_ada", "name": "Ada Lovelace"], "images": [],
                         "dueDate": nil, "dueTime": nil, "estimate": 3, "createdAt": .number(Double(t)), "updatedAt": .number(Double(t)),
                         "lastActivityAt": .number(Double(t))],
                "activity": [
                    ["id": "act_1", "type": "agent_started", "body": "Looking now", "userId": "agent-coder01", "userName": "PostHog Coder", "createdAt": 6_000],
                    ["id": "act_2", "type": "comment", "body": "Found it @Ada Lovelace", "userId": "agent-coder01", "userName": "PostHog Coder", "createdAt": 7_000],
                ],
                "createdAt": 5_000, "updatedAt": 7_000, "totalCostUsd": nil, "costTurns": [], "repoUrl": nil, "pullRequestUrl": nil, "branchName": nil,
            ]
            #expect(try await send(fake, client, .GET, "/api/v1/agent/runs/\(runId)") == (200, expected))
            #expect(fake.agentRun(runId) == expected)
            // Another agent's run is as absent as an unknown one, for reads and writes.
            let notFound = (404, JSONValue.object(["error": "Run not found"]))
            #expect(try await send(fake, client, .GET, "/api/v1/agent/runs/\(runId)", auth: Self.triage) == notFound)
            #expect(try await send(fake, client, .POST, "/api/v1/agent/runs/\(runId)/comment", auth: Self.triage, body: #"{"body": "x"}"#) == notFound)
            #expect(try await send(fake, client, .GET, "/api/v1/agent/runs/run_404") == notFound)
            #expect(try await send(fake, client, .POST, "/api/v1/agent/runs/\(runId)/pause", body: "{}").0 == 404)
            #expect(fake.agentTransitions(runId) == ["start", "comment"])
            // A run about a task the workspace does not have shows nulls.
            let loose = fake.addAgentRun(agentUserId: "agent-coder01", taskId: "ext-9", prompt: "p")
            #expect(try await send(fake, client, .GET, "/api/v1/agent/runs/\(loose)").1["task"] == [
                "id": "ext-9", "title": nil, "description": nil, "status": nil, "projectId": nil, "workspaceId": nil, "ownerId": nil,
                "creator": nil, "images": [], "dueDate": nil, "dueTime": nil, "estimate": nil, "createdAt": nil, "updatedAt": nil, "lastActivityAt": nil,
            ])
        }
    }

    @Test func startsOnlyPendingRunsAndEndsOnlyRunningOnes() async throws {
        try await withFake { fake, client async throws in
            let run = fake.addAgentRun(agentUserId: "agent-coder01", taskId: "t1", prompt: "p")
            let path = "/api/v1/agent/runs/\(run)"
            #expect(try await send(fake, client, .POST, path + "/complete", body: #"{"body": "done"}"#) == (409, ["error": "Run is PENDING, not RUNNING"]))
            #expect(try await send(fake, client, .POST, path + "/error", body: #"{"body": "bad"}"#) == (409, ["error": "Run is PENDING, not RUNNING"]))
            #expect(try await send(fake, client, .POST, path + "/comment", body: #"{"body": "queued"}"#).1["status"] == "PENDING")
            #expect(try await send(fake, client, .POST, path + "/start").1["status"] == "RUNNING", "no body is fine")
            #expect(fake.agentRun(run)?["activity"]?[1]?["body"] == "I'm on it.")
            #expect(try await send(fake, client, .POST, path + "/start", body: "{}") == (409, ["error": "Run is RUNNING, not PENDING"]))
            #expect(try await send(fake, client, .POST, path + "/complete", body: #"{"body": "Opened PR #1"}"#).1["status"] == "FINISHED")
            #expect(try await send(fake, client, .POST, path + "/complete", body: #"{"body": "again"}"#) == (409, ["error": "Run is FINISHED, not RUNNING"]))
            #expect(try await send(fake, client, .POST, path + "/error", body: #"{"body": "x"}"#) == (409, ["error": "Run is FINISHED, not RUNNING"]))
            #expect(try await send(fake, client, .POST, path + "/start") == (409, ["error": "Run is FINISHED, not PENDING"]))
            #expect(try await send(fake, client, .POST, path + "/comment", body: #"{"body": "PR merged"}"#).1["status"] == "FINISHED")
            #expect(fake.agentTransitions(run) == ["comment", "start", "complete", "comment"])
            #expect(fake.agentRun(run)?["activity"]?.arrayValue?.compactMap { $0["type"]?.stringValue }
                == ["comment", "agent_started", "agent_completed", "comment"])

            let failing = fake.addAgentRun(agentUserId: "agent-coder01", taskId: "t2", prompt: "p")
            #expect(try await send(fake, client, .POST, "/api/v1/agent/runs/\(failing)/start").0 == 200)
            let (status, answer) = try await send(fake, client, .POST, "/api/v1/agent/runs/\(failing)/error", body: #"{"body": "No repo access"}"#)
            #expect(status == 200 && answer["status"] == "ERROR" && answer["cost"] == .null)
            #expect(fake.agentRun(failing)?["activity"]?[1]?["type"] == "agent_error")
            #expect(try await send(fake, client, .POST, "/api/v1/agent/runs/\(failing)/complete", body: #"{"body": "x"}"#)
                == (409, ["error": "Run is ERROR, not RUNNING"]))
            #expect(fake.agentTransitions(failing) == ["start", "error"])
        }
    }

    @Test func derivesTheMissingCostFromThePreviousTotal() async throws {
        let clock = TestClock()
        try await withFake(clock: clock) { fake, client async throws in
            let run = fake.addAgentRun(agentUserId: "agent-coder01", taskId: "t1", prompt: "p") // pending since 1000
            let path = "/api/v1/agent/runs/\(run)"
            func turn(_ message: String, _ body: String, at time: Double) async throws -> (Int, JSONValue) {
                if fake.agentRun(run)?["status"] != "PENDING" { #expect(fake.requeueAgentRun(run, message: message)) }
                _ = try await send(fake, client, .POST, path + "/start")
                clock.set(time)
                return try await send(fake, client, .POST, path + body.prefix { $0 != " " }, body: String(body.drop { $0 != " " }))
            }
            #expect(try await turn("", #"/complete {"body": "a", "totalCostUsd": 0.75}"#, at: 2_000) == (200, [
                "id": .string(run), "status": "FINISHED", "activityId": "act_2",
                "cost": ["turn": 1, "pendingSince": 1_000, "completedAt": 2_000, "stepCostUsd": 0.75, "totalCostUsd": 0.75],
            ]))
            clock.set(3_000)
            #expect(try await turn("One more thing", #"/complete {"body": "b", "stepCostUsd": 0.5}"#, at: 4_000).1["cost"]
                == ["turn": 2, "pendingSince": 3_000, "completedAt": 4_000, "stepCostUsd": 0.5, "totalCostUsd": 1.25])
            #expect(try await turn("Again", #"/error {"body": "c", "totalCostUsd": 2}"#, at: 5_000).1["cost"]?["stepCostUsd"] == 0.75)
            #expect(try await turn("And", #"/complete {"body": "d", "stepCostUsd": 0.1, "totalCostUsd": 5}"#, at: 6_000).1["cost"]?["totalCostUsd"] == 5,
                    "both are taken as given")
            #expect(try await turn("Last", #"/complete {"body": "e"}"#, at: 7_000).1["cost"] == .null)
            let detail = try #require(fake.agentRun(run))
            #expect(detail["totalCostUsd"] == 5)
            #expect(detail["costTurns"]?.arrayValue?.compactMap { $0["stepCostUsd"]?.numberValue } == [0.75, 0.5, 0.75, 0.1])
            #expect(detail["costTurns"]?.arrayValue?.compactMap { $0["turn"]?.numberValue } == [1, 2, 3, 4])
            #expect(fake.agentTransitions(run) == ["start", "complete", "requeue", "start", "complete", "requeue", "start", "error",
                                                   "requeue", "start", "complete", "requeue", "start", "complete"])

            // Bad costs are refused and change nothing; derived values lose binary noise.
            let other = fake.addAgentRun(agentUserId: "agent-coder01", taskId: "t2", prompt: "p")
            let op = "/api/v1/agent/runs/\(other)"
            _ = try await send(fake, client, .POST, op + "/start")
            #expect(try await send(fake, client, .POST, op + "/complete", body: #"{"body": "x", "stepCostUsd": -1}"#)
                == (400, ["error": "stepCostUsd must be a non-negative number"]))
            #expect(try await send(fake, client, .POST, op + "/error", body: #"{"body": "x", "totalCostUsd": "0.5"}"#)
                == (400, ["error": "totalCostUsd must be a non-negative number"]))
            #expect(try await send(fake, client, .POST, op + "/complete", body: #"{"body": "x", "totalCostUsd": 0.1}"#).0 == 200)
            #expect(fake.requeueAgentRun(other, message: "more"))
            _ = try await send(fake, client, .POST, op + "/start")
            #expect(try await send(fake, client, .POST, op + "/complete", body: #"{"body": "x", "totalCostUsd": 0.05}"#)
                == (400, ["error": "totalCostUsd 0.05 is below the run's previous total 0.1"]))
            #expect(try await send(fake, client, .POST, op + "/complete", body: #"{"body": "x", "totalCostUsd": 0.3}"#).1["cost"]?["stepCostUsd"] == 0.2)
            #expect(fake.agentTransitions(other) == ["start", "complete", "requeue", "start", "complete"])
        }
    }

    @Test func writesRefuseUnknownFieldsWrongTypesAndNonObjects() async throws {
        try await withFake { fake, client async throws in
            let run = fake.addAgentRun(agentUserId: "agent-coder01", taskId: "t1", prompt: "p")
            let path = "/api/v1/agent/runs/\(run)"
            let cases: [(String, String, String)] = [
                ("/start", #"{"msg": "hi"}"#, "Unknown field: msg"),
                ("/start", #"{"message": 5}"#, "message must be a non-empty string"),
                ("/start", #"{"message": null}"#, "message must be a non-empty string"),
                ("/comment", "{}", "body is required"),
                ("/comment", #"{"body": ""}"#, "body must be a non-empty string"),
                ("/comment", #"{"body": "x", "stepCostUsd": 1}"#, "Unknown field: stepCostUsd"),
                ("/complete", #"{"body": ["x"]}"#, "body must be a non-empty string"),
                ("/error", #"{"body": "x", "cost": 1}"#, "Unknown field: cost"),
                ("/comment", #"["body"]"#, "Body must be a JSON object"),
                ("/comment", #"{"body": "#, "Invalid JSON body"),
            ]
            for (route, body, message) in cases {
                #expect(try await send(fake, client, .POST, path + route, body: body) == (400, ["error": .string(message)]), "\(route) \(body)")
            }
            #expect(fake.agentTransitions(run) == [], "nothing refused was applied")
            #expect(try await send(fake, client, .POST, path + "/start", body: "{}").0 == 200)
            #expect(fake.agentTransitions(run) == ["start"])
        }
    }

    @Test func delegationQueuesAPendingRunUntilTheLastOneEnded() async throws {
        try await withFake { fake, client async throws in
            let ws = Auth.bearer(GroupChatFake.workspaceKey)
            let taskId = try #require(try await send(fake, client, .POST, "/api/v1/tasks", auth: ws, body: #"{"projectId": "proj_eng", "title": "Crash"}"#).1["id"]?.stringValue)
            let delegate = "{\"taskId\": \"\(taskId)\", \"agentUserId\": \"agent-coder01\", \"prompt\": \"Investigate\"}"
            let before = WallClock.nowMillis()
            let (_, first) = try await send(fake, client, .POST, "/api/v1/agents/delegate", auth: ws, body: delegate)
            let runId = try #require(first["runId"]?.stringValue)
            #expect(first["status"] == "created")
            let pending = try await send(fake, client, .GET, "/api/v1/agent/runs?status=PENDING").1
            #expect(ids(pending) == [runId])
            #expect(pending["runs"]?[0]?["taskId"] == .string(taskId) && pending["runs"]?[0]?["taskTitle"] == "Crash")
            #expect(pending["runs"]?[0]?["prompt"] == "Investigate")
            #expect(pending["runs"]?[0]?["owner"] == ["id": "user_ada", "name": "Ada Lovelace"], "the workspace key delegates as Ada")
            let createdAt = try #require(pending["runs"]?[0]?["createdAt"]?.numberValue)
            #expect(createdAt >= Double(before) && createdAt <= Double(WallClock.nowMillis()), "runs use the wall clock")
            #expect(ids(try await send(fake, client, .GET, "/api/v1/agent/runs", auth: Self.triage).1) == [])

            #expect(try await send(fake, client, .POST, "/api/v1/agents/delegate", auth: ws, body: delegate).1 == ["status": "already_active", "runId": .string(runId)])
            _ = try await send(fake, client, .POST, "/api/v1/agent/runs/\(runId)/start")
            #expect(try await send(fake, client, .POST, "/api/v1/agents/delegate", auth: ws, body: delegate).1["status"] == "already_active")
            _ = try await send(fake, client, .POST, "/api/v1/agent/runs/\(runId)/complete", body: #"{"body": "done"}"#)
            let (_, second) = try await send(fake, client, .POST, "/api/v1/agents/delegate", auth: ws, body: delegate)
            let secondId = try #require(second["runId"]?.stringValue)
            #expect(second["status"] == "created" && secondId != runId)
            #expect(fake.stopAgentRun(secondId))
            #expect(try await send(fake, client, .POST, "/api/v1/agents/delegate", auth: ws, body: delegate).1["status"] == "created")
            #expect(fake.workspace.runCount == 3)
            #expect(ids(try await send(fake, client, .GET, "/api/v1/agent/runs?status=PENDING").1).count == 1)
            // The triage agent's run of the same task is its own.
            let triageDelegate = "{\"taskId\": \"\(taskId)\", \"agentUserId\": \"agent-triage01\"}"
            #expect(try await send(fake, client, .POST, "/api/v1/agents/delegate", auth: ws, body: triageDelegate).1["status"] == "created")
        }
    }

    @Test func stoppingEndsOnlyActiveRuns() async throws {
        try await withFake { fake, client async throws in
            let pending = fake.addAgentRun(agentUserId: "agent-coder01", taskId: "t1", prompt: "p")
            #expect(fake.stopAgentRun(pending))
            #expect(fake.agentRun(pending)?["status"] == "STOPPED")
            #expect(fake.agentRun(pending)?["activity"]?[0]?["type"] == "stopped" && fake.agentRun(pending)?["activity"]?[0]?["userId"] == "user_ada")
            #expect(try await send(fake, client, .POST, "/api/v1/agent/runs/\(pending)/start") == (409, ["error": "Run is STOPPED, not PENDING"]))
            #expect(!fake.stopAgentRun(pending), "already stopped")

            let running = fake.addAgentRun(agentUserId: "agent-coder01", taskId: "t2", prompt: "p")
            _ = try await send(fake, client, .POST, "/api/v1/agent/runs/\(running)/start")
            #expect(fake.stopAgentRun(running))
            #expect(try await send(fake, client, .POST, "/api/v1/agent/runs/\(running)/complete", body: #"{"body": "x"}"#)
                == (409, ["error": "Run is STOPPED, not RUNNING"]))
            #expect(fake.agentTransitions(running) == ["start", "stop"])

            let finished = fake.addAgentRun(agentUserId: "agent-coder01", taskId: "t3", prompt: "p")
            _ = try await send(fake, client, .POST, "/api/v1/agent/runs/\(finished)/start")
            _ = try await send(fake, client, .POST, "/api/v1/agent/runs/\(finished)/complete", body: #"{"body": "x"}"#)
            #expect(!fake.stopAgentRun(finished) && fake.agentRun(finished)?["status"] == "FINISHED")
            #expect(!fake.stopAgentRun("run_404"))
            #expect(Set(ids(try await send(fake, client, .GET, "/api/v1/agent/runs?status=STOPPED").1)) == [pending, running])
        }
    }

    @Test func chaosOnlyMatchesAgentRouteTemplatesAndExactPaths() async throws {
        let fake = GroupChatFake(chaos: FakeChaos(serverError: 1, only: ["POST /api/v1/agent/runs/{id}/start"]))
        try await withFake(fake) { fake, client async throws in
            let run = fake.addAgentRun(agentUserId: "agent-coder01", taskId: "t1", prompt: "p")
            let path = "/api/v1/agent/runs/\(run)"
            #expect(try await send(fake, client, .POST, path + "/start") == (500, ["error": "Internal error (injected)"]))
            #expect(fake.agentTransitions(run) == [], "a 500 before applying applies nothing")
            #expect(fake.requests("POST", path + "/start").first?.route == "/api/v1/agent/runs/{id}/start")
            #expect(try await send(fake, client, .POST, path + "/comment", body: #"{"body": "x"}"#).0 == 200)
            #expect(try await send(fake, client, .GET, path).0 == 200)

            fake.setChaos(FakeChaos(serverError: 1, only: ["GET /api/v1/agent/runs"]))
            #expect(try await send(fake, client, .GET, "/api/v1/agent/runs").0 == 500)
            #expect(try await send(fake, client, .GET, path).0 == 200, "the list template is not the detail's")
            fake.setChaos(FakeChaos(serverError: 1, only: ["GET /api/v1/agent/runs/{id}"]))
            #expect(try await send(fake, client, .GET, path).0 == 500)
            #expect(try await send(fake, client, .GET, "/api/v1/agent/runs").0 == 200)
            fake.setChaos(FakeChaos(serverError: 1, only: ["GET \(path)"]))
            #expect(try await send(fake, client, .GET, path).0 == 500, "exact paths still match")
            fake.setChaos(FakeChaos(serverError: 1, only: ["POST /api/v1/tasks"]))
            #expect(try await send(fake, client, .POST, "/api/v1/tasks", auth: .bearer(GroupChatFake.workspaceKey),
                                   body: #"{"projectId": "proj_eng", "title": "T"}"#).0 == 500)

            // Applied, then the connection drops: the agent sees an error, the run started.
            fake.setChaos(FakeChaos(acceptedThenReset: 1, only: ["POST /api/v1/agent/runs/{id}/start"]))
            await #expect(throws: (any Error).self) { _ = try await send(fake, client, .POST, path + "/start") }
            #expect(fake.agentTransitions(run) == ["comment", "start"])
            #expect(fake.agentRun(run)?["status"] == "RUNNING")
        }
    }
}
