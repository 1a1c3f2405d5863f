import EventStream
import Foundation
import ZeroMQ

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One soak under way: the sockets, the sensors' streams, the fault schedule. Lives on the thread that called
/// ``SoakRun/run(progress:)``, which owns its sockets.
final class SoakSession {
    /// A fault that takes time, while it runs.
    enum Active {
        /// A restart waiting for its sensor to be in the middle of a segment.
        case restart(sensor: Int, since: ContinuousClock.Instant)
        /// A subscriber gap, until the collector has measured it.
        case gap(since: ContinuousClock.Instant)
        /// A SIGHUP, until the metrics count the reload (the counts before it, when to look next).
        case reload(since: ContinuousClock.Instant, okBefore: Int?, refusedBefore: Int?, nextCheck: ContinuousClock.Instant)
        /// An overload burst, until `until` (the events sent before it).
        case overload(since: ContinuousClock.Instant, until: ContinuousClock.Instant, eventsBefore: Int)
    }

    /// Something that ends the sending early.
    struct Stop: Error, CustomStringConvertible {
        var description: String
    }

    let settings: SoakSettings
    let recordings: SoakRecordings
    let daemon: SoakDaemon
    let collector: SoakCollector
    let context: ZMQContext
    let origin: ContinuousClock.Instant
    let metrics: SoakMetrics
    var streams: [SoakStream]
    var sockets: [ZMQSocket]
    /// Carries the EVT 3.0 fault's sensor (``SoakSettings/evt3Sensor``).
    let auxiliary: ZMQSocket
    var evt3Sequence: UInt64 = 0
    var evt3Sent = SoakObservations.Sent()
    var random: Xoshiro256StarStar
    var multiplier = 1.0
    var active: Active?
    var sendStart: ContinuousClock.Instant

    init(
        settings: SoakSettings, recordings: SoakRecordings, daemon: SoakDaemon, collector: SoakCollector,
        context: ZMQContext, origin: ContinuousClock.Instant
    ) throws {
        self.settings = settings
        self.recordings = recordings
        self.daemon = daemon
        self.collector = collector
        self.context = context
        self.origin = origin
        metrics = SoakMetrics(port: daemon.metricsPort)
        random = Xoshiro256StarStar(seed: settings.seed)
        let now = ContinuousClock.now
        sendStart = now
        streams = settings.sensorNames.enumerated().map { i, name in
            SoakStream(name: name, recordings: recordings, seed: settings.seed &+ UInt64(i) &* 0x9E37_79B9, now: now)
        }
        sockets = []
        auxiliary = try Self.connect(context: context, endpoint: daemon.inputEndpoint)
        for _ in streams { sockets.append(try Self.connect(context: context, endpoint: daemon.inputEndpoint)) }
    }

    /// A PUSH socket connected to the daemon: queues only to a completed connection, sends wait at most 200 ms.
    static func connect(context: ZMQContext, endpoint: String) throws(ZMQError) -> ZMQSocket {
        let socket = try ZMQSocket(.push, context: context)
        try socket.setImmediate(true)
        try socket.setSendTimeout(.milliseconds(200))
        try socket.connect(endpoint)
        return socket
    }

    /// Closes every sending socket (linger 0).
    func closeSockets() {
        for socket in sockets { socket.close(linger: .zero) }
        auxiliary.close(linger: .zero)
    }

    var speed: Double { recordings.speed * multiplier }

    func seconds(since instant: ContinuousClock.Instant, _ now: ContinuousClock.Instant = .now) -> Double {
        SensorPipelines.seconds(now - instant)
    }

    // MARK: Sending

