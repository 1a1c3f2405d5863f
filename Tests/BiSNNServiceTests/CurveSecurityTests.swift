import BiSNN
import EventStream
import Foundation
import Testing
import ZeroMQ

@testable import BiSNNService

#if canImport(Glibc)
import Glibc
#endif

/// "bisnnd under stress", security: the real `bisnnd` with `security.curve.enabled` on TCP loopback. An allowed
/// client's recording is decided as `bisnn eval` decides it and reaches an allowed CURVE subscriber; a client with
/// an unknown key, a plaintext sender and a plaintext subscriber get nothing through and are counted (status
/// `refused_connections`, `bisnnd_refused_connections_total`) and logged once; SIGHUP applies a new allow-list and
/// refuses a bad one; a secret key others can read stops bisnnd with 78 naming the setting.
@Suite(.enabled(if: ZMQCurve.isAvailable))
struct CurveSecurityTests {
    typealias F = PipelineFixtures
    typealias Service = BisnndServiceTests

    /// A client socket of its own context, a CURVE client when given keys.
    final class Client {
        let context: ZMQContext
        let socket: ZMQSocket

        init(
            _ kind: ZMQSocketKind, _ endpoint: String, serverKey: [UInt8]? = nil,
            keys: (publicKey: [UInt8], secretKey: [UInt8])? = nil
        ) throws {
            context = try ZMQContext()
            socket = try ZMQSocket(kind, context: context)
            try socket.setReceiveTimeout(.seconds(10))
            try socket.setSendTimeout(.seconds(10))
            if let serverKey, let keys {
                try socket.setCurveServerKey(serverKey)
                try socket.setCurvePublicKey(keys.publicKey)
                try socket.setCurveSecretKey(keys.secretKey)
            }
            if kind == .sub { try socket.subscribe() }
            try socket.connect(endpoint)
        }

        deinit {
            socket.close()
            context.close()
        }

