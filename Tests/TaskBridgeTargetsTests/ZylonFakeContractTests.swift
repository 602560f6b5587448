import AsyncHTTPClient
import UpstreamFakes
import NIOCore
import NIOHTTP1
import Testing
import TaskBridgeCore
import TaskBridgeTestSupport

/// The Zylon fake must enforce what Zylon's docs promise (docs/targets-research.md §2,
/// §3.2), or connector tests against it prove nothing: these requests go over real HTTP. 
@Suite struct ZylonFakeContractTests {
    func send(_ fake: ZylonFake, _ client: HTTPClient, _ method: HTTPMethod, _ path: String, token: String? = ZylonFake.token,
              org: String? = ZylonFake.orgSlug, body: String? = nil) async throws -> (Int, JSONValue) {
        var request = HTTPClientRequest(url: fake.baseURL + path)
        request.method = method
        if let token { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
        if let org { request.headers.add(name: "x-org", value: org) }
        if let body {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(string: body))
        }
        let response = try await client.execute(request, timeout: .seconds(10))
        let bytes = try await response.body.collect(upTo: 1 << 20)
        return (Int(response.status.code), (try? JSONParser.parse(Array(buffer: bytes))) ?? .null)
    }

    /// A chat body as a `zylon.chat` step would send it.
    static func chat(_ message: String, extra: String = "") -> String {
        #"{"all_artifacts": true, "pgpt": {"messages": [{"role": "user", "content": [{"type": "text", "text": "\#(message)"}]}], "#
            + #""system": {"text": "Be brief.", "use_default_prompt": false}, "max_tokens": 80, "temperature": 0.2\#(extra)}}"#
    }

    func withFake(_ fake: ZylonFake = ZylonFake(), _ body: (ZylonFake, HTTPClient) async throws -> Void) async throws {
        try await fake.start()
        do {
            try await withHTTPClient { client in try await body(fake, client) }
        } catch {
            await fake.stop()
            throw error
        }
        await fake.stop()
    }

    @Test func chatStaysProcessingForItsPollsThenCompletesWithTheText() async throws {
        try await withFake { fake, client in
            let (status, created) = try await send(fake, client, .POST, "/api/v1/app/project/proj_support/chat", body: Self.chat("Hello there"))
            #expect(status == 200)
            #expect(created == ["id": "inter_1", "state": "Processing"])
            for _ in 0..<2 {
                let (s, polled) = try await send(fake, client, .GET, "/api/v1/app/interaction/inter_1")
                #expect(s == 200)
                #expect(polled["state"] == "Processing")
                #expect(polled["assistant_output"] == nil)
            }
            let (s, done) = try await send(fake, client, .GET, "/api/v1/app/interaction/inter_1")
            #expect(s == 200)
            #expect(done["state"] == "Completed")
            #expect(done["id"] == "inter_1")
            #expect(done["project_id"] == "proj_support")
            #expect(done["assistant_output"]?["content"] == [["type": "text", "text": .string(ZylonOrg.derivedAnswer("Hello there"))]])
            #expect(done["assistant_output"]?["stop_reason"] == "stop")
            #expect(done["user_input"] == ["role": "user", "content": [["type": "text", "text": "Hello there"]]])
            #expect(done["pgpt"]?["max_tokens"] == 80)
            #expect(done["all_artifacts"] == true)
            #expect(done["created_by"]?["id"] == "user_ada")
            #expect(done["thread_id"] == nil, "project chat is ephemeral")
            // Terminal states stick.
            #expect(try await send(fake, client, .GET, "/api/v1/app/interaction/inter_1").1["state"] == "Completed")
            let i = try #require(fake.interactions.first)
            #expect(fake.interactions.count == 1)
            #expect(i.polls == 4)
            #expect(i.input.message == "Hello there")
            #expect(i.input.system == "Be brief.")
            #expect(i.input.maxTokens == 80)
            #expect(i.input.temperature == 0.2)
            #expect(i.input.allArtifacts == true)
        }
    }