    /// Sends the paced traffic and the faults for the soak's duration.
    func send(_ observations: inout SoakObservations, progress: (String) -> Void) throws {
        let start = ContinuousClock.now
        sendStart = start
        for i in streams.indices { streams[i].reanchor(at: start, recordings) }
        let end = start + settings.duration
        var nextFault = start + settings.faultInterval
        var faultIndex = 0
        var nextSample = start + .seconds(1)
        var nextReport = start + .seconds(60)
        var middleTaken = false
        while true {
            let now = ContinuousClock.now
            if now >= end { break }
            if now >= nextSample {
                nextSample = nextSample + .seconds(1)
                sample(&observations.memory)
                guard daemon.isRunning else { throw Stop(description: "bisnnd ended during the soak") }
                // The middle sample: at half the duration, or later once every kind of fault has run once.
                if !middleTaken, now >= start + settings.duration / 2, faultIndex >= SoakFault.allCases.count,
                   active == nil {
                    middleTaken = true
                    (observations.memory.middleBytes, observations.memory.middlePeakBytes) = daemon.residentMemory()
                    observations.memory.middleAtSeconds = seconds(since: start, now)
                }
                if now >= nextReport {
                    nextReport = nextReport + .seconds(60)
                    progress(summaryLine(at: now))
                }
            }
            if active != nil { try advanceFault(&observations, now: now, progress: progress) }
            if active == nil, now >= nextFault {
                let kind = SoakFault.scheduled(faultIndex)
                faultIndex += 1
                nextFault = max(nextFault + settings.faultInterval, now + .milliseconds(500))
                // A fault must be over a second before the end.
                if now + faultLength(kind) + .seconds(1) < end {
                    try startFault(kind, &observations, now: now, progress: progress)
                }
            }
            // The sensor whose next message is due first.
            var next = 0
            var due = streams[0].due(recordings, speed: speed)
            for i in streams.indices.dropFirst() {
                let d = streams[i].due(recordings, speed: speed)
                if d < due { (next, due) = (i, d) }
            }
            if due > now {
                Self.sleep(min(due - now, .milliseconds(5)))
                continue
            }
            if now - due > .seconds(1) {
                // Over a second behind (bisnnd held the senders back): resume from here rather than rush.
                streams[next].reanchor(at: now, recordings)
            }
            let message = streams[next].next(recordings, speed: speed)
            try push(message.frames, on: sockets[next])
        }
        observations.run.sentSeconds = seconds(since: start)
        observations.sendOffset = SensorPipelines.seconds(start - origin)
        if !middleTaken {
            (observations.memory.middleBytes, observations.memory.middlePeakBytes) = daemon.residentMemory()
            observations.memory.middleAtSeconds = seconds(since: start)
        }
    }

    var isRestartPending: Bool {
        if case .restart = active { return true }
        return false
    }

    /// Sends one message, waiting while bisnnd holds the sender back; gives up after 60 s or when bisnnd ended.
    func push(_ frames: [[UInt8]], on socket: ZMQSocket) throws {
        let since = ContinuousClock.now
        while try !socket.send(frames) {
            guard daemon.isRunning else { throw Stop(description: "bisnnd ended during the soak") }
            guard ContinuousClock.now - since < .seconds(60) else {
                throw Stop(description: "bisnnd took no message for 60 s")
            }
        }
    }

    func sample(_ memory: inout SoakReport.Memory) {
        let (current, peak) = daemon.residentMemory()
        memory.samples += 1
        memory.maxBytes = max(memory.maxBytes, current)
        memory.peakBytes = max(memory.peakBytes, peak)
    }

    func summaryLine(at now: ContinuousClock.Instant) -> String {
        let seen = collector.snapshot
        let events = streams.reduce(0) { $0 + $1.sentEvents }
        return "soak: " + String(format: "%.0f s", seconds(since: sendStart, now)) + ": \(events) events sent, "
            + "\(seen.latencies.count) decisions received, bisnnd resident \(daemon.residentMemory().current >> 20) MiB"
    }

