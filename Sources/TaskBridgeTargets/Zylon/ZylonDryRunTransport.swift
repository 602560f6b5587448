import Foundation
import TaskBridgeCore

/// A transport for dry runs: records each request as it would go on the wire (token
/// redacted, `x-org` shown) and answers what Zylon would — a chat starts the placeholder
/// interaction `<interaction>`, which is `Completed` on its first poll with the text
/// ``placeholderAnswer``. Nothing leaves the process, and nothing is remembered between
/// calls: the dry run makes a connector per step, and the interaction id travels in the
/// step's wait state as it does in a delivery.
public struct ZylonDryRunTransport: ZylonTransport {
    public static let placeholderInteraction = "<interaction>"
    public static let placeholderAnswer = "<answer from Zylon>"

    let log: RequestLog?
    let org: String?

    /// - Parameters:
    ///   - log: receives each request, token redacted.
    ///   - org: sent as `x-org` (not a secret).
    public init(log: RequestLog?, org: String?) {
        self.log = log
        self.org = org
    }

    func record(_ r: ZylonRequest) {
        var headers: [(String, String)] = [("Authorization", "Bearer <redacted>"), ("x-org", org ?? "<org not set>"),
                                           ("Accept", "application/json")]
        if r.body != nil { headers.append(("Content-Type", "application/json")) }
        // The path is shown decoded, so the placeholder reads as written.
        log?.append(PlannedRequest(method: r.method, path: r.path.removingPercentEncoding ?? r.path, headers: headers, body: r.body))
    }

    public func send(_ request: ZylonRequest) async throws(StepFailure) -> GatedHTTP.Answer {
        record(request)
        let answer: JSONValue
        if request.method == "POST" {
            answer = ["id": .string(Self.placeholderInteraction), "state": "Processing"]
        } else {
            answer = ["id": .string(Self.placeholderInteraction), "state": "Completed",
                      "assistant_output": ["content": [["type": "text", "text": .string(Self.placeholderAnswer)]]]]
        }
        return GatedHTTP.Answer(status: 200, body: JSONWriter.serializeBytes(answer),
                                record: WireRecord(request: request.description, status: 200, latencyMillis: 0, response: nil))
    }
}
