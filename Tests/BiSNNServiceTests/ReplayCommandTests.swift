import EventStream
import Foundation
import Testing
import ZeroMQ

@testable import BiSNNService

/// `bisnn replay` as a real process sending into a PULL socket (or, with `--bind`, a SUB socket) of the test:
/// every message parses, flags, sequence numbers and time bases are as documented, and the payloads decode
/// to each recording's events.
struct ReplayCommandTests {
    typealias T = PipelineTools

    /// Three N-MNIST recordings in a folder whose labels.csv lists them out of natural order.
    static func nmnistFolder() throws -> (folder: URL, files: [String]) {
        let folder = try T.temporaryDirectory()
        let names = ["10.bin", "2.bin", "1.bin"]
        for name in names {
            try FileManager.default.copyItem(
                atPath: T.data("nmnist-small/train/\(name)"), toPath: folder.appendingPathComponent(name).path)
        }
        try Data("file,label\n10.bin,0\n2.bin,0\n1.bin,5\n".utf8).write(to: folder.appendingPathComponent("labels.csv"))
        return (folder, names.map { folder.appendingPathComponent($0).path })
    }

    /// Splits received packets into segments at END, decoding each with one sensor's decoder (as the service
    /// does: START resets it).
    static func segments(of packets: [EventPacket]) throws -> [(packets: [EventPacket], events: [Event])] {
        var decoder = SensorEventDecoder()
        var result: [(packets: [EventPacket], events: [Event])] = []
        var current: [EventPacket] = []
        var events = EventBuffer()
        for packet in packets {
            _ = try decoder.decode(packet, into: &events)
            current.append(packet)
            if packet.header.flags.contains(.end) {
                result.append((current, events.events))
                current = []
                events = EventBuffer()
            }
        }
        if !current.isEmpty { result.append((current, events.events)) }
        return result
    }

    @Test func segmentsOfNativeEventsGiveBackEachRecording() throws {
        let (folder, files) = try Self.nmnistFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let sink = try EventSink()
        let run = try ToolProcess(
            try T.bisnn(),
            ["replay", folder.path, "--endpoint", sink.endpoint, "--sensor", "cam0", "--segments", "--speed", "max",
             "--max-events", "1000"])
        let packets = try sink.receive(from: run) { packets in packets.filter { $0.header.flags.contains(.end) }.count == 3 }
        let result = run.finish()
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.hasPrefix("replayed 3 recordings, \(packets.count) messages, "), "\(result.stdout)")

