import TaskBridgeCore

/// The state of a fake Zylon organisation and the documented rules of the Workspace API's
/// project-scoped chat. Pure: the HTTP layer (``ZylonFake``) checks the token and `x-org`
/// header, parses requests and calls in here. Where each rule comes from is listed at the
/// top of `ZylonFake.swift`.
///
/// Interactions progress on **polls, not wall-clock time** (docs/targets-research.md §3):
/// an interaction stays `Processing` for its script's `processingPolls` GETs, and the next
/// GET shows its terminal state, `Completed` or `Error`.
public struct ZylonOrg: Sendable {
    public typealias Failure = FakeWorkspace.Failure

    /// A user of the organisation and the bearer token that authenticates as them.
    /// The fields are UserDTO's required ones (§3.2 "GET /api/v1/app/me").
    public struct User: Sendable, Hashable {
        public var id: String
        public var accountId: String
        public var name: String
        public var email: String
        /// `UserState`: `Active` or `Inactive`.
        public var state: String
        /// `RoleName` values, e.g. `AppMember`.
        public var roles: [String]
        public var token: String

        public init(id: String, accountId: String, name: String, email: String, state: String = "Active",
                    roles: [String] = ["AppMember"], token: String) {
            self.id = id
            self.accountId = accountId
            self.name = name
            self.email = email
            self.state = state
            self.roles = roles
            self.token = token
        }
    }

    /// What a project chat asked, pulled out of the `ProjectChatDTO` body, for answerers.
    public struct ChatInput: Sendable, Hashable {
        public var projectId: String
        /// The text blocks of the last `user` message, concatenated.
        public var message: String
        /// `pgpt.system.text`.
        public var system: String?
        /// `pgpt.max_tokens`.
        public var maxTokens: Double?
        /// `pgpt.temperature`.
        public var temperature: Double?
        /// `all_artifacts`.
        public var allArtifacts: Bool?
        /// `artifact_ids`.
        public var artifactIds: [String]?
    }

    /// How an interaction ends.
    public enum Outcome: Sendable, Hashable {
        /// `Completed`, with `assistant_output.content = [{type: "text", text}]`.
        case completed(String)
        /// `Error`, with `assistant_output.errors = [{type: "api_error", message}]`.
        case error(String)
        /// `Completed` without any `assistant_output`, as the documented `GET interaction`
        /// example shows (§2.4, §4 item 14): a connector must treat it as "no answer text".
        case completedWithoutOutput
    }

    public typealias Answerer = @Sendable (ChatInput) -> Outcome

    /// A scripted interaction; nil fields fall back to the project's and then the org's
    /// defaults (``processingPolls``, ``Project/answer``, ``answer``).
    public struct Script: Sendable, Hashable {
        public var processingPolls: Int?
        public var outcome: Outcome?
        public init(processingPolls: Int? = nil, outcome: Outcome? = nil) {
            self.processingPolls = processingPolls
            self.outcome = outcome
        }
        public static func answer(_ text: String, after polls: Int? = nil) -> Script {
            Script(processingPolls: polls, outcome: .completed(text))
        }
        public static func error(_ message: String, after polls: Int? = nil) -> Script {
            Script(processingPolls: polls, outcome: .error(message))
        }
        /// Never leaves `Processing`, to exercise a bounded wait.
        public static let stuck = Script(processingPolls: .max)
    }

    /// A project (ProjectDTO's required fields, plus who may use it).
    public struct Project: Sendable {
        public var id: String
        public var name: String
        public var goal: String?
        /// `ProjectVisibility`: `Public` or `Private`.
        public var visibility: String
        /// `ProjectMemberRole`: `Viewer`, `Commenter`, `Editor`, `Admin` or `Owner`.
        public var defaultMemberRole: String
        public var defaultRoleEnabled: Bool
        /// User ids. A user who is not a member gets 403 on the project's routes.
        public var members: Set<String>
        /// The project's persona: answers its chats unless a ``Script`` says otherwise.
        public var answer: Answerer?

        public init(id: String, name: String, goal: String? = nil, visibility: String = "Private",
                    defaultMemberRole: String = "Editor", defaultRoleEnabled: Bool = true,
                    members: Set<String>, answer: Answerer? = nil) {
            self.id = id
            self.name = name
            self.goal = goal
            self.visibility = visibility
            self.defaultMemberRole = defaultMemberRole
            self.defaultRoleEnabled = defaultRoleEnabled
            self.members = members
            self.answer = answer
        }
    }

