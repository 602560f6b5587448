#if canImport(Glibc)
import Glibc
#endif
import TaskBridgeCore

/// Log line timestamps: UTC, ISO 8601, milliseconds (`2026-11-22T17:50:00.123Z`).
enum LogTimestamp {
    static func now() -> String {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return format(seconds: Int64(ts.tv_sec), nanoseconds: Int(ts.tv_nsec))
    }

    static func format(seconds: Int64, nanoseconds: Int) -> String {
        let iso = String(ISO8601.format(seconds: Double(seconds)).dropLast())
        let ms = nanoseconds / 1_000_000
        return iso + "." + (ms < 10 ? "00" : ms < 100 ? "0" : "") + String(ms) + "Z"
    }
}
