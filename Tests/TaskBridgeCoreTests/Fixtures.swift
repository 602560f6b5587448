import Foundation
import Testing
@testable import TaskBridgeCore
import TaskBridgeTargets
@_exported import TaskBridgeTestSupport

/// Real provider payloads from `Tests/Fixtures` (see `Tests/Fixtures/SOURCES.md`), the
/// example rule sets and the shipped config, plus the derived variants the suite builds
/// from them. Derivations change only the named fields of a real payload and are listed
/// in SOURCES.md under "Derived variants (built in test code)".
extension Fixtures {
    static let githubNames = [
        "installation.created", "issues.opened", "ping", "pull_request.closed", "pull_request.converted_to_draft",
        "pull_request.opened", "pull_request.ready_for_review", "pull_request.reopened",
        "pull_request.review_requested", "pull_request.synchronize", "push",
    ]
    static let sentryNames = [
        "comment.created", "error.created", "event_alert.triggered", "installation.created", "issue.created",
        "metric_alert.resolved",
    ]

    /// Every fixture as `provider/name` (e.g. `github/ping`).
    static let all: [String] = githubNames.map { "github/" + $0 } + sentryNames.map { "sentry/" + $0 }

    static func repoFile(_ relativePath: String) -> [UInt8] {
        repositoryFile(relativePath)
    }

    static let exampleRuleFiles = [
        "examples/github-pr-flow/rules.json",
        "examples/sentry-to-tasks/rules.json",
        "examples/website-feedback/rules.json",
    ]

    static func shippedConfig() throws(DiagnosticsError) -> TaskBridgeConfig {
        try ConfigParser.parse(repoFile("config/taskbridge.json"), file: "config/taskbridge.json", kinds: TargetKinds.all)
    }

    /// The three example rule sets parsed against the shipped config.
    static func exampleRules() throws(DiagnosticsError) -> RuleSet {
        try RuleParser(config: shippedConfig()).parse(exampleRuleFiles.map { .init(path: $0, bytes: repoFile($0)) })
    }

    /// Parses one rule file given as text against the shipped config.
    static func parseRules(_ text: String, file: String = "rules/test.json") throws(DiagnosticsError) -> RuleSet {
        try RuleParser(config: shippedConfig()).parse([.init(path: file, bytes: Array(text.utf8))])
    }

    /// The diagnostics (as `file: path: message` lines) that parsing `text` produces.
    static func ruleDiagnostics(_ text: String, file: String = "rules/test.json") -> [String] {
        do {
            _ = try parseRules(text, file: file)
            return []
        } catch {
            return error.diagnostics.map(\.description)
        }
    }

    /// The diagnostics `body` throws, as `file: path: message` lines; `[]` when it does not throw.
    static func diagnostics(_ body: () throws -> Void) -> [String] {
        do {
            try body()
            return []
        } catch let error as DiagnosticsError {
            return error.diagnostics.map(\.description)
        } catch {
            Issue.record("unexpected error \(error)")
            return ["unexpected error"]
        }
    }

    /// An event context over `body` as the rule engine would build it.
    static func context(source: String, type: String, body: JSONValue, headers: [String: String] = [:],
                        dedupeKey: String? = "delivery-1", clientIP: String? = "203.0.113.9",
                        captures: [String: String] = [:], steps: [String: JSONValue] = [:]) -> EventContext {
        EventContext(id: "evt_test", type: type, source: source, receivedAtMillis: 1_700_000_000_000, dedupeKey: dedupeKey,
                     body: body, headers: headers, clientIP: clientIP, captures: captures, steps: steps)
    }
}

// MARK: - Derived variants

/// A payload derived from a real fixture by setting named fields, re-serialized with
/// ``JSONWriter``. Listed in `Tests/Fixtures/SOURCES.md` ("Derived variants").
struct DerivedVariant: Sendable, CustomTestStringConvertible {
    let name: String
    let base: String
    let changes: [(path: String, value: JSONValue)]

    var testDescription: String { name }

    /// The modified document; every changed field must already exist in the base fixture.
    func document() throws -> JSONValue {
        Fixtures.derivedDocument(base, changes.map { ($0.path, $0.value) })
    }

