import TaskBridgeCore

/// The state of one fake PostHog project (a "team", addressed by its numeric id) and the
/// rules for changing it, as `docs/targets-research.md` §1 found them in PostHog's source.
/// Pure: the HTTP layer (``PostHogFake``) authenticates, parses and routes, then calls in
/// here. Where the research found nothing, the behaviour is the minimal one and says so.
///
/// **Runs progress per poll, not per second.** A run is created `queued` (the `run` answer
/// shows it so) and then follows its ``RunScript``: every read that exposes the run
/// (``retrieveTask(_:by:)``, ``listRuns(_:query:by:link:)``, ``retrieveRun(_:_:by:)``)
/// advances it one step, and the last step repeats forever. Task *lists* do not advance
/// runs, so a reconciliation search never moves a run on.
///
/// **Unknown request fields.** Real PostHog (DRF serializers) silently drops fields it does
/// not declare (§1.8). The fake does the same by default but records each one in
/// ``unknownFields`` so a test can assert a client never sent one. With
/// ``strictUnknownFields`` on, it answers `400 validation_error / unknown_field` instead:
/// a fake-only behaviour, for a connector's own unit tests.
public struct PostHogProject: Sendable {
    /// An error answer. Most are PostHog's drf-exceptions-hog shape
    /// `{"type","code","detail","attr"}` (§1.7); the `run` action also answers
    /// `{"detail": …}` and the usage-limit 429 body, so the body is kept whole.
    public struct Failure: Error, Sendable, Hashable {
        public let status: Int
        public let body: JSONValue

        public init(_ status: Int, type: String, code: String, detail: String, attr: String? = nil) {
            self.status = status
            self.body = ["type": .string(type), "code": .string(code), "detail": .string(detail), "attr": attr.map(JSONValue.string) ?? .null]
        }

        public init(status: Int, body: JSONValue) {
            self.status = status
            self.body = body
        }

        /// `400 validation_error` for one field (`attr`), DRF's codes and messages.
        public static func invalid(_ attr: String?, _ detail: String, code: String = "invalid") -> Failure {
            Failure(400, type: "validation_error", code: code, detail: detail, attr: attr)
        }

        public static let notFound = Failure(404, type: "invalid_request", code: "not_found", detail: "Not found.")

        public var detail: String? { body["detail"]?.stringValue ?? body["error"]?.stringValue }
        public var code: String? { body["code"]?.stringValue }
        public var attr: String? { body["attr"]?.stringValue }
    }

    /// The user behind an API key; rendered as a task's `created_by` (§1.4).
    public struct User: Sendable, Hashable {
        public var id: Int
        public var uuid: String
        public var distinctId: String
        public var firstName: String
        public var lastName: String
        public var email: String

        public init(id: Int, uuid: String, distinctId: String, firstName: String, lastName: String, email: String) {
            self.id = id
            self.uuid = uuid
            self.distinctId = distinctId
            self.firstName = firstName
            self.lastName = lastName
            self.email = email
        }

        public static let ada = User(id: 1, uuid: "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b", distinctId: "ada-distinct-id",
                                     firstName: "Ada", lastName: "Lovelace", email: "ada@example.com")

        var json: JSONValue {
            ["id": .number(Double(id)), "uuid": .string(uuid), "distinct_id": .string(distinctId), "first_name": .string(firstName),
             "last_name": .string(lastName), "email": .string(email), "is_email_verified": true, "hedgehog_config": nil,
             "role_at_organization": nil]
        }
    }

    /// `TaskRun.Status` (§1.5).
    public enum RunStatus: String, Sendable, Hashable, CaseIterable {
        case notStarted = "not_started", queued, inProgress = "in_progress", completed, failed, cancelled

        /// `TaskRun.is_terminal`: completed, failed or cancelled.
        public var isTerminal: Bool { self == .completed || self == .failed || self == .cancelled }
    }

    /// What a run does over the reads that expose it. Read *k* (from 1) shows
    /// `steps[min(k - 1, steps.count - 1)]`; before the first read the run is `queued`.
    public struct RunScript: Sendable, Hashable {
        public enum PullRequest: Sendable, Hashable {
            /// `output = {"pr_url": "https://github.com/<repository>/pull/<n>"}`, `n` counting
            /// per project from 1 (the URL form is the fake's; PostHog only names the key).
            /// A task without a repository completes with `output: null`.
            case automatic
            /// `output: null` (a run that opened no PR).
            case none
            case url(String)
        }

        public enum Step: Sendable, Hashable {
            case queued, inProgress
            case completed(PullRequest)
            /// `failed` with this `error_message`, as `mark_failed(error)` sets it.
            case failed(String)
            case cancelled

            var status: RunStatus {
                switch self {
                case .queued: .queued
                case .inProgress: .inProgress
                case .completed: .completed
                case .failed: .failed
                case .cancelled: .cancelled
                }
            }
        }

