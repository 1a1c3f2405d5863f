import EventStream
import Foundation
import Synchronization
import ZeroMQ

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A load benchmark of the real daemon: starts one `bisnnd` process serving a given model over TCP loopback,
/// pushes a synthetic EVT 3.0 stream from one or more sensors through a PUSH socket as fast as the service takes
/// it (or at a set rate), with END every `segmentMicroseconds` of sensor time so that decisions are made, and
/// reports the sustained event rate, what the service accounted for (from its status message), the decision
/// latency it measured (`latency_us`: receipt of END to publication) and its resident memory.
///
/// The stream: events at `sensorEventRate` per second of sensor time, uniformly random pixels and polarities on
/// the sensor, EVT 3.0 words as ``EVT3Encoder`` writes them (about two 16-bit words an event). One block of
/// `blockTimeHighs` × 4096 µs is encoded once and sent again and again, its TIME_HIGH words moved on each time,
/// so the time line goes on and the sender costs little. The messages are cut every `wordsPerMessage` words,
/// wherever that falls (the service's decoder state carries across).
public struct ServiceLoadBenchmark: Sendable {
    /// What to run.
    public struct Settings: Sendable {
        /// The `bisnnd` executable.
        public var daemon: String
        /// The model file it serves (its input decides the sensor: 34x34 for N-MNIST models).
        public var model: String
        /// Ensemble draws.
        public var ensembleSize = 10
        /// Sensors sending at once (`bench-0`, `bench-1`, ...).
        public var sensors = 1
        /// Events per second of sensor time, per sensor.
        public var sensorEventRate: Double = 20e6
        /// Events per second of wall time, all sensors together; nil sends as fast as the service takes them.
        public var sendRate: Double?
        /// How long to send.
        public var duration: Duration = .seconds(5)
        /// Sensor time between END flags.
        public var segmentMicroseconds: Int64 = 100_000
        /// Words per message.
        public var wordsPerMessage = 32_768
        /// Length of the encoded block, in TIME_HIGH periods of 4096 µs.
        public var blockTimeHighs = 32
        /// Extra YAML for the daemon's configuration (e.g. `decisions:` settings).
        public var extraConfiguration = ""

        /// Settings for `daemon` serving `model`; the rest at their defaults.
        public init(daemon: String, model: String) {
            self.daemon = daemon
            self.model = model
        }
    }

    /// What was measured.
    public struct Result: Sendable, CustomStringConvertible {
        /// Events and messages sent, all sensors.
        public var sentEvents = 0
        public var sentMessages = 0
        /// Wall time from the first message sent to the last sensor's final decision published.
        public var seconds = 0.0
        /// Events accepted, late, in lost messages, and messages rejected, by the service's own count.
        public var acceptedEvents = 0
        public var lateEvents = 0
        public var lostMessages: UInt64 = 0
        public var rejectedMessages = 0
        public var shedFrames = 0
        public var frames = 0
        /// Predictions received and their `latency_us`, sorted.
        public var latenciesMicroseconds: [Int64] = []
        /// The daemon's peak and final resident memory, in bytes.
        public var peakResidentBytes = 0
        public var residentBytes = 0

        /// Accepted events per second of wall time.
        public var eventsPerSecond: Double { seconds > 0 ? Double(acceptedEvents) / seconds : 0 }

        /// The `q` quantile (0...1) of the latencies.
        public func latency(quantile q: Double) -> Int64 {
            guard !latenciesMicroseconds.isEmpty else { return 0 }
            let index = min(latenciesMicroseconds.count - 1, Int((Double(latenciesMicroseconds.count) * q).rounded(.down)))
            return latenciesMicroseconds[index]
        }

