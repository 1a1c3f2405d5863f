#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// How fast a replay goes: sensor time played `factor` times faster than it was recorded (1 = real time),
/// or as fast as the messages can be sent.
public enum ReplaySpeed: Sendable, Hashable, CustomStringConvertible {
    /// `factor` times real time (> 0).
    case times(Double)
    /// No pacing.
    case asFastAsPossible

    /// Parses `max`, or a positive finite factor (`1`, `0.5`, `10`).
    public init?(_ text: String) {
        if text.lowercased() == "max" {
            self = .asFastAsPossible
        } else if let factor = Double(text), factor.isFinite, factor > 0 {
            self = .times(factor)
        } else {
            return nil
        }
    }

    /// The sensor time, in µs, played during `wallMicroseconds` of wall-clock time (at least 1); nil when
    /// unpaced.
    public func sensorMicroseconds(inWallMicroseconds wallMicroseconds: Int64) -> Int64? {
        switch self {
        case .times(let factor): max(1, Int64((Double(wallMicroseconds) * factor).rounded(.down)))
        case .asFastAsPossible: nil
        }
    }

    public var description: String {
        switch self {
        case .times(let factor): factor == 1 ? "real time" : "\(factor)x real time"
        case .asFastAsPossible: "as fast as possible"
        }
    }
}

/// Sends messages on time: each recording starts when ``beginRecording(at:)`` is called, and a message whose
/// ``ReplayMessage/sensorTime`` is `t` is due `(t - startTime) / factor` after that. Deadlines are absolute
/// (no drift from message to message); a sender that falls behind sends at once until it catches up.
///
/// ``waitUntilDue(_:)`` blocks the calling thread: call it from a command line's main thread or a thread of
/// its own, never from Swift concurrency's threads.
public struct ReplayPacer: Sendable {
    /// The speed.
    public let speed: ReplaySpeed
    private var wallStart = ContinuousClock.now
    private var sensorStart: Int64 = 0

    /// A pacer at `speed`.
    public init(speed: ReplaySpeed) {
        self.speed = speed
    }

    /// Starts a recording now, its time line at `startTime` (µs).
    public mutating func beginRecording(at startTime: Int64) {
        wallStart = ContinuousClock.now
        sensorStart = startTime
    }

    /// Blocks until a message at `sensorTime` (µs) is due.
    public func waitUntilDue(_ sensorTime: Int64) {
        guard case .times(let factor) = speed, sensorTime > sensorStart else { return }
        let due = wallStart + .microseconds(Double(sensorTime - sensorStart) / factor)
        while true {
            let left = due - ContinuousClock.now
            guard left > .zero else { return }
            let (seconds, attoseconds) = left.components
            var request = timespec(tv_sec: Int(seconds), tv_nsec: Int(attoseconds / 1_000_000_000))
            _ = nanosleep(&request, nil)
        }
    }
}
