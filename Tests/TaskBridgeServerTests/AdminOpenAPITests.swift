import Foundation
import Hummingbird
import HummingbirdTesting
import Testing
import TaskBridgeCore
import TaskBridgeTestSupport
@testable import TaskBridgeServer

/// `docs/admin-openapi.yaml` describes exactly the admin routes the server registers,
/// and what it says of the list routes' answers holds.
@Suite struct AdminOpenAPITests {
    /// The `paths` of the document as `METHOD /path/{param}` (the router's spelling too),
    /// read line by line (the file
    /// keeps the usual layout: paths at two spaces, methods at four).
    static func documentedRoutes() throws -> Set<String> {
        let text = try String(contentsOfFile: Fixtures.repositoryRoot + "/docs/admin-openapi.yaml", encoding: .utf8)
        var routes = Set<String>()
        var inPaths = false
        var path: String?
        for line in text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init) {
            if line.hasPrefix("paths:") { inPaths = true; continue }
            if inPaths, let first = line.first, first != " " { break }
            guard inPaths else { continue }
            if line.hasPrefix("  /"), line.hasSuffix(":"), !line.hasPrefix("   ") {
                path = String(line.dropFirst(2).dropLast())
            } else if let path, line.hasPrefix("    "), !line.hasPrefix("     ") {
                let key = line.trimmingCharacters(in: .whitespaces).dropLast()
                if ["get", "post", "put", "patch", "delete"].contains(String(key)) { routes.insert("\(key.uppercased()) \(path)") }
            }
        }
        return routes
    }

    @Test func theDocumentListsExactlyTheRegisteredAdminRoutes() async throws {
        let documented = try Self.documentedRoutes()
        #expect(documented.count >= 9)
        try await withBridge { bridge in
            let router = Router(context: TaskBridgeRequestContext.self)
            AdminController(runtime: bridge.runtime).register(on: router, prefix: "")
            let registered = Set(router.routes.map { "\($0.method.rawValue) \($0.path)" }.filter { $0.contains(" /admin/api/") })
            #expect(registered == documented, "registered but not documented: \(registered.subtracting(documented).sorted()); documented but not registered: \(documented.subtracting(registered).sorted())")
        }
    }

    /// The list routes answer with the top-level key the document requires, and refuse a
    /// request without the token with the documented 401 and `WWW-Authenticate`.
    @Test func listRoutesAnswerAsDocumented() async throws {
        try await withBridge { bridge in
            let auth = [("Authorization", "Bearer \(TestEnv.adminToken)")]
            for (path, key) in [("/admin/api/events", "events"), ("/admin/api/jobs", "jobs"), ("/admin/api/agents", "agents"), ("/admin/api/runs", "runs"),
                              ("/admin/api/targets", "targets"), ("/admin/api/rules", "rules")] {
                let ok = try await bridge.get(path, auth)
                #expect(ok.status == .ok, "\(path)")
                #expect(try JSONParser.parse(Array(ok.body.readableBytesView))[key]?.arrayValue != nil, "\(path) has \(key)")
                let refused = try await bridge.get(path)
                #expect(refused.status == .unauthorized, "\(path)")
                #expect(refused.headers[.wwwAuthenticate] == "Bearer")
                #expect(try JSONParser.parse(Array(refused.body.readableBytesView))["error"]?.stringValue != nil)
            }
            let bad = try await bridge.get("/admin/api/jobs?state=finished", auth)
            #expect(bad.status == .badRequest, "an unknown state is the documented 400")
        }
    }
}
