import Foundation
import TaskBridgeCore

/// Invariant violations that are known and tracked elsewhere (see FUZZING.md, "Open
/// findings"). Each guard is consulted only after an invariant has failed, and excuses
/// only that one finding's inputs, so everything else keeps being checked. Delete a guard
/// when its fix lands and re-run the harness; `FUZZ_KNOWN_ISSUES=fail` turns every guard
/// off, to see whether a finding is still there.
public enum KnownIssues {
    static let enforced = ProcessInfo.processInfo.environment["FUZZ_KNOWN_ISSUES"] == "fail"

    /// JSONParser reads a number too large for a Double (`1e999`) as ±infinity, which
    /// JSONWriter writes as `null`: the value does not survive serialize → parse. Left to
    /// the JSONParser owner (reject such numbers, in the skipping path too).
    public static func nonFiniteNumber(_ value: JSONValue) -> Bool {
        !enforced && containsNonFinite(value)
    }
}