        public var steps: [Step]
        public init(steps: [Step]) { self.steps = steps }

        static func lead(_ queued: Int, _ inProgress: Int) -> [Step] {
            Array(repeating: .queued, count: max(0, queued)) + Array(repeating: .inProgress, count: max(0, inProgress))
        }

        /// `queued` for `queuedPolls` reads, `in_progress` for `inProgressPolls`, then `completed`.
        public static func completes(queuedPolls: Int = 1, inProgressPolls: Int = 1, pullRequest: PullRequest = .automatic) -> RunScript {
            RunScript(steps: lead(queuedPolls, inProgressPolls) + [.completed(pullRequest)])
        }

        public static func fails(_ message: String = "Agent could not reproduce the error", queuedPolls: Int = 1,
                                 inProgressPolls: Int = 1) -> RunScript {
            RunScript(steps: lead(queuedPolls, inProgressPolls) + [.failed(message)])
        }

        public static func cancels(queuedPolls: Int = 1, inProgressPolls: Int = 1) -> RunScript {
            RunScript(steps: lead(queuedPolls, inProgressPolls) + [.cancelled])
        }

        /// Completed without a PR (`output: null`).
        public static func noPR(queuedPolls: Int = 1, inProgressPolls: Int = 1) -> RunScript {
            completes(queuedPolls: queuedPolls, inProgressPolls: inProgressPolls, pullRequest: .none)
        }

        /// A lost workflow dispatch: the run stays `queued` forever (§1.5 "Lost dispatch").
        public static let stuckQueued = RunScript(steps: [.queued])
    }

    public struct TaskRecord: Sendable, Hashable {
        public var id: String
        public var taskNumber: Int
        public var title: String
        public var titleManuallySet: Bool
        public var description: String
        public var originProduct: String
        public var repository: String?
        public var githubIntegration: Int?
        public var githubUserIntegration: String?
        public var signalReport: String?
        public var jsonSchema: JSONValue
        public var isInternal: Bool
        public var archived: Bool
        public var archivedAt: Double?
        public var ciPrompt: String?
        public var channel: String?
        public var createdAt: Double
        public var updatedAt: Double
        public var createdBy: User?
        /// Soft-deleted (`DELETE`): invisible to every route afterwards.
        public var deleted = false
        /// Oldest first.
        public var runIds: [String] = []
        /// Creation order, for the `-created_at, -id` ordering's tie-break.
        var sequence: Int
    }

    public struct RunRecord: Sendable, Hashable {
        public var id: String
        public var taskId: String
        public var stage: String?
        public var branch: String?
        public var status: RunStatus
        public var environment: String
        public var runtimeAdapter: String?
        public var provider: String?
        public var model: String?
        public var reasoningEffort: String?
        public var errorMessage: String?
        public var output: JSONValue
        public var state: JSONValue
        public var createdAt: Double
        public var updatedAt: Double
        public var completedAt: Double?
        /// The request body of the `run` call that created it.
        public var request: [String: JSONValue]
        public var script: RunScript
        /// Reads that exposed this run so far.
        public var polls = 0
        var sequence: Int
    }

    /// A field a request carried that PostHog does not declare (ignored, or refused when strict).
    public struct UnknownField: Sendable, Hashable {
        public var operation: String
        public var field: String
        public init(operation: String, field: String) {
            self.operation = operation
            self.field = field
        }
    }

    public struct AppliedChange: Sendable, Hashable {
        public var op: String
        public var taskId: String
        public var fields: [String: JSONValue]
    }

    /// The body of the usage-quota 429 that `run` answers (§1.7 "429 from `run`"), with no
    /// `Retry-After` header.
    public struct UsageLimit: Sendable, Hashable {
        public var limitType: String
        public var resetAt: String
        public var isPro: Bool
        public init(limitType: String = "burst", resetAt: String = "2030-01-01T00:00:00Z", isPro: Bool = false) {
            self.limitType = limitType
            self.resetAt = resetAt
            self.isPro = isPro
        }
    }

    public var id: Int
    /// The team name; a task's `slug` is its prefix (`Task.generate_team_prefix`) and number.
    public var name: String
    /// The team's GitHub `Integration` ids. The first is the default of a create that omits
    /// `github_integration` ([PH-facade] `create_task`).
    public var githubIntegrations: [Int]
    /// `UserIntegration` ids the key's user owns (none by default; any other value is refused).
    public var githubUserIntegrations: Set<String> = []
    /// `Task.OriginProduct` as [PH-models] @00b6fd7c lists it. The set changes between
    /// PostHog versions (§1.3), so it is settable. `image_builder` is always refused.
    public var originProducts: Set<String> = [
        "onboarding", "error_tracking", "eval_clusters", "user_created", "automation", "slack", "support_queue",
        "session_summaries", "posthog_ai", "experiments", "signal_report", "signals_scout", "support_reply", "hogdesk",
        "review_hog", "image_builder", "loop", "mcp_analytics",
    ]
    /// Refuse undeclared request fields with 400 (fake-only; off like real PostHog).
    public var strictUnknownFields = false
    /// When set, every `run` answers the usage-limit 429 and creates nothing.
    public var usageLimit: UsageLimit?
    /// The script of a run when nothing more specific is set.
    public var defaultRunScript = RunScript.completes()
    /// Scripts for the next runs created in this project, in order (consumed one per run),
    /// for tests that do not know the task id in advance. Checked after ``runScripts``.
    public var nextRunScripts: [RunScript] = []
    /// Scripts per task id (every run of that task).
    public var runScripts: [String: RunScript] = [:]
    /// The clock, in Unix seconds. Every change advances it by one second, so
    /// `created_at` is strictly increasing and deterministic.
    public var now: Double = 1_700_000_000