    /// `InteractionState` (§2.4): `Processing`, `Completed`, `Error` (not "Failed").
    public enum State: String, Sendable, Hashable {
        case processing = "Processing"
        case completed = "Completed"
        case error = "Error"
    }

    /// One interaction created by a project chat.
    public struct Interaction: Sendable, Hashable {
        public var id: String
        public var projectId: String
        public var createdBy: String
        public var input: ChatInput
        /// The `ProjectChatDTO` body as the client sent it.
        public var body: [String: JSONValue]
        public var processingPolls: Int
        public var outcome: Outcome
        /// GETs of this interaction so far.
        public internal(set) var polls = 0
        public var createdAtMillis: Double
        public var outputId: String

        public var isFinished: Bool { processingPolls == 0 || polls > processingPolls }
        public var state: State {
            guard isFinished else { return .processing }
            if case .error = outcome { return .error }
            return .completed
        }
    }

    /// The org slug (recommended value of `x-org`) and id (UUID, also accepted). §2.1
    public var slug = "default"
    public var id = "6f1d2c3b-4a5e-4f60-8b7a-9c0d1e2f3a4b"
    public var users: [User] = []
    public var projects: [Project] = []
    /// Polls an interaction stays `Processing` for, unless scripted otherwise.
    public var processingPolls = 2
    /// Answers chats whose project has no persona and that are not scripted.
    /// The default echoes the message (``derivedAnswer(_:)``) so tests can assert it.
    public var answer: Answerer = { .completed(ZylonOrg.derivedAnswer($0.message)) }
    /// Scripts for the next chats, taken in order, one per chat (any project).
    public var scripted: [Script] = []
    /// When false, `GET /api/v1/app/interaction/{id}` answers 404 for every interaction:
    /// project chat is "ephemeral"/"non-persistent" and whether its interaction can be
    /// fetched is an open question (§4 item 13; "lookupGone" in §3.2).
    public var interactionsFetchable = true
    public var clock: @Sendable () -> Double = { 1_700_000_000_000 }
    public private(set) var interactions: [String: Interaction] = [:]
    public private(set) var interactionOrder: [String] = []
    var nextId = 1

    public init() {}

    /// The default answer to `message`.
    public static func derivedAnswer(_ message: String) -> String { "Answer to: \(message)" }

    /// An org `default` with two users and three projects:
    /// - `user_ada` (token `zyl_fake_token`): member of `proj_support` and `proj_feedback`;
    /// - `user_grace` (token `zyl_fake_token_grace`): member of `proj_support` and `proj_finance`;
    /// - `proj_support` "Customer Support", `proj_feedback` "Product Feedback",
    ///   `proj_finance` "Finance" (Ada is not a member: 403).
    public static func standard() -> ZylonOrg {
        var org = ZylonOrg()
        org.users = [
            User(id: "user_ada", accountId: "acc_ada", name: "Ada Lovelace", email: "ada@example.com",
                 roles: ["AppMember"], token: "zyl_fake_token"),
            User(id: "user_grace", accountId: "acc_grace", name: "Grace Hopper", email: "grace@example.com",
                 roles: ["AppAdmin"], token: "zyl_fake_token_grace"),
        ]
        org.projects = [
            Project(id: "proj_support", name: "Customer Support", goal: "Answer customers.", members: ["user_ada", "user_grace"]),
            Project(id: "proj_feedback", name: "Product Feedback", goal: "Summarise feedback.", members: ["user_ada"]),
            Project(id: "proj_finance", name: "Finance", members: ["user_grace"]),
        ]
        return org
    }

    public var allInteractions: [Interaction] { interactionOrder.compactMap { interactions[$0] } }
    public func interaction(_ id: String) -> Interaction? { interactions[id] }

    public func user(token: String) -> User? { users.first { $0.token == token } }

    /// `x-org` may be the org slug or its UUID. §2.1
    public func accepts(org value: String) -> Bool { value == slug || value == id }

    mutating func makeNumber() -> Int {
        defer { nextId += 1 }
        return nextId
    }

    func memberProject(_ projectId: String, _ user: User) throws(Failure) -> Project {
        guard let project = projects.first(where: { $0.id == projectId }) else { throw Failure(404, "Project not found") }
        guard project.members.contains(user.id) else { throw Failure(403, "Not a project member") }
        return project
    }