    /// Sleeps the calling thread (never a Swift concurrency thread).
    static func sleep(_ duration: Duration) {
        let (seconds, attoseconds) = duration.components
        var request = timespec(tv_sec: Int(seconds), tv_nsec: Int(attoseconds / 1_000_000_000))
        _ = nanosleep(&request, nil)
    }

    // MARK: The end

    /// Lets a fault under way finish, sends each sensor a last END, waits for its decision and a status that
    /// counts everything, samples memory, reads the metrics, and stops bisnnd with SIGTERM.
    func finish(_ observations: inout SoakObservations, progress: (String) -> Void) {
        let alive = daemon.isRunning
        if alive {
            let limit = ContinuousClock.now + .seconds(30)
            while active != nil, !isRestartPending, ContinuousClock.now < limit {
                try? advanceFault(&observations, now: .now, progress: progress)
                Self.sleep(.milliseconds(5))
            }
            if isRestartPending { active = nil }
            multiplier = 1
            var finals: [String: UInt64] = [:]
            var sent = true
            for i in streams.indices {
                let (width, height) = SoakInjection.geometry(ofHeader: streams[i].recording(recordings).messages[0].header)
                let header = EventPacketHeader(
                    encoding: .native, flags: .end, width: width, height: height, count: 0,
                    sequence: streams[i].sequence)
                finals[streams[i].name.rawValue] = streams[i].sequence
                do {
                    try push([streams[i].topic, header.encoded(), []], on: sockets[i])
                    streams[i].sequence &+= 1
                    streams[i].sentMessages += 1
                } catch {
                    sent = false
                    observations.failure = observations.failure ?? "\(error)"
                }
            }
            observations.finalDecisionsArrived = sent && collector.waitForPredictions(finals, within: .seconds(60))
            if barrier(within: .seconds(30)) == nil {
                progress("soak: no status counted every message sent within 30 s")
            }
            sample(&observations.memory)
            observations.memory.endBytes = daemon.residentMemory().current
            if let samples = metrics.scrape(), let dropped = samples["bisnnd_published_dropped_total"] {
                observations.outputDropped = Int(dropped)
            }
        }
        let base = max(observations.memory.middleBytes, observations.memory.middlePeakBytes)
        observations.memory.limitBytes =
            base + max(settings.memoryGrowthBytes, Int(Double(base) * settings.memoryGrowthFraction))
        if observations.run.sentSeconds > 0 {
            observations.run.sentEventsPerSecond =
                Double(streams.reduce(0) { $0 + $1.sentEvents }) / observations.run.sentSeconds
        }

        if alive, daemon.isRunning {
            daemon.send(SIGTERM)
            if !daemon.waitForExit(within: .seconds(30)) {
                observations.daemon.killed = true
                daemon.send(SIGKILL)
                _ = daemon.waitForExit(within: .seconds(5))
            }
        } else {
            observations.daemon.diedEarly = true
            observations.daemon.diedAtSeconds = seconds(since: sendStart)
        }
        if let exit = daemon.exit {
            observations.daemon.exitStatus = exit.status
            observations.daemon.signalled = exit.signalled
        }
        // The daemon's last status (sent as it stops) may still be on its way.
        Self.sleep(.milliseconds(200))

        let seen = collector.snapshot
        observations.seen = seen
        observations.status = seen.status
        for stream in streams {
            observations.sent[stream.name.rawValue] = SoakObservations.Sent(
                messages: stream.sentMessages, events: stream.sentEvents, restarts: stream.restarts)
        }
        if evt3Sent.messages > 0 { observations.sent[SoakSettings.evt3Sensor.rawValue] = evt3Sent }
        let lines = daemon.logLines
        observations.daemon.warnings = lines.filter {
            $0.contains(" warning ") || $0.contains(" error ") || $0.contains(" critical ")
        }.count
        observations.daemon.logTail = Array(lines.suffix(20))
        progress("soak: done; bisnnd " + (observations.daemon.exitStatus.map { "exit status \($0)" } ?? "did not exit"))
    }
}
