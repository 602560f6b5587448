import TaskBridgeCore

/// The JSON text columns both stores keep (captures, outputs, headers), read back
/// leniently: a column that does not parse reads as empty rather than failing the row.
enum StoreJSON {
    static func jsonObject(_ text: String?) -> [String: JSONValue] {
        guard let text, let value = try? JSONParser.parse(text), case .object(let o) = value else { return [:] }
        return o
    }

    static func stringMap(_ text: String?) -> [String: String] {
        jsonObject(text).compactMapValues(\.stringValue)
    }
}
