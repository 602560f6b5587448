import TaskBridgeCore

/// `taskbridge check --live` for a Zylon organisation: the token and org (`GET
/// /api/v1/app/me`), then every project a `zylon.chat` step names literally (or the
/// target's default project): it must exist, and the token's user must be a member.
extension ZylonConnector {
    public func liveCheck(_ steps: [LiveCheckStep]) async -> [Diagnostic] {
        let me: GatedHTTP.Answer
        do throws(StepFailure) {
            me = try await transport.send(ZylonRequest(method: "GET", path: "/api/v1/app/me"))
        } catch {
            return [Diagnostic(file: "", path: "targets.\(target)", message: "cannot reach Zylon: \(error.reason)")]
        }
        guard (200..<300).contains(me.status) else {
            return [Diagnostic(file: "", path: "targets.\(target)",
                               message: "GET /api/v1/app/me answered \(me.status): \(Self.excerpt(me.body)) (check the token and org)")]
        }
        var out: [Diagnostic] = []
        var seen: [String: String?] = [:]  // project id → problem (nil: fine)
        for s in steps {
            let field = s.step.values["project"] == nil ? "" : "project"
            guard let project = s.literal("project") ?? (s.step.values["project"] == nil ? defaultProject : nil) else { continue }
            if seen[project] == nil {
                seen[project] = .some(await problem(project: project))
            }
            if case .some(.some(let message)) = seen[project] { out.append(s.problem(field, message)) }
        }
        return out
    }

    /// Why a chat in `project` would fail, or nil.
    func problem(project: String) async -> String? {
        do throws(StepFailure) {
            let answer = try await transport.send(ZylonRequest(method: "GET", path: "/api/v1/app/project/\(GatedHTTP.pathSegment(project))"))
            switch answer.status {
            case 200..<300: return nil
            case 404: return "project \"\(project)\" not found in the organisation"
            case 403: return "project \"\(project)\": the token's user is not a member (\(Self.excerpt(answer.body)))"
            default: return "project \"\(project)\": GET answered \(answer.status): \(Self.excerpt(answer.body))"
            }
        } catch {
            return "project \"\(project)\" cannot be checked: \(error.reason)"
        }
    }

    static func excerpt(_ body: [UInt8]) -> String {
        String(decoding: body.prefix(200), as: UTF8.self)
    }
}
