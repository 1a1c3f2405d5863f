import BiSNN
import BiSNNTraining
import EventStream
import Foundation
import Synchronization
import Testing
import ZeroMQ

@testable import BiSNNService

#if canImport(Glibc)
import Glibc
#endif

/// Issue 6 ("bisnnd under stress"), Faults, with real processes: the built `bisnnd`, `bisnn replay` as sensor
/// publishers and `bisnn listen` as subscribers, killed and restarted; SIGHUP and SIGTERM while a sender pushes
/// as fast as the service takes messages; SIGKILL of the service and a restart on the same ipc endpoints; a
/// pipeline stuck in real work while the systemd watchdog is on.
///
/// SIGHUP with a corrupt model file (refused, the old model keeps serving, READY=1 names the refusal) is
/// covered by `BisnndServiceTests.servesRecordingsAsEvalDecidesReloadsAndDrains`.
///
/// Every wait is a bounded poll; timings are measured, never slept and assumed.
@Suite(.serialized) struct FaultTests {
    typealias F = PipelineFixtures
    typealias Service = BisnndServiceTests

    // MARK: - Processes

    /// The built `bisnn` command line, next to `bisnnd`.
    static var cli: String? {
        guard let daemon = ConfigurationCommandTests.binary else { return nil }
        let path = URL(fileURLWithPath: daemon).deletingLastPathComponent().appendingPathComponent("bisnn").path
        return FileManager.default.isExecutableFile(atPath: path) ? path : nil
    }

    /// A `bisnn` child process (replay, listen) with its standard output and error in one file; SIGKILLed if
    /// still running when dropped.
    final class Child {
        let process = Process()
        let outputPath: String

        init(_ arguments: [String], directory: URL, name: String) throws {
            let cli = try #require(FaultTests.cli, "bisnn is not built next to the tests")
            outputPath = directory.appendingPathComponent("\(name).out").path
            _ = FileManager.default.createFile(atPath: outputPath, contents: nil)
            let output = try FileHandle(forWritingTo: URL(fileURLWithPath: outputPath))
            process.executableURL = URL(fileURLWithPath: cli)
            process.arguments = arguments
            process.environment = ["PATH": "/usr/bin:/bin"]
            process.standardOutput = output
            process.standardError = output
            try process.run()
        }

        deinit {
            if process.isRunning {
                Glibc.kill(process.processIdentifier, SIGKILL)
                process.waitUntilExit()
            }
        }

        var output: String { (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? "" }

        /// SIGKILL, then waits for the process to be gone.
        func killHard() {
            Glibc.kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }

        /// The exit status, or nil if the process still runs after `limit`.
        func exitStatus(within limit: Duration = .seconds(20)) -> Int32? {
            let deadline = ContinuousClock.now + limit
            while process.isRunning && ContinuousClock.now < deadline { usleep(10_000) }
            return process.isRunning ? nil : process.terminationStatus
        }
    }

    /// Polls `condition` every 10 ms for up to `limit`; whether it came true.
    static func poll(_ limit: Duration, _ condition: () -> Bool) -> Bool {
        let deadline = ContinuousClock.now + limit
        while ContinuousClock.now < deadline {
            if condition() { return true }
            usleep(10_000)
        }
        return condition()
    }

    // MARK: - Subscribers, senders, notifications

    /// Everything the daemon publishes, read on a thread of its own from a SUB socket subscribed to everything
    /// (so a slow test never makes the daemon's PUB drop), each message with the instant it arrived.
    final class Collector: Sendable {
        enum Item: Sendable {
            case prediction(PredictionMessage)
            case status(StatusMessage)

            var prediction: PredictionMessage? {
                guard case .prediction(let prediction) = self else { return nil }
                return prediction
            }

            var status: StatusMessage? {
                guard case .status(let status) = self else { return nil }
                return status
            }
        }

        struct Received: Sendable {
            var at: ContinuousClock.Instant
            var item: Item
        }

        private let received = Mutex<[Received]>([])
        private let problems = Mutex<[String]>([])
        private let stopping = Atomic(false)
        private let running = Atomic(true)

        init(_ endpoint: String) {
            let thread = Thread { [self] in
                defer { running.store(false, ordering: .releasing) }
                do {
                    let context = try ZMQContext()
                    defer { context.close() }
                    let socket = try ZMQSocket(.sub, context: context)
                    defer { socket.close(linger: .zero) }
                    try socket.setReceiveTimeout(.milliseconds(20))
                    try socket.subscribe()
                    try socket.connect(endpoint)
                    while !stopping.load(ordering: .acquiring) {
                        guard let parts = try socket.receive() else { continue }
                        let now = ContinuousClock.now
                        do {
                            guard parts.count == 2 else { throw CollectorError("\(parts.count) frames") }
                            if parts[0].starts(with: Array("predictions/".utf8)) {
                                let prediction = try PredictionMessage.decode(json: parts[1])
                                received.withLock { $0.append(Received(at: now, item: .prediction(prediction))) }
                            } else if parts[0].starts(with: Array("status/".utf8)) {
                                let status = try StatusMessage.decode(json: parts[1])
                                received.withLock { $0.append(Received(at: now, item: .status(status))) }
                            } else {
                                throw CollectorError("topic \(String(decoding: parts[0], as: UTF8.self))")
                            }
                        } catch {
                            problems.withLock { $0.append("\(error)") }
                        }
                    }
                } catch {
                    problems.withLock { $0.append("\(error)") }
                }
            }
            thread.start()
        }

        deinit { stop() }

        struct CollectorError: Error, CustomStringConvertible {
            var description: String
            init(_ description: String) { self.description = description }
        }

        /// Stops the thread and waits (up to 5 s) until its socket and context are closed.
        func stop() {
            stopping.store(true, ordering: .releasing)
            _ = FaultTests.poll(.seconds(5)) { !running.load(ordering: .acquiring) }
        }

        /// What could not be read or decoded (should stay empty).
        var errors: [String] { problems.withLock { $0 } }

        var items: [Received] { received.withLock { $0 } }

        var predictions: [PredictionMessage] { items.compactMap(\.item.prediction) }

        var timedPredictions: [(at: ContinuousClock.Instant, prediction: PredictionMessage)] {
            items.compactMap { entry in entry.item.prediction.map { (entry.at, $0) } }
        }

        var statuses: [StatusMessage] { items.compactMap(\.item.status) }

        var predictionCount: Int { received.withLock { $0.filter { $0.item.prediction != nil }.count } }