    // MARK: Reads

    /// `GET /api/v1/app/me`: UserDTO.
    public func me(_ user: User) -> JSONValue { userDTO(user) }

    func userDTO(_ user: User) -> JSONValue {
        ["id": .string(user.id), "org_id": .string(id), "account_id": .string(user.accountId), "name": .string(user.name),
         "email": .string(user.email), "state": .string(user.state), "roles": .array(user.roles.map(JSONValue.string)),
         "created_at": .string(ISO8601.format(seconds: 1_690_000_000))]
    }

    func projectDTO(_ p: Project) -> JSONValue {
        var o: [String: JSONValue] = [
            "id": .string(p.id), "name": .string(p.name), "visibility": .string(p.visibility),
            "default_member_role": .string(p.defaultMemberRole), "default_role_enabled": .bool(p.defaultRoleEnabled),
            "member_count": .number(Double(p.members.count)),
        ]
        if let goal = p.goal { o["goal"] = .string(goal) }
        return .object(o)
    }

    /// `GET /api/v1/app/project/{projectID}`: ProjectDTO; 404 unknown, 403 not a member.
    public func project(_ projectId: String, user: User) throws(Failure) -> JSONValue {
        projectDTO(try memberProject(projectId, user))
    }

    static let projectListQuery: Set<String> = ["page", "page_size", "page_order", "after", "before", "first", "last", "total_count"]

    /// `GET /api/v1/app/user/{userId}/project`: the projects visible to the user (the
    /// fake counts a user's projects as those they are a member of), in the documented
    /// page envelope. Offset paging (`page`, 1-based; `page_size`, default 20;
    /// `page_order` ASC|DESC; `total_count`) is implemented; the cursor parameters are
    /// documented but not implemented by the fake (400 says so).
    public func projects(visibleTo userId: String, user: User, query: [String: String]) throws(Failure) -> JSONValue {
        for key in query.keys.sorted() where !Self.projectListQuery.contains(key) {
            throw Failure(400, "Unknown query parameter: \(key)")
        }
        for key in ["after", "before", "first", "last"] where query[key] != nil {
            throw Failure(400, "\(key): cursor pagination is not implemented by the fake")
        }
        guard users.contains(where: { $0.id == userId }) else { throw Failure(404, "User not found") }
        // Undocumented: what Zylon answers for another user's list. Fake assumption: 403.
        guard userId == user.id else { throw Failure(403, "Cannot list another user's projects") }
        func positive(_ key: String, _ fallback: Int) throws(Failure) -> Int {
            guard let raw = query[key] else { return fallback }
            guard let n = Int(raw), n >= 1 else { throw Failure(400, "\(key) must be a positive integer") }
            return n
        }
        let page = try positive("page", 1)
        let size = try positive("page_size", 20)
        var list = projects.filter { $0.members.contains(userId) }
        switch query["page_order"] {
        case nil, "ASC": break
        case "DESC": list.reverse()
        default: throw Failure(400, "page_order must be ASC or DESC")
        }
        var wantsTotal = false
        switch query["total_count"] {
        case nil, "false": break
        case "true": wantsTotal = true
        default: throw Failure(400, "total_count must be true or false")
        }
        let (offset, overflow) = (page - 1).multipliedReportingOverflow(by: size)
        let start = overflow ? list.count : min(list.count, offset)
        let end = start + min(size, list.count - start)
        var envelope: [String: JSONValue] = [
            "data": .array(list[start..<end].map(projectDTO)),
            "has_next_page": .bool(end < list.count), "has_previous_page": .bool(start > 0),
        ]
        if wantsTotal { envelope["total_count"] = .number(Double(list.count)) }
        return .object(envelope)
    }

    // MARK: Chat

    /// `POST /api/v1/app/project/{projectID}/chat`. Checks, in order: the project exists
    /// (404), the user is a member (403), the body is a valid `ProjectChatDTO` (400).
    /// Answers `{"id", "state"}` as the documented example does; the state is `Processing`
    /// unless the interaction has 0 processing polls.
    public mutating func chat(projectId: String, body: [String: JSONValue], user: User) throws(Failure) -> JSONValue {
        let project = try memberProject(projectId, user)
        var input = try Self.validateChat(body)
        input.projectId = projectId
        let script = scripted.isEmpty ? Script() : scripted.removeFirst()
        let outcome = script.outcome ?? project.answer?(input) ?? answer(input)
        let n = makeNumber()
        let interaction = Interaction(id: "inter_\(n)", projectId: projectId, createdBy: user.id, input: input, body: body,
                                      processingPolls: max(0, script.processingPolls ?? processingPolls), outcome: outcome,
                                      createdAtMillis: clock(), outputId: "msg_\(n)")
        interactions[interaction.id] = interaction
        interactionOrder.append(interaction.id)
        return ["id": .string(interaction.id), "state": .string(interaction.state.rawValue)]
    }