        #expect(packets.map(\.header.sequence) == Array(0..<UInt64(packets.count)))
        let segments = try Self.segments(of: packets)
        try #require(segments.count == 3)
        for (segment, file) in zip(segments, files) {
            let expected = try EventFileReader.read(file).events.events
            #expect(segment.events == expected, "\(file)")
            for (i, packet) in segment.packets.enumerated() {
                #expect(packet.sensor.rawValue == "cam0")
                #expect(packet.header.encoding == .native)
                #expect(packet.header.geometry == SensorGeometry(width: 34, height: 34))
                #expect(packet.header.timeBase == 0, "offsets are the recording's own times")
                #expect(packet.header.count <= 1000)
                #expect(packet.header.flags.contains(.start) == (i == 0))
                #expect(packet.header.flags.contains(.end) == (i == segment.packets.count - 1))
            }
            #expect(segment.packets.count == (expected.count + 999) / 1000)
        }
    }

    @Test func segmentsOfEVT3EncodedEventsGiveBackEachRecording() throws {
        let (folder, files) = try Self.nmnistFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let sink = try EventSink()
        let run = try ToolProcess(
            try T.bisnn(),
            ["replay", folder.path, "--endpoint", sink.endpoint, "--sensor", "cam0", "--segments", "--speed", "max",
             "--encoding", "evt3"])
        let packets = try sink.receive(from: run) { packets in packets.filter { $0.header.flags.contains(.end) }.count == 3 }
        let result = run.finish()
        #expect(result.status == 0, "\(result.stderr)")
        #expect(packets.map(\.header.sequence) == Array(0..<UInt64(packets.count)))
        #expect(packets.allSatisfy { $0.header.encoding == .evt3 && $0.header.timeBase == 0 })
        #expect(packets.allSatisfy { $0.header.geometry == SensorGeometry(width: 34, height: 34) })
        let segments = try Self.segments(of: packets)
        try #require(segments.count == 3)
        for (segment, file) in zip(segments, files) {
            #expect(segment.events == (try EventFileReader.read(file).events.events), "\(file)")
            #expect(segment.packets.first?.header.flags.contains(.start) == true)
            #expect(segment.packets.dropFirst().allSatisfy { !$0.header.flags.contains(.start) })
            #expect(segment.packets.dropLast().allSatisfy { !$0.header.flags.contains(.end) })
        }
    }

    @Test func anEVT3FileIsForwardedWordForWord() throws {
        let file = T.data("formats/evt3_1280x720.raw")
        let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: file)))
        // The words: everything after the `%` header lines.
        var start = 0
        while bytes[start] == UInt8(ascii: "%") { start = bytes[start...].firstIndex(of: UInt8(ascii: "\n"))! + 1 }
        let words = Array(bytes[start...])

        let sink = try EventSink()
        let run = try ToolProcess(
            try T.bisnn(),
            ["replay", file, "--endpoint", sink.endpoint, "--sensor", "prophesee.1", "--segments", "--speed", "max",
             "--encoding", "evt3", "--max-events", "5000"])
        let packets = try sink.receive(from: run) { $0.last?.header.flags.contains(.end) == true }
        let result = run.finish()
        #expect(result.status == 0, "\(result.stderr)")

        #expect(packets.flatMap(\.payload) == words)
        #expect(packets.count == (words.count / 2 + 4999) / 5000)
        #expect(packets.map(\.header.sequence) == Array(0..<UInt64(packets.count)))
        for (i, packet) in packets.enumerated() {
            #expect(packet.sensor.rawValue == "prophesee.1")
            #expect(packet.header.encoding == .evt3)
            #expect(packet.header.geometry == SensorGeometry(width: 1280, height: 720))
            #expect(packet.header.count <= 5000)
            #expect(packet.header.timeBase == 0)
            #expect(packet.header.flags == (i == 0 ? [.start] : i == packets.count - 1 ? [.end] : []))
        }
        let segments = try Self.segments(of: packets)
        #expect(segments.count == 1)
        #expect(segments.first?.events == (try EventFileReader.read(file).events.events))
    }

    @Test func aContinuousStreamCarriesOnTheTimeLineInRealTime() throws {
        let (folder, files) = try Self.nmnistFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let first = try EventFileReader.read(files[0]).events.events
        let second = try EventFileReader.read(files[1]).events.events
        let pair = try T.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: pair) }
        // No labels.csv: natural order, a.bin is 10.bin and b.bin is 2.bin.
        try FileManager.default.copyItem(atPath: files[0], toPath: pair.appendingPathComponent("a.bin").path)
        try FileManager.default.copyItem(atPath: files[1], toPath: pair.appendingPathComponent("b.bin").path)
        try Data("not a recording".utf8).write(to: pair.appendingPathComponent("README.txt"))

        let speed = 4.0
        let sink = try EventSink()
        let launched = ContinuousClock.now
        let run = try ToolProcess(
            try T.bisnn(), ["replay", pair.path, "--endpoint", sink.endpoint, "--sensor", "cam0", "--speed", "4"])
        var decoder = SensorEventDecoder()
        var events = EventBuffer()
        let packets = try sink.receive(from: run) { packets in
            _ = try? decoder.decode(packets.last!, into: &events)
            return events.count == first.count + second.count
        }
        let wall = (ContinuousClock.now - launched) / .seconds(1)
        let result = run.finish()
        #expect(result.status == 0, "\(result.stderr)")

        #expect(packets.map(\.header.sequence) == Array(0..<UInt64(packets.count)))
        #expect(packets.map(\.header.flags) == [[.start]] + Array(repeating: [], count: packets.count - 1))
        #expect(packets.allSatisfy { $0.header.timeBase == 0 })
        let shift = first.last!.t + 1 - second.first!.t
        let expected = first + second.map { Event(t: $0.t + shift, x: $0.x, y: $0.y, polarity: $0.polarity) }
        #expect(events.events == expected)
        // Paced: each message spans at most 1 ms of wall time (4 ms of sensor time at speed 4) ...
        for packet in packets {
            var one = SensorEventDecoder()
            var part = EventBuffer()
            var copy = packet
            copy.header.flags = [.start]
            _ = try one.decode(copy, into: &part)
            if let firstTime = part.t.first, let lastTime = part.t.last { #expect(lastTime - firstTime <= 4_000) }
        }
        // ... and the last cannot leave before the stream's sensor time / 4 has passed since the launch.
        let sensorSpan = Double(expected.last!.t - expected.first!.t) / 1e6
        #expect(wall >= sensorSpan / speed, "\(wall) s for \(sensorSpan) s of sensor time")
        #expect(wall <= sensorSpan / speed + 5)
    }

    @Test func bindPublishesToASubscriberThatConnects() throws {
        let port = try EventSink.freePort()
        let endpoint = "tcp://127.0.0.1:\(port)"
        let run = try ToolProcess(
            try T.bisnn(),
            ["replay", T.data("formats/nmnist_sample.bin"), "--endpoint", endpoint, "--bind", "--sensor", "cam7",
             "--segments", "--speed", "max", "--subscriber-wait", "20"])
        let context = try ZMQContext()
        defer { context.close() }
        let sub = try ZMQSocket(.sub, context: context)
        defer { sub.close() }
        try sub.setReceiveTimeout(.seconds(20))
        try sub.subscribe(Array("events/".utf8))
        try sub.connect(endpoint)
        var packets: [EventPacket] = []
        while packets.last?.header.flags.contains(.end) != true {
            let frames = try #require(try sub.receive(), "no message from bisnn replay --bind")
            packets.append(try EventPacket.parse(frames: frames))
        }
        let result = run.finish()
        #expect(result.status == 0, "\(result.stderr)")
        #expect(!result.stderr.contains("warning"))
        let segments = try Self.segments(of: packets)
        #expect(segments.first?.events == (try EventFileReader.read(T.data("formats/nmnist_sample.bin")).events.events))
        #expect(packets.first?.header.sequence == 0)
    }

    @Test func errorsNameTheFileOrTheEndpoint() throws {
        let folder = try T.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: folder) }
        let broken = folder.appendingPathComponent("broken.bin").path
        try Data([1, 2, 3]).write(to: URL(fileURLWithPath: broken))
        let sink = try EventSink()
        let bad = try ToolProcess(try T.bisnn(), ["replay", broken, "--endpoint", sink.endpoint, "--sensor", "cam0"])
        let badResult = bad.finish()
        #expect(badResult.status != 0)
        #expect(badResult.stderr.contains(broken), "\(badResult.stderr)")

        let missing = try ToolProcess(try T.bisnn(), ["replay", folder.appendingPathComponent("none").path, "--sensor", "c"])
        let missingResult = missing.finish()
        #expect(missingResult.status != 0)
        #expect(missingResult.stderr.contains("none: no such file or folder"), "\(missingResult.stderr)")

        let nobody = "tcp://127.0.0.1:\(try EventSink.freePort())"
        let unanswered = try ToolProcess(
            try T.bisnn(),
            ["replay", T.data("formats/nmnist_sample.bin"), "--endpoint", nobody, "--sensor", "cam0",
             "--send-timeout", "0.3"])
        let unansweredResult = unanswered.finish()
        #expect(unansweredResult.status != 0)
        #expect(unansweredResult.stderr.contains(nobody), "\(unansweredResult.stderr)")

        let malformed = try ToolProcess(
            try T.bisnn(), ["replay", T.data("formats/nmnist_sample.bin"), "--endpoint", "nowhere", "--sensor", "cam0"])
        let malformedResult = malformed.finish()
        #expect(malformedResult.status != 0)
        #expect(malformedResult.stderr.contains("cannot connect to nowhere"), "\(malformedResult.stderr)")

        let badName = try ToolProcess(try T.bisnn(), ["replay", broken, "--sensor", "cam/0"])
        #expect(badName.finish().status != 0)
    }
}