    func bytes() throws -> [UInt8] {
        JSONWriter.serializeBytes(try document())
    }

    struct MissingField: Error, CustomStringConvertible {
        let path: String
        var description: String { "derived variant changes \(path), which the base fixture does not have" }
    }

    /// Sets an existing field (`pull_request.head.ref`) of `doc`.
    func setting(_ value: JSONValue, at path: String, in doc: JSONValue) throws -> JSONValue {
        guard let changed = Fixtures.setting(value, at: path, in: doc) else { throw MissingField(path: path) }
        return changed
    }
}

extension DerivedVariant {
    static let taskBranch: JSONValue = "gc-task_7-login-fix"

    /// `pull_request.opened`, ready (not draft), branch references gc-task_7.
    static let prOpenedWithTaskBranch = DerivedVariant(
        name: "pull_request.opened + head.ref gc-task_7", base: "github/pull_request.opened",
        changes: [("pull_request.head.ref", taskBranch)])
    /// `pull_request.opened` as a draft, branch references gc-task_7.
    static let prOpenedAsDraft = DerivedVariant(
        name: "pull_request.opened as draft + head.ref gc-task_7", base: "github/pull_request.opened",
        changes: [("pull_request.draft", true), ("pull_request.head.ref", taskBranch)])
    /// `pull_request.converted_to_draft` (already draft), branch references gc-task_7.
    static let prConvertedToDraftWithTaskBranch = DerivedVariant(
        name: "pull_request.converted_to_draft + head.ref gc-task_7", base: "github/pull_request.converted_to_draft",
        changes: [("pull_request.head.ref", taskBranch)])
    /// `pull_request.ready_for_review` whose body says "Fixes gc-task_9".
    static let prReadyWithFixesBody = DerivedVariant(
        name: "pull_request.ready_for_review + body Fixes gc-task_9", base: "github/pull_request.ready_for_review",
        changes: [("pull_request.body", "Fixes gc-task_9 by updating the README.")])
    /// `pull_request.review_requested` whose title starts with "GC-42".
    static let prReviewRequestedWithTaskTitle = DerivedVariant(
        name: "pull_request.review_requested + title GC-42", base: "github/pull_request.review_requested",
        changes: [("pull_request.title", "GC-42: Update the README with new information.")])
    /// `pull_request.closed` merged, branch references gc-task_7.
    static let prMerged = DerivedVariant(
        name: "pull_request.closed merged + head.ref gc-task_7", base: "github/pull_request.closed",
        changes: [("pull_request.merged", true), ("pull_request.head.ref", taskBranch)])
    /// `pull_request.closed` without merging, branch references gc-task_7.
    static let prClosedUnmerged = DerivedVariant(
        name: "pull_request.closed unmerged + head.ref gc-task_7", base: "github/pull_request.closed",
        changes: [("pull_request.head.ref", taskBranch)])
    /// Sentry `issue.resolved`: the `issue.created` payload with action and status resolved.
    static let sentryIssueResolved = DerivedVariant(
        name: "sentry issue.resolved", base: "sentry/issue.created",
        changes: [("action", "resolved"), ("data.issue.status", "resolved")])
    /// Sentry `issue.unresolved` (regression): action unresolved.
    static let sentryIssueUnresolved = DerivedVariant(
        name: "sentry issue.unresolved", base: "sentry/issue.created",
        changes: [("action", "unresolved")])
    /// Sentry `issue.created` at level fatal.
    static let sentryIssueFatal = DerivedVariant(
        name: "sentry issue.created fatal", base: "sentry/issue.created",
        changes: [("data.issue.level", "fatal")])

    /// Every derived variant, as listed in SOURCES.md.
    static let all: [DerivedVariant] = [
        .prOpenedWithTaskBranch, .prOpenedAsDraft, .prConvertedToDraftWithTaskBranch, .prReadyWithFixesBody,
        .prReviewRequestedWithTaskTitle, .prMerged, .prClosedUnmerged, .sentryIssueResolved, .sentryIssueUnresolved,
        .sentryIssueFatal,
    ]
}