    public private(set) var tasks: [String: TaskRecord] = [:]
    public private(set) var runs: [String: RunRecord] = [:]
    public private(set) var taskOrder: [String] = []
    public private(set) var unknownFields: [UnknownField] = []
    /// Every change applied, in order: what actually happened, whatever the client saw.
    public private(set) var applied: [AppliedChange] = []
    var rng: SplitMix64
    var sequence = 0
    var pullRequests = 0

    public init(id: Int, name: String = "Default Project", githubIntegrations: [Int] = []) {
        self.id = id
        self.name = name
        self.githubIntegrations = githubIntegrations
        self.rng = SplitMix64(state: 0x5057_4F47_0000 &+ UInt64(truncatingIfNeeded: id))
    }

    /// Project 1 ("Default Project", slug prefix `DEF`) with one GitHub integration, id 101.
    public static func standard() -> PostHogProject {
        PostHogProject(id: 1, githubIntegrations: [101])
    }

    // MARK: - Reading state (for tests)

    /// Tasks oldest first, soft-deleted ones included (see ``TaskRecord/deleted``).
    public var allTasks: [TaskRecord] { taskOrder.compactMap { tasks[$0] } }
    public func task(_ id: String) -> TaskRecord? { tasks[id] }
    /// The runs of a task, oldest first.
    public func runs(ofTask id: String) -> [RunRecord] { (tasks[id]?.runIds ?? []).compactMap { runs[$0] } }
    /// Live tasks whose description contains `marker` (for "exactly one task per event").
    public func tasks(describedWith marker: String) -> [TaskRecord] {
        allTasks.filter { !$0.deleted && $0.description.contains(marker) }
    }

    public mutating func clearUnknownFields() { unknownFields.removeAll() }

    // MARK: - Helpers

    mutating func tick() -> Double {
        now += 1
        return now
    }

    mutating func makeUUID() -> String {
        let a = rng.next(), b = rng.next()
        func hex(_ v: UInt64, _ digits: Int) -> String {
            let s = String(v, radix: 16)
            return String(repeating: "0", count: max(0, digits - s.count)) + s
        }
        let timeLow = a >> 32, timeMid = (a >> 16) & 0xFFFF, version = (a & 0x0FFF) | 0x4000
        let variant = ((b >> 48) & 0x3FFF) | 0x8000, node = b & 0xFFFF_FFFF_FFFF
        return "\(hex(timeLow, 8))-\(hex(timeMid, 4))-\(hex(version, 4))-\(hex(variant, 4))-\(hex(node, 12))"
    }

    static func isUUID(_ s: String) -> Bool {
        let parts = s.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.map(\.count) == [8, 4, 4, 4, 12] else { return false }
        return parts.allSatisfy { $0.allSatisfy(\.isHexDigit) }
    }

    /// `Task.generate_team_prefix` ([PH-models] @00b6fd7c): the first three capitals of the
    /// alphanumeric name when it has three, else its first three characters upper-cased,
    /// else `TSK`.
    public static func teamPrefix(_ name: String) -> String {
        let clean = name.filter { $0.isLetter || $0.isNumber }
        let capitals = clean.filter(\.isUppercase)
        if capitals.count >= 3 { return String(capitals.prefix(3)) }
        return clean.isEmpty ? "TSK" : String(clean.prefix(3)).uppercased()
    }

    func visible(_ task: TaskRecord, to user: User) -> Bool {
        // §1.6 Visibility: the creator, or tasks with no creator (team-readable origins and
        // channels are not modelled). The same rule is used for control (§1.6 `task_control_q`).
        !task.deleted && (task.createdBy == nil || task.createdBy?.id == user.id)
    }

    func visibleTask(_ id: String, by user: User) throws(Failure) -> TaskRecord {
        guard let task = tasks[id], visible(task, to: user) else { throw .notFound }
        return task
    }

