import Synchronization

/// Credentials a live transport sends with every request, which a reload may replace
/// (a rotated `{"file": …}` secret) while requests are in flight.
public final class RotatingCredentials<Value: Sendable & Equatable>: Sendable {
    private let value: Mutex<Value>

    public init(_ initial: Value) { value = Mutex(initial) }

    public var current: Value { value.withLock { $0 } }

    /// Uses `new` from the next request on. Returns whether it differs from the one in use.
    @discardableResult
    public func replace(_ new: Value) -> Bool {
        value.withLock { current in
            guard current != new else { return false }
            current = new
            return true
        }
    }
}
