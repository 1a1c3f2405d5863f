import Foundation
import ZeroMQ

/// A soak of the real daemon ("bisnnd under stress", `bisnn soak`): starts `bisnnd` on a generated
/// configuration (``SoakDaemon``), replays recordings to it from several sensors at a steady rate for a long
/// time (``SoakStream``), injects a fault every interval (``SoakFault``), subscribes to everything it publishes
/// (``SoakCollector``), samples its resident memory, stops it with SIGTERM, and accounts for every message,
/// event and decision (``SoakObservations``, ``SoakReport``).
///
/// ``run(progress:)`` blocks the calling thread for the whole soak (sending is paced with `nanosleep`): call it
/// from a command line's main thread or a thread of its own, never from Swift concurrency's threads.
public struct SoakRun: Sendable {
    /// What to run.
    public let settings: SoakSettings

    /// A soak with `settings`.
    public init(settings: SoakSettings) {
        self.settings = settings
    }

    /// Runs the soak and returns its report; `progress` gets a line now and then (start, each fault, a summary
    /// every minute). Throws when the soak cannot start: recordings that cannot be loaded, a daemon that cannot
    /// be started or publishes no status within 30 s. Everything after that (the daemon dying included) ends
    /// up in the report.
    public func run(progress: (String) -> Void = { _ in }) throws -> SoakReport {
        let recordings = try SoakRecordings.load(
            settings.data, eventsPerSecond: settings.eventsPerSecond, sensors: settings.sensors)
        guard !recordings.recordings.isEmpty else { throw SoakError("\(settings.data): no recording to replay") }
        let loadAverage = Self.loadAverage()
        let daemon = try SoakDaemon(settings)
        let context = try ZMQContext()
        let origin = ContinuousClock.now
        let collector = try SoakCollector(context: context, endpoint: daemon.outputEndpoint, origin: origin)
        var session: SoakSession?
        defer {
            session?.closeSockets()
            collector.stop()
            context.close()
        }
        guard let first = collector.waitForStatus(after: origin, within: .seconds(30), until: { _ in true }) else {
            let log = daemon.logLines.suffix(20).joined(separator: "\n")
            throw SoakError("bisnnd published no status within 30 s" + (log.isEmpty ? "" : "; its log:\n" + log))
        }
        progress(
            "soak: bisnnd (pid \(daemon.pid), \(first.version), model \(first.model)) serving; "
                + "\(settings.sensors) sensors replaying \(recordings.recordings.count) recordings at "
                + String(format: "%.1fx", recordings.speed) + " real time each, "
                + "\(Int(settings.eventsPerSecond)) events/s in all, for \(SoakSettings.text(settings.duration)); "
                + "a fault every \(SoakSettings.text(settings.faultInterval))")

        var observations = SoakObservations(run: SoakReport.Run(
            started: Self.timestamp(Date()), loadAverage: loadAverage,
            durationSeconds: SensorPipelines.seconds(settings.duration), sentSeconds: 0, sensors: settings.sensors,
            targetEventsPerSecond: settings.eventsPerSecond, sentEventsPerSecond: 0, speed: recordings.speed,
            faultIntervalSeconds: SensorPipelines.seconds(settings.faultInterval),
            overloadFactor: settings.overloadFactor, seed: settings.seed, daemon: settings.daemon,
            daemonVersion: first.version, model: settings.model, modelIdentifier: first.model, data: settings.data,
            recordings: recordings.recordings.count))
        observations.memory.startBytes = daemon.residentMemory().current
        observations.memory.samples = 1
        observations.memory.maxBytes = observations.memory.startBytes

        let created = try SoakSession(
            settings: settings, recordings: recordings, daemon: daemon, collector: collector, context: context,
            origin: origin)
        session = created
        do {
            try created.send(&observations, progress: progress)
        } catch {
            observations.failure = "\(error)"
        }
        created.finish(&observations, progress: progress)
        return observations.report()
    }

    /// `/proc/loadavg`'s three load averages (empty where there is none).
    static func loadAverage() -> [Double] {
        guard let text = try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8) else { return [] }
        return text.split(separator: " ").prefix(3).compactMap { Double($0) }
    }

    /// `2026-11-30T01:40:34Z`.
    static func timestamp(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        return formatter.string(from: date)
    }
}