        /// Waits until nothing has arrived for `quiet` (at most `limit`).
        func waitUntilQuiet(_ quiet: Duration = .milliseconds(300), within limit: Duration = .seconds(5)) {
            var count = received.withLock { $0.count }
            var since = ContinuousClock.now
            _ = FaultTests.poll(limit) {
                let now = received.withLock { $0.count }
                if now != count {
                    count = now
                    since = .now
                }
                return ContinuousClock.now - since >= quiet
            }
        }

        var lastStatus: StatusMessage? { statuses.last }

        /// Waits up to `limit` for a status message, received after this call, that satisfies `condition`.
        func waitForStatus(within limit: Duration = .seconds(20), _ condition: (StatusMessage) -> Bool) -> StatusMessage? {
            let start = received.withLock { $0.count }
            var found: StatusMessage?
            _ = FaultTests.poll(limit) {
                let fresh = received.withLock { Array($0[start...]) }
                for entry in fresh {
                    if let status = entry.item.status, condition(status) {
                        found = status
                        return true
                    }
                }
                return false
            }
            return found
        }

        /// Waits up to `limit` until at least `count` predictions have arrived.
        func waitForPredictions(_ count: Int, within limit: Duration = .seconds(20)) -> Bool {
            FaultTests.poll(limit) { predictionCount >= count }
        }
    }

    /// A PUSH sender on a thread of its own that sends recordings round and round, as fast as the daemon takes
    /// them (PUSH blocks at the high-water marks), renumbering every message from `firstSequence`; it logs each
    /// message libzmq accepted.
    final class LoadSender: Sendable {
        struct Sent: Sendable {
            var sequence: UInt64
            /// Index of the recording in the plan, and which pass through the plan.
            var recording: Int
            var instance: Int
            var events: Int
            var end: Bool
        }

        private let log = Mutex<[Sent]>([])
        private let problems = Mutex<[String]>([])
        private let stopping = Atomic(false)
        private let releasing = Atomic(false)
        private let stopped = Atomic(false)
        private let running = Atomic(true)

        /// `plan[r]` holds recording r's messages (START on the first, END on the last). With
        /// `finishRecordings`, a stop waits for the recording under way to be sent whole.
        init(
            endpoint: String, plan: [[[[UInt8]]]], firstSequence: UInt64 = 0, finishRecordings: Bool,
            linger: Duration, highWaterMark: Int = 50
        ) {
            let thread = Thread { [self] in
                defer {
                    stopped.store(true, ordering: .releasing)
                    running.store(false, ordering: .releasing)
                }
                do {
                    let context = try ZMQContext()
                    defer { context.close() }
                    let socket = try ZMQSocket(.push, context: context)
                    defer { socket.close(linger: linger) }
                    try socket.setSendHighWaterMark(highWaterMark)
                    try socket.setSendTimeout(.milliseconds(20))
                    try socket.connect(endpoint)
                    var sequence = firstSequence
                    var instance = 0
                    passes: while true {
                        for (r, messages) in plan.enumerated() {
                            if stopping.load(ordering: .acquiring) { break passes }
                            for message in messages {
                                var frames = message
                                withUnsafeBytes(of: sequence.littleEndian) { frames[1].replaceSubrange(16..<24, with: $0) }
                                var queued = try socket.send(frames)
                                while !queued {
                                    if !finishRecordings && stopping.load(ordering: .acquiring) { break passes }
                                    queued = try socket.send(frames)
                                }
                                let header = frames[1]
                                let count = header[12..<16].reversed().reduce(0) { $0 << 8 | Int($1) }
                                let sent = Sent(
                                    sequence: sequence, recording: r, instance: instance, events: count,
                                    end: header[6] & 2 != 0)
                                log.withLock { $0.append(sent) }
                                sequence += 1
                                if !finishRecordings && stopping.load(ordering: .acquiring) { break passes }
                            }
                            instance += 1
                        }
                    }
                    stopped.store(true, ordering: .releasing)
                    // Keep the socket open (what it queued still going out) until told to close it.
                    while !releasing.load(ordering: .acquiring) { usleep(5_000) }
                } catch {
                    problems.withLock { $0.append("\(error)") }
                }
            }
            thread.start()
        }

        deinit { close() }

        /// Stops sending (after the recording under way, with `finishRecordings`); the socket stays open.
        func stop() {
            stopping.store(true, ordering: .releasing)
        }

        /// Stops sending, closes the socket (lingering as asked) and waits (up to 30 s) for the thread to end.
        func close() {
            stopping.store(true, ordering: .releasing)
            releasing.store(true, ordering: .releasing)
            _ = FaultTests.poll(.seconds(30)) { !running.load(ordering: .acquiring) }
        }

        /// Whether the thread has stopped sending (its log is final).
        var isStopped: Bool { stopped.load(ordering: .acquiring) }

        var sent: [Sent] { log.withLock { $0 } }
        var sentCount: Int { log.withLock { $0.count } }
        var errors: [String] { problems.withLock { $0 } }
    }

    /// sd_notify datagrams with the instant each arrived, read on a thread of its own.
    final class NotifyLog: Sendable {
        struct Datagram: Sendable {
            var at: ContinuousClock.Instant
            var text: String
        }

        private let socket: SystemdNotifierTests.NotifySocketBox
        private let received = Mutex<[Datagram]>([])
        private let stopping = Atomic(false)
        private let running = Atomic(true)

        init() throws {
            let socket = try SystemdNotifierTests.NotifySocket(abstract: true)
            var timeout = timeval(tv_sec: 0, tv_usec: 20_000)
            setsockopt(socket.fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
            self.socket = SystemdNotifierTests.NotifySocketBox(socket)
            let thread = Thread { [self] in
                defer { running.store(false, ordering: .releasing) }
                while !stopping.load(ordering: .acquiring) {
                    if let text = self.socket.value.receive() {
                        let datagram = Datagram(at: .now, text: text)
                        received.withLock { $0.append(datagram) }
                    }
                }
            }
            thread.start()
        }

        deinit { stop() }

        var address: String { socket.value.address }
        var datagrams: [Datagram] { received.withLock { $0 } }

        /// When each `WATCHDOG=1` arrived.
        var watchdogPings: [ContinuousClock.Instant] { datagrams.filter { $0.text == "WATCHDOG=1" }.map(\.at) }

        func stop() {
            stopping.store(true, ordering: .releasing)
            _ = FaultTests.poll(.seconds(2)) { !running.load(ordering: .acquiring) }
        }
    }

    // MARK: - Fixtures