    mutating func noteUnknown(_ body: [String: JSONValue], allowed: Set<String>, operation: String) throws(Failure) {
        for key in body.keys.sorted() where !allowed.contains(key) {
            if strictUnknownFields {
                throw .invalid(key, "Unknown field: \(key) (the fake's strict mode; real PostHog ignores it)", code: "unknown_field")
            }
            unknownFields.append(UnknownField(operation: operation, field: key))
        }
    }

    // MARK: - Field validation (DRF's messages and codes)

    /// The Python type name DRF puts in "received …" messages.
    static func pythonType(_ v: JSONValue) -> String {
        switch v {
        case .null: "NoneType"
        case .bool: "bool"
        case .number(let n): n == n.rounded() ? "int" : "float"
        case .string: "str"
        case .array: "list"
        case .object: "dict"
        }
    }

    static func string(_ body: [String: JSONValue], _ key: String, nullable: Bool, maxLength: Int? = nil) throws(Failure) -> String?? {
        guard let value = body[key] else { return .none }
        if value.isNull {
            guard nullable else { throw .invalid(key, "This field may not be null.", code: "null") }
            return .some(nil)
        }
        // DRF's CharField would coerce a number to text; the fake refuses it (stricter), so a
        // client that sends a number where PostHog documents a string is caught.
        guard let s = value.stringValue else { throw .invalid(key, "Not a valid string.") }
        if let maxLength, s.count > maxLength {
            throw .invalid(key, "Ensure this field has no more than \(maxLength) characters.", code: "max_length")
        }
        return .some(s)
    }

    static func bool(_ body: [String: JSONValue], _ key: String, nullable: Bool = false) throws(Failure) -> Bool?? {
        guard let value = body[key] else { return .none }
        if value.isNull {
            guard nullable else { throw .invalid(key, "This field may not be null.", code: "null") }
            return .some(nil)
        }
        // DRF also accepts "true"/1; the fake wants a JSON boolean (stricter, as above).
        guard let b = value.boolValue else { throw .invalid(key, "Must be a valid boolean.") }
        return .some(b)
    }

    static func choice(_ body: [String: JSONValue], _ key: String, _ choices: Set<String>, nullable: Bool) throws(Failure) -> String?? {
        guard let value = body[key] else { return .none }
        if value.isNull {
            guard nullable else { throw .invalid(key, "This field may not be null.", code: "null") }
            return .some(nil)
        }
        guard let s = value.stringValue, choices.contains(s) else {
            throw .invalid(key, "\"\(value.textValue)\" is not a valid choice.", code: "invalid_choice")
        }
        return .some(s)
    }

    // MARK: - Tasks

    /// `TaskWriteSerializer`'s declared fields ([PH-ser], §1.3). The write-only "warm
    /// sandbox" hints are accepted and have no effect here.
    static let writeFields: Set<String> = [
        "title", "title_manually_set", "description", "origin_product", "repository", "github_integration",
        "github_user_integration", "signal_report", "signal_report_task_relationship", "json_schema", "internal", "archived",
        "ci_prompt", "branch", "runtime_adapter", "model", "reasoning_effort", "pending_user_message",
        "pending_user_artifact_ids", "auto_publish", "channel",
    ]

    /// The validated values of a create or update body (absent keys stay `nil`).
    struct Write {
        var title: String?
        var titleManuallySet: Bool?
        var description: String?
        var originProduct: String?
        var repository: String??
        var githubIntegration: Int??
        var githubUserIntegration: String??
        var signalReport: String??
        var jsonSchema: JSONValue?
        var isInternal: Bool?
        var archived: Bool?
        var ciPrompt: String??
        var channel: String??
    }

