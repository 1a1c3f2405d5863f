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

/// The real `bisnnd` process end to end: real N-MNIST recordings pushed over a real PUSH socket, predictions
/// read from a real SUB socket and compared with what `bisnn eval` decides; SIGHUP with a corrupt model; the
/// drain on SIGTERM; sd_notify; exit statuses.
@Suite struct BisnndServiceTests {
    typealias F = PipelineFixtures

    // MARK: - Fixtures

    /// A running `bisnnd` with its standard error in a file; killed if still running when dropped.
    final class Daemon {
        let process = Process()
        let errorPath: String

        init(configuration: String, directory: URL, environment: [String: String] = [:]) throws {
            let binary = try #require(ConfigurationCommandTests.binary, "bisnnd is not built next to the tests")
            errorPath = directory.appendingPathComponent("stderr").path
            _ = FileManager.default.createFile(atPath: errorPath, contents: nil)
            process.executableURL = URL(fileURLWithPath: binary)
            process.arguments = ["--config", configuration]
            process.environment = environment.merging(["PATH": "/usr/bin:/bin"]) { a, _ in a }
            process.standardOutput = FileHandle.nullDevice
            process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: errorPath))
            try process.run()
        }

        deinit {
            if process.isRunning {
                kill(process.processIdentifier, SIGKILL)
                process.waitUntilExit()
            }
        }

        var log: String { (try? String(contentsOfFile: errorPath, encoding: .utf8)) ?? "" }

        func signal(_ signal: Int32) { kill(process.processIdentifier, signal) }

        /// Waits up to `limit` for the log to contain `text`.
        func waitForLog(_ text: String, within limit: Duration = .seconds(20)) -> Bool {
            let deadline = ContinuousClock.now + limit
            while ContinuousClock.now < deadline {
                if log.contains(text) { return true }
                usleep(20_000)
            }
            return log.contains(text)
        }

        /// The exit status, or nil if the process still runs after `limit`.
        func exitStatus(within limit: Duration = .seconds(15)) -> Int32? {
            let deadline = ContinuousClock.now + limit
            while process.isRunning && ContinuousClock.now < deadline { usleep(20_000) }
            return process.isRunning ? nil : process.terminationStatus
        }
    }

    /// A SUB socket on the daemon's output, subscribed to everything.
    final class Subscriber {
        let context: ZMQContext
        let socket: ZMQSocket

        init(_ endpoint: String) throws {
            context = try ZMQContext()
            socket = try ZMQSocket(.sub, context: context)
            try socket.setReceiveTimeout(.seconds(20))
            try socket.subscribe()
            try socket.connect(endpoint)
        }

        deinit {
            socket.close()
            context.close()
        }

        /// The next message whose topic starts with `prefix`; nil after the timeout.
        func next(_ prefix: String) throws -> [[UInt8]]? {
            while let parts = try socket.receive() {
                if parts[0].starts(with: Array(prefix.utf8)) { return parts }
            }
            return nil
        }

        func nextPrediction() throws -> PredictionMessage? {
            try next("predictions/").map { try PredictionMessage.decode(json: $0[1]) }
        }

        func nextStatus() throws -> StatusMessage? {
            try next("status/").map { try StatusMessage.decode(json: $0[1]) }
        }
    }

    /// A PUSH socket on the daemon's input.
    final class Sender {
        let context: ZMQContext
        let socket: ZMQSocket

        init(_ endpoint: String) throws {
            context = try ZMQContext()
            socket = try ZMQSocket(.push, context: context)
            try socket.setSendTimeout(.seconds(10))
            try socket.setLinger(.seconds(2))
            try socket.connect(endpoint)
        }

        deinit {
            socket.close()
            context.close()
        }

        func send(_ messages: [[[UInt8]]]) throws {
            for message in messages { try #require(try socket.send(message)) }
        }
    }

    /// Drains a notification socket on a thread of its own (systemd's queue is short: an undrained socket would
    /// block the daemon's notifications).
    final class NotifyCollector: Sendable {
        let socket: SystemdNotifierTests.NotifySocketBox
        let received = Mutex<[String]>([])
        let done = Atomic(false)

        init() throws {
            socket = SystemdNotifierTests.NotifySocketBox(try SystemdNotifierTests.NotifySocket(abstract: true))
            let thread = Thread { [self] in
                while !self.done.load(ordering: .relaxed) {
                    if let text = self.socket.value.receive() { self.received.withLock { $0.append(text) } }
                }
            }
            thread.start()
        }

        var address: String { socket.value.address }
        var messages: [String] { received.withLock { $0 } }
        func stop() { done.store(true, ordering: .relaxed) }
    }

    static func temporaryDirectory() throws -> URL {
        let url = URL(fileURLWithPath: "/tmp").appendingPathComponent("bisnnd-svc-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    /// A TCP port nothing listens on right now.
    static func freePort() throws -> Int {
        let context = try ZMQContext()
        defer { context.close() }
        let socket = try ZMQSocket(.pull, context: context)
        defer { socket.close() }
        try socket.bind("tcp://127.0.0.1:*")
        return Int(try socket.lastEndpoint.split(separator: ":").last!)!
    }

    /// Writes the fixture model and a configuration serving it (plus `extra` YAML) into `directory`.
    static func configure(
        _ directory: URL, input: String, output: String, extra: String = ""
    ) throws -> (configuration: String, model: String) {
        let model = directory.appendingPathComponent("model.safetensors").path
        try F.model.write(to: model)
        let text = """
            service:
              status_interval_s: 0.2
              stop_timeout_s: 5
            model:
              path: \(model)
              ensemble_size: \(F.ensembleSize)
              seed: \(F.seed)
            input:
              pull_bind: ["\(input)"]
            output:
              pub_bind: \(output)
            log:
              format: plain
            """ + "\n" + extra
        let configuration = directory.appendingPathComponent("bisnnd.yaml").path
        try Data(text.utf8).write(to: URL(fileURLWithPath: configuration))
        return (configuration, model)
    }

    /// Compares a published prediction with eval's decision for `recording`.
    static func check(
        _ prediction: PredictionMessage, against expected: Decision, recording: LabelledRecording, model: String,
        sourceLocation: SourceLocation = #_sourceLocation
    ) {
        #expect(prediction.classIndex == expected.predictedClass, sourceLocation: sourceLocation)
        #expect(prediction.label == F.classNames[expected.predictedClass], sourceLocation: sourceLocation)
        #expect(prediction.probabilities.count == expected.probabilities.count, sourceLocation: sourceLocation)
        for (a, b) in zip(prediction.probabilities, expected.probabilities) {
            #expect(abs(a - b) <= 1e-12, "\(recording.file)", sourceLocation: sourceLocation)
        }
        #expect(abs(prediction.mutualInformation - expected.mutualInformation) <= 1e-12, sourceLocation: sourceLocation)
        #expect(prediction.agreement == expected.agreement, sourceLocation: sourceLocation)
        #expect(prediction.abstained == expected.abstained, sourceLocation: sourceLocation)
        #expect(prediction.complete == !prediction.abstained || expected.abstained, sourceLocation: sourceLocation)
        #expect(prediction.eventCount == recording.events.count, sourceLocation: sourceLocation)
        #expect(prediction.startTimeMicroseconds == recording.events[0].t, sourceLocation: sourceLocation)
        #expect(
            prediction.endTimeMicroseconds == recording.events[recording.events.count - 1].t,
            sourceLocation: sourceLocation)
        #expect(prediction.ensembleSize == F.ensembleSize, sourceLocation: sourceLocation)
        #expect(prediction.model == model, sourceLocation: sourceLocation)
        #expect(prediction.droppedMessages == 0, sourceLocation: sourceLocation)
        #expect(prediction.latencyMicroseconds >= 0, sourceLocation: sourceLocation)
    }

    // MARK: - Tests

    @Test func servesRecordingsAsEvalDecidesReloadsAndDrains() throws {
        let directory = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let input = "ipc://\(directory.path)/in.sock"
        let output = "tcp://127.0.0.1:\(try Self.freePort())"
        let (configuration, modelPath) = try Self.configure(directory, input: input, output: output)
        let notify = try NotifyCollector()
        defer { notify.stop() }
        let daemon = try Daemon(
            configuration: configuration, directory: directory,
            environment: ["NOTIFY_SOCKET": notify.address, "WATCHDOG_USEC": "300000"])
        let subscriber = try Subscriber(output)
        // A status message proves the subscription is in place.
        let firstStatus = try #require(try subscriber.nextStatus(), "no status message: \(daemon.log)")
        let identifier = ModelIdentifier(file: modelPath)!.text
        #expect(firstStatus.model == identifier)
        #expect(identifier.hasPrefix("model.safetensors@") && identifier.count == "model.safetensors@".count + 8)

        let recordings = F.recordings(10)
        let expected = try F.evaluatorDecisions(recordings)
        let sender = try Sender(input)
        var writer = EventPacketWriter(sensor: SensorName("cam0")!, firstSequence: 1000)
        var generator = SplitMix64(state: 42)
        var sequences: [UInt64] = []
        for recording in recordings[0..<8] {
            try sender.send(F.messages(recording.events, writer: &writer, maximumChunk: 1500, generator: &generator))
            sequences.append(writer.nextSequence - 1)
        }
        for i in 0..<8 {
            let prediction = try #require(try subscriber.nextPrediction(), "prediction \(i) missing: \(daemon.log)")
            Self.check(prediction, against: expected[i], recording: recordings[i], model: identifier)
            #expect(prediction.sequence == sequences[i])
            #expect(prediction.sensor == "cam0")
        }

        // A corrupt model on SIGHUP: refused, logged naming the key; the running model keeps serving.
        try Data("not a model".utf8).write(to: URL(fileURLWithPath: modelPath))
        daemon.signal(SIGHUP)
        #expect(daemon.waitForLog("reload refused"), "\(daemon.log)")
        #expect(daemon.log.contains("model.path"))
        try sender.send(F.messages(recordings[8].events, writer: &writer, maximumChunk: 1500, generator: &generator))
        let afterReload = try #require(try subscriber.nextPrediction(), "no prediction after the reload: \(daemon.log)")
        Self.check(afterReload, against: expected[8], recording: recordings[8], model: identifier)

        // An open segment (no END) when SIGTERM comes: decided and published by the drain, then exit 0.
        try sender.send(
            F.messages(recordings[9].events, writer: &writer, maximumChunk: 1500, generator: &generator, end: false))
        var status = try #require(try subscriber.nextStatus())
        let total = recordings.reduce(0) { $0 + $1.events.count }
        while status.sensors["cam0"]?.events != total {
            status = try #require(try subscriber.nextStatus(), "the open segment was not taken in: \(daemon.log)")
        }
        #expect(status.sensors["cam0"]?.decisions == 9)
        #expect(status.sensors["cam0"]?.shedFrames == 0)
        daemon.signal(SIGTERM)
        let drained = try #require(try subscriber.nextPrediction(), "the open segment was not published: \(daemon.log)")
        // Decided on what it had (here the whole recording), but cut by the stop: published as incomplete.
        var whole = expected[9]
        whole.abstained = true
        Self.check(drained, against: whole, recording: recordings[9], model: identifier)
        #expect(!drained.complete)
        #expect(daemon.exitStatus() == 0, "\(daemon.log)")

        notify.stop()
        let notices = notify.messages
        let ready = notices.firstIndex { $0.hasPrefix("READY=1") }
        let reloading = notices.firstIndex { $0.hasPrefix("RELOADING=1") }
        let stopping = notices.firstIndex { $0.hasPrefix("STOPPING=1") }
        #expect(ready != nil && reloading != nil && stopping != nil, "\(notices)")
        if let ready, let reloading, let stopping {
            #expect(ready < reloading && reloading < stopping)
            #expect(notices[reloading...].contains { $0.hasPrefix("READY=1") && $0.contains("reload refused") })
        }
        #expect(notices.contains("WATCHDOG=1"))
        #expect(notices.contains { $0.hasPrefix("STATUS=serving 1 sensor") })
    }

    @Test func reloadAppliesAGoodModelAndNamesSettingsThatNeedARestart() throws {
        let directory = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let input = "ipc://\(directory.path)/in.sock"
        let output = "ipc://\(directory.path)/out.sock"
        let (configuration, _) = try Self.configure(directory, input: input, output: output)
        let daemon = try Daemon(configuration: configuration, directory: directory)
        let subscriber = try Subscriber(output)
        _ = try #require(try subscriber.nextStatus(), "no status message: \(daemon.log)")

        // A new model (another seed) in a new file, and a changed send_hwm.
        let network = F.model.network
        let other = NetworkModel.random(network: network, seed: 77, weightScale: 1.5, biasScale: 4)
        let otherPath = directory.appendingPathComponent("other.safetensors").path
        try other.write(to: otherPath)
        let text = try String(contentsOfFile: configuration, encoding: .utf8)
            .replacingOccurrences(of: "model.safetensors", with: "other.safetensors")
            .replacingOccurrences(of: "output:\n", with: "output:\n  send_hwm: 50\n")
        try Data(text.utf8).write(to: URL(fileURLWithPath: configuration))
        daemon.signal(SIGHUP)
        #expect(daemon.waitForLog("reloaded:"), "\(daemon.log)")
        #expect(daemon.log.contains("output.send_hwm changed and take effect at the next restart"))

        let recording = F.recordings(1, from: 20)[0]
        let predictor = try EnsemblePredictor(model: other, kind: .ensemble(size: F.ensembleSize, seed: F.seed))
        let frames = LabelledDataset.frames(of: recording.events, configuration: F.frames)
        var stream = predictor.makeStream()
        for f in 0..<frames.frameCount { predictor.step(&stream, frame: f, of: frames) }
        let expected = predictor.decision(for: stream)

        let sender = try Sender(input)
        var writer = EventPacketWriter(sensor: SensorName("cam7")!)
        var generator = SplitMix64(state: 9)
        try sender.send(F.messages(recording.events, writer: &writer, maximumChunk: 2000, generator: &generator))
        let prediction = try #require(try subscriber.nextPrediction(), "\(daemon.log)")
        Self.check(prediction, against: expected, recording: recording, model: ModelIdentifier(file: otherPath)!.text)
        daemon.signal(SIGINT)
        #expect(daemon.exitStatus() == 0, "\(daemon.log)")
    }

    @Test func anEndpointInUseExitsWithExUnavailable() throws {
        let directory = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let context = try ZMQContext()
        defer { context.close() }
        let holder = try ZMQSocket(.pull, context: context)
        defer { holder.close() }
        try holder.bind("tcp://127.0.0.1:*")
        let taken = try holder.lastEndpoint
        // An ipc path a live socket listens on is refused too (libzmq's bind would silently take it over).
        let ipcHolder = try ZMQSocket(.pull, context: context)
        defer { ipcHolder.close() }
        let ipc = "ipc://\(directory.path)/taken.sock"
        try ipcHolder.bind(ipc)

        for (input, output) in [(taken, "ipc://\(directory.path)/out.sock"), (ipc, "ipc://\(directory.path)/out2.sock")] {
            let (configuration, _) = try Self.configure(directory, input: input, output: output)
            let daemon = try Daemon(configuration: configuration, directory: directory)
            #expect(daemon.exitStatus() == ServiceStartError.exitCode, "\(daemon.log)")
            #expect(daemon.log.contains("cannot bind \(input) (input.pull_bind)"), "\(daemon.log)")
        }

        // A stale ipc socket file (its listener gone, as a killed instance leaves it) is replaced.
        let stale = "\(directory.path)/stale.sock"
        let fd = Glibc.socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        defer { Glibc.close(fd) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: Array(stale.utf8) + [0]) }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        try #require(bound == 0)  // a socket file, never listened on
        #expect(!IPCSocketProbe.isListening(path: stale))
        let (configuration, _) = try Self.configure(
            directory, input: "ipc://\(stale)", output: "ipc://\(directory.path)/out3.sock")
        let daemon = try Daemon(configuration: configuration, directory: directory)
        #expect(daemon.waitForLog("serving:"), "\(daemon.log)")
        daemon.signal(SIGTERM)
        #expect(daemon.exitStatus() == 0, "\(daemon.log)")
    }

    @Test func subConnectInputsReceiveFromASensorsPublisher() throws {
        let directory = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        // The sensor side: an XPUB bound on tcp, so the test sees the daemon's subscription arrive before sending
        // (PUB drops everything published before it).
        let context = try ZMQContext()
        defer { context.close() }
        let publisher = try ZMQSocket(.xpub, context: context)
        defer { publisher.close() }
        try publisher.setReceiveTimeout(.seconds(20))
        try publisher.bind("tcp://127.0.0.1:*")
        let sensorEndpoint = try publisher.lastEndpoint
        let output = "ipc://\(directory.path)/out.sock"
        let (configuration, _) = try Self.configure(
            directory, input: "ipc://\(directory.path)/unused.sock", output: output,
            extra: "input:\n  pull_bind: []\n  sub_connect: [\"\(sensorEndpoint)\"]\n")
        // configure() wrote an input section already: keep only the last one (the extra YAML's).
        var text = try String(contentsOfFile: configuration, encoding: .utf8)
        text = text.replacingOccurrences(of: "input:\n  pull_bind: [\"ipc://\(directory.path)/unused.sock\"]\n", with: "")
        try Data(text.utf8).write(to: URL(fileURLWithPath: configuration))
        let daemon = try Daemon(configuration: configuration, directory: directory)
        let subscriber = try Subscriber(output)
        _ = try #require(try subscriber.nextStatus(), "no status message: \(daemon.log)")
        let subscription = try #require(try publisher.receive(), "the daemon did not subscribe: \(daemon.log)")
        #expect(subscription[0] == [1] + Array("events/".utf8))

        let recordings = F.recordings(2)
        let expected = try F.evaluatorDecisions(recordings)
        var writer = EventPacketWriter(sensor: SensorName("cam1")!, firstSequence: 0)
        var generator = SplitMix64(state: 7)
        for recording in recordings {
            for message in F.messages(recording.events, writer: &writer, maximumChunk: 1500, generator: &generator) {
                try #require(try publisher.send(message))
            }
        }
        for i in recordings.indices {
            let prediction = try #require(try subscriber.nextPrediction(), "prediction \(i) missing: \(daemon.log)")
            #expect(prediction.sensor == "cam1")
            #expect(prediction.classIndex == expected[i].predictedClass)
            #expect(prediction.eventCount == recordings[i].events.count)
        }
        daemon.signal(SIGTERM)
        #expect(daemon.exitStatus() == 0, "\(daemon.log)")
    }

    @Test func metricsEnabledServesPrometheusTextOverHTTP() throws {
        let directory = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let port = try Self.freePort()
        let (configuration, _) = try Self.configure(
            directory, input: "ipc://\(directory.path)/in.sock", output: "ipc://\(directory.path)/out.sock",
            extra: "metrics:\n  enabled: true\n  listen: 127.0.0.1:\(port)\n")
        let daemon = try Daemon(configuration: configuration, directory: directory)
        #expect(daemon.waitForLog("metrics at http://127.0.0.1:\(port)/metrics"), "\(daemon.log)")
        #expect(daemon.waitForLog("serving:"), "\(daemon.log)")
        let response = try MetricsEndpointTests.fetch(port: port, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(response.status == 200)
        #expect(response.body.contains("bisnnd_sensors"), "\(response.body)")
        daemon.signal(SIGTERM)
        #expect(daemon.exitStatus() == 0, "\(daemon.log)")
    }

    @Test func aBadConfigurationExitsWithExConfig() throws {
        let directory = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let (configuration, _) = try Self.configure(
            directory, input: "ipc://\(directory.path)/in.sock", output: "ipc://\(directory.path)/out.sock",
            extra: "decisions:\n  mode: sometimes\n")
        let daemon = try Daemon(configuration: configuration, directory: directory)
        #expect(daemon.exitStatus() == 78)
        #expect(daemon.log.contains("decisions.mode"), "\(daemon.log)")
    }
}

extension SystemdNotifierTests {
    /// A ``NotifySocket`` shared with a draining thread.
    final class NotifySocketBox: @unchecked Sendable {
        let value: NotifySocket
        init(_ value: NotifySocket) { self.value = value }
    }
}