    /// A configuration for `bisnnd` in `directory`: status every 0.2 s, `model` (an ensemble of `ensembleSize`
    /// draws with the fixture seed), one PULL input, plain logs, load shedding off when this build has it
    /// (`sensor.max_lag_ms`: every frame stepped, so decisions equal eval's); `settings` ("section.key": YAML
    /// value) add to or replace these.
    static func writeConfiguration(
        in directory: URL, input: String, output: String, model: String, ensembleSize: Int = F.ensembleSize,
        _ settings: [String: String] = [:]
    ) throws -> String {
        var all: [String: String] = [
            "service.status_interval_s": "0.2", "service.stop_timeout_s": "5",
            "model.path": model, "model.ensemble_size": "\(ensembleSize)", "model.seed": "\(F.seed)",
            "input.pull_bind": "[\"\(input)\"]", "output.pub_bind": output, "log.format": "plain",
        ]
        if ServiceConfiguration.keys.contains("sensor.max_lag_ms") { all["sensor.max_lag_ms"] = "0" }
        all.merge(settings) { _, new in new }
        let sections = Dictionary(grouping: all.keys) { String($0.prefix { $0 != "." }) }
        var text = ""
        for section in sections.keys.sorted() {
            text += "\(section):\n"
            for key in sections[section]!.sorted() {
                text += "  \(key.dropFirst(section.count + 1)): \(all[key]!)\n"
            }
        }
        let path = directory.appendingPathComponent("bisnnd.yaml").path
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        return path
    }

    /// A fresh temporary directory with the fixture model in it.
    static func directoryWithModel() throws -> (directory: URL, model: String) {
        let directory = try Service.temporaryDirectory()
        let model = directory.appendingPathComponent("model.safetensors").path
        try F.model.write(to: model)
        return (directory, model)
    }

    /// A subdirectory for one process's log files.
    static func logDirectory(_ directory: URL, _ name: String) throws -> URL {
        let url = directory.appendingPathComponent(name)
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    /// Copies recordings of nmnist-small/train into a new folder of `directory` (for `bisnn replay DIR`, which
    /// sends them in natural order of their names).
    static func replayFolder(_ recordings: [LabelledRecording], in directory: URL, name: String) throws -> String {
        let folder = directory.appendingPathComponent(name)
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        for recording in recordings {
            try FileManager.default.copyItem(
                atPath: recording.path, toPath: folder.appendingPathComponent(recording.file).path)
        }
        return folder.path
    }

    /// `replayed 3 recordings, 5 messages, ...`: the number of messages `bisnn replay` says it sent.
    static func replayedMessages(_ output: String) -> Int? {
        guard let range = output.range(of: #"recordings?, [0-9]+ messages?"#, options: .regularExpression) else {
            return nil
        }
        return Int(output[range].split(separator: " ")[1])
    }

    /// A sensor's entry in a status message, or a default (all zero) one.
    static func entry(_ status: StatusMessage?, _ sensor: String) -> StatusMessage.SensorStatus {
        status?.sensors[sensor] ?? StatusMessage.SensorStatus()
    }

    // MARK: - 1. A sensor publisher killed and restarted

    enum CutClosure: String, CustomTestStringConvertible, CaseIterable {
        /// The restarted publisher's first message (sequence 0, START) closes the cut segment.
        case restart
        /// The idle timeout closes it before the publisher comes back.
        case idle

        var testDescription: String { rawValue }
    }

    /// A real `bisnn replay` process sends a whole recording (so the sensor is known to end its segments with
    /// END); the next one, sending a recording in slowed-down real time, is SIGKILLed part-way through it; a
    /// new one starts from sequence number 0 with three recordings. The cut segment is decided on the events
    /// that arrived (a prefix of the recording), by the restart or by the idle timeout, and is flagged
    /// incomplete; the restarts are counted; every event and message is accounted for; the whole recordings
    /// get exactly eval's decisions.
    @Test(arguments: CutClosure.allCases)
    func publisherKilledMidRecordingAndRestarted(closure: CutClosure) throws {
        let (directory, modelPath) = try Self.directoryWithModel()
        defer { try? FileManager.default.removeItem(at: directory) }
        let input = "ipc://\(directory.path)/in.sock"
        let output = "ipc://\(directory.path)/out.sock"
        // The restart path gets an idle timeout far beyond the test; the idle path one the publisher's
        // messages (one a millisecond) never come near.
        let idle = closure == .restart ? "60000" : "1000"
        let configuration = try Self.writeConfiguration(
            in: directory, input: input, output: output, model: modelPath, ["decisions.idle_reset_ms": idle])
        let collector = Collector(output)
        defer { collector.stop() }
        let daemon = try Service.Daemon(configuration: configuration, directory: try Self.logDirectory(directory, "d"))
        _ = try #require(collector.waitForStatus { _ in true }, "no status: \(daemon.log)")
        let identifier = ModelIdentifier(file: modelPath)!.text

        // A whole recording first: the sensor ends its segments with END.
        let wholeRecording = F.recordings(1, from: 6)[0]
        let whole = try Child(
            ["replay", wholeRecording.path, "--sensor", "cam0", "--endpoint", input, "--segments", "--speed", "max"],
            directory: directory, name: "replay-0")
        #expect(whole.exitStatus() == 0, "\(whole.output)")
        let wholeMessages = try #require(Self.replayedMessages(whole.output), "\(whole.output)")
        try #require(collector.waitForPredictions(1), "the whole recording was not decided: \(daemon.log)")

        // The first publisher: recording 7 at a tenth of real time (about 3 s), killed once a third of its
        // events have arrived.
        let cutRecording = F.recordings(1, from: 7)[0]
        let first = try Child(
            ["replay", cutRecording.path, "--sensor", "cam0", "--endpoint", input, "--segments", "--speed", "0.1"],
            directory: directory, name: "replay-1")
        let started = collector.waitForStatus {
            Self.entry($0, "cam0").events >= wholeRecording.events.count + cutRecording.events.count / 3
        }
        try #require(started != nil, "the first publisher's events never arrived: \(first.output) \(daemon.log)")
        first.killHard()
        #expect(first.process.terminationReason == .uncaughtSignal)
        #expect(collector.predictionCount == 1, "a decision before the cut: \(collector.predictions)")

        if closure == .idle {
            // Nothing comes from cam0 any more: the idle timeout closes the cut segment.
            #expect(collector.waitForPredictions(2), "the idle timeout closed nothing: \(daemon.log)")
        }

        // The publisher restarts: sequence numbers from 0 again, three whole recordings at full speed.
        let recordings = F.recordings(3, from: 11)
        let expected = try F.evaluatorDecisions(recordings)
        let folder = try Self.replayFolder(recordings, in: directory, name: "again")
        let second = try Child(
            ["replay", folder, "--sensor", "cam0", "--endpoint", input, "--segments", "--speed", "max"],
            directory: directory, name: "replay-2")
        #expect(second.exitStatus() == 0, "\(second.output)")
        let sentAgain = try #require(Self.replayedMessages(second.output), "\(second.output)")
        try #require(collector.waitForPredictions(5), "\(collector.predictions) \(daemon.log)")

        let predictions = collector.predictions
        try #require(predictions.count == 5, "\(predictions)")
        Service.check(
            predictions[0], against: try F.evaluatorDecisions([wholeRecording])[0], recording: wholeRecording,
            model: identifier)
        #expect(predictions[0].complete)
        let cut = predictions[1]
        let after = Array(predictions[2...])
        // The cut segment: a strict prefix of the recording, closed at the last message that arrived.
        #expect(cut.sensor == "cam0")
        #expect(cut.eventCount > 0 && cut.eventCount < cutRecording.events.count, "not cut: \(cut)")
        #expect(cut.startTimeMicroseconds == cutRecording.events[0].t)
        if cut.eventCount > 0 && cut.eventCount <= cutRecording.events.count {
            #expect(cut.endTimeMicroseconds == cutRecording.events[cut.eventCount - 1].t)
        }
        #expect(cut.droppedMessages == 0, "nothing was lost on the wire before the cut")
        #expect(cut.model == identifier)
        let cutMessages = Int(cut.sequence) + 1  // the first publisher numbered from 0

        // The restarted publisher's recordings: eval's decisions, whole, numbered from 0 again.
        for (i, prediction) in after.enumerated() {
            Service.check(prediction, against: expected[i], recording: recordings[i], model: identifier)
            #expect(prediction.complete, "recording \(recordings[i].file) after the restart: \(prediction)")
            #expect(prediction.shedFrames == 0)
        }
        #expect(after.last?.sequence == UInt64(sentAgain - 1))
        #expect(after.map(\.sequence) == after.map(\.sequence).sorted())

        // The status: one restart, no gap, every message and event accounted for.
        let total = wholeRecording.events.count + cut.eventCount + recordings.reduce(0) { $0 + $1.events.count }
        let status = try #require(
            collector.waitForStatus { Self.entry($0, "cam0").decisions == 5 && Self.entry($0, "cam0").events == total },
            "the status never settled: \(collector.lastStatus.map { "\($0)" } ?? "none") \(daemon.log)")
        let cam0 = Self.entry(status, "cam0")
        #expect(cam0.restarts == 2, "each new publisher numbers from 0")
        #expect(cam0.sequenceGaps == 0 && cam0.lostMessages == 0)
        #expect(
            cam0.messages == wholeMessages + cutMessages + sentAgain, "\(wholeMessages) + \(cutMessages) + \(sentAgain) sent")
        #expect(cam0.malformed.isEmpty && cam0.lateEvents == 0 && cam0.shedFrames == 0)
        #expect(collector.errors.isEmpty, "\(collector.errors)")