    func validateWrite(_ body: [String: JSONValue]) throws(Failure) -> Write {
        var w = Write()
        // Declaration order, so the first error is the one DRF would report first.
        if let t = try Self.string(body, "title", nullable: false, maxLength: 255) { w.title = t }
        if let b = try Self.bool(body, "title_manually_set") { w.titleManuallySet = b }
        if let d = try Self.string(body, "description", nullable: false) { w.description = d }
        if let o = try Self.choice(body, "origin_product", originProducts, nullable: false) {
            if o == "image_builder" {
                throw .invalid("origin_product", "image_builder is reserved for image-builder sessions")
            }
            w.originProduct = o
        }
        if let r = try Self.string(body, "repository", nullable: true, maxLength: 255) {
            if let repo = r, !repo.isEmpty {
                let parts = repo.split(separator: "/", omittingEmptySubsequences: false)
                guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else {
                    throw .invalid("repository", "Repository must be in the format organization/repository")
                }
                w.repository = .some(repo.lowercased())
            } else {
                w.repository = .some(r)
            }
        }
        if let g = body["github_integration"] {
            if g.isNull {
                w.githubIntegration = .some(nil)
            } else {
                guard let n = g.numberValue, n == n.rounded(), abs(n) < 1e15 else {
                    throw .invalid("github_integration", "Incorrect type. Expected pk value, received \(Self.pythonType(g)).",
                                   code: "incorrect_type")
                }
                guard githubIntegrations.contains(Int(n)) else {
                    throw .invalid("github_integration", "Invalid pk \"\(Int(n))\" - object does not exist.", code: "does_not_exist")
                }
                w.githubIntegration = .some(Int(n))
            }
        }
        if let u = try Self.string(body, "github_user_integration", nullable: true) {
            if let id = u, !githubUserIntegrations.contains(id) {
                throw .invalid("github_user_integration", "Invalid pk \"\(id)\" - object does not exist.", code: "does_not_exist")
            }
            w.githubUserIntegration = .some(u)
        }
        if let s = try Self.string(body, "signal_report", nullable: true) { w.signalReport = .some(s) }
        // signal_report_task_relationship: accepted and not modelled (Signals are not needed, §1.3).
        _ = try Self.string(body, "signal_report_task_relationship", nullable: false, maxLength: 200)
        if let j = body["json_schema"] { w.jsonSchema = j }
        if let b = try Self.bool(body, "internal") { w.isInternal = b }
        if let b = try Self.bool(body, "archived") { w.archived = b }
        if let c = try Self.string(body, "ci_prompt", nullable: true) { w.ciPrompt = .some(c) }
        _ = try Self.string(body, "branch", nullable: true, maxLength: 255)
        _ = try Self.choice(body, "runtime_adapter", ["claude", "codex"], nullable: true)
        _ = try Self.string(body, "model", nullable: true)
        _ = try Self.string(body, "reasoning_effort", nullable: true)
        _ = try Self.string(body, "pending_user_message", nullable: true)
        if let ids = body["pending_user_artifact_ids"], ids.arrayValue?.allSatisfy({ $0.stringValue != nil }) != true {
            throw .invalid("pending_user_artifact_ids", "Expected a list of items but got type \"\(ids.typeName)\".", code: "not_a_list")
        }
        _ = try Self.bool(body, "auto_publish", nullable: true)
        if let c = try Self.string(body, "channel", nullable: true) { w.channel = .some(c) }
        return w
    }

    /// `POST …/tasks/` → 201 Task.
    public mutating func createTask(_ body: [String: JSONValue], by user: User) throws(Failure) -> JSONValue {
        let w = try validateWrite(body)
        try noteUnknown(body, allowed: Self.writeFields, operation: "create")
        let description = w.description ?? ""
        var title = w.title ?? ""
        if title.isEmpty {
            // PostHog generates the title from the description with an LLM
            // (`generate_task_title`, §1.3); the fake takes the first line's first eight words.
            let firstLine = description.split(whereSeparator: \.isNewline).first.map(String.init) ?? ""
            title = String(firstLine.split(separator: " ").prefix(8).joined(separator: " ").prefix(255))
        }
        let now = tick()
        sequence += 1
        // `_assign_task_number`: max + 1, starting at 0 ([PH-models] @00b6fd7c).
        let number = (tasks.values.map(\.taskNumber).max() ?? -1) + 1
        let task = TaskRecord(
            id: makeUUID(), taskNumber: number, title: title,
            // Unknown whether a create with a title marks it manually set; the fake keeps the body's value.
            titleManuallySet: w.titleManuallySet ?? false, description: description,
            originProduct: w.originProduct ?? "user_created", repository: w.repository ?? nil,
            githubIntegration: w.githubIntegration ?? githubIntegrations.first, githubUserIntegration: w.githubUserIntegration ?? nil,
            signalReport: w.signalReport ?? nil, jsonSchema: w.jsonSchema ?? .null, isInternal: w.isInternal ?? false,
            archived: w.archived ?? false, archivedAt: (w.archived ?? false) ? now : nil, ciPrompt: w.ciPrompt ?? nil,
            channel: w.channel ?? nil, createdAt: now, updatedAt: now, createdBy: user, sequence: sequence)
        tasks[task.id] = task
        taskOrder.append(task.id)
        applied.append(AppliedChange(op: "create", taskId: task.id, fields: body))
        return render(task)
    }

    /// `GET …/tasks/{id}/` → Task. Advances the latest run one step.
    public mutating func retrieveTask(_ id: String, by user: User) throws(Failure) -> JSONValue {
        let task = try visibleTask(id, by: user)
        if let latest = task.runIds.last { advance(latest) }
        return render(tasks[id]!)
    }

