/// Conversions of numbers that may come from outside (a webhook body, a config file, an
/// upstream header, a query parameter) that never trap. Swift's `Int64(_: Double)` and
/// `UInt64(_: Double)` crash the process on NaN, infinities and values beyond the target
/// type; use these instead wherever the value is not known to be in range.
extension Double {
    /// This value clamped into `range`; NaN gives `range.lowerBound`.
    public func clamped(to range: ClosedRange<Double>) -> Double {
        guard !isNaN else { return range.lowerBound }
        return Swift.min(Swift.max(self, range.lowerBound), range.upperBound)
    }

    /// This value rounded toward zero and clamped into `Int64`'s range; NaN gives 0.
    public var clampedToInt64: Int64 {
        guard !isNaN else { return 0 }
        // 2^63 is exactly representable; every Double below it converts.
        if self >= 9_223_372_036_854_775_808.0 { return .max }
        if self <= -9_223_372_036_854_775_808.0 { return .min }
        return Int64(self)
    }

    /// This value rounded toward zero and clamped into `Int`'s range; NaN gives 0.
    public var clampedToInt: Int {
        let v = clampedToInt64
        return Int(exactly: v) ?? (v < 0 ? .min : .max)
    }

    /// Seconds as nanoseconds for `Task.sleep(nanoseconds:)`, clamped to
    /// `0...maxSeconds`: NaN and negative values give 0, larger ones (∞ included)
    /// `maxSeconds`, which is itself held to at most 10⁹ s.
    public func sleepNanoseconds(atMost maxSeconds: Double) -> UInt64 {
        let seconds = clamped(to: 0...Swift.max(0, Swift.min(maxSeconds, 1e9)))
        return UInt64(seconds * 1e9)
    }
}