        // The decision on the cut recording must not pass for a whole one.
        let cutIsFlagged = !cut.complete && cut.abstained
        switch closure {
        case .restart:
            // The restart (sequence number back to 0) tells the service the segment was cut.
            #expect(cutIsFlagged, "the cut segment's decision looks whole: \(cut)")
        case .idle:
            // The sensor has ended its segments with END before: silence instead of END means it was cut.
            #expect(cutIsFlagged, "the cut segment's decision looks whole: \(cut)")
        }
        print(
            "fault publisher-killed (\(closure)): cut segment \(cut.eventCount) of \(cutRecording.events.count) events,"
                + " seq \(cut.sequence), class \(cut.classIndex) confidence \(cut.confidence), complete \(cut.complete),"
                + " abstained \(cut.abstained), dropped_messages \(cut.droppedMessages); restarts \(cam0.restarts)")

        daemon.signal(SIGTERM)
        #expect(daemon.exitStatus() == 0, "\(daemon.log)")
    }

    // MARK: - 2. All subscribers gone and back

    /// An in-test subscriber and a real `bisnn listen` process both go (closed, SIGKILLed): the service keeps
    /// deciding (its metrics count the decisions); new subscribers get the later predictions, and only those.
    @Test func allSubscribersGoneAndBack() throws {
        let (directory, modelPath) = try Self.directoryWithModel()
        defer { try? FileManager.default.removeItem(at: directory) }
        let input = "ipc://\(directory.path)/in.sock"
        let output = "ipc://\(directory.path)/out.sock"
        let port = try Service.freePort()
        let configuration = try Self.writeConfiguration(
            in: directory, input: input, output: output, model: modelPath,
            ["metrics.enabled": "true", "metrics.listen": "127.0.0.1:\(port)"])
        let daemon = try Service.Daemon(configuration: configuration, directory: try Self.logDirectory(directory, "d"))
        let identifier = ModelIdentifier(file: modelPath)!.text
        let recordings = F.recordings(7, from: 21)
        let expected = try F.evaluatorDecisions(recordings)
        let sender = try Service.Sender(input)
        var writer = EventPacketWriter(sensor: SensorName("cam0")!, firstSequence: 0)
        var chunks = SplitMix64(state: 21)
        var endSequences: [UInt64] = []
        func send(_ range: Range<Int>) throws {
            for i in range {
                try sender.send(F.messages(recordings[i].events, writer: &writer, maximumChunk: 1500, generator: &chunks))
                endSequences.append(writer.nextSequence - 1)
            }
        }

        // Two subscribers: in the test, and a `bisnn listen` process (connected once it prints a status).
        let first = Collector(output)
        _ = try #require(first.waitForStatus { _ in true }, "no status: \(daemon.log)")
        let listener = try Child(
            ["listen", "--endpoint", output, "--json", "--status"], directory: directory, name: "listen-1")
        try #require(Self.poll(.seconds(20)) { listener.output.contains("\"uptime_s\"") }, "\(listener.output)")
        try send(0..<2)
        #expect(first.waitForPredictions(2), "\(daemon.log)")
        #expect(Self.poll(.seconds(20)) { listener.output.components(separatedBy: "\"ensemble_size\"").count == 3 })

        // Both go.
        first.stop()
        listener.killHard()

        // Nobody listens: the service goes on deciding (metrics), without backing up its output.
        try send(2..<5)
        func metric(_ line: String) -> Bool {
            let response = try? MetricsEndpointTests.fetch(port: port, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
            return response?.body.contains(line) == true
        }
        #expect(
            Self.poll(.seconds(20)) { metric("bisnnd_decisions_total{sensor=\"cam0\"} 5\n") },
            "the decisions made with no subscriber were not counted: \(daemon.log)")
        #expect(metric("bisnnd_published_dropped_total 0\n"))
        #expect(daemon.process.isRunning, "\(daemon.log)")

        // New subscribers: a status (counting the 5 decisions) first, then only the later predictions.
        let second = Collector(output)
        defer { second.stop() }
        let status = try #require(second.waitForStatus { _ in true }, "no status for the new subscriber: \(daemon.log)")
        #expect(Self.entry(status, "cam0").decisions == 5)
        #expect(Self.entry(status, "cam0").events == recordings[0..<5].reduce(0) { $0 + $1.events.count })
        let returning = try Child(
            ["listen", "--endpoint", output, "--json", "--status", "--count", "2", "--timeout", "30"],
            directory: directory, name: "listen-2")
        try #require(Self.poll(.seconds(20)) { returning.output.contains("\"uptime_s\"") }, "\(returning.output)")
        #expect(second.predictionCount == 0, "a stale prediction reached the new subscriber: \(second.predictions)")
        try send(5..<7)
        #expect(second.waitForPredictions(2), "\(daemon.log)")
        #expect(returning.exitStatus() == 0, "\(returning.output)")
        let predictions = second.predictions
        #expect(predictions.count == 2)
        for (k, prediction) in predictions.enumerated() {
            Service.check(prediction, against: expected[5 + k], recording: recordings[5 + k], model: identifier)
            #expect(prediction.sequence == endSequences[5 + k])
        }
        // The returning listen process printed exactly those two predictions.
        let printed = returning.output.split(separator: "\n").filter { $0.contains("\"ensemble_size\"") }
        #expect(printed.count == 2)
        for (k, line) in printed.enumerated() where k < predictions.count {
            let prediction = try PredictionMessage.decode(json: Array(line.utf8))
            #expect(prediction.sequence == predictions[k].sequence && prediction.classIndex == predictions[k].classIndex)
        }
        #expect(second.errors.isEmpty, "\(second.errors)")
        daemon.signal(SIGTERM)
        #expect(daemon.exitStatus() == 0, "\(daemon.log)")
    }

