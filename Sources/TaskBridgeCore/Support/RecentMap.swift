/// A map that remembers roughly the most recently used keys, in bounded memory.
///
/// Two generations of at most `capacity` entries: writes go to the current one; when it
/// is full it becomes the previous one and the older generation is dropped. A read that
/// hits the previous generation copies the entry forward, so keys in use survive. At
/// most `2 × capacity` entries are held however many distinct keys pass through — a
/// cache keyed by task id must not grow with every task a bridge ever touches.
public struct RecentMap<Value: Sendable>: Sendable {
    public let capacity: Int
    private var current: [String: Value] = [:]
    private var previous: [String: Value] = [:]

    public init(capacity: Int) {
        precondition(capacity > 0, "RecentMap capacity must be positive")
        self.capacity = capacity
    }

    /// Entries held, counting a key present in both generations twice.
    public var storedCount: Int { current.count + previous.count }

    public mutating func value(for key: String) -> Value? {
        if let v = current[key] { return v }
        guard let v = previous[key] else { return nil }
        set(v, for: key)
        return v
    }

    public mutating func set(_ value: Value, for key: String) {
        if current[key] == nil, current.count >= capacity {
            previous = current
            current = [:]
            current.reserveCapacity(capacity)
        }
        current[key] = value
    }
}
