/// Where a person opens a task a target made, built from the task the API answered with:
/// `https://groupchat.ai/workspace/ws_1/tasks/{id}`. The upstream APIs answer with ids,
/// not web addresses, so the operator writes the address pattern (`targets.<name>.taskLink`)
/// and the console links each job's task with it.
public struct TaskLinkTemplate: Sendable, Hashable {
    public let template: String
    /// The `{field}` names the template reads from the task object.
    public let fields: [String]

    /// The template, or why it is not one: an http(s) URL whose `{…}` are field names.
    public static func parse(_ text: String) -> Result<TaskLinkTemplate, TaskLinkError> {
        let lower = text.lowercased()
        guard lower.hasPrefix("https://") || lower.hasPrefix("http://") else {
            return .failure(TaskLinkError(message: "must be an http(s) URL with {id} where the task's id goes"))
        }
        var fields: [String] = []
        var rest = Substring(text)
        while let open = rest.firstIndex(of: "{") {
            guard let close = rest[open...].firstIndex(of: "}") else {
                return .failure(TaskLinkError(message: "has a \"{\" without its \"}\""))
            }
            let name = String(rest[rest.index(after: open)..<close])
            guard !name.isEmpty, name.utf8.allSatisfy({ ($0 >= 0x41 && $0 <= 0x5A) || ($0 >= 0x61 && $0 <= 0x7A) || ($0 >= 0x30 && $0 <= 0x39) }) else {
                return .failure(TaskLinkError(message: "{\(name.prefix(40))} is not a field name (letters and digits, such as {id} or {projectId})"))
            }
            fields.append(name)
            rest = rest[rest.index(after: close)...]
        }
        guard !fields.isEmpty else { return .failure(TaskLinkError(message: "must contain {id} (or another field of the task) where the task goes")) }
        return .success(TaskLinkTemplate(template: text, fields: fields))
    }

    /// The address of `task`, or `nil` when it lacks a field the template needs. Values
    /// are percent-encoded, so a task field cannot change where the link points.
    public func url(for task: [String: JSONValue]) -> String? {
        var out = template
        for name in Set(fields) {
            let value: String
            switch task[name] {
            case .string(let s)?: value = s
            case .number(let n)? where n.rounded() == n && abs(n) < 1e15: value = String(Int64(n))
            default: return nil
            }
            guard !value.isEmpty else { return nil }
            out.replace("{\(name)}", with: Self.percentEncoded(value))
        }
        return out
    }

    static func percentEncoded(_ s: String) -> String {
        var out = ""
        for byte in s.utf8 {
            switch byte {
            case 0x41...0x5A, 0x61...0x7A, 0x30...0x39, 0x2D, 0x2E, 0x5F, 0x7E: out.unicodeScalars.append(Unicode.Scalar(byte))
            default: out += "%" + (byte < 16 ? "0" : "") + String(byte, radix: 16, uppercase: true)
            }
        }
        return out
    }
}

public struct TaskLinkError: Error, Sendable {
    public let message: String
}