    // MARK: - 4. SIGHUP under full load

    /// While a sender pushes recordings as fast as the service takes them, four SIGHUPs, alternating two model
    /// files (each written over the configured path): every reload is applied and logged, decisions go on with
    /// the new model after each, and every message and event sent is accounted for: in the status, and in
    /// exactly one decision (a segment open at a reload is decided in two parts, old model then new).
    @Test func sighupUnderFullLoad() throws {
        let (directory, modelPath) = try Self.directoryWithModel()
        defer { try? FileManager.default.removeItem(at: directory) }
        let input = "ipc://\(directory.path)/in.sock"
        let output = "ipc://\(directory.path)/out.sock"
        let configuration = try Self.writeConfiguration(
            in: directory, input: input, output: output, model: modelPath,
            ["input.receive_hwm": "50", "decisions.idle_reset_ms": "60000"])
        let collector = Collector(output)
        defer { collector.stop() }
        let daemon = try Service.Daemon(configuration: configuration, directory: try Self.logDirectory(directory, "d"))
        _ = try #require(collector.waitForStatus { _ in true }, "no status: \(daemon.log)")

        let models = [F.model, NetworkModel.random(network: F.model.network, seed: 77, weightScale: 1.5, biasScale: 4)]
        // Each model's identifier as the service names it from the configured path.
        let identifiers = try models.enumerated().map { i, model in
            let path = directory.appendingPathComponent("copy\(i).safetensors").path
            try model.write(to: path)
            let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
            return ModelIdentifier(fileName: "model.safetensors", bytes: bytes).text
        }
        #expect(identifiers[0] == ModelIdentifier(file: modelPath)!.text)
        #expect(identifiers[0] != identifiers[1])
        let recordings = F.recordings(8, from: 31)
        let dataset = LabelledDataset(classNames: F.classNames, recordings: recordings)
        let expected = try models.map { model in
            try ModelEvaluator.decisions(
                model: model, dataset: dataset, predictor: .ensemble(size: F.ensembleSize, seed: F.seed), jobs: 2)
        }
        var chunks = SplitMix64(state: 4)
        var scratch = EventPacketWriter(sensor: SensorName("cam0")!)
        let plan = recordings.map {
            F.messages($0.events, writer: &scratch, maximumChunk: 1500, generator: &chunks)
        }

        let load = LoadSender(endpoint: input, plan: plan, firstSequence: 500, finishRecordings: true, linger: .seconds(20))
        defer { load.close() }
        try #require(collector.waitForPredictions(10), "no decisions under load: \(daemon.log)")
        let reloads = 4
        for k in 1...reloads {
            let model = models[k % 2]
            try model.write(to: modelPath)
            let before = collector.predictionCount
            let sentBefore = load.sentCount
            daemon.signal(SIGHUP)
            let applied = Self.poll(.seconds(20)) {
                daemon.log.components(separatedBy: "info bisnnd: reloaded:").count - 1 == k
            }
            try #require(applied, "reload \(k) was not applied: \(daemon.log)")
            // Decisions go on, with the new model, while the sender keeps pushing.
            let flowing = Self.poll(.seconds(20)) {
                collector.predictions.dropFirst(before).contains { $0.model == identifiers[k % 2] }
            }
            #expect(flowing, "no decision with the new model after reload \(k): \(daemon.log)")
            #expect(load.sentCount > sentBefore, "the sender was held up during reload \(k)")
        }
        load.stop()
        try #require(Self.poll(.seconds(30)) { load.isStopped }, "the sender did not finish its recording")
        #expect(load.errors.isEmpty, "\(load.errors)")
        let sent = load.sent
        let sentEvents = sent.reduce(0) { $0 + $1.events }
        try #require(sent.last?.end == true)
        let status = try #require(
            collector.waitForStatus(within: .seconds(30)) {
                Self.entry($0, "cam0").messages == sent.count && Self.entry($0, "cam0").decisions == collector.predictionCount
            },
            "not everything sent was taken in: \(sent.count) sent, \(collector.lastStatus.map { "\($0)" } ?? "") \(daemon.log)"
        )
        #expect(daemon.process.isRunning, "\(daemon.log)")
        let cam0 = Self.entry(status, "cam0")
        #expect(cam0.events == sentEvents)
        #expect(cam0.malformed.isEmpty && status.malformed.isEmpty)
        #expect(cam0.sequenceGaps == 0 && cam0.lostMessages == 0 && cam0.restarts == 0 && cam0.lateEvents == 0)
        #expect(cam0.shedFrames == 0)
        #expect(status.model == identifiers[reloads % 2])
        #expect(!daemon.log.contains("reload refused"), "\(daemon.log)")

