/// One planned action of a rule, as written (templates not yet rendered).
public struct StepSpec: Sendable {
    /// How a step finds the task it acts on.
    public enum TaskReference: Sendable, Hashable {
        /// `{"id": "{{ captures.task }}"}`
        case id(Template)
        /// `{"link": "github-pr:{{ body.repository.full_name }}#{{ body.number }}"}`
        case link(Template)
        /// `{"step": "create"}`: the task an earlier step created or found.
        case step(String)
    }

    /// A field value: a template (strings), a number literal, `null` to clear, a boolean
    /// literal (``ActionSpec/booleanFields``), or an object of such values (a field the
    /// action declares in ``ActionSpec/objectFields``).
    public enum Value: Sendable, Hashable {
        case template(Template)
        case number(Double)
        case null
        case object([String: Value])
        case bool(Bool)

        var templates: [Template] {
            switch self {
            case .template(let t): [t]
            case .object(let members): members.values.flatMap(\.templates)
            case .number, .null, .bool: []
            }
        }
    }

    public enum IfLinked: String, Sendable, CaseIterable {
        /// Keep the linked task as it is (and use it as this step's task).
        case skip
        /// Update the linked task's fields instead of creating a new one.
        case update
        /// Reopen the linked task (and update its fields).
        case reopen
    }

    public struct LinkSpec: Sendable, Hashable {
        public var key: Template
        /// For `task.create`: what to do when the key already maps to a task.
        public var ifExists: IfLinked
    }

    public var id: String
    /// Declared by the target's kind.
    public var action: ActionSpec
    public var target: String
    public var task: TaskReference?
    public var values: [String: Value]
    public var link: LinkSpec?
    /// `rules[0].do[1]` in its file.
    public var location: String

    public var templates: [Template] {
        var out: [Template] = []
        for v in values.values { out += v.templates }
        switch task {
        case .id(let t)?, .link(let t)?: out.append(t)
        default: break
        }
        if let link { out.append(link.key) }
        return out
    }
}

/// A step with its templates rendered against an event and earlier step outputs: what
/// a connector executes.
public struct RenderedStep: Sendable, Hashable {
    public enum TaskTarget: Sendable, Hashable {
        case id(String)
        case link(String)
    }

    public var stepId: String
    public var action: ActionSpec
    public var target: String
    public var task: TaskTarget?
    /// Rendered field values: strings, numbers, or `null` (clear).
    public var values: [String: JSONValue]
    public var linkKey: String?
    public var ifLinked: StepSpec.IfLinked

    public init(stepId: String, action: ActionSpec, target: String, task: TaskTarget? = nil,
                values: [String: JSONValue] = [:], linkKey: String? = nil, ifLinked: StepSpec.IfLinked = .skip) {
        self.stepId = stepId
        self.action = action
        self.target = target
        self.task = task
        self.values = values
        self.linkKey = linkKey
        self.ifLinked = ifLinked
    }
}

/// Why a step could not be rendered. Always permanent: retrying cannot conjure a
/// missing field.
public struct StepRenderError: Error, Sendable, Hashable, CustomStringConvertible {
    public let location: String
    public let reason: String
    public var description: String { "\(location): \(reason)" }
}

extension StepSpec {
    /// Renders templates against `context` (whose `steps` holds outputs of earlier steps).
    /// `previousTask` is the task id produced by the closest earlier step, if any.
    public func render(_ context: EventContext, previousTask: String?) throws(StepRenderError) -> RenderedStep {
        var rendered = RenderedStep(stepId: id, action: action, target: target)
        do {
            for (key, value) in values {
                rendered.values[key] = try render(value, field: key, context)
            }
            switch task {
            case .id(let t)?:
                let text = try t.render(context).trimmingCharacters()
                guard !text.isEmpty else { throw StepRenderError(location: "\(location).task.id", reason: "rendered to an empty task id") }
                rendered.task = .id(text)
            case .link(let t)?:
                rendered.task = .link(try t.render(context))
            case .step(let stepId)?:
                guard let taskId = context.steps[stepId]?["task"]?["id"]?.stringValue else {
                    throw StepRenderError(location: "\(location).task.step", reason: "step \"\(stepId)\" produced no task")
                }
                rendered.task = .id(taskId)
            case nil:
                if action.needsTask {
                    guard let previousTask else {
                        throw StepRenderError(location: "\(location).task", reason: "no task: name one with {\"id\"|\"link\"|\"step\": …}")
                    }
                    rendered.task = .id(previousTask)
                }
            }
            if let link {
                rendered.linkKey = try link.key.render(context)
                rendered.ifLinked = link.ifExists
            }
        } catch let e as StepRenderError {
            throw e
        } catch let e as TemplateError {
            throw StepRenderError(location: location, reason: e.description)
        } catch {
            throw StepRenderError(location: location, reason: "\(error)")
        }
        return rendered
    }

    /// One field's value; `field` is its name, or `field.key` inside an object field.
    private func render(_ value: Value, field: String, _ context: EventContext) throws -> JSONValue {
        switch value {
        case .null: return .null
        case .number(let n): return .number(n)
        case .bool(let b): return .bool(b)
        case .object(let members):
            var out: [String: JSONValue] = [:]
            for (key, member) in members { out[key] = try render(member, field: field + "." + key, context) }
            return .object(out)
        case .template(let t):
            if action.numericFields.contains(field) {
                let v = try t.renderValue(context)
                let number = v.numberValue ?? Double(v.textValue.trimmingCharacters())
                guard let number, number.isFinite else {
                    throw StepRenderError(location: "\(location).\(field)", reason: "expected a number, got \"\(v.textValue.prefix(40))\"")
                }
                return .number(number)
            }
            if action.booleanFields.contains(field) {
                let text = try t.render(context).trimmingCharacters()
                guard text == "true" || text == "false" else {
                    throw StepRenderError(location: "\(location).\(field)", reason: "expected true or false, got \"\(text.prefix(40))\"")
                }
                return .bool(text == "true")
            }
            let text = try t.render(context)
            if action.nonEmptyFields.contains(field), text.trimmingCharacters().isEmpty {
                throw StepRenderError(location: "\(location).\(field)", reason: "rendered to an empty string")
            }
            if let allowed = action.choices[field], !allowed.contains(text) {
                throw StepRenderError(location: "\(location).\(field)",
                                      reason: "rendered to \"\(text.prefix(40))\"; expected one of \(allowed.map { "\"\($0)\"" }.joined(separator: ", "))")
            }
            return .string(text)
        }
    }
}