        /// Sends messages, each within the send timeout.
        func send(_ messages: [[[UInt8]]]) throws {
            for message in messages { try #require(try socket.send(message)) }
        }

        /// Offers messages without waiting: a refused client's may be queued for good, or refused at once.
        func offer(_ messages: [[[UInt8]]]) {
            for message in messages { _ = try? socket.send(message, dontWait: true) }
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

        /// The first status satisfying `done` within `limit`, else the last one seen.
        func status(within limit: Duration = .seconds(10), until done: (StatusMessage) -> Bool) throws -> StatusMessage? {
            let deadline = ContinuousClock.now + limit
            var last: StatusMessage?
            while ContinuousClock.now < deadline, let parts = try next("status/") {
                let status = try StatusMessage.decode(json: parts[1])
                last = status
                if done(status) { return status }
            }
            return last
        }
    }

    /// A key pair written as `name.key` / `name.pub` in `directory` (as `bisnn keygen` does).
    static func keyPair(_ name: String, in directory: URL) throws -> (publicKey: [UInt8], secretKey: [UInt8], path: String) {
        let pair = try ZMQCurve.keyPair()
        let paths = try CurveKeyFile.writeKeyPair(
            secretKey: pair.secretKey, publicKey: pair.publicKey, prefix: directory.appendingPathComponent(name).path)
        return (pair.publicKey, pair.secretKey, paths.secretPath)
    }

    /// Writes the allow-list (mode 0644) holding `keys`.
    static func writeAllowList(_ keys: [[UInt8]], to path: String) throws {
        let text = "# bisnnd's allowed clients\n" + keys.map { ZMQCurve.z85Encode($0)! + "\n" }.joined()
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        chmod(path, 0o644)
    }

    static func curveYAML(secretKey: String, clients: String) -> String {
        "security:\n  curve:\n    enabled: true\n    secret_key_file: \(secretKey)\n    allowed_clients_file: \(clients)\n"
    }

    @Test func onlyAllowedClientsGetThroughAndRefusalsAreCountedAndLoggedOnce() throws {
        let directory = try Service.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let input = "tcp://127.0.0.1:\(try Service.freePort())"
        let output = "tcp://127.0.0.1:\(try Service.freePort())"
        let metricsPort = try Service.freePort()
        let server = try Self.keyPair("server", in: directory)
        let friend = try Self.keyPair("friend", in: directory)
        let stranger = try Self.keyPair("stranger", in: directory)
        let clients = directory.appendingPathComponent("clients").path
        try Self.writeAllowList([friend.publicKey], to: clients)
        let (configuration, modelPath) = try Service.configure(
            directory, input: input, output: output,
            extra: Self.curveYAML(secretKey: server.path, clients: clients)
                + "metrics:\n  enabled: true\n  listen: 127.0.0.1:\(metricsPort)\n")
        let daemon = try Service.Daemon(configuration: configuration, directory: directory)
        #expect(daemon.waitForLog("CURVE on:"), "\(daemon.log)")
        #expect(daemon.log.contains("server public key \(ZMQCurve.z85Encode(server.publicKey)!)"), "\(daemon.log)")
        #expect(daemon.log.contains("1 allowed key of \(clients)"), "\(daemon.log)")

        // An allowed subscriber gets status messages, through CURVE.
        let subscriber = try Client(.sub, output, serverKey: server.publicKey, keys: (friend.publicKey, friend.secretKey))
        let first = try #require(try subscriber.status { _ in true }, "no status message: \(daemon.log)")
        #expect(first.refusedConnections == 0)

        // Three that are refused: a sender with an unknown key, a plaintext sender, a plaintext subscriber.
        let recordings = F.recordings(2)
        let expected = try F.evaluatorDecisions(recordings)
        var generator = SplitMix64(state: 7)
        var intruderWriter = EventPacketWriter(sensor: SensorName("intruder")!, firstSequence: 0)
        let intruder = try Client(.push, input, serverKey: server.publicKey, keys: (stranger.publicKey, stranger.secretKey))
        intruder.offer(F.messages(recordings[0].events, writer: &intruderWriter, maximumChunk: 1500, generator: &generator))
        var plainWriter = EventPacketWriter(sensor: SensorName("plain")!, firstSequence: 0)
        let plain = try Client(.push, input)
        plain.offer(F.messages(recordings[0].events, writer: &plainWriter, maximumChunk: 1500, generator: &generator))
        let eavesdropper = try Client(.sub, output)

        // The allowed sender's recording is decided as eval decides it.
        var writer = EventPacketWriter(sensor: SensorName("cam0")!, firstSequence: 0)
        let sender = try Client(.push, input, serverKey: server.publicKey, keys: (friend.publicKey, friend.secretKey))
        try sender.send(F.messages(recordings[0].events, writer: &writer, maximumChunk: 1500, generator: &generator))
        let identifier = ModelIdentifier(file: modelPath)!.text
        let prediction = try #require(try subscriber.nextPrediction(), "no prediction: \(daemon.log)")
        Service.check(prediction, against: expected[0], recording: recordings[0], model: identifier)
        #expect(prediction.sensor == "cam0")

        let counted = try #require(try subscriber.status { $0.refusedConnections >= 3 })
        #expect(counted.refusedConnections >= 3, "\(daemon.log)")
        #expect(Set(counted.sensors.keys) == ["cam0"], "the refused senders' events got in")
        try eavesdropper.socket.setReceiveTimeout(.milliseconds(100))
        #expect(try eavesdropper.socket.receive() == nil, "a plaintext subscriber received a message")

        #expect(daemon.waitForLog("refused a connection"), "\(daemon.log)")
        let warnings = daemon.log.split(separator: "\n").filter { $0.contains("refused a connection") }
        #expect(warnings.count == 1, "refusals are logged at most once every 10 s: \(warnings)")
        let response = try MetricsEndpointTests.fetch(port: metricsPort, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        let refusedLine = response.body.split(separator: "\n").first { $0.hasPrefix("bisnnd_refused_connections_total ") }
        let refusedMetric = try #require(refusedLine.flatMap { Int($0.split(separator: " ").last ?? "") }, "\(response.body)")
        #expect(refusedMetric >= 3)

        // A reload that allows the stranger lets a new connection of it in; a bad allow-list is refused.
        try Self.writeAllowList([friend.publicKey, stranger.publicKey], to: clients)
        daemon.signal(SIGHUP)
        #expect(daemon.waitForLog("CURVE allow-list applied: 2 allowed client keys"), "\(daemon.log)")
        var welcomeWriter = EventPacketWriter(sensor: SensorName("welcome")!, firstSequence: 0)
        let welcome = try Client(.push, input, serverKey: server.publicKey, keys: (stranger.publicKey, stranger.secretKey))
        try welcome.send(F.messages(recordings[1].events, writer: &welcomeWriter, maximumChunk: 1500, generator: &generator))
        let admitted = try #require(try subscriber.nextPrediction(), "no prediction after the reload: \(daemon.log)")
        Service.check(admitted, against: expected[1], recording: recordings[1], model: identifier)
        #expect(admitted.sensor == "welcome")

        try Data("not a key\n".utf8).write(to: URL(fileURLWithPath: clients))
        daemon.signal(SIGHUP)
        #expect(daemon.waitForLog("security.curve.allowed_clients_file: \(clients): line 1: not a CURVE key"), "\(daemon.log)")
        #expect(daemon.log.contains("reload refused"))

        daemon.signal(SIGTERM)
        #expect(daemon.exitStatus() == 0, "\(daemon.log)")
    }

    @Test func keygenReplayAndListenTalkCURVE() throws {
        let directory = try Service.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let bisnn = try PipelineTools.bisnn()
        func path(_ name: String) -> String { directory.appendingPathComponent(name).path }
        for name in ["server", "cam0", "stranger"] {
            let made = try ToolProcess(bisnn, ["keygen", "--out", path(name)]).finish()
            #expect(made.status == 0, "\(made.stderr)")
            #expect(made.stdout.contains("public key: \(path(name)).pub: "))
        }
        var status = stat()
        stat(path("server.key"), &status)
        #expect(status.st_mode & 0o777 == 0o600)
        let again = try ToolProcess(bisnn, ["keygen", "--out", path("cam0")]).finish()
        #expect(again.status != 0 && again.stderr.contains("keys are never overwritten"), "\(again.stderr)")
        try FileManager.default.copyItem(atPath: path("cam0.pub"), toPath: path("clients"))

        let input = "tcp://127.0.0.1:\(try Service.freePort())"
        let output = "tcp://127.0.0.1:\(try Service.freePort())"
        let (configuration, _) = try Service.configure(
            directory, input: input, output: output,
            extra: Self.curveYAML(secretKey: path("server.key"), clients: path("clients")))
        let daemon = try Service.Daemon(configuration: configuration, directory: directory)
        #expect(daemon.waitForLog("CURVE on:"), "\(daemon.log)")
        let curve = ["--curve-server-key", path("server.pub"), "--curve-key", path("cam0.key")]
        let listen = try ToolProcess(
            bisnn, ["listen", "--endpoint", output, "--status", "--json", "--count", "1", "--timeout", "20"] + curve)
        // Status messages reaching listen show its subscription is in place.
        let deadline = ContinuousClock.now + .seconds(10)
        while !listen.stdout.contains("refused_connections"), ContinuousClock.now < deadline { usleep(10_000) }
        let recording = PipelineTools.data("nmnist-small/train/1.bin")
        let replay = try ToolProcess(
            bisnn, ["replay", recording, "--endpoint", input, "--sensor", "cam0", "--segments", "--speed", "max"] + curve
        ).finish()
        #expect(replay.status == 0, "\(replay.stderr)")
        let listened = listen.finish()
        #expect(listened.status == 0, "\(listened.stderr) \(daemon.log)")
        #expect(listened.stdout.contains("\"sensor\":\"cam0\""), "\(listened.stdout)")

        let refused = try ToolProcess(
            bisnn, ["replay", recording, "--endpoint", input, "--sensor", "cam1", "--speed", "max", "--send-timeout", "1",
                    "--curve-server-key", path("server.pub"), "--curve-key", path("stranger.key")]
        ).finish()
        #expect(refused.status == 1 && refused.stderr.contains("security.curve.allowed_clients_file"), "\(refused.stderr)")
        let half = try ToolProcess(
            bisnn, ["replay", recording, "--sensor", "cam1", "--curve-server-key", path("server.pub")]).finish()
        #expect(half.status != 0 && half.stderr.contains("give both --curve-server-key and --curve-key"), "\(half.stderr)")
        daemon.signal(SIGTERM)
        #expect(daemon.exitStatus() == 0, "\(daemon.log)")
    }

    @Test func aSecretKeyOthersCanReadExitsWithExConfigNamingTheSetting() throws {
        let directory = try Service.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let server = try Self.keyPair("server", in: directory)
        chmod(server.path, 0o644)
        let clients = directory.appendingPathComponent("clients").path
        try Self.writeAllowList([], to: clients)
        let (configuration, _) = try Service.configure(
            directory, input: "tcp://127.0.0.1:\(try Service.freePort())",
            output: "tcp://127.0.0.1:\(try Service.freePort())",
            extra: Self.curveYAML(secretKey: server.path, clients: clients))
        let daemon = try Service.Daemon(configuration: configuration, directory: directory)
        #expect(daemon.exitStatus() == 78, "\(daemon.log)")
        #expect(daemon.log.contains("security.curve.secret_key_file: \(server.path): readable by group or others (mode 0644)"),
                "\(daemon.log)")
    }
}
