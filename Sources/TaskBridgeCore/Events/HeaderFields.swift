/// Request headers with case-insensitive lookup; names are stored lower-cased.
public struct HeaderFields: Sendable, Hashable, Sequence {
    public private(set) var fields: [(name: String, value: String)] = []

    public init() {}

    public init(_ pairs: [(String, String)]) {
        for (n, v) in pairs { append(n, v) }
    }

    public mutating func append(_ name: String, _ value: String) {
        fields.append((name.lowercased(), value))
    }

    public subscript(name: String) -> String? {
        let n = name.lowercased()
        return fields.first { $0.name == n }?.value
    }

    public func all(_ name: String) -> [String] {
        let n = name.lowercased()
        return fields.filter { $0.name == n }.map(\.value)
    }

    public func makeIterator() -> IndexingIterator<[(name: String, value: String)]> {
        fields.makeIterator()
    }

    public static func == (a: HeaderFields, b: HeaderFields) -> Bool {
        a.fields.elementsEqual(b.fields) { $0.name == $1.name && $0.value == $1.value }
    }

    public func hash(into h: inout Hasher) {
        for f in fields {
            h.combine(f.name)
            h.combine(f.value)
        }
    }
}
