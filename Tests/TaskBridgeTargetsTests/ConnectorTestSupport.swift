import TaskBridgeCore
import TaskBridgeTargets

extension StepResult {
    /// The output, when the step succeeded.
    var output: JSONValue? {
        if case .success(let o, _) = outcome { return o }
        return nil
    }

    /// The failure, when the step failed.
    var failure: StepFailure? {
        if case .failure(let f) = outcome { return f }
        return nil
    }
}
