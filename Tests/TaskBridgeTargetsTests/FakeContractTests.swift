import AsyncHTTPClient
import UpstreamFakes
import NIOCore
import NIOHTTP1
import Testing
import TaskBridgeCore
import TaskBridgeTestSupport

/// The fake must enforce what GroupChat's documentation promises, or tests against it
/// prove nothing: these requests go over real HTTP, as the connector's do.
@Suite struct FakeContractTests {
    func send(_ fake: GroupChatFake, _ client: HTTPClient, _ method: HTTPMethod, _ path: String, token: String? = GroupChatFake.workspaceKey,
              workspace: String? = nil, body: String? = nil) async throws -> (Int, JSONValue) {
        var request = HTTPClientRequest(url: fake.baseURL + path)
        request.method = method
        if let token { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
        if let workspace { request.headers.add(name: "X-Workspace-Id", value: workspace) }
        if let body {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(string: body))
        }
        let response = try await client.execute(request, timeout: .seconds(10))
        let bytes = try await response.body.collect(upTo: 1 << 20)
        return (Int(response.status.code), (try? JSONParser.parse(Array(buffer: bytes))) ?? .null)
    }

    @Test func enforcesAuthWorkspaceAndFields() async throws {
        let fake = GroupChatFake()
        try await fake.start()
        do { try await withHTTPClient { client in
        let create = #"{"projectId": "proj_eng", "title": "T"}"#
        #expect(try await send(fake, client, .POST, "/api/v1/tasks", token: nil, body: create) == (401, ["error": "Unauthorized"]))
        #expect(try await send(fake, client, .POST, "/api/v1/tasks", token: "gck_wrong", body: create).0 == 401)
        #expect(try await send(fake, client, .POST, "/api/v1/tasks", token: GroupChatFake.personalToken, body: create)
            == (400, ["error": "Missing X-Workspace-Id header"]))
        #expect(try await send(fake, client, .POST, "/api/v1/tasks", token: GroupChatFake.personalToken, workspace: "ws_1", body: create).0 == 200)
        #expect(try await send(fake, client, .POST, "/api/v1/tasks", body: #"{"projectId": "proj_eng", "title": "T", "priority": 1}"#)
            == (400, ["error": "Unknown field: priority"]))
        #expect(try await send(fake, client, .PATCH, "/api/v1/tasks", body: #"{"id": "task_1", "projectId": "proj_web"}"#)
            == (400, ["error": "Unknown field: projectId"]), "projectId is create-only")
        #expect(try await send(fake, client, .PATCH, "/api/v1/tasks", body: #"{"id": "task_1", "stageId": "st_web_done"}"#)
            == (400, ["error": "stageId st_web_done belongs to another project"]))
        #expect(try await send(fake, client, .PATCH, "/api/v1/tasks", body: #"{"id": "task_404", "title": "x"}"#)
            == (404, ["error": "Task not found"]))
        let tooMany = "{\"operations\": [" + Array(repeating: #"{"op": "update", "id": "task_1", "title": "x"}"#, count: 201).joined(separator: ",") + "]}"
        #expect(try await send(fake, client, .POST, "/api/v1/tasks/batch", body: tooMany) == (400, ["error": "operations must hold 1 to 200 items"]))
        let (status, batch) = try await send(fake, client, .POST, "/api/v1/tasks/batch",
                                             body: #"{"operations": [{"op": "update", "id": "task_1", "title": "y"}, {"op": "delete", "id": "task_9"}]}"#)
        #expect(status == 200)
        #expect(batch["results"]?[0]?["ok"] == true)
        #expect(batch["results"]?[1] == ["ok": false, "op": "delete", "id": "task_9", "error": "Task not found"])
        } } catch {
            await fake.stop()
            throw error
        }
        await fake.stop()
    }
}

extension JSONValue {
    subscript(index: Int) -> JSONValue? {
        guard case .array(let items) = self, index < items.count else { return nil }
        return items[index]
    }
}
