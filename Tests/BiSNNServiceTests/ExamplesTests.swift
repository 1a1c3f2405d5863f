import EventStream
import Foundation
import Testing

@testable import BiSNNService

/// The Python examples (examples/publisher.py, examples/subscriber.py), run with python3 and pyzmq against
/// sockets of the test. pyzmq is required: CI installs it with scripts/install-deps, and without it these
/// tests fail (they do not skip).
struct ExamplesTests {
    typealias T = PipelineTools

    static func example(_ name: String) -> String { T.repositoryRoot.appendingPathComponent("examples/\(name)").path }

    /// python3, failing the test with what to install when python3 or pyzmq is missing.
    static func pythonWithPyzmq() throws -> String {
        let python = try #require(T.python3, "python3 is not installed (the examples need python3 and pyzmq)")
        let check = try ToolProcess(python, ["-c", "import zmq"])
        let result = check.finish()
        try #require(
            result.status == 0,
            "pyzmq is not installed for \(python): run scripts/install-deps (or pip install pyzmq). \(result.stderr)")
        return python
    }

    @Test func publisherSendsARecordingAsOneSegment() throws {
        let python = try Self.pythonWithPyzmq()
        let file = T.data("nmnist-small/train/3.bin")
        let sink = try EventSink()
        let run = try ToolProcess(
            python,
            [Self.example("publisher.py"), "--endpoint", sink.endpoint, "--sensor", "py-cam", "--speed", "max",
             "--max-events", "500", "--first-seq", "41", file])
        let packets = try sink.receive(from: run) { $0.last?.header.flags.contains(.end) == true }
        let result = run.finish()
        #expect(result.status == 0, "\(result.stderr)")

        let expected = try EventFileReader.read(file).events.events
        #expect(packets.count == (expected.count + 499) / 500)
        #expect(packets.map(\.header.sequence) == Array(41..<(41 + UInt64(packets.count))))
        for (i, packet) in packets.enumerated() {
            #expect(packet.sensor.rawValue == "py-cam")
            #expect(packet.header.encoding == .native)
            #expect(packet.header.geometry == SensorGeometry(width: 34, height: 34))
            #expect(packet.header.timeBase == 0)
            #expect(packet.header.flags == (i == 0 ? [.start] : i == packets.count - 1 ? [.end] : []))
        }
        var decoder = SensorEventDecoder()
        var events = EventBuffer()
        for packet in packets { _ = try decoder.decode(packet, into: &events) }
        #expect(events.events == expected)
        #expect(result.stdout.hasPrefix("sent \(expected.count) events in \(packets.count) messages"))
    }

    @Test func publisherPacesInRealTime() throws {
        let python = try Self.pythonWithPyzmq()
        let file = T.data("formats/nmnist_sample.bin")
        let sink = try EventSink()
        let launched = ContinuousClock.now
        let run = try ToolProcess(
            python, [Self.example("publisher.py"), "--endpoint", sink.endpoint, "--speed", "2", file])
        let packets = try sink.receive(from: run) { $0.last?.header.flags.contains(.end) == true }
        // The last message cannot leave before the recording's span / 2 has passed since the launch.
        let wall = (ContinuousClock.now - launched) / .seconds(1)
        #expect(run.finish().status == 0)
        let events = try EventFileReader.read(file).events.events
        let sensorSpan = Double(events.last!.t - events.first!.t) / 1e6
        #expect(wall >= sensorSpan / 2, "\(wall) s for \(sensorSpan) s of sensor time at speed 2")
        #expect(packets.count > 100, "about 2 ms of sensor time a message")
    }

    @Test func subscriberPrintsPredictions() throws {
        let python = try Self.pythonWithPyzmq()
        let publisher = try ListenCommandTests.Publisher()
        let run = try ToolProcess(
            python,
            [Self.example("subscriber.py"), "--endpoint", publisher.endpoint, "--sensor", "cam1", "--count", "2",
             "--timeout", "20"])
        #expect(try publisher.waitForSubscription(to: "predictions/cam1"))
        try publisher.publish(ListenCommandTests.prediction("cam10", seq: 1))  // another sensor: skipped
        try publisher.publish(ListenCommandTests.prediction("cam1", seq: 258))
        try publisher.publish(ListenCommandTests.prediction("cam1", seq: 259, abstained: true))
        let result = run.finish()
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout == """
            cam1 seq=258 label=3 confidence=0.820 mutual_information=0.050 agreement=0.900 latency_ms=1.840
            cam1 seq=259 label=unknown(3) confidence=0.820 mutual_information=0.050 agreement=0.900 latency_ms=1.840

            """)
    }

    @Test func subscriberTimesOut() throws {
        let python = try Self.pythonWithPyzmq()
        let publisher = try ListenCommandTests.Publisher()
        let run = try ToolProcess(
            python, [Self.example("subscriber.py"), "--endpoint", publisher.endpoint, "--timeout", "0.3"])
        let result = run.finish()
        #expect(result.status == 1)
        #expect(result.stderr.contains("no prediction from \(publisher.endpoint) within 0.3 s"), "\(result.stderr)")
    }
}
