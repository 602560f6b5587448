import AsyncHTTPClient
import UpstreamFakes
import NIOCore
import NIOHTTP1
import Testing
import TaskBridgeCore
import TaskBridgeTestSupport

/// The PostHog fake must enforce what `docs/targets-research.md` found PostHog does, or
/// connector tests against it prove nothing: these requests go over real HTTP.
@Suite struct PostHogFakeContractTests {
    static let tasks = "/api/projects/1/tasks/"

    func send(_ fake: PostHogFake, _ client: HTTPClient, _ method: HTTPMethod, _ path: String,
              token: String? = PostHogFake.personalKey, contentType: String? = "application/json",
              body: String? = nil) async throws -> (Int, JSONValue, HTTPHeaders) {
        var request = HTTPClientRequest(url: fake.baseURL + path)
        request.method = method
        if let token { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
        if let body {
            if let contentType { request.headers.add(name: "Content-Type", value: contentType) }
            request.body = .bytes(ByteBuffer(string: body))
        }
        let response = try await client.execute(request, timeout: .seconds(10))
        let bytes = try await response.body.collect(upTo: 1 << 20)
        return (Int(response.status.code), (try? JSONParser.parse(Array(buffer: bytes))) ?? .null, response.headers)
    }

    func withFake(_ fake: PostHogFake = PostHogFake(), _ body: (PostHogFake, HTTPClient) async throws -> Void) async throws {
        try await fake.start()
        do {
            try await withHTTPClient { client in try await body(fake, client) }
        } catch {
            await fake.stop()
            throw error
        }
        await fake.stop()
    }

    func create(_ fake: PostHogFake, _ client: HTTPClient, _ fields: String) async throws -> JSONValue {
        let (status, task, _) = try await send(fake, client, .POST, Self.tasks, body: fields)
        #expect(status == 201, "\(task)")
        return task
    }

    static func error(_ type: String, _ code: String, _ detail: String, _ attr: String? = nil) -> JSONValue {
        ["type": .string(type), "code": .string(code), "detail": .string(detail), "attr": attr.map(JSONValue.string) ?? .null]
    }

    @Test func createRetrieveRoundTripAndTrailingSlash() async throws {
        try await withFake { fake, client in
            let task = try await create(fake, client, #"""
                {"title": "Fix crash", "description": "Stack trace\n\n<!-- taskbridge:k1 -->", "repository": "Acme/Widgets",
                 "origin_product": "error_tracking"}
                """#)
            let id = try #require(task["id"]?.stringValue)
            #expect(id.split(separator: "-").map(\.count) == [8, 4, 4, 4, 12])
            #expect(task["task_number"] == 0, "task numbers start at 0 (_assign_task_number)")
            #expect(task["slug"] == "DEF-0")
            #expect(task["title"] == "Fix crash")
            #expect(task["title_manually_set"] == false)
            #expect(task["repository"] == "acme/widgets", "stored lowercased")
            #expect(task["origin_product"] == "error_tracking")
            #expect(task["github_integration"] == 101, "defaults to the project's first GitHub integration")
            #expect(task["latest_run"] == .null)
            #expect(task["internal"] == false)
            #expect(task["archived"] == false)
            #expect(task["archived_at"] == .null)
            #expect(task["created_by"]?["id"] == 1)
            #expect(task["created_by"]?["email"] == "ada@example.com")
            #expect(task["created_at"]?.stringValue?.hasSuffix("Z") == true)
            #expect(Set(task.objectValue?.keys.map { $0 } ?? []) == [
                "id", "task_number", "slug", "title", "title_manually_set", "description", "origin_product", "repository",
                "github_integration", "github_user_integration", "signal_report", "json_schema", "internal", "archived",
                "archived_at", "ci_prompt", "latest_run", "created_at", "updated_at", "created_by", "channel",
            ])

            // Retrieve with and without the trailing slash; both are the same task.
            let (s1, withSlash, _) = try await send(fake, client, .GET, Self.tasks + id + "/")
            let (s2, without, _) = try await send(fake, client, .GET, "/api/projects/1/tasks/" + id)
            #expect(s1 == 200 && s2 == 200)
            #expect(withSlash == task && without == task)
            #expect(try await send(fake, client, .GET, "/api/projects/1/tasks").0 == 200)
            #expect(try await send(fake, client, .GET, "/api/projects/1/tasks//").0 == 404, "one optional slash, not two")

            // Defaults: an empty body is a valid create; origin_product defaults to user_created and
            // an empty title is generated from the description.
            let bare = try await create(fake, client, #"{"description": "Investigate the slow checkout page today please"}"#)
            #expect(bare["origin_product"] == "user_created")
            #expect(bare["title"] == "Investigate the slow checkout page today please")
            #expect(bare["task_number"] == 1)

            // PATCH: partial, origin_product immutable, a title marks it manually set, archived sets archived_at.
            let (ps, patched, _) = try await send(fake, client, .PATCH, Self.tasks + id + "/",
                                                  body: #"{"title": "Fix crash in checkout", "origin_product": "slack", "archived": true}"#)
            #expect(ps == 200)
            #expect(patched["title"] == "Fix crash in checkout")
            #expect(patched["title_manually_set"] == true)
            #expect(patched["origin_product"] == "error_tracking")
            #expect(patched["description"] == task["description"])
            #expect(patched["archived"] == true)
            #expect(patched["archived_at"]?.stringValue != nil)

            // Every request is recorded with its route template, headers and body.
            let creates = fake.requests("POST", route: PostHogFake.tasksRoute)
            #expect(creates.count == 2)
            #expect(creates[0].headers["authorization"] == "Bearer \(PostHogFake.personalKey)")
            #expect(creates[0].body?["repository"] == "Acme/Widgets")
            #expect(creates[0].status == 201)
            #expect(fake.requests("GET", route: PostHogFake.taskRoute).count == 2)
            #expect(fake.unknownFields.isEmpty)
        }
    }

    @Test func validationAndErrorShape() async throws {
        try await withFake { fake, client in
            func post(_ body: String) async throws -> (Int, JSONValue) {
                let (s, b, _) = try await send(fake, client, .POST, Self.tasks, body: body)
                return (s, b)
            }
            #expect(try await post(#"{"repository": "widgets"}"#)
                == (400, Self.error("validation_error", "invalid", "Repository must be in the format organization/repository", "repository")))
            #expect(try await post(#"{"repository": "a/b/c"}"#).0 == 400)
            #expect(try await post(#"{"origin_product": "image_builder"}"#).1["attr"] == "origin_product")
            #expect(try await post(#"{"origin_product": "sentry"}"#)
                == (400, Self.error("validation_error", "invalid_choice", "\"sentry\" is not a valid choice.", "origin_product")))
            #expect(try await post(#"{"github_integration": 999}"#)
                == (400, Self.error("validation_error", "does_not_exist", "Invalid pk \"999\" - object does not exist.", "github_integration")))
            #expect(try await post(#"{"github_integration": "101"}"#).1["code"] == "incorrect_type")
            #expect(try await post("{\"title\": \"\(String(repeating: "x", count: 256))\"}").1["code"] == "max_length")
            #expect(try await post(#"{"title": null}"#).1["code"] == "null")
            #expect(try await post(#"{"internal": "yes"}"#)
                == (400, Self.error("validation_error", "invalid", "Must be a valid boolean.", "internal")))
            #expect(try await post(#"{"description": 7}"#).1["attr"] == "description")
            #expect(try await post("[1, 2]").1["code"] == "parse_error")
            #expect(try await post("{not json").1 == Self.error("invalid_request", "parse_error", "JSON parse error"))
            let (s415, b415, _) = try await send(fake, client, .POST, Self.tasks, contentType: "text/plain", body: "{}")
            #expect(s415 == 415 && b415["code"] == "unsupported_media_type")
            #expect(fake.project()?.allTasks.isEmpty == true, "nothing invalid was created")

            // Unknown fields: ignored like PostHog, but recorded; refused in strict mode.
            #expect(try await post(#"{"title": "T", "repo": "acme/widgets"}"#).0 == 201)
            #expect(fake.unknownFields == [PostHogProject.UnknownField(operation: "create", field: "repo")])
            fake.mutate { $0.strictUnknownFields = true }
            let (ss, sb) = try await post(#"{"title": "T", "repo": "acme/widgets"}"#)
            #expect(ss == 400 && sb["code"] == "unknown_field" && sb["attr"] == "repo")
        }
    }

    @Test func searchFlagsAndPagination() async throws {
        try await withFake { fake, client in
            let marker = "<!-- taskbridge:evt_42 -->"
            let target = try await create(fake, client, "{\"title\": \"Crash\", \"description\": \"Boom\\n\\n\(marker)\"}")
            _ = try await create(fake, client, #"{"title": "Other", "description": "<!-- taskbridge:evt_43 -->"}"#)
            let hidden = try await create(fake, client, "{\"title\": \"Internal\", \"description\": \"\(marker)\", \"internal\": true}")
            let archived = try await create(fake, client, "{\"title\": \"Archived\", \"description\": \"\(marker)\", \"archived\": true}")
            let encoded = "%3C%21--+taskbridge%3Aevt_42+--%3E"

            let (s, page, _) = try await send(fake, client, .GET, Self.tasks + "?search=" + encoded)
            #expect(s == 200)
            #expect(page["count"] == 1, "internal and archived tasks are excluded by default")
            #expect(page["results"]?[0]?["id"] == target["id"])
            let (_, all, _) = try await send(fake, client, .GET, Self.tasks + "?search=" + encoded + "&internal=all&archived=all")
            #expect(all["count"] == 3)
            #expect(all["results"]?.arrayValue?.compactMap { $0["id"] } == [archived["id"]!, hidden["id"]!, target["id"]!], "newest first")
            #expect(try await send(fake, client, .GET, Self.tasks + "?search=CRASH").1["count"] == 1, "case-insensitive")
            #expect(try await send(fake, client, .GET, Self.tasks + "?search=DEF-1").1["results"]?[0]?["title"] == "Other",
                    "a trailing number matches task_number")
            #expect(try await send(fake, client, .GET, Self.tasks + "?internal=maybe").1["code"] == "invalid_choice")

            // Pagination over five visible tasks.
            for i in 0..<3 { _ = try await create(fake, client, "{\"title\": \"Extra \(i)\"}") }
            let (_, first, _) = try await send(fake, client, .GET, Self.tasks + "?limit=2")
            #expect(first["count"] == 5)
            #expect(first["results"]?.arrayValue?.count == 2)
            #expect(first["results"]?[0]?["title"] == "Extra 2")
            #expect(first["previous"] == .null)
            let next = try #require(first["next"]?.stringValue)
            #expect(next == fake.baseURL + Self.tasks + "?limit=2&offset=2")
            let (_, second, _) = try await send(fake, client, .GET, String(next.dropFirst(fake.baseURL.count)))
            #expect(second["previous"]?.stringValue == fake.baseURL + Self.tasks + "?limit=2")
            #expect(second["results"]?[0]?["title"] == "Extra 0")
            let (_, last, _) = try await send(fake, client, .GET, Self.tasks + "?limit=2&offset=4&search=")
            #expect(last["results"]?.arrayValue?.count == 1)
            #expect(last["next"] == .null)
            #expect(last["previous"]?.stringValue == fake.baseURL + Self.tasks + "?limit=2&offset=2&search=")
            let (_, capped, _) = try await send(fake, client, .GET, Self.tasks + "?limit=1000")
            #expect(capped["results"]?.arrayValue?.count == 5, "limit is capped at 100, not refused")
            #expect(fake.project()?.tasks(describedWith: marker).count == 3)
        }
    }

    @Test func runProgressesPerPollToCompletedWithPR() async throws {
        try await withFake { fake, client in
            let task = try await create(fake, client, #"{"title": "Fix", "description": "d", "repository": "acme/widgets"}"#)
            let id = try #require(task["id"]?.stringValue)
            let path = Self.tasks + id + "/"

            let (rs, started, _) = try await send(fake, client, .POST, path + "run/", body: #"{"mode": "background", "branch": "main"}"#)
            #expect(rs == 200, "run answers 200 with the task")
            #expect(started["id"] == task["id"])
            let run = try #require(started["latest_run"])
            #expect(run["status"] == "queued")
            #expect(run["task"] == task["id"])
            #expect(run["branch"] == "main")
            #expect(run["output"] == .null)
            #expect(run["completed_at"] == .null)
            #expect(run["state"]?["mode"] == "background")

            // Default script: queued ×1, in_progress ×1, then completed — one step per GET of the task.
            var seen: [JSONValue] = []
            for _ in 0..<4 {
                let (_, t, _) = try await send(fake, client, .GET, path)
                seen.append(t["latest_run"]?["status"] ?? .null)
            }
            #expect(seen == ["queued", "in_progress", "completed", "completed"])
            let (_, done, _) = try await send(fake, client, .GET, path)
            #expect(done["latest_run"]?["output"]?["pr_url"] == "https://github.com/acme/widgets/pull/1")
            #expect(done["latest_run"]?["completed_at"]?.stringValue != nil)
            #expect(done["latest_run"]?["error_message"] == .null)
            #expect(try await send(fake, client, .GET, Self.tasks + "?status=completed").1["count"] == 1)

            // Not idempotent: a second call starts a second run.
            let (_, again, _) = try await send(fake, client, .POST, path + "run")
            #expect(again["latest_run"]?["id"] != run["id"])
            #expect(again["latest_run"]?["status"] == "queued")
            let (_, runs, _) = try await send(fake, client, .GET, path + "runs/")
            #expect(runs["count"] == 2)
            #expect(runs["results"]?[0]?["id"] == again["latest_run"]?["id"], "newest first")
            #expect(fake.project()?.runs(ofTask: id).count == 2)

            // One run by id; another task's run id is 404.
            let runId = try #require(run["id"]?.stringValue)
            let (one, oneRun, _) = try await send(fake, client, .GET, path + "runs/" + runId)
            #expect(one == 200 && oneRun["status"] == "completed")
            let other = try await create(fake, client, #"{"title": "Other"}"#)
            #expect(try await send(fake, client, .GET, Self.tasks + other["id"]!.stringValue! + "/runs/" + runId + "/").0 == 404)

            // Run body validation.
            #expect(try await send(fake, client, .POST, path + "run/", body: #"{"mode": "fast"}"#).1["code"] == "invalid_choice")
            #expect(try await send(fake, client, .POST, path + "run/", body: #"{"resume_from_run_id": "nope"}"#).1["attr"] == "resume_from_run_id")
            let (bad, badBody, _) = try await send(fake, client, .POST, path + "run/", body: #"{"resume_from_run_id": "00000000-0000-4000-8000-000000000000"}"#)
            #expect(bad == 400 && badBody == ["detail": "Invalid resume_from_run_id"])
            #expect(try await send(fake, client, .POST, path + "run/", body: "{\"resume_from_run_id\": \"\(runId)\"}").0 == 200)
        }
    }

    @Test func scriptedRunsFailCancelAndStayQueued() async throws {
        try await withFake { fake, client in
            fake.mutate {
                $0.nextRunScripts = [.fails("Agent could not reproduce the error", queuedPolls: 0, inProgressPolls: 1), .stuckQueued]
            }
            let task = try await create(fake, client, #"{"title": "Fix", "repository": "acme/widgets"}"#)
            let id = try #require(task["id"]?.stringValue)
            let (_, started, _) = try await send(fake, client, .POST, Self.tasks + id + "/run/")
            let runPath = Self.tasks + id + "/runs/" + started["latest_run"]!["id"]!.stringValue! + "/"
            #expect(try await send(fake, client, .GET, runPath).1["status"] == "in_progress")
            let (_, failed, _) = try await send(fake, client, .GET, runPath)
            #expect(failed["status"] == "failed")
            #expect(failed["error_message"] == "Agent could not reproduce the error")
            #expect(failed["completed_at"]?.stringValue != nil)
            #expect(failed["output"] == .null)

            let (_, stuck, _) = try await send(fake, client, .POST, Self.tasks + id + "/run/")
            for _ in 0..<5 { _ = try await send(fake, client, .GET, Self.tasks + id + "/") }
            let (_, still, _) = try await send(fake, client, .GET, Self.tasks + id + "/")
            #expect(still["latest_run"]?["id"] == stuck["latest_run"]?["id"])
            #expect(still["latest_run"]?["status"] == "queued", "a lost dispatch stays queued")

            // A per-task script, a cancel, and a completed run without a PR.
            fake.mutate { $0.runScripts[id] = .cancels(queuedPolls: 0, inProgressPolls: 0) }
            _ = try await send(fake, client, .POST, Self.tasks + id + "/run/")
            let (_, cancelled, _) = try await send(fake, client, .GET, Self.tasks + id + "/")
            #expect(cancelled["latest_run"]?["status"] == "cancelled")
            fake.mutate { $0.runScripts[id] = .noPR(queuedPolls: 0, inProgressPolls: 0) }
            _ = try await send(fake, client, .POST, Self.tasks + id + "/run/")
            let (_, noPR, _) = try await send(fake, client, .GET, Self.tasks + id + "/")
            #expect(noPR["latest_run"]?["status"] == "completed" && noPR["latest_run"]?["output"] == .null)

            // The usage-quota 429 carries reset_at and no Retry-After, and starts nothing.
            fake.mutate { $0.usageLimit = .init(limitType: "burst", resetAt: "2030-01-01T00:00:00Z") }
            let (ls, lb, lh) = try await send(fake, client, .POST, Self.tasks + id + "/run/")
            #expect(ls == 429 && lb["code"] == "usage_limit_exceeded" && lb["reset_at"] == "2030-01-01T00:00:00Z")
            #expect(lh["Retry-After"].isEmpty)
            #expect(fake.project()?.runs(ofTask: id).count == 4)
        }
    }

    @Test func authScopesNotFoundAndVisibility() async throws {
        try await withFake { fake, client in
            let task = try await create(fake, client, #"{"title": "Mine"}"#)
            let id = try #require(task["id"]?.stringValue)

            #expect(try await send(fake, client, .GET, Self.tasks, token: nil).1
                == Self.error("authentication_error", "not_authenticated", "Authentication credentials were not provided."))
            let (s401, b401, _) = try await send(fake, client, .GET, Self.tasks, token: "phx_wrong")
            #expect(s401 == 401)
            #expect(b401 == Self.error("authentication_error", "authentication_failed",
                                       "Personal API key found in request Authorization header is invalid."))
            #expect(try await send(fake, client, .GET, Self.tasks, token: PostHogFake.readOnlyKey).0 == 200)
            #expect(try await send(fake, client, .GET, Self.tasks + id + "/", token: PostHogFake.readOnlyKey).0 == 200)
            let (s403, b403, _) = try await send(fake, client, .POST, Self.tasks, token: PostHogFake.readOnlyKey, body: #"{"title": "T"}"#)
            #expect(s403 == 403)
            #expect(b403 == Self.error("authentication_error", "permission_denied", "API key missing required scope 'task:write'"))
            #expect(try await send(fake, client, .POST, Self.tasks + id + "/run/", token: PostHogFake.readOnlyKey).0 == 403)
            #expect(try await send(fake, client, .PATCH, Self.tasks + id + "/", token: PostHogFake.readOnlyKey, body: "{}").0 == 403)
            #expect(fake.project()?.allTasks.count == 1 && fake.project()?.runs(ofTask: id).isEmpty == true)

            let notFound = Self.error("invalid_request", "not_found", "Not found.")
            #expect(try await send(fake, client, .GET, Self.tasks + "0190a1b2-0000-4000-8000-000000000000/").1 == notFound)
            #expect(try await send(fake, client, .GET, Self.tasks + "not-a-uuid").0 == 404)
            #expect(try await send(fake, client, .POST, Self.tasks + "0190a1b2-0000-4000-8000-000000000000/run/").0 == 404)
            #expect(try await send(fake, client, .GET, "/api/projects/999/tasks/").1 == notFound)
            #expect(try await send(fake, client, .GET, "/api/projects/abc/tasks/").0 == 404)
            #expect(try await send(fake, client, .GET, "/api/projects/1/widgets/").0 == 404)
            #expect(try await send(fake, client, .DELETE, Self.tasks + id + "/run/").1["code"] == "method_not_allowed")

            // Another user's task is invisible (404, not 403) and not listed; a creator-less one is.
            let grace = PostHogProject.User(id: 2, uuid: "0190a1b2-c3d4-7e5f-8a9b-000000000002", distinctId: "grace",
                                            firstName: "Grace", lastName: "Hopper", email: "grace@example.com")
            var foreign = ""
            fake.mutate { p in
                foreign = (try? p.seedTask(["title": "Theirs"], createdBy: grace)) ?? ""
                _ = try? p.seedTask(["title": "Nobody's"], createdBy: nil)
            }
            #expect(try await send(fake, client, .GET, Self.tasks + foreign + "/").0 == 404)
            #expect(try await send(fake, client, .POST, Self.tasks + foreign + "/run/").0 == 404)
            let titles = try await send(fake, client, .GET, Self.tasks).1["results"]?.arrayValue?.compactMap { $0["title"]?.stringValue }
            #expect(titles == ["Nobody's", "Mine"])

            // Soft delete: 204, then gone everywhere.
            let (ds, _, _) = try await send(fake, client, .DELETE, Self.tasks + id + "/")
            #expect(ds == 204)
            #expect(try await send(fake, client, .GET, Self.tasks + id + "/").0 == 404)
            #expect(fake.project()?.task(id)?.deleted == true)
        }
    }

    @Test func chaosUsesPostHogShapesAndRouteTemplates() async throws {
        try await withFake { fake, client in
            fake.setChaos(FakeChaos(acceptedThenReset: 1, only: ["POST \(PostHogFake.tasksRoute)"]))
            await #expect(throws: (any Error).self) {
                _ = try await send(fake, client, .POST, "/api/projects/1/tasks", body: #"{"title": "Once"}"#)
            }
            #expect(fake.project()?.allTasks.count == 1, "the create was applied although the client saw an error")
            #expect(fake.requests.last?.status == nil)
            #expect(try await send(fake, client, .GET, Self.tasks).0 == 200, "chaos limited to the listed route")

            fake.setChaos(FakeChaos(rateLimited: 1, retryAfterSeconds: 3))
            let (rs, rb, rh) = try await send(fake, client, .GET, Self.tasks)
            #expect(rs == 429 && rb["type"] == "throttled_error" && rh["Retry-After"] == ["3"])
            fake.setChaos(FakeChaos(serverError: 1))
            let (es, eb, _) = try await send(fake, client, .GET, Self.tasks)
            #expect(es == 500 && eb == Self.error("server_error", "error", "A server error occurred."))
            fake.setChaos(.none)
            // Idempotency-Key is not honoured: a re-sent create makes a second task.
            var request = HTTPClientRequest(url: fake.baseURL + Self.tasks)
            request.method = .POST
            request.headers.add(name: "Authorization", value: "Bearer \(PostHogFake.personalKey)")
            request.headers.add(name: "Content-Type", value: "application/json")
            request.headers.add(name: "Idempotency-Key", value: "k1")
            request.body = .bytes(ByteBuffer(string: #"{"title": "Twice"}"#))
            for _ in 0..<2 { _ = try await client.execute(request, timeout: .seconds(10)) }
            #expect(fake.project()?.allTasks.filter { $0.title == "Twice" }.count == 2)
        }
    }
}
