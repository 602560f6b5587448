import UpstreamFakes
import Testing
import TaskBridgeCore
@testable import TaskBridgeTargets

/// Name resolution is pure: tables over the fake's standard workspace lists.
@Suite struct GroupChatNamesTests {
    let w = FakeWorkspace.standard()

    func id(_ m: GroupChatNames.Match, _ key: String = "id") -> String? {
        if case .found(let v) = m { return v[key]?.stringValue }
        return nil
    }

    @Test(arguments: [
        ("st_doing", "st_doing"), ("Doing", "st_doing"), ("in review", "st_review"), ("In Review", "st_review"),
        ("in_review", "st_review"), ("in-review", "st_review"), ("done", "st_done"), ("TODO", "st_todo"), ("To do", "st_todo"),
    ])
    func stagesByIdTitleOrType(ref: String, expected: String) {
        #expect(id(GroupChatNames.stage(ref, projectId: "proj_eng", in: w.statuses)) == expected)
    }

    @Test func aTypeMeansTheFirstColumnOfThatTypeInBoardOrder() {
        // The Website board has two todo columns: Triage (order 0) and Backlog (order 1).
        #expect(id(GroupChatNames.stage("todo", projectId: "proj_web", in: w.statuses)) == "st_web_triage")
        #expect(id(GroupChatNames.stage("Backlog", projectId: "proj_web", in: w.statuses)) == "st_web_todo")
    }

    @Test func unknownAndAmbiguousNamesSayWhatExists() {
        #expect(GroupChatNames.stage("Blocked", projectId: "proj_eng", in: w.statuses)
            == .notFound(known: ["To do (todo)", "Doing (doing)", "In review (in_review)", "Done (done)"]))
        // Stages of another project are not candidates.
        #expect(GroupChatNames.stage("st_web_triage", projectId: "proj_eng", in: w.statuses)
            == .notFound(known: ["To do (todo)", "Doing (doing)", "In review (in_review)", "Done (done)"]))
        let twins: [JSONValue] = [["id": "m1", "userId": "u1", "name": "Sam"], ["id": "m2", "userId": "u2", "name": "sam"]]
        #expect(GroupChatNames.member("Sam", in: twins) == .ambiguous(["u1", "u2"]))
        #expect(id(GroupChatNames.member("u2", in: twins), "userId") == "u2")
    }

    @Test func membersProjectsAndAgents() {
        #expect(id(GroupChatNames.member("Grace Hopper", in: w.members), "userId") == "user_grace")
        #expect(id(GroupChatNames.member("mem_1", in: w.members), "userId") == "user_ada")
        #expect(id(GroupChatNames.project("website", in: w.projects)) == "proj_web")
        #expect(id(GroupChatNames.agent("triage bot", in: w.agents), "agentUserId") == "agent-triage01")
        #expect(GroupChatNames.items(["agents": .array(w.agents)], key: "agents")?.count == 2)
        #expect(GroupChatNames.items(.array(w.agents), key: "agents")?.count == 2)
        #expect(GroupChatNames.items("nope", key: "agents") == nil)
    }
}