    /// `GET /api/v1/app/interaction/{interactionID}`: counts the poll, then answers the
    /// InteractionDTO. 404 unknown (or every id when ``interactionsFetchable`` is false),
    /// 403 when the user is not a member of the interaction's project.
    public mutating func poll(_ interactionId: String, user: User) throws(Failure) -> JSONValue {
        guard interactionsFetchable, var i = interactions[interactionId] else { throw Failure(404, "Interaction not found") }
        _ = try memberProject(i.projectId, user)
        if i.polls < .max { i.polls += 1 }
        interactions[interactionId] = i
        return interactionDTO(i)
    }

    func interactionDTO(_ i: Interaction) -> JSONValue {
        var o: [String: JSONValue] = [
            "id": .string(i.id), "project_id": .string(i.projectId), "state": .string(i.state.rawValue),
            "user_input": Self.lastUserMessage(i.body) ?? .null,
            "created_at": .string(ISO8601.format(seconds: i.createdAtMillis / 1000)),
        ]
        if let creator = users.first(where: { $0.id == i.createdBy }) { o["created_by"] = userDTO(creator) }
        if let pgpt = i.body["pgpt"] { o["pgpt"] = pgpt }
        if let v = i.body["all_artifacts"] { o["all_artifacts"] = v }
        if let v = i.body["artifact_ids"] { o["artifact_ids"] = v }
        if i.isFinished {
            let created = JSONValue.number((i.createdAtMillis / 1000).rounded(.down))
            switch i.outcome {
            case .completed(let text):
                o["assistant_output"] = [
                    "id": .string(i.outputId), "created": created, "model": "default", "stop_reason": "stop",
                    "content": [["type": "text", "text": .string(text)]],
                    "usage": ["input_tokens": .number(Double(Self.words(i.input.message))),
                              "output_tokens": .number(Double(Self.words(text)))],
                ]
            case .error(let message):
                o["assistant_output"] = [
                    "id": .string(i.outputId), "created": created, "stop_reason": "error", "content": [],
                    "errors": [["type": "api_error", "message": .string(message)]],
                ]
            case .completedWithoutOutput:
                break
            }
        }
        return .object(o)
    }

    static func words(_ s: String) -> Int { s.split(whereSeparator: { $0 == " " || $0 == "\n" }).count }

    static func lastUserMessage(_ body: [String: JSONValue]) -> JSONValue? {
        body["pgpt"]?["messages"]?.arrayValue?.last { $0["role"]?.stringValue == "user" }
    }

    // MARK: Body validation (strict: unknown or mistyped fields answer 400)

    enum Kind {
        case string, number, bool, object, array
        var name: String {
            switch self {
            case .string: "a string"
            case .number: "a number"
            case .bool: "a boolean"
            case .object: "an object"
            case .array: "an array"
            }
        }
        func matches(_ v: JSONValue) -> Bool {
            switch (self, v) {
            case (.string, .string), (.number, .number), (.bool, .bool), (.object, .object), (.array, .array): true
            default: false
            }
        }
    }

