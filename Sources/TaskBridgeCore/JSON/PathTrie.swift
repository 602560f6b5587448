/// The set of paths a consumer will read from a document, as a tree. ``JSONParser``
/// materializes only these subtrees and merely validates the rest, which is what makes
/// rule matching cheap on large webhook bodies.
public struct PathTrie: Sendable, Hashable {
    /// Keep the whole subtree at this node.
    public var keepAll: Bool
    public var children: [String: PathTrie]
    /// Applied to every element when this node is an array (`[n]` and `[*]` both land here).
    public var elements: Box?

    public final class Box: Sendable, Hashable {
        public let trie: PathTrie
        init(_ trie: PathTrie) { self.trie = trie }
        public static func == (a: Box, b: Box) -> Bool { a.trie == b.trie }
        public func hash(into h: inout Hasher) { trie.hash(into: &h) }
    }

    public init(keepAll: Bool = false) {
        self.keepAll = keepAll
        self.children = [:]
        self.elements = nil
    }

    /// A trie that keeps everything: a full parse.
    public static let everything = PathTrie(keepAll: true)

    public var isEmpty: Bool { !keepAll && children.isEmpty && elements == nil }

    public mutating func insert(_ segments: ArraySlice<FieldPath.Segment>) {
        if keepAll { return }
        guard let first = segments.first else {
            self = PathTrie(keepAll: true)
            return
        }
        switch first {
        case .key(let k):
            children[k, default: PathTrie()].insert(segments.dropFirst())
        case .index, .wildcard:
            var inner = elements?.trie ?? PathTrie()
            inner.insert(segments.dropFirst())
            elements = Box(inner)
        }
    }

    /// Whether everything below `segments` is already kept.
    public func contains(_ segments: ArraySlice<FieldPath.Segment>) -> Bool {
        if keepAll { return true }
        guard let first = segments.first else { return false }
        switch first {
        case .key(let k): return children[k]?.contains(segments.dropFirst()) ?? false
        case .index, .wildcard: return elements?.trie.contains(segments.dropFirst()) ?? false
        }
    }

    public mutating func merge(_ other: PathTrie) {
        if keepAll { return }
        if other.keepAll {
            self = other
            return
        }
        for (k, v) in other.children { children[k, default: PathTrie()].merge(v) }
        if let e = other.elements {
            var inner = elements?.trie ?? PathTrie()
            inner.merge(e.trie)
            elements = Box(inner)
        }
    }
}