        // Every recording sent: its events in exactly the decisions closed by its messages; one decision when
        // no reload cut it (then eval's, under the model it names), two when one did.
        let predictions = collector.predictions
        #expect(predictions.reduce(0) { $0 + $1.eventCount } == sentEvents)
        let bySequence = Dictionary(grouping: predictions, by: \.sequence)
        #expect(bySequence.values.allSatisfy { $0.count == 1 }, "two decisions closed by one message")
        let instances = Dictionary(grouping: sent, by: \.instance)
        var whole = 0
        var split = 0
        var splitParts: [String] = []
        for (_, messages) in instances {
            let closing = messages.compactMap { bySequence[$0.sequence]?.first }
            let recording = recordings[messages[0].recording]
            #expect(closing.reduce(0) { $0 + $1.eventCount } == recording.events.count, "\(closing)")
            #expect(closing.last?.sequence == messages.last?.sequence)
            if closing.count == 1, let prediction = closing.first {
                whole += 1
                let m = try #require(identifiers.firstIndex(of: prediction.model), "\(prediction.model)")
                Service.check(
                    prediction, against: expected[m][messages[0].recording], recording: recording,
                    model: identifiers[m])
                #expect(prediction.complete)
            } else {
                split += 1
                #expect(closing.count == 2, "\(closing)")
                #expect(closing.first?.model != closing.last?.model, "both parts decided with the same model")
                #expect(closing.allSatisfy { !$0.complete && $0.abstained }, "a part of a recording looks whole: \(closing)")
                splitParts.append(closing.map { "\($0.eventCount) events complete \($0.complete)" }.joined(separator: " + "))
            }
        }
        #expect(split <= reloads)
        #expect(whole + split == instances.count)
        #expect(predictions.count == whole + 2 * split)
        #expect(collector.errors.isEmpty, "\(collector.errors)")
        print(
            "fault sighup-under-load: \(sent.count) messages, \(sentEvents) events, \(instances.count) recordings,"
                + " \(reloads) reloads, \(split) recording(s) split by a reload (\(splitParts.joined(separator: "; "))),"
                + " \(predictions.count) decisions")

        daemon.signal(SIGTERM)
        #expect(daemon.exitStatus() == 0, "\(daemon.log)")
    }

    // MARK: - 5. SIGTERM under full load

    /// While a sender pushes recordings as fast as the service takes them, SIGTERM: bisnnd exits 0 within
    /// `service.stop_timeout_s` (and a margin for the process's own exit); the final status counts exactly the
    /// decisions published; every message it counts is the sender's next in order, every END among them has
    /// its decision (eval's), the open segment is decided as it stands, and whatever the stop timeout cut off
    /// is counted in the log. With 2 s the backlog is usually worked off; with 0.1 s (less than the half second
    /// the service keeps for its last decisions) every batch still waiting is abandoned at once.
    @Test(arguments: [2.0, 0.1])
    func sigtermUnderFullLoad(stopTimeout: Double) throws {
        let (directory, modelPath) = try Self.directoryWithModel()
        defer { try? FileManager.default.removeItem(at: directory) }
        let input = "ipc://\(directory.path)/in.sock"
        let output = "ipc://\(directory.path)/out.sock"
        let configuration = try Self.writeConfiguration(
            in: directory, input: input, output: output, model: modelPath,
            ["service.stop_timeout_s": "\(stopTimeout)", "decisions.idle_reset_ms": "60000"])
        let collector = Collector(output)
        defer { collector.stop() }
        let daemon = try Service.Daemon(configuration: configuration, directory: try Self.logDirectory(directory, "d"))
        _ = try #require(collector.waitForStatus { _ in true }, "no status: \(daemon.log)")
        let identifier = ModelIdentifier(file: modelPath)!.text
        let recordings = F.recordings(8, from: 41)
        let expected = try F.evaluatorDecisions(recordings)
        var chunks = SplitMix64(state: 5)
        var scratch = EventPacketWriter(sensor: SensorName("cam0")!)
        let plan = recordings.map {
            F.messages($0.events, writer: &scratch, maximumChunk: 1500, generator: &chunks)
        }

        let load = LoadSender(endpoint: input, plan: plan, firstSequence: 0, finishRecordings: false, linger: .zero)
        defer { load.close() }
        try #require(collector.waitForPredictions(20), "no decisions under load: \(daemon.log)")
        let termWall = Date().timeIntervalSince1970
        let termAt = ContinuousClock.now
        daemon.signal(SIGTERM)
        let exited = Self.poll(.seconds(stopTimeout + 10)) { !daemon.process.isRunning }
        let stopTook = ContinuousClock.now - termAt
        load.close()
        try #require(exited, "bisnnd did not exit: \(daemon.log)")
        #expect(daemon.process.terminationStatus == 0, "\(daemon.log)")
        // The service keeps half a second of the stop for its last decisions and the output thread (so with a
        // stop timeout under 0.5 s the stop takes up to 0.5 s); then a second's margin for the process to exit.
        #expect(stopTook <= .seconds(max(stopTimeout, 0.5)) + .seconds(1), "the stop took \(stopTook)")
        // The PUB socket lingered so the last messages left; the collector takes what is left.
        collector.waitUntilQuiet()
        collector.stop()

        let sent = load.sent
        let predictions = collector.predictions
        let final = try #require(collector.lastStatus, "no status")
        #expect(final.time >= termWall, "the last status came before SIGTERM: not the final one")
        let cam0 = Self.entry(final, "cam0")
        #expect(predictions.count == cam0.decisions, "published \(predictions.count), final status \(cam0.decisions)")
        // The messages the service took in are the first ones sent (one PUSH connection keeps the order).
        let accepted = Array(sent.prefix(cam0.messages))
        #expect(accepted.count == cam0.messages, "the service counts more messages than were sent")
        #expect(accepted.reduce(0) { $0 + $1.events } == cam0.events)
        #expect(cam0.sequenceGaps == 0 && cam0.restarts == 0 && cam0.malformed.isEmpty && cam0.shedFrames == 0)
        #expect(predictions.reduce(0) { $0 + $1.eventCount } == cam0.events, "events not in any decision")
        let bySequence = Dictionary(grouping: predictions, by: \.sequence)
        var ends = 0
        for message in accepted where message.end {
            ends += 1
            let closing = bySequence[message.sequence] ?? []
            #expect(closing.count == 1, "END \(message.sequence) accepted, \(closing.count) decisions")
            if let prediction = closing.first {
                let r = message.recording
                Service.check(prediction, against: expected[r], recording: recordings[r], model: identifier)
            }
        }
        // The segment open at the stop (its END not taken in): decided on the events it had.
        let open = accepted.last.map { !$0.end } ?? false
        #expect(predictions.count == ends + (open ? 1 : 0), "\(ends) ENDs accepted, segment open: \(open)")
        let drained = open ? accepted.last.flatMap { bySequence[$0.sequence]?.first } : nil
        if open {
            let expectedEvents = accepted.reversed().prefix { !$0.end }.reduce(0) { $0 + $1.events }
            #expect(drained?.eventCount == expectedEvents, "the open segment was not decided as it stood")
        }
        let abandoned = Self.abandonedMessages(daemon.log)
        #expect(cam0.messages + abandoned <= sent.count)
        if stopTimeout < 0.5 {
            // Saturated, two batches wait when SIGTERM comes: with no time left they are abandoned, and logged.
            #expect(abandoned > 0, "nothing abandoned with a stop timeout of \(stopTimeout) s: \(daemon.log)")
        }
        if let drained {
            // The stop cut it: more of it was coming (and, when messages were abandoned, even received).
            #expect(!drained.complete && drained.abstained, "cut by the stop, looks whole: \(drained)")
        }
        print(
            "fault sigterm-under-load (stop_timeout_s \(stopTimeout)): stop took \(stopTook); \(sent.count) messages"
                + " sent, \(cam0.messages) taken in, \(abandoned) abandoned by the stop timeout; \(ends) ENDs decided;"
                + " open segment decided: \(drained.map { "\($0.eventCount) events, complete \($0.complete)" } ?? "none")")
        #expect(collector.errors.isEmpty, "\(collector.errors)")
        #expect(daemon.log.contains("info bisnnd: stopped"), "\(daemon.log)")
    }