        public var description: String {
            let rate = String(format: "%.2f", eventsPerSecond / 1e6)
            let lost = sentEvents - acceptedEvents - lateEvents
            return "\(acceptedEvents) of \(sentEvents) events accepted (\(lateEvents) late, \(lost) unaccounted, "
                + "\(lostMessages) messages lost, \(rejectedMessages) rejected, \(shedFrames) frames shed) in "
                + String(format: "%.2f", seconds) + " s: \(rate) M events/s; \(frames) frames; "
                + "\(latenciesMicroseconds.count) decisions, latency p50 \(latency(quantile: 0.5)) µs, p99 "
                + "\(latency(quantile: 0.99)) µs, max \(latenciesMicroseconds.last ?? 0) µs; resident "
                + "\(residentBytes >> 20) MiB (peak \(peakResidentBytes >> 20) MiB)"
        }
    }

    /// Why the benchmark could not run.
    public struct Failure: Error, Sendable, CustomStringConvertible {
        public var message: String
        public init(_ message: String) { self.message = message }
        public var description: String { message }
    }

    /// The settings.
    public let settings: Settings

    /// A benchmark with `settings`.
    public init(settings: Settings) {
        self.settings = settings
    }

    /// Runs the daemon and the load; returns what was measured.
    public func run() throws -> Result {
        let block = try Self.encodeBlock(settings)
        let directory = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("bisnnd-bench-\(getpid())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let inputPort = try Self.freePort(), outputPort = try Self.freePort()
        let configuration = directory.appendingPathComponent("bisnnd.yaml").path
        let text = """
            service:
              status_interval_s: 0.25
            model:
              path: \(settings.model)
              ensemble_size: \(settings.ensembleSize)
            input:
              pull_bind: ["tcp://127.0.0.1:\(inputPort)"]
            output:
              pub_bind: tcp://127.0.0.1:\(outputPort)
            log:
              format: plain
              level: warning
            """ + "\n" + settings.extraConfiguration
        try Data(text.utf8).write(to: URL(fileURLWithPath: configuration))
        let process = Process()
        process.executableURL = URL(fileURLWithPath: settings.daemon)
        process.arguments = ["--config", configuration]
        try process.run()
        defer {
            if process.isRunning {
                kill(process.processIdentifier, SIGTERM)
                process.waitUntilExit()
            }
        }

        let context = try ZMQContext()
        defer { context.close() }
        let collector = try PredictionCollector(context: context, endpoint: "tcp://127.0.0.1:\(outputPort)")
        defer { collector.stop() }
        guard collector.waitForStatus(within: .seconds(30)) != nil else {
            throw Failure("bisnnd published no status within 30 s")
        }
        let push = try ZMQSocket(.push, context: context)
        defer { push.close() }
        try push.setSendHighWaterMark(64)
        try push.connect("tcp://127.0.0.1:\(inputPort)")

        var writers = (0..<settings.sensors).map { EventPacketWriter(sensor: SensorName("bench-\($0)")!) }
        let geometry = block.geometry
        var result = Result()
        let started = ContinuousClock.now
        let sendUntil = started + settings.duration
        var iteration = 0
        var payload: [UInt8] = []
        sending: while true {
            for (m, message) in block.messages.enumerated() {
                if ContinuousClock.now >= sendUntil { break sending }
                for s in 0..<settings.sensors {
                    payload = message.bytes
                    let shift = UInt16(truncatingIfNeeded: iteration * settings.blockTimeHighs)
                    payload.withUnsafeMutableBytes { raw in
                        for offset in message.timeHighOffsets {
                            let word = raw.loadUnaligned(fromByteOffset: offset, as: UInt16.self)
                            let moved = 0x8000 | ((word &+ shift) & 0x0FFF)
                            raw.storeBytes(of: moved, toByteOffset: offset, as: UInt16.self)
                        }
                    }
                    var flags: EventPacketHeader.Flags = []
                    if iteration == 0 && m == 0 { flags.insert(.start) }
                    if message.endsSegment { flags.insert(.end) }
                    let frames = writers[s].message(encoding: .evt3, geometry: geometry, flags: flags, payload: payload)
                    guard try push.send(frames) else { throw Failure("the service took nothing for a while") }
                    result.sentEvents += message.events
                    result.sentMessages += 1
                }
                if let rate = settings.sendRate {
                    let due = started + .seconds(Double(result.sentEvents) / rate)
                    let now = ContinuousClock.now
                    if due > now { Thread.sleep(forTimeInterval: SensorPipelines.seconds(due - now)) }
                }
            }
            iteration += 1
        }
        // A last END per sensor: its decision marks the end of the work.
        var finals: [String: UInt64] = [:]
        for s in 0..<settings.sensors {
            finals[writers[s].sensor.rawValue] = writers[s].nextSequence
            guard try push.send(writers[s].message(encoding: .evt3, geometry: geometry, flags: .end, payload: [])) else {
                throw Failure("the service took nothing for a while")
            }
            result.sentMessages += 1
        }
        guard let finished = collector.waitForPredictions(finals, within: .seconds(120)) else {
            throw Failure("the final decisions did not arrive")
        }
        result.seconds = SensorPipelines.seconds(finished - started)
        guard let status = collector.waitForStatus(after: finished, within: .seconds(10)) else {
            throw Failure("no status after the run")
        }
        for entry in status.sensors.values {
            result.acceptedEvents += entry.events
            result.lateEvents += entry.lateEvents
            result.lostMessages += entry.lostMessages
            result.rejectedMessages += entry.malformed.values.reduce(0, +)
            result.shedFrames += entry.shedFrames
            result.frames += entry.frames
        }
        result.latenciesMicroseconds = collector.latencies.sorted()
        (result.residentBytes, result.peakResidentBytes) = Self.residentMemory(of: process.processIdentifier)
        kill(process.processIdentifier, SIGTERM)
        process.waitUntilExit()
        return result
    }

    // MARK: - The stream

    /// One encoded block, cut into messages.
    struct Block {
        struct Message {
            var bytes: [UInt8]
            /// Byte offsets of TIME_HIGH words.
            var timeHighOffsets: [Int]
            var events: Int
            var endsSegment: Bool
        }
        var messages: [Message]
        var geometry: SensorGeometry
    }

    static func encodeBlock(_ settings: Settings) throws -> Block {
        let geometry = SensorGeometry(width: 34, height: 34)
        let span = Int64(settings.blockTimeHighs) * 4096
        let count = Int(settings.sensorEventRate * Double(span) / 1e6)
        var random = SplitMix64(state: 1)
        var events = EventBuffer(capacity: count)
        events.withWriter(reservingCapacity: count) { writer in
            for i in 0..<count {
                let r = random.next()
                writer.append(
                    t: Int64(Double(i) * 1e6 / settings.sensorEventRate), x: UInt16(r % 34), y: UInt16((r >> 8) % 34),
                    polarity: UInt8((r >> 16) & 1))
            }
        }
        var encoder = EVT3Encoder(geometry: geometry)
        var bytes: [UInt8] = []
        try encoder.encode(events, into: &bytes)
        bytes.removeFirst(encoder.headerText.utf8.count)
        // Cut into messages; END on the message holding the first word at or after each segment boundary.
        var messages: [Block.Message] = []
        let wordCount = bytes.count / 2
        var time: Int64 = 0
        var nextEnd = settings.segmentMicroseconds
        bytes.withUnsafeBytes { raw in
            var start = 0
            while start < wordCount {
                let end = min(wordCount, start + settings.wordsPerMessage)
                var offsets: [Int] = []
                var eventsInMessage = 0
                var endsSegment = false
                for w in start..<end {
                    let word = raw.loadUnaligned(fromByteOffset: 2 * w, as: UInt16.self)
                    switch word >> 12 {
                    case 0x8:
                        offsets.append(2 * (w - start))
                        time = (time & 0xFFF) | Int64(word & 0xFFF) << 12
                    case 0x6:
                        time = (time & ~0xFFF) | Int64(word & 0xFFF)
                    case 0x2:
                        eventsInMessage += 1
                    default:
                        break
                    }
                    if time >= nextEnd {
                        endsSegment = true
                        nextEnd += settings.segmentMicroseconds
                    }
                }
                messages.append(Block.Message(
                    bytes: Array(raw[(2 * start)..<(2 * end)]), timeHighOffsets: offsets, events: eventsInMessage,
                    endsSegment: endsSegment))
                start = end
            }
        }
        return Block(messages: messages, geometry: geometry)
    }

    // MARK: - Helpers

    static func freePort() throws -> Int {
        let context = try ZMQContext()
        defer { context.close() }
        let socket = try ZMQSocket(.pull, context: context)
        defer { socket.close() }
        try socket.bind("tcp://127.0.0.1:*")
        guard let port = Int(try socket.lastEndpoint.split(separator: ":").last ?? "") else {
            throw Failure("cannot find a free port")
        }
        return port
    }

    /// VmRSS and VmHWM of a process, in bytes (0 where unknown).
    static func residentMemory(of pid: Int32) -> (current: Int, peak: Int) {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return (0, 0) }
        func field(_ name: String) -> Int {
            guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix(name + ":") }) else { return 0 }
            return (Int(line.split(separator: " ").dropFirst().first ?? "") ?? 0) * 1024
        }
        return (field("VmRSS"), field("VmHWM"))
    }
}

