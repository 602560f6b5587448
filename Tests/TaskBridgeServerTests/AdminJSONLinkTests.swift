import Testing
import TaskBridgeCore
@testable import TaskBridgeServer

/// Which outputs become links on the event page.
@Suite struct AdminJSONLinkTests {
    @Test func addressFieldsAndTasksBecomeLinksButURLsInTextDoNot() throws {
        let outputs: JSONValue = [
            "0": ["task": ["id": "task_7", "projectId": "proj_eng",
                           "description": "Pricing page broken, see https://evil.example/login"]],
            "1": ["pr_url": "https://github.com/acme/app/pull/12", "task": ["id": "task_8"]],
            "2": ["html_url": "javascript:alert(1)", "note": "http://example.com"],
        ]
        let link = try TaskLinkTemplate.parse("https://groupchat.example/w/ws_1/p/{projectId}/t/{id}").get()
        #expect(AdminJSON.links(outputs, taskLink: link) == [
            ["title": "task task_7", "url": "https://groupchat.example/w/ws_1/p/proj_eng/t/task_7"],
            ["title": "1.pr_url", "url": "https://github.com/acme/app/pull/12"],
        ], "task_8 lacks projectId; the description's and the note's URLs are text; javascript: is never a link")
        #expect(AdminJSON.links(outputs) == [["title": "1.pr_url", "url": "https://github.com/acme/app/pull/12"]])
    }
}