// MARK: - Support for the replay, listen and examples tests

/// Paths of what the pipeline-tool tests run: the built `bisnn`, `python3`, the shared data.
enum PipelineTools {
    /// The package's root directory.
    static let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()

    /// `../shared/data/<relative>`.
    static func data(_ relative: String) -> String {
        repositoryRoot.deletingLastPathComponent().appendingPathComponent("shared/data/\(relative)").path
    }

    /// The built `bisnn`, next to the test bundle (`swift build --build-tests` and `swift test` build it).
    static func bisnn() throws -> String {
        var candidates: [URL] = []
        if let executable = Bundle.main.executableURL {
            candidates.append(executable.deletingLastPathComponent().appendingPathComponent("bisnn"))
        }
        candidates.append(URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
            .appendingPathComponent("bisnn"))
        let found = candidates.map(\.path).first { FileManager.default.isExecutableFile(atPath: $0) }
        return try #require(found, "bisnn is not built next to the tests (swift build --build-tests)")
    }

    /// The first `python3` on the PATH (the one `python3 -m pip` in scripts/install-deps installs into).
    static let python3: String? = {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        return path.split(separator: ":").map { "\($0)/python3" }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }()

    /// A new empty directory; remove it when done.
    static func temporaryDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("bisnn-replay-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }
}

/// A process started by a test, its output going to files; ``finish(within:)`` kills it if it runs too long.
final class ToolProcess {
    let process = Process()
    private let directory: URL
    private let outPath: String
    private let errPath: String