/// Reads the daemon's output on a thread of its own: prediction latencies, the latest status, and when each
/// awaited prediction arrived.
private final class PredictionCollector: Sendable {
    private struct State {
        var latencies: [Int64] = []
        var status: (StatusMessage, ContinuousClock.Instant)?
        var arrivals: [String: (sequence: UInt64, at: ContinuousClock.Instant)] = [:]
    }

    private let state = Mutex(State())
    private let done = Atomic(false)

    init(context: ZMQContext, endpoint: String) throws {
        let socket = try ZMQSocket(.sub, context: context)
        try socket.setReceiveTimeout(.milliseconds(100))
        try socket.subscribe()
        try socket.connect(endpoint)
        let box = SocketBox(socket)
        let thread = Thread { [self] in
            let socket = box.socket
            defer { socket.close() }
            while !done.load(ordering: .relaxed) {
                guard let parts = try? socket.receive(), parts.count == 2 else { continue }
                let now = ContinuousClock.now
                if parts[0].starts(with: Array("predictions/".utf8)),
                   let message = try? PredictionMessage.decode(json: parts[1]) {
                    state.withLock { state in
                        state.latencies.append(message.latencyMicroseconds)
                        state.arrivals[message.sensor] = (message.sequence, now)
                    }
                } else if let status = try? StatusMessage.decode(json: parts[1]) {
                    state.withLock { $0.status = (status, now) }
                }
            }
        }
        thread.start()
    }