    @Test func scriptedErrorAnswerImmediateAndPersonaInteractions() async throws {
        let fake = ZylonFake()
        fake.mutate { org in
            if let i = org.projects.firstIndex(where: { $0.id == "proj_feedback" }) {
                org.projects[i].answer = { .completed(#"{"summary": "\#($0.message)", "category": "bug"}"#) }
            }
        }
        fake.script(.error("model overloaded", after: 1), .answer("Scripted.", after: 0), .stuck)
        try await withFake(fake) { fake, client in
            let path = "/api/v1/app/project/proj_support/chat"
            #expect(try await send(fake, client, .POST, path, body: Self.chat("a")).1 == ["id": "inter_1", "state": "Processing"])
            #expect(try await send(fake, client, .GET, "/api/v1/app/interaction/inter_1").1["state"] == "Processing")
            let (_, failed) = try await send(fake, client, .GET, "/api/v1/app/interaction/inter_1")
            #expect(failed["state"] == "Error")
            #expect(failed["assistant_output"]?["errors"] == [["type": "api_error", "message": "model overloaded"]])
            #expect(failed["assistant_output"]?["stop_reason"] == "error")
            #expect(failed["assistant_output"]?["content"] == [])

            // 0 processing polls: the chat answers the terminal state, as the documented example.
            #expect(try await send(fake, client, .POST, path, body: Self.chat("b")).1 == ["id": "inter_2", "state": "Completed"])
            #expect(try await send(fake, client, .GET, "/api/v1/app/interaction/inter_2").1["assistant_output"]?["content"]
                == [["type": "text", "text": "Scripted."]])

            #expect(try await send(fake, client, .POST, path, body: Self.chat("c")).1["id"] == "inter_3")
            for _ in 0..<5 { #expect(try await send(fake, client, .GET, "/api/v1/app/interaction/inter_3").1["state"] == "Processing") }

            // A project persona answers when nothing is scripted.
            #expect(try await send(fake, client, .POST, "/api/v1/app/project/proj_feedback/chat", body: Self.chat("Login broken")).0 == 200)
            for _ in 0..<2 { _ = try await send(fake, client, .GET, "/api/v1/app/interaction/inter_4") }
            #expect(try await send(fake, client, .GET, "/api/v1/app/interaction/inter_4").1["assistant_output"]?["content"]
                == [["type": "text", "text": #"{"summary": "Login broken", "category": "bug"}"#]])

            // Completed without assistant_output, as the documented GET example shows.
            fake.script(ZylonOrg.Script(processingPolls: 0, outcome: .completedWithoutOutput))
            #expect(try await send(fake, client, .POST, path, body: Self.chat("d")).1 == ["id": "inter_5", "state": "Completed"])
            let (_, bare) = try await send(fake, client, .GET, "/api/v1/app/interaction/inter_5")
            #expect(bare["state"] == "Completed")
            #expect(bare["assistant_output"] == nil)

            // "lookupGone": ephemeral interactions that cannot be fetched.
            fake.mutate { $0.interactionsFetchable = false }
            #expect(try await send(fake, client, .GET, "/api/v1/app/interaction/inter_1") == (404, ["message": "Interaction not found"]))
        }
    }

    @Test func enforcesTokenOrgMembershipAndProjects() async throws {
        try await withFake { fake, client in
            let chat = "/api/v1/app/project/proj_support/chat"
            let body = Self.chat("x")
            #expect(try await send(fake, client, .POST, chat, token: nil, body: body) == (401, ["message": "Unauthorized"]))
            #expect(try await send(fake, client, .POST, chat, token: "zyl_wrong", body: body).0 == 401)
            #expect(try await send(fake, client, .POST, chat, org: nil, body: body) == (400, ["message": "Missing x-org header"]))
            #expect(try await send(fake, client, .POST, chat, org: "acme", body: body) == (403, ["message": "Not a member of organization acme"]))
            #expect(try await send(fake, client, .POST, "/api/v1/app/project/proj_finance/chat", body: body)
                == (403, ["message": "Not a project member"]))
            #expect(try await send(fake, client, .POST, "/api/v1/app/project/proj_nope/chat", body: body)
                == (404, ["message": "Project not found"]))
            // 404 wins over a bad body; 403 too.
            #expect(try await send(fake, client, .POST, "/api/v1/app/project/proj_nope/chat", body: #"{"x": 1}"#).0 == 404)
            #expect(try await send(fake, client, .POST, "/api/v1/app/project/proj_finance/chat", body: #"{"x": 1}"#).0 == 403)
            #expect(fake.interactions.isEmpty)
            // The org UUID works as well as the slug.
            #expect(try await send(fake, client, .POST, chat, org: fake.org.id, body: body).0 == 200)
            // Another user's interaction in a project Ada cannot see.
            #expect(try await send(fake, client, .POST, "/api/v1/app/project/proj_finance/chat", token: ZylonFake.graceToken, body: body).1["id"] == "inter_2")
            #expect(try await send(fake, client, .GET, "/api/v1/app/interaction/inter_2").0 == 403)
            #expect(try await send(fake, client, .GET, "/api/v1/app/interaction/inter_2", token: ZylonFake.graceToken).0 == 200)
            #expect(try await send(fake, client, .GET, "/api/v1/app/interaction/inter_99") == (404, ["message": "Interaction not found"]))

            // Lookups for `check --live`.
            let (meStatus, me) = try await send(fake, client, .GET, "/api/v1/app/me")
            #expect(meStatus == 200)
            #expect(me["id"] == "user_ada")
            #expect(me["org_id"] == .string(fake.org.id))
            #expect(try await send(fake, client, .GET, "/api/v1/app/me", org: nil).0 == 400)
            let (ps, project) = try await send(fake, client, .GET, "/api/v1/app/project/proj_support")
            #expect(ps == 200)
            #expect(project["name"] == "Customer Support")
            #expect(project["visibility"] == "Private")
            #expect(try await send(fake, client, .GET, "/api/v1/app/project/proj_finance").0 == 403)
            #expect(try await send(fake, client, .GET, "/api/v1/app/project/proj_nope").0 == 404)
            let (ls, list) = try await send(fake, client, .GET, "/api/v1/app/user/user_ada/project?total_count=true")
            #expect(ls == 200)
            #expect(list["data"]?.arrayValue?.compactMap { $0["name"]?.stringValue } == ["Customer Support", "Product Feedback"])
            #expect(list["has_next_page"] == false)
            #expect(list["total_count"] == 2)
            let (_, page2) = try await send(fake, client, .GET, "/api/v1/app/user/user_ada/project?page=2&page_size=1")
            #expect(page2["data"]?.arrayValue?.compactMap { $0["id"]?.stringValue } == ["proj_feedback"])
            #expect(page2["has_previous_page"] == true)
            #expect(page2["total_count"] == nil)
            #expect(try await send(fake, client, .GET, "/api/v1/app/user/user_ada/project?pagesize=1") == (400, ["message": "Unknown query parameter: pagesize"]))
            #expect(try await send(fake, client, .GET, "/api/v1/app/user/user_grace/project").0 == 403)
            #expect(try await send(fake, client, .GET, "/api/v1/app/projects").0 == 404)
        }
    }

    @Test func rejectsUnknownAndMistypedChatFields() async throws {
        try await withFake { fake, client in
            let chat = "/api/v1/app/project/proj_support/chat"
            let cases: [(String, String)] = [
                (#"{"pgpt": {"messages": [{"role": "user", "content": [{"type": "text", "text": "x"}]}]}, "allArtifacts": true}"#,
                 "Unknown field: allArtifacts"),
                (Self.chat("x", extra: #", "maxTokens": 80"#), "Unknown field: pgpt.maxTokens"),
                (#"{"pgpt": {"messages": [{"role": "user", "content": [{"type": "text", "text": "x"}]}], "max_tokens": "80"}}"#,
                 "pgpt.max_tokens must be a number"),
                (#"{"pgpt": {"messages": [{"role": "user", "content": [{"type": "text", "txt": "x"}]}]}}"#,
                 "Unknown field: pgpt.messages[0].content[0].txt"),
                (#"{"pgpt": {"messages": [{"role": "user", "content": [{"type": "text", "text": "x"}], "name": "a"}]}}"#,
                 "Unknown field: pgpt.messages[0].name"),
                (#"{"pgpt": {"messages": [{"role": "user", "content": [{"type": "text", "text": "x"}]}], "system": {"prompt": "y"}}}"#,
                 "Unknown field: pgpt.system.prompt"),
                (#"{"pgpt": {"messages": [{"role": "user", "content": [{"type": "text", "text": "x"}]}], "temperature": "hot"}}"#,
                 "pgpt.temperature must be a number"),
                (#"{"all_artifacts": "yes", "pgpt": {"messages": []}}"#, "all_artifacts must be a boolean"),
                (#"{"artifact_ids": [1], "pgpt": {"messages": []}}"#, "artifact_ids must be an array of strings"),
                (#"{"all_artifacts": true}"#, "pgpt is required"),
                (#"{"pgpt": {"messages": []}}"#, "pgpt.messages must hold at least one message"),
                (#"{"pgpt": {"messages": [{"role": "human", "content": []}]}}"#,
                 "pgpt.messages[0].role must be one of assistant, system, tool, user"),
                (#"{"pgpt": {"messages": [{"role": "user"}]}}"#, "pgpt.messages[0].content is required"),
                (#"{"pgpt": {"messages": [{"role": "user", "content": [{"type": "text"}]}]}}"#, "pgpt.messages[0].content[0].text is required"),
                (#"{"pgpt": {"messages": [{"role": "assistant", "content": [{"type": "text", "text": "x"}]}]}}"#,
                 "pgpt.messages must hold a user message"),
                (#"{"pgpt": {"messages": [{"role": "user", "content": "x"}]}}"#, "pgpt.messages[0].content must be an array"),
                (#"[1]"#, "Body must be a JSON object"),
                (#"{"pgpt": "#, "Invalid JSON body"),
            ]
            for (body, message) in cases {
                let (status, answer) = try await send(fake, client, .POST, chat, body: body)
                #expect(status == 400, "\(body)")
                #expect(answer == ["message": .string(message)], "\(body)")
            }
            #expect(fake.interactions.isEmpty, "no rejected chat creates an interaction")
            // Documented optional fields are accepted.
            let full = #"{"all_artifacts": false, "artifact_ids": ["art_1"], "pgpt": {"messages": ["#
                + #"{"role": "system", "content": [{"type": "text", "text": "s"}]}, "#
                + #"{"role": "user", "content": [{"type": "text", "text": "q", "citations": []}]}], "#
                + #""system": {"text": "t", "use_default_prompt": true}, "correlation_id": "evt_1", "seed": 1, "top_p": 0.9}}"#
            #expect(try await send(fake, client, .POST, chat, body: full).0 == 200)
            #expect(fake.interactions.first?.input.message == "q")
            #expect(fake.interactions.first?.input.artifactIds == ["art_1"])
        }
    }

    @Test func recordsEveryRequestAndInjectsChaos() async throws {
        let fake = ZylonFake(chaos: FakeChaos(acceptedThenReset: 1, only: ["POST /api/v1/app/project/{id}/chat"]))
        try await withFake(fake) { fake, client in
            let chat = "/api/v1/app/project/proj_support/chat"
            // The chat is created and the client sees a dropped connection: "may have run".
            await #expect(throws: (any Error).self) { _ = try await send(fake, client, .POST, chat, body: Self.chat("once")) }
            #expect(fake.interactions.count == 1)
            let posted = fake.requests("POST", chat)
            #expect(posted.count == 1)
            #expect(posted.first?.status == nil)
            #expect(posted.first?.headers["x-org"] == "default")
            #expect(posted.first?.headers["authorization"] == "Bearer \(ZylonFake.token)")
            #expect(posted.first?.body?["pgpt"]?["max_tokens"] == 80)

            // A rate-limited poll is not applied, so it does not count as a poll.
            fake.setChaos(FakeChaos(rateLimited: 1, retryAfterSeconds: 7, only: ["GET /api/v1/app/interaction/{id}"]))
            var request = HTTPClientRequest(url: fake.baseURL + "/api/v1/app/interaction/inter_1")
            request.headers.add(name: "Authorization", value: "Bearer \(ZylonFake.token)")
            request.headers.add(name: "x-org", value: "default")
            let limited = try await client.execute(request, timeout: .seconds(10))
            #expect(limited.status.code == 429)
            #expect(limited.headers.first(name: "Retry-After") == "7")
            _ = try await limited.body.collect(upTo: 1 << 20)
            #expect(fake.interactions.first?.polls == 0)

            // A concrete path in `only` works as for GroupChat; other routes are untouched.
            fake.setChaos(FakeChaos(serverError: 1, only: ["GET /api/v1/app/interaction/inter_1"]))
            #expect(try await send(fake, client, .GET, "/api/v1/app/interaction/inter_1").0 == 500)
            #expect(try await send(fake, client, .GET, "/api/v1/app/me").0 == 200)
            fake.setChaos(.none)
            #expect(try await send(fake, client, .GET, "/api/v1/app/interaction/inter_1?verbose=1").1["state"] == "Processing")

            let all = fake.requests
            #expect(all.map(\.status) == [nil, 429, 500, 200, 200])
            #expect(all.last?.query == "verbose=1")
            #expect(all.last?.path == "/api/v1/app/interaction/inter_1")
            #expect(all.last?.method == "GET")
            #expect(all.allSatisfy { $0.headers["x-org"] == "default" })
            fake.clearRecorded()
            #expect(fake.requests.isEmpty)
        }
    }
}