    /// The count in `stop timeout: N received message(s) were dropped unprocessed`, 0 without such a line.
    static func abandonedMessages(_ log: String) -> Int {
        guard let range = log.range(of: #"stop timeout: [0-9]+ received"#, options: .regularExpression) else { return 0 }
        return Int(log[range].split(separator: " ")[2]) ?? 0
    }

    // MARK: - 6. SIGKILL and restart

    /// bisnnd on ipc endpoints is SIGKILLed: its socket files stay behind, with nobody listening. A new bisnnd on
    /// the same configuration replaces them, sends READY=1 and serves: the sender and subscriber of the first
    /// one reconnect by themselves and get eval's decisions, and the new process starts with clean counters.
    @Test func sigkillAndRestartOnTheSameIPCEndpoints() throws {
        let (directory, modelPath) = try Self.directoryWithModel()
        defer { try? FileManager.default.removeItem(at: directory) }
        let inputPath = "\(directory.path)/in.sock"
        let outputPath = "\(directory.path)/out.sock"
        let configuration = try Self.writeConfiguration(
            in: directory, input: "ipc://\(inputPath)", output: "ipc://\(outputPath)", model: modelPath)
        let identifier = ModelIdentifier(file: modelPath)!.text
        let recordings = F.recordings(3, from: 51)
        let expected = try F.evaluatorDecisions(recordings)

        let firstNotify = try NotifyLog()
        let first = try Service.Daemon(
            configuration: configuration, directory: try Self.logDirectory(directory, "d1"),
            environment: ["NOTIFY_SOCKET": firstNotify.address])
        let collector = Collector("ipc://\(outputPath)")
        defer { collector.stop() }
        _ = try #require(collector.waitForStatus { _ in true }, "no status: \(first.log)")
        #expect(Self.poll(.seconds(10)) { firstNotify.datagrams.contains { $0.text.hasPrefix("READY=1") } })
        let sender = try Service.Sender("ipc://\(inputPath)")
        var writer = EventPacketWriter(sensor: SensorName("cam0")!, firstSequence: 0)
        var chunks = SplitMix64(state: 6)
        try sender.send(F.messages(recordings[0].events, writer: &writer, maximumChunk: 1500, generator: &chunks))
        try #require(collector.waitForPredictions(1), "\(first.log)")

        first.signal(SIGKILL)
        #expect(first.exitStatus() == SIGKILL)
        #expect(first.process.terminationReason == .uncaughtSignal)
        firstNotify.stop()
        #expect(!firstNotify.datagrams.contains { $0.text.hasPrefix("STOPPING=1") })
        // Stale socket files: still there, nobody listening.
        for path in [inputPath, outputPath] {
            var info = stat()
            #expect(lstat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFSOCK, "\(path) is gone")
            #expect(!IPCSocketProbe.isListening(path: path))
        }

        let restartedAt = Date().timeIntervalSince1970
        let notify = try NotifyLog()
        defer { notify.stop() }
        let second = try Service.Daemon(
            configuration: configuration, directory: try Self.logDirectory(directory, "d2"),
            environment: ["NOTIFY_SOCKET": notify.address])
        #expect(
            Self.poll(.seconds(20)) { notify.datagrams.contains { $0.text.hasPrefix("READY=1") } },
            "no READY=1 from the new bisnnd: \(second.log)")
        #expect(second.process.isRunning, "\(second.log)")
        #expect(second.log.contains("serving:"), "\(second.log)")
        #expect(!second.log.contains("cannot bind"), "\(second.log)")
        for path in [inputPath, outputPath] { #expect(IPCSocketProbe.isListening(path: path), "\(path)") }

        // The old subscriber and sender reconnect by themselves.
        let fresh = try #require(
            collector.waitForStatus { $0.time >= restartedAt }, "the subscriber did not reconnect: \(second.log)")
        #expect(fresh.sensors.isEmpty, "the new process starts with no sensors")
        #expect(fresh.uptimeSeconds < 15)
        var ends: [UInt64] = []
        for recording in recordings[1...] {
            try sender.send(F.messages(recording.events, writer: &writer, maximumChunk: 1500, generator: &chunks))
            ends.append(writer.nextSequence - 1)
        }
        try #require(collector.waitForPredictions(3), "\(second.log)")
        let predictions = Array(collector.predictions.dropFirst())
        try #require(predictions.count == 2)
        for (k, prediction) in predictions.enumerated() {
            Service.check(prediction, against: expected[1 + k], recording: recordings[1 + k], model: identifier)
            #expect(prediction.sequence == ends[k])
            #expect(prediction.complete)
        }
        let status = try #require(collector.waitForStatus { Self.entry($0, "cam0").decisions == 2 }, "\(second.log)")
        let cam0 = Self.entry(status, "cam0")
        // The sender's numbers went on from the killed process's: new to this one, no gap, no restart.
        #expect(cam0.sequenceGaps == 0 && cam0.restarts == 0 && cam0.malformed.isEmpty)
        #expect(cam0.events == recordings[1...].reduce(0) { $0 + $1.events.count })
        #expect(collector.errors.isEmpty, "\(collector.errors)")

        second.signal(SIGTERM)
        #expect(second.exitStatus() == 0, "\(second.log)")
        #expect(Self.poll(.seconds(5)) { notify.datagrams.contains { $0.text.hasPrefix("STOPPING=1") } })
    }