    /// What the process did.
    struct Result {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    /// Starts `executable arguments`.
    init(_ executable: String, _ arguments: [String]) throws {
        directory = try PipelineTools.temporaryDirectory()
        outPath = directory.appendingPathComponent("stdout").path
        errPath = directory.appendingPathComponent("stderr").path
        _ = FileManager.default.createFile(atPath: outPath, contents: nil)
        _ = FileManager.default.createFile(atPath: errPath, contents: nil)
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: outPath))
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: errPath))
        process.standardInput = FileHandle.nullDevice
        try process.run()
    }

    deinit {
        if process.isRunning { process.terminate() }
        try? FileManager.default.removeItem(at: directory)
    }

    /// Standard output so far.
    var stdout: String { (try? String(contentsOfFile: outPath, encoding: .utf8)) ?? "" }

    /// Waits for the process to exit, killing it (and recording an issue) after `limit`.
    func finish(within limit: Duration = .seconds(30), sourceLocation: SourceLocation = #_sourceLocation) -> Result {
        let deadline = ContinuousClock.now + limit
        while process.isRunning, ContinuousClock.now < deadline { Thread.sleep(forTimeInterval: 0.005) }
        if process.isRunning {
            process.terminate()
            Issue.record("\(process.executableURL?.lastPathComponent ?? "process") still ran after \(limit)",
                         sourceLocation: sourceLocation)
        }
        process.waitUntilExit()
        return Result(
            status: process.terminationStatus, stdout: stdout,
            stderr: (try? String(contentsOfFile: errPath, encoding: .utf8)) ?? "")
    }
}

/// A PULL socket bound by a test on a free local port, where `bisnn replay` and the example publisher send.
final class EventSink {
    let context: ZMQContext
    let socket: ZMQSocket
    let endpoint: String

    init() throws {
        context = try ZMQContext()
        socket = try ZMQSocket(.pull, context: context)
        try socket.setReceiveTimeout(.milliseconds(100))
        try socket.bind("tcp://127.0.0.1:*")
        endpoint = try socket.lastEndpoint
    }

    deinit {
        socket.close()
        context.close()
    }

    /// Receives and parses messages until `done` says so, failing when the sender exits without sending more
    /// or after `limit`.
    func receive(
        from sender: ToolProcess, within limit: Duration = .seconds(30), until done: ([EventPacket]) throws -> Bool
    ) throws -> [EventPacket] {
        let deadline = ContinuousClock.now + limit
        var packets: [EventPacket] = []
        var exitedAt: ContinuousClock.Instant?
        while ContinuousClock.now < deadline {
            guard let frames = try socket.receive() else {
                // A sender that exited has 1 s for its last messages to arrive.
                if !sender.process.isRunning {
                    if let exitedAt, ContinuousClock.now - exitedAt > .seconds(1) { break }
                    if exitedAt == nil { exitedAt = .now }
                }
                continue
            }
            packets.append(try EventPacket.parse(frames: frames))
            if try done(packets) { return packets }
        }
        let result = sender.finish(within: .seconds(1))
        throw SinkError(description: "stopped after \(packets.count) message(s); sender exit \(result.status): \(result.stderr)")
    }

    struct SinkError: Error, CustomStringConvertible {
        var description: String
    }

    /// A local TCP port nothing listens on (bound and released at once).
    static func freePort() throws -> Int {
        let context = try ZMQContext()
        defer { context.close() }
        let socket = try ZMQSocket(.pull, context: context)
        try socket.bind("tcp://127.0.0.1:*")
        let endpoint = try socket.lastEndpoint
        socket.close()
        return Int(endpoint.split(separator: ":").last!)!
    }
}