    func stop() { done.store(true, ordering: .relaxed) }

    var latencies: [Int64] { state.withLock { $0.latencies } }

    func waitForStatus(after instant: ContinuousClock.Instant? = nil, within limit: Duration) -> StatusMessage? {
        let deadline = ContinuousClock.now + limit
        while ContinuousClock.now < deadline {
            if let (status, at) = state.withLock({ $0.status }), instant.map({ at > $0 }) ?? true { return status }
            Thread.sleep(forTimeInterval: 0.01)
        }
        return nil
    }

    /// When the last of `finals` (sensor → sequence number) arrived, or nil after `limit`.
    func waitForPredictions(_ finals: [String: UInt64], within limit: Duration) -> ContinuousClock.Instant? {
        let deadline = ContinuousClock.now + limit
        while ContinuousClock.now < deadline {
            let arrived: [ContinuousClock.Instant]? = state.withLock { state in
                var times: [ContinuousClock.Instant] = []
                for (sensor, sequence) in finals {
                    guard let arrival = state.arrivals[sensor], arrival.sequence == sequence else { return nil }
                    times.append(arrival.at)
                }
                return times
            }
            if let arrived { return arrived.max() }
            Thread.sleep(forTimeInterval: 0.001)
        }
        return nil
    }
}

/// Hands a socket to the collector's thread.
private final class SocketBox: @unchecked Sendable {
    let socket: ZMQSocket
    init(_ socket: ZMQSocket) { self.socket = socket }
}
