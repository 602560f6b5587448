#if canImport(Glibc)
import Glibc
#endif
import Synchronization
import TaskBridgeCore

/// Log line timestamps: UTC, ISO 8601, milliseconds (`2026-11-22T17:50:00.123Z`).
/// The date and time part is formatted once per second (a busy dispatcher logs
/// thousands of lines a second).
enum LogTimestamp {
    private static let lastSecond = Mutex<(seconds: Int64, text: String)>((-1, ""))

    static func now() -> String {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        let seconds = Int64(ts.tv_sec)
        let prefix = lastSecond.withLock { last in
            if last.seconds != seconds { last = (seconds, secondText(seconds)) }
            return last.text
        }
        return withMilliseconds(prefix, nanoseconds: Int(ts.tv_nsec))
    }

    static func format(seconds: Int64, nanoseconds: Int) -> String {
        withMilliseconds(secondText(seconds), nanoseconds: nanoseconds)
    }

    /// `2026-11-22T17:50:00`
    private static func secondText(_ seconds: Int64) -> String {
        String(ISO8601.format(seconds: Double(seconds)).dropLast())
    }

    private static func withMilliseconds(_ prefix: String, nanoseconds: Int) -> String {
        let ms = nanoseconds / 1_000_000
        return prefix + (ms < 10 ? ".00" : ms < 100 ? ".0" : ".") + String(ms) + "Z"
    }
}
