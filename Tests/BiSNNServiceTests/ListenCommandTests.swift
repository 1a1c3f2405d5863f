import Foundation
import Testing
import ZeroMQ

@testable import BiSNNService

/// `bisnn listen` as a real process subscribed to a publisher bound by the test.
struct ListenCommandTests {
    typealias T = PipelineTools

    /// A prediction for `sensor` numbered `seq`.
    static func prediction(_ sensor: String, seq: UInt64, abstained: Bool = false) -> PredictionMessage {
        PredictionMessage(
            sensor: sensor, sequence: seq, startTimeMicroseconds: 5_000_010, endTimeMicroseconds: 5_311_175,
            eventCount: 4325, classIndex: 3, label: "3", confidence: 0.82,
            probabilities: [0.01, 0.02, 0.03, 0.82, 0.02, 0.03, 0.01, 0.02, 0.02, 0.02], entropy: 0.71,
            mutualInformation: 0.05, agreement: 0.9, abstained: abstained, ensembleSize: 10,
            model: "nmnist.safetensors@9f86d081", droppedMessages: 0, latencyMicroseconds: 1840)
    }

    /// An XPUB bound on a free local port: it sees the subscriptions of `bisnn listen`, so the test publishes
    /// only once the subscriber is connected.
    final class Publisher {
        let context: ZMQContext
        let socket: ZMQSocket
        let endpoint: String

        init() throws {
            context = try ZMQContext()
            socket = try ZMQSocket(.xpub, context: context)
            try socket.setReceiveTimeout(.seconds(20))
            try socket.bind("tcp://127.0.0.1:*")
            endpoint = try socket.lastEndpoint
        }

        deinit {
            socket.close()
            context.close()
        }

        /// Waits for the subscription to `prefix` (`[1] + prefix`); returns false after the receive timeout.
        func waitForSubscription(to prefix: String) throws -> Bool {
            while let message = try socket.receive() {
                if message.first == [1] + Array(prefix.utf8) { return true }
            }
            return false
        }

        func publish(_ message: PredictionMessage) throws {
            try socket.send(try message.frames())
        }
    }

    @Test func jsonLinesAreThePredictionsAsReceived() throws {
        let publisher = try Publisher()
        let run = try ToolProcess(
            try T.bisnn(), ["listen", "--endpoint", publisher.endpoint, "--json", "--count", "2", "--timeout", "20"])
        #expect(try publisher.waitForSubscription(to: "predictions/"))
        let sent = [Self.prediction("cam0", seq: 258), Self.prediction("cam10", seq: 3, abstained: true)]
        for message in sent { try publisher.publish(message) }
        try publisher.socket.send([Array("status/bisnnd".utf8), Array("{}".utf8)])  // not subscribed: never seen
        let result = run.finish()
        #expect(result.status == 0, "\(result.stderr)")
        let expected = try sent.map { String(decoding: try $0.json(), as: UTF8.self) + "\n" }.joined()
        #expect(result.stdout == expected)
    }

    @Test func sensorComparesTheTopicExactly() throws {
        let publisher = try Publisher()
        let run = try ToolProcess(
            try T.bisnn(),
            ["listen", "--endpoint", publisher.endpoint, "--sensor", "cam1", "--json", "--count", "1", "--timeout", "20"])
        #expect(try publisher.waitForSubscription(to: "predictions/cam1"))
        try publisher.publish(Self.prediction("cam10", seq: 1))  // matches the prefix, not the sensor
        try publisher.publish(Self.prediction("cam1", seq: 2))
        let result = run.finish()
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout == String(decoding: try Self.prediction("cam1", seq: 2).json(), as: UTF8.self) + "\n")
    }

    @Test func theTableHasOneRowAPredictionAndStatusWhenAsked() throws {
        let publisher = try Publisher()
        let run = try ToolProcess(
            try T.bisnn(), ["listen", "--endpoint", publisher.endpoint, "--status", "--count", "2", "--timeout", "20"])
        #expect(try publisher.waitForSubscription(to: "predictions/"))
        #expect(try publisher.waitForSubscription(to: "status/"))
        let status = StatusMessage(
            service: "bisnnd", protocolVersion: 1, version: "0.1.0", time: 1_718_000_000.5, uptimeSeconds: 3600.25,
            model: "nmnist.safetensors@9f86d081",
            sensors: ["cam0": StatusMessage.SensorStatus(
                messages: 40, events: 51873, lateEvents: 3, frames: 3600, shedFrames: 0, decisions: 12,
                sequenceGaps: 1, lostMessages: 2, restarts: 0, malformed: ["coordinates": 1],
                lastMessageAgeSeconds: 0.25)],
            malformed: [:])
        try publisher.socket.send(try status.frames())
        try publisher.publish(Self.prediction("cam0", seq: 258))
        try publisher.publish(Self.prediction("cam0", seq: 259, abstained: true))
        let result = run.finish()
        #expect(result.status == 0, "\(result.stderr)")
        let lines = result.stdout.split(separator: "\n").map(String.init)
        try #require(lines.count == 4, "\(result.stdout)")
        #expect(lines[0].hasPrefix("status bisnnd: up 3600.2"))
        #expect(lines[0].contains("cam0: 40 messages, 51873 events, 12 decisions, 2 lost, 3 late events, 1 rejected"))
        #expect(lines[1].split(separator: " ") == [
            "sensor", "seq", "label", "confidence", "mutual_info", "agreement", "abstained", "latency_ms",
        ])
        #expect(lines[2].split(separator: " ") == ["cam0", "258", "3", "0.820", "0.050", "0.900", "no", "1.840"])
        #expect(lines[3].split(separator: " ") == ["cam0", "259", "3", "0.820", "0.050", "0.900", "yes", "1.840"])
    }

    @Test func timeoutExitsWithFailureWhenNothingArrives() throws {
        let publisher = try Publisher()
        let run = try ToolProcess(try T.bisnn(), ["listen", "--endpoint", publisher.endpoint, "--timeout", "0.3"])
        let result = run.finish()
        #expect(result.status == 1)
        #expect(result.stderr.contains("no prediction from \(publisher.endpoint) within 0.3 s"), "\(result.stderr)")
        #expect(result.stdout.isEmpty)
    }

    @Test func statusMessagesDoNotHoldOffTheTimeout() throws {
        let publisher = try Publisher()
        let run = try ToolProcess(
            try T.bisnn(), ["listen", "--endpoint", publisher.endpoint, "--status", "--timeout", "0.5"])
        #expect(try publisher.waitForSubscription(to: "status/"))
        let status = StatusMessage(
            service: "bisnnd", protocolVersion: 1, version: "0.1.0", time: 1_718_000_000, uptimeSeconds: 1,
            model: "m@00000000", sensors: [:], malformed: [:])
        // Status every 50 ms for up to 5 s: listen must still give up 0.5 s after its start, printing them.
        let start = ContinuousClock.now
        while run.process.isRunning, ContinuousClock.now - start < .seconds(5) {
            try publisher.socket.send(try status.frames())
            Thread.sleep(forTimeInterval: 0.05)
        }
        #expect(!run.process.isRunning, "listen was still running after 5 s of status messages")
        let result = run.finish()
        #expect(result.status == 1, "\(result.stderr)")
        #expect(result.stderr.contains("no prediction from"), "\(result.stderr)")
        #expect(result.stdout.contains("status bisnnd"), "\(result.stdout)")
    }
}