    /// `ProjectChatDTO` (§2.3): `pgpt` is required.
    static let chatFields: [String: Kind] = ["all_artifacts": .bool, "artifact_ids": .array, "pgpt": .object]
    /// `ChatRequest` (§2.3 "Other ChatRequest fields"). The connector uses `messages`,
    /// `system`, `max_tokens` and `temperature`; the rest are checked for their JSON type
    /// only and otherwise kept opaque.
    static let pgptFields: [String: Kind] = [
        "messages": .array, "system": .object, "max_tokens": .number, "temperature": .number, "stream": .bool,
        "tools": .array, "tool_choice": .object, "mcp_servers": .array, "response_format": .object, "thinking": .object,
        "priority": .number, "seed": .number, "min_p": .number, "top_p": .number, "top_k": .number,
        "repetition_penalty": .number, "presence_penalty": .number, "frequency_penalty": .number,
        "correlation_id": .string, "tool_context": .array,
    ]
    /// `ChatRequest.System`. §2.3 names `text` and `use_default_prompt` (and citations);
    /// `citations` and `extensions` are the other two properties of the same schema in
    /// [ZY-oas] `api-reference/workspace.json`, kept opaque.
    static let systemFields: [String: Kind] = ["text": .string, "use_default_prompt": .bool, "citations": .object, "extensions": .array]
    /// `MessageInput`: `role` and `content` required; `_meta` is its third property in [ZY-oas].
    static let messageFields: [String: Kind] = ["role": .string, "content": .array, "_meta": .object]
    static let roles: Set<String> = ["system", "user", "assistant", "tool"]
    static let blockTypes: Set<String> = ["text", "image", "audio", "binary", "file", "source", "tldr", "thinking", "tool_result", "tool_use"]
    /// A `text` block (§2.3); `type` is the discriminator.
    static let textBlockFields: [String: Kind] = ["type": .string, "text": .string, "citations": .array,
                                                  "start_timestamp": .string, "stop_timestamp": .string, "_meta": .object]

    static func check(_ object: [String: JSONValue], _ fields: [String: Kind], at prefix: String) throws(Failure) {
        for key in object.keys.sorted() {
            guard let kind = fields[key] else { throw Failure(400, "Unknown field: \(prefix)\(key)") }
            if !kind.matches(object[key]!) { throw Failure(400, "\(prefix)\(key) must be \(kind.name)") }
        }
    }

    /// Validates a `ProjectChatDTO` and pulls out what answerers need.
    static func validateChat(_ body: [String: JSONValue]) throws(Failure) -> ChatInput {
        try check(body, chatFields, at: "")
        if let ids = body["artifact_ids"]?.arrayValue, ids.contains(where: { $0.stringValue == nil }) {
            throw Failure(400, "artifact_ids must be an array of strings")
        }
        guard let pgpt = body["pgpt"]?.objectValue else { throw Failure(400, "pgpt is required") }
        try check(pgpt, pgptFields, at: "pgpt.")
        if pgpt["stream"]?.boolValue == true { throw Failure(400, "pgpt.stream: streaming is not implemented by the fake") }
        if let system = pgpt["system"]?.objectValue { try check(system, systemFields, at: "pgpt.system.") }
        // Fake assumption: the schema marks no ChatRequest field required, but a chat with
        // no user message has nothing to answer.
        guard let messages = pgpt["messages"]?.arrayValue, !messages.isEmpty else {
            throw Failure(400, "pgpt.messages must hold at least one message")
        }
        var message: String?
        for (n, m) in messages.enumerated() {
            let at = "pgpt.messages[\(n)]"
            guard let fields = m.objectValue else { throw Failure(400, "\(at) must be an object") }
            try check(fields, messageFields, at: at + ".")
            guard let role = fields["role"]?.stringValue else { throw Failure(400, "\(at).role is required") }
            guard roles.contains(role) else { throw Failure(400, "\(at).role must be one of assistant, system, tool, user") }
            guard let content = fields["content"]?.arrayValue else { throw Failure(400, "\(at).content is required") }
            var text = ""
            for (b, block) in content.enumerated() {
                let bat = "\(at).content[\(b)]"
                guard let blockFields = block.objectValue else { throw Failure(400, "\(bat) must be an object") }
                guard let type = blockFields["type"]?.stringValue, blockTypes.contains(type) else {
                    throw Failure(400, "\(bat).type must be one of \(blockTypes.sorted().joined(separator: ", "))")
                }
                // Only text blocks are checked field by field; the research did not read
                // the other block schemas, so they stay opaque.
                guard type == "text" else { continue }
                try check(blockFields, textBlockFields, at: bat + ".")
                guard let t = blockFields["text"]?.stringValue else { throw Failure(400, "\(bat).text is required") }
                text += t
            }
            if role == "user" { message = text }
        }
        guard let message else { throw Failure(400, "pgpt.messages must hold a user message") }
        let system = pgpt["system"]?["text"]?.stringValue
        return ChatInput(projectId: "", message: message, system: system, maxTokens: pgpt["max_tokens"]?.numberValue,
                         temperature: pgpt["temperature"]?.numberValue, allArtifacts: body["all_artifacts"]?.boolValue,
                         artifactIds: body["artifact_ids"]?.arrayValue?.compactMap(\.stringValue))
    }
}
