/// What a step action accepts and means, declared by the target kind that executes
/// it. The rule parser and the renderer work from these declarations, so they know no
/// upstream's actions themselves.
public struct ActionSpec: Sendable, Hashable, CustomStringConvertible {
    /// `task.create`, `posthog.task.run`, … — unique across kinds.
    public var name: String
    /// Keys a step of this action accepts besides `id`, `action` and `target`. `task`
    /// (which task to act on) and `link` are among them where they apply.
    public var fields: [String]
    public var requiredFields: [String]
    /// Fields rendered as numbers (a number literal or a template that renders to one).
    /// A key of an object-valued field is named `field.key` (`wait.maxMinutes`).
    public var numericFields: Set<String>
    /// Fields rendered as booleans (`true`/`false`, or a template that renders to one).
    public var booleanFields: Set<String>
    /// Fields that must not render to an empty string.
    public var nonEmptyFields: Set<String>
    /// Fields that may be `null`, meaning "clear it".
    public var nullableFields: Set<String>
    /// An update needs at least one of these.
    public var atLeastOneOf: [String]
    /// Object-valued fields and the keys each accepts, e.g. `"wait": ["until", "maxMinutes"]`.
    /// Their leaf values are templates or numbers (see ``numericFields``), rendered into a
    /// JSON object; unknown keys are reported at their path (`….wait.untill`).
    public var objectFields: [String: [String]]
    /// Fields (or `field.key` leaves) whose value must be one of these words: a literal is
    /// checked when the rule is parsed, a template when it is rendered.
    public var choices: [String: [String]]
    /// Acts on an existing task: it names one with `task`, or takes the task of the
    /// closest earlier step.
    public var needsTask: Bool
    /// Creates a task: its `link` may say what to do when the key is already linked.
    public var createsTask: Bool
    /// Can ride in a batch call with others of its target.
    public var batchable: Bool

    public init(_ name: String, fields: [String], required: [String] = [], numeric: Set<String> = [], boolean: Set<String> = [],
                nonEmpty: Set<String> = [], nullable: Set<String> = [], atLeastOneOf: [String] = [],
                objectFields: [String: [String]] = [:], choices: [String: [String]] = [:], needsTask: Bool, createsTask: Bool = false,
                batchable: Bool = false) {
        self.name = name
        self.fields = fields
        self.requiredFields = required
        self.numericFields = numeric
        self.booleanFields = boolean
        self.nonEmptyFields = nonEmpty
        self.nullableFields = nullable
        self.atLeastOneOf = atLeastOneOf
        self.objectFields = objectFields
        self.choices = choices
        self.needsTask = needsTask
        self.createsTask = createsTask
        self.batchable = batchable
    }

    public var description: String { name }
}