    // MARK: - 7. Watchdog stall

    /// A model whose every time step is real work: 2x8x8 inputs (the 34x34 sensor downsampled by 4), one
    /// hidden layer of 8192 neurons; served with `model.predictor: mode` (one network, nothing to draw at start).
    static let heavyModel: NetworkModel = {
        let network = NetworkDescription.mlp(
            input: InputGeometry(channels: 2, height: 8, width: 8), hiddenSizes: [8192], classNames: F.classNames,
            burnInSteps: 20, weightKind: .bernoulli)
        return NetworkModel.random(network: network, seed: 3, weightScale: 1.5, biasScale: 4)
    }()

    /// One START+END message of `milliseconds` of sensor time, four events a millisecond on seeded random
    /// pixels (so as many 1 ms frames).
    static func busyMessage(milliseconds: Int, writer: inout EventPacketWriter) throws -> (message: [[UInt8]], events: Int) {
        var generator = SplitMix64(state: 99)
        let events = EventBuffer((0..<(4 * milliseconds)).map { i in
            let r = generator.next()
            return Event(
                t: Int64(i) * 250, x: UInt16(r % 34), y: UInt16((r >> 8) % 34), polarity: UInt8((r >> 16) & 1))
        })
        var payload: [UInt8] = []
        try NativeEventCodec.encode(events, range: 0..<events.count, timeBase: 0, into: &payload)
        let message = writer.message(encoding: .native, geometry: F.sensor, flags: [.start, .end], payload: payload)
        return (message, events.count)
    }

    /// bisnnd under a watchdog of 200 ms (pings every 100 ms) gets one message that keeps its pipeline busy in
    /// one call for about 2.5 s (sized from a short probe message, whatever this machine's speed): WATCHDOG=1
    /// stops while it is stuck (and the log says so), and comes back once it is done.
    @Test func watchdogPingsStopWhileThePipelineIsStuck() throws {
        let directory = try Service.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let modelPath = directory.appendingPathComponent("heavy.safetensors").path
        try Self.heavyModel.write(to: modelPath)
        let input = "ipc://\(directory.path)/in.sock"
        let output = "ipc://\(directory.path)/out.sock"
        let configuration = try Self.writeConfiguration(
            in: directory, input: input, output: output, model: modelPath, ["model.predictor": "mode", "sensor.width": "34", "sensor.height": "34"])
        let notify = try NotifyLog()
        defer { notify.stop() }
        let collector = Collector(output)
        defer { collector.stop() }
        let daemon = try Service.Daemon(
            configuration: configuration, directory: try Self.logDirectory(directory, "d"),
            environment: ["NOTIFY_SOCKET": notify.address, "WATCHDOG_USEC": "200000"])
        _ = try #require(collector.waitForStatus { _ in true }, "no status: \(daemon.log)")
        // Idle, it pings every 100 ms.
        try #require(Self.poll(.seconds(10)) { notify.watchdogPings.count >= 5 }, "no pings: \(notify.datagrams)")
        let sender = try Service.Sender(input)
        var writer = EventPacketWriter(sensor: SensorName("busy")!)

        // A probe: how long a millisecond of sensor time takes the daemon.
        let probeMilliseconds = 200
        let probe = try Self.busyMessage(milliseconds: probeMilliseconds, writer: &writer)
        let probeSent = ContinuousClock.now
        try sender.send([probe.message])
        try #require(collector.waitForPredictions(1, within: .seconds(60)), "no decision: \(daemon.log)")
        let perMillisecond = (collector.timedPredictions[0].at - probeSent) / probeMilliseconds
        let milliseconds = min(60_000, max(1_000, Int(Duration.milliseconds(2_500) / perMillisecond)))

        // The stall.
        let busy = try Self.busyMessage(milliseconds: milliseconds, writer: &writer)
        _ = Self.poll(.seconds(5)) { notify.watchdogPings.filter { $0 > collector.timedPredictions[0].at }.count >= 3 }
        let sentAt = ContinuousClock.now
        try sender.send([busy.message])
        try #require(collector.waitForPredictions(2, within: .seconds(120)), "no decision: \(daemon.log)")
        let (doneAt, prediction) = collector.timedPredictions[1]
        #expect(prediction.eventCount == busy.events)
        let stall = doneAt - sentAt
        try #require(
            stall >= .milliseconds(1_200),
            "the message took only \(stall) (\(milliseconds) ms of events, \(perMillisecond) a millisecond): no stall")
        // Pings come back once the pipeline is done.
        #expect(
            Self.poll(.seconds(5)) { notify.watchdogPings.filter { $0 > doneAt }.count >= 3 },
            "no pings after the stall: \(daemon.log)")

        let pings = notify.watchdogPings
        #expect(pings.filter { $0 < sentAt && $0 > sentAt - .milliseconds(500) }.count >= 2, "no pings just before")
        // While stuck (from a ping interval after the message, with slack, to just before it was done): none.
        let during = pings.filter { $0 > sentAt + .milliseconds(400) && $0 < doneAt - .milliseconds(150) }
        #expect(during.isEmpty, "\(during.count) pings while the pipeline was stuck for \(stall)")
        let gaps = zip(pings, pings.dropFirst()).map { $1 - $0 }
        let longest = gaps.max() ?? .zero
        #expect(longest >= stall - .milliseconds(600), "longest gap between pings \(longest), stall \(stall)")
        #expect(daemon.log.contains("watchdog ping withheld"), "\(daemon.log)")
        print("fault watchdog-stall: \(milliseconds) ms of events, stall \(stall), longest gap between pings \(longest)")

        daemon.signal(SIGTERM)
        #expect(daemon.exitStatus() == 0, "\(daemon.log)")
    }
}