    /// `PATCH` (and `PUT`) `…/tasks/{id}/` → Task. `origin_product` and `signal_report`
    /// are immutable after creation and ignored ([PH-facade] `update_task`).
    public mutating func updateTask(_ id: String, _ body: [String: JSONValue], by user: User) throws(Failure) -> JSONValue {
        var task = try visibleTask(id, by: user)
        let w = try validateWrite(body)
        try noteUnknown(body, allowed: Self.writeFields, operation: "update")
        let now = tick()
        if let t = w.title {
            task.title = t
            task.titleManuallySet = w.titleManuallySet ?? true
        } else if let m = w.titleManuallySet {
            task.titleManuallySet = m
        }
        if let d = w.description { task.description = d }
        if let r = w.repository { task.repository = r }
        if let g = w.githubIntegration { task.githubIntegration = g }
        if let u = w.githubUserIntegration { task.githubUserIntegration = u }
        if let j = w.jsonSchema { task.jsonSchema = j }
        if let i = w.isInternal { task.isInternal = i }
        if let a = w.archived, a != task.archived {
            task.archived = a
            task.archivedAt = a ? now : nil
        }
        if let c = w.ciPrompt { task.ciPrompt = c }
        if let c = w.channel { task.channel = c }
        task.updatedAt = now
        tasks[id] = task
        applied.append(AppliedChange(op: "update", taskId: id, fields: body))
        return render(task)
    }

    /// `DELETE …/tasks/{id}/` → 204: a soft delete ([PH-models] `soft_delete`).
    public mutating func deleteTask(_ id: String, by user: User) throws(Failure) {
        var task = try visibleTask(id, by: user)
        task.deleted = true
        task.updatedAt = tick()
        tasks[id] = task
        applied.append(AppliedChange(op: "delete", taskId: id, fields: [:]))
    }

    /// A task list page. `link(limit, offset)` builds the absolute URL of another page.
    public func listTasks(query: [String: String], by user: User, link: (Int, Int?) -> String) throws(Failure) -> JSONValue {
        func flag(_ key: String) throws(Failure) -> Bool? {
            // `true|false|all`; the default excludes (§1.6).
            switch query[key] ?? "false" {
            case "true": return true
            case "false": return false
            case "all": return nil
            case let other: throw .invalid(key, "\"\(other)\" is not a valid choice.", code: "invalid_choice")
            }
        }
        let isInternal = try flag("internal"), archived = try flag("archived")
        var createdBy: Int?
        if let c = query["created_by"] {
            guard let n = Int(c) else { throw .invalid("created_by", "A valid integer is required.") }
            createdBy = n
        }
        if let s = query["status"], RunStatus(rawValue: s) == nil {
            throw .invalid("status", "\"\(s)\" is not a valid choice.", code: "invalid_choice")
        }
        let search = (query["search"] ?? "").trimmingWhitespace()
        // The part after the last `-` (the whole term without one) also matches `task_number`.
        let searchNumber = search.split(separator: "-", omittingEmptySubsequences: false).last
            .flatMap { $0.isEmpty || !$0.allSatisfy(\.isASCIIDigitChar) ? nil : Int($0) }
        let list = allTasks.filter { t in
            guard visible(t, to: user) else { return false }
            if let isInternal, t.isInternal != isInternal { return false }
            if let archived, t.archived != archived { return false }
            if !search.isEmpty {
                let needle = search.lowercased()
                let textHit = t.title.lowercased().contains(needle) || t.description.lowercased().contains(needle)
                if !textHit && searchNumber != t.taskNumber { return false }
            }
            if let o = query["origin_product"], t.originProduct != o { return false }
            if let r = query["repository"]?.lowercased() {
                let repo = t.repository?.lowercased() ?? ""
                if r.contains("/") ? repo != r : !repo.hasSuffix("/" + r) { return false }
            }
            if let org = query["organization"]?.lowercased(), !(t.repository?.lowercased() ?? "").hasPrefix(org + "/") { return false }
            if let createdBy, t.createdBy?.id != createdBy { return false }
            if let s = query["status"], t.runIds.last.flatMap({ runs[$0] })?.status.rawValue != s { return false }
            if let stage = query["stage"], !t.runIds.contains(where: { runs[$0]?.stage == stage }) { return false }
            if let channel = query["channel"], t.channel != channel { return false }
            return true
        }
        // `-created_at, -id`; the fake breaks ties by creation order instead of the UUID.
        let ordered = list.sorted { ($0.createdAt, $0.sequence) > ($1.createdAt, $1.sequence) }
        return Self.page(ordered.map(render), query: query, link: link)
    }

    /// `TasksPagination(LimitOffsetPagination)`: default 50, max 100; a bad limit falls
    /// back to the default and a bad offset to 0, as DRF does.
    static func page(_ items: [JSONValue], query: [String: String], link: (Int, Int?) -> String) -> JSONValue {
        var limit = 50
        if let l = query["limit"].flatMap({ Int($0) }), l > 0 { limit = min(l, 100) }
        var offset = 0
        if let o = query["offset"].flatMap({ Int($0) }), o >= 0 { offset = o }
        let slice = offset < items.count ? Array(items[offset..<min(items.count, offset + limit)]) : []
        let next: JSONValue = offset + limit < items.count ? .string(link(limit, offset + limit)) : .null
        let previous: JSONValue = offset <= 0 ? .null : .string(link(limit, offset - limit <= 0 ? nil : offset - limit))
        return ["count": .number(Double(items.count)), "next": next, "previous": previous, "results": .array(slice)]
    }

