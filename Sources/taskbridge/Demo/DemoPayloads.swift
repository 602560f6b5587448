import TaskBridgeCore

/// The real provider payloads the demo sends: copies of `Tests/Fixtures` files (a test
/// checks they stay byte-identical), and the variants the rules need built from them by
/// changing only the fields `Tests/Fixtures/SOURCES.md` lists for its derived variants.
enum DemoPayloads {
    static var sentryIssueCreated: [UInt8] { PackageResources.sentry_issue_created_json }

    /// `sentryIssueResolved`: `action` and `data.issue.status` set to `resolved`.
    static var sentryIssueResolved: [UInt8] {
        derived(PackageResources.sentry_issue_created_json, [(["action"], "resolved"), (["data", "issue", "status"], "resolved")])
    }

    /// `prOpenedWithTaskBranch` with the demo's task in the branch name.
    static func pullRequestOpened(task: String) -> [UInt8] {
        derived(PackageResources.github_pull_request_opened_json, [(["pull_request", "head", "ref"], .string("gc-\(task)-readme"))])
    }

    /// `prMerged` with the demo's task in the branch name.
    static func pullRequestMerged(task: String) -> [UInt8] {
        derived(PackageResources.github_pull_request_closed_json, [
            (["pull_request", "merged"], true), (["pull_request", "head", "ref"], .string("gc-\(task)-readme")),
        ])
    }

    /// A widget submission, as `widget.js` posts it (TaskBridge's own format, not a provider's).
    static let widgetMessage: [UInt8] = JSONWriter.serializeBytes([
        "message": "The pricing page says 'contact us' but the form never sends.",
        "name": "Demo visitor", "email": "visitor@example.com", "page": "https://www.example.com/pricing", "website": "",
    ])

    static func derived(_ bytes: [UInt8], _ changes: [([String], JSONValue)]) -> [UInt8] {
        guard var doc = try? JSONParser.parse(bytes) else { return bytes }
        for (path, value) in changes { doc = setting(value, at: path[...], in: doc) }
        return JSONWriter.serializeBytes(doc)
    }

    static func setting(_ value: JSONValue, at path: ArraySlice<String>, in doc: JSONValue) -> JSONValue {
        guard let key = path.first, case .object(var members) = doc else { return path.isEmpty ? value : doc }
        members[key] = setting(value, at: path.dropFirst(), in: members[key] ?? .null)
        return .object(members)
    }
}
