/// Walks one rule's steps for one event: renders each against the event and the
/// outputs of the steps before it, and tracks the task the closest earlier step
/// produced (a step that names no task acts on that one). The dispatcher's runner and
/// `taskbridge test` share it, so a dry run renders exactly what a delivery would.
public struct StepCursor: Sendable {
    public let steps: [StepSpec]
    /// The event, with `steps` holding the outputs kept so far.
    public private(set) var context: EventContext
    /// Index of the step to run next.
    public private(set) var index: Int
    public private(set) var previousTask: String?

    /// Resumes at `start`, with `context.steps` holding the outputs of the steps before it.
    public init(steps: [StepSpec], context: EventContext, start: Int = 0) {
        self.steps = steps
        self.context = context
        self.index = min(max(0, start), steps.count)
        for i in 0..<self.index {
            if let id = context.steps[steps[i].id]?["task"]?["id"]?.stringValue { previousTask = id }
        }
    }

    public var current: StepSpec? { index < steps.count ? steps[index] : nil }
    public var isLast: Bool { index + 1 >= steps.count }

    /// The current step, rendered.
    public func render() throws(StepRenderError) -> RenderedStep {
        guard let spec = current else { throw StepRenderError(location: "", reason: "no step left to render") }
        return try spec.render(context, previousTask: previousTask)
    }

    /// Records the current step's output and moves on. `kept` is what later steps see
    /// (a whole output, or its compact form when no later step reads more); the task it
    /// names becomes the default task of the steps after it.
    public mutating func advance(output: JSONValue, kept: JSONValue) {
        guard let spec = current else { return }
        context.steps[spec.id] = kept
        if let id = output["task"]?["id"]?.stringValue { previousTask = id }
        index += 1
    }
}