    // MARK: - Runs

    /// `TaskRunCreateRequestSerializer`'s declared fields ([PH-ser], §1.3).
    static let runFields: Set<String> = [
        "mode", "branch", "resume_from_run_id", "pending_user_message", "pending_user_artifact_ids", "sandbox_environment_id",
        "custom_image_id", "pr_authorship_mode", "auto_publish", "run_source", "signal_report_id", "runtime_adapter", "model",
        "reasoning_effort", "github_user_token", "initial_permission_mode",
    ]

    /// `POST …/tasks/{id}/run/` → 200 Task whose `latest_run` is a **new** `queued` run,
    /// every call (not idempotent, §1.9).
    public mutating func runTask(_ id: String, _ body: [String: JSONValue], by user: User) throws(Failure) -> JSONValue {
        var task = try visibleTask(id, by: user)
        let mode: String = try Self.choice(body, "mode", ["interactive", "background"], nullable: false).flatMap { $0 } ?? "background"
        let branch: String? = try Self.string(body, "branch", nullable: true, maxLength: 255) ?? nil
        if let resume = try Self.string(body, "resume_from_run_id", nullable: true), let resume {
            guard Self.isUUID(resume) else { throw .invalid("resume_from_run_id", "Must be a valid UUID.") }
            guard task.runIds.contains(resume.lowercased()) else {
                throw Failure(status: 400, body: ["detail": "Invalid resume_from_run_id"])
            }
        }
        _ = try Self.choice(body, "pr_authorship_mode", ["user", "bot"], nullable: true)
        _ = try Self.bool(body, "auto_publish", nullable: true)
        let adapter: String? = try Self.choice(body, "runtime_adapter", ["claude", "codex"], nullable: true) ?? nil
        let model: String? = try Self.string(body, "model", nullable: true) ?? nil
        let effort: String? = try Self.string(body, "reasoning_effort", nullable: true) ?? nil
        for key in ["pending_user_message", "sandbox_environment_id", "custom_image_id", "run_source", "signal_report_id",
                    "github_user_token", "initial_permission_mode"] {
            _ = try Self.string(body, key, nullable: true)
        }
        if let ids = body["pending_user_artifact_ids"], ids.arrayValue?.allSatisfy({ $0.stringValue != nil }) != true {
            throw .invalid("pending_user_artifact_ids", "Expected a list of items but got type \"\(ids.typeName)\".", code: "not_a_list")
        }
        try noteUnknown(body, allowed: Self.runFields, operation: "run")
        if let limit = usageLimit {
            throw Failure(status: 429, body: [
                "type": "rate_limited", "code": "usage_limit_exceeded", "error": "You've reached your PostHog Desktop usage limit.",
                "is_pro": .bool(limit.isPro), "limit_type": .string(limit.limitType), "reset_at": .string(limit.resetAt),
            ])
        }
        let script: RunScript
        if let s = runScripts[id] {
            script = s
        } else if !nextRunScripts.isEmpty {
            script = nextRunScripts.removeFirst()
        } else {
            script = defaultRunScript
        }
        let now = tick()
        sequence += 1
        // `Task.create_run`: status queued, `state = {"mode": …, "repositories": […]}`
        // ([PH-models] @00b6fd7c; its stream-routing key is left out). `environment` for an
        // API-started run is not stated in the research; the fake says `cloud`.
        let run = RunRecord(
            id: makeUUID(), taskId: id, stage: nil, branch: branch, status: .queued, environment: "cloud",
            runtimeAdapter: adapter, provider: nil, model: model, reasoningEffort: effort, errorMessage: nil, output: .null,
            state: ["mode": .string(mode), "repositories": .array(task.repository.map { [.string($0)] } ?? [])],
            createdAt: now, updatedAt: now, completedAt: nil, request: body, script: script, sequence: sequence)
        runs[run.id] = run
        task.runIds.append(run.id)
        tasks[id] = task
        applied.append(AppliedChange(op: "run", taskId: id, fields: body))
        return render(task)
    }

    /// `GET …/tasks/{id}/runs/` → a page of runs, newest first (the order is not stated in
    /// the research; newest first like tasks). Advances every run on the page one step.
    public mutating func listRuns(_ taskId: String, query: [String: String], by user: User,
                                  link: (Int, Int?) -> String) throws(Failure) -> JSONValue {
        let task = try visibleTask(taskId, by: user)
        let ids = task.runIds.reversed().map { $0 }
        var all = ids.map { JSONValue.string($0) }
        // Page first, so only the runs the client sees advance.
        let page = Self.page(all, query: query, link: link)
        let shown = page["results"]?.arrayValue?.compactMap(\.stringValue) ?? []
        for id in shown { advance(id) }
        all = shown.compactMap { runs[$0].map(render) }
        var out = page.objectValue ?? [:]
        out["results"] = .array(all)
        return .object(out)
    }

    /// `GET …/tasks/{id}/runs/{run_id}/` → one run, advanced one step.
    public mutating func retrieveRun(_ taskId: String, _ runId: String, by user: User) throws(Failure) -> JSONValue {
        let task = try visibleTask(taskId, by: user)
        guard task.runIds.contains(runId) else { throw .notFound }
        advance(runId)
        return render(runs[runId]!)
    }

    /// One poll of a run: move to the script's next step.
    mutating func advance(_ runId: String) {
        guard var run = runs[runId] else { return }
        run.polls += 1
        guard !run.script.steps.isEmpty else {
            runs[runId] = run
            return
        }
        let step = run.script.steps[min(run.polls - 1, run.script.steps.count - 1)]
        if step.status != run.status {
            let now = tick()
            run.status = step.status
            run.updatedAt = now
            switch step {
            case .queued, .inProgress:
                // A finished run can go back to queued (`prepare_for_cloud_handoff`, §1.5).
                run.completedAt = nil
                run.errorMessage = nil
            case .completed(let pr):
                run.completedAt = now
                switch pr {
                case .none: run.output = .null
                case .url(let url): run.output = ["pr_url": .string(url)]
                case .automatic:
                    if let repo = tasks[run.taskId]?.repository, !repo.isEmpty {
                        pullRequests += 1
                        run.output = ["pr_url": .string("https://github.com/\(repo)/pull/\(pullRequests)")]
                    } else {
                        run.output = .null
                    }
                }
            case .failed(let message):
                run.completedAt = now
                run.errorMessage = message
            case .cancelled:
                run.completedAt = now
            }
        }
        runs[runId] = run
    }

    // MARK: - Rendering (§1.4, the [PH-ser] set)

    static func time(_ t: Double?) -> JSONValue { t.map { .string(ISO8601.format(seconds: $0)) } ?? .null }

    public func render(_ run: RunRecord) -> JSONValue {
        ["id": .string(run.id), "task": .string(run.taskId), "stage": run.stage.map(JSONValue.string) ?? .null,
         "branch": run.branch.map(JSONValue.string) ?? .null, "status": .string(run.status.rawValue),
         "environment": .string(run.environment), "runtime_adapter": run.runtimeAdapter.map(JSONValue.string) ?? .null,
         "provider": run.provider.map(JSONValue.string) ?? .null, "model": run.model.map(JSONValue.string) ?? .null,
         "reasoning_effort": run.reasoningEffort.map(JSONValue.string) ?? .null, "log_url": .null,
         "error_message": run.errorMessage.map(JSONValue.string) ?? .null, "output": run.output, "state": run.state,
         "artifacts": [], "created_at": Self.time(run.createdAt), "updated_at": Self.time(run.updatedAt),
         "completed_at": Self.time(run.completedAt)]
    }

    public func render(_ task: TaskRecord) -> JSONValue {
        let latest = task.runIds.last.flatMap { runs[$0] }
        return ["id": .string(task.id), "task_number": .number(Double(task.taskNumber)),
                "slug": .string("\(Self.teamPrefix(name))-\(task.taskNumber)"), "title": .string(task.title),
                "title_manually_set": .bool(task.titleManuallySet), "description": .string(task.description),
                "origin_product": .string(task.originProduct), "repository": task.repository.map(JSONValue.string) ?? .null,
                "github_integration": task.githubIntegration.map { .number(Double($0)) } ?? .null,
                "github_user_integration": task.githubUserIntegration.map(JSONValue.string) ?? .null,
                "signal_report": task.signalReport.map(JSONValue.string) ?? .null, "json_schema": task.jsonSchema,
                "internal": .bool(task.isInternal), "archived": .bool(task.archived), "archived_at": Self.time(task.archivedAt),
                "ci_prompt": task.ciPrompt.map(JSONValue.string) ?? .null, "latest_run": latest.map(render) ?? .null,
                "created_at": Self.time(task.createdAt), "updated_at": Self.time(task.updatedAt),
                "created_by": task.createdBy?.json ?? .null, "channel": task.channel.map(JSONValue.string) ?? .null]
    }

    /// Adds a task as another user (or nobody) would have, for visibility and duplicate tests.
    public mutating func seedTask(_ body: [String: JSONValue], createdBy user: User?) throws(Failure) -> String {
        let json = try createTask(body, by: user ?? .ada)
        let id = json["id"]?.stringValue ?? ""
        tasks[id]?.createdBy = user
        return id
    }
}

fileprivate extension String {
    func trimmingWhitespace() -> String {
        var s = Substring(self)
        while let f = s.first, f.isWhitespace { s.removeFirst() }
        while let l = s.last, l.isWhitespace { s.removeLast() }
        return String(s)
    }
}

fileprivate extension Character {
    var isASCIIDigitChar: Bool { isASCII && isNumber }
}
