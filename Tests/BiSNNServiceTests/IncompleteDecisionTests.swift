import BiSNN
import BiSNNTraining
import EventStream
import Foundation
import Testing

@testable import BiSNNService

/// Shedding and damaged input without sockets (docs/protocol.md 4.6): shed frames are counted and never stepped,
/// and every decision made on part of its input (frames shed, messages lost or rejected, a publisher restart) is
/// published incomplete and abstaining; the decisions after it are whole again, exactly eval's.
@Suite struct IncompleteDecisionTests {
    typealias F = PipelineFixtures

    /// Pipelines for the fixture model in segment mode (or `yaml`'s settings).
    static func pipelines(_ yaml: String = "") throws -> SensorPipelines {
        let loaded = try ServicePipelinesFixture.loaded(yaml: yaml)
        return try SensorPipelines(loaded: loaded, model: ModelIdentifier(fileName: "m", bytes: []))
    }

    /// Each recording as native START…END messages of `size` events (time base 0, as a replay of the
    /// recording as one segment sends them) from `writer`.
    static func messages(
        _ recordings: [LabelledRecording], writer: inout EventPacketWriter, size: Int = 400, start: Bool = true
    ) throws -> [[[[UInt8]]]] {
        try recordings.map { recording in
            let n = recording.events.count
            let cuts = stride(from: 0, to: n, by: size).map { $0..<min(n, $0 + size) }
            return try cuts.indices.map { i in
                var payload: [UInt8] = []
                try NativeEventCodec.encode(recording.events, range: cuts[i], timeBase: 0, into: &payload)
                var flags: EventPacketHeader.Flags = []
                if start && i == 0 { flags.insert(.start) }
                if i == cuts.count - 1 { flags.insert(.end) }
                return writer.message(encoding: .native, geometry: F.sensor, flags: flags, timeBase: 0, payload: payload)
            }
        }
    }

    /// Feeds `messages`, shedding those `shed` says; returns the predictions.
    static func feed(
        _ messages: [[[UInt8]]], into pipelines: inout SensorPipelines, shed: (Int) -> Bool = { _ in false }
    ) -> [SensorPipelines.Prediction] {
        var predictions: [SensorPipelines.Prediction] = []
        let now = ContinuousClock.now
        for (i, message) in messages.enumerated() {
            _ = pipelines.accept(message, receivedAt: now, shed: shed(i), into: &predictions)
        }
        return predictions
    }

    static func expectWhole(
        _ prediction: SensorPipelines.Prediction, as expected: Decision, sourceLocation: SourceLocation = #_sourceLocation
    ) {
        #expect(prediction.message.complete, sourceLocation: sourceLocation)
        #expect(prediction.message.shedFrames == 0, sourceLocation: sourceLocation)
        #expect(prediction.message.probabilities == expected.probabilities, sourceLocation: sourceLocation)
        #expect(prediction.message.abstained == expected.abstained, sourceLocation: sourceLocation)
    }

    @Test func shedFramesAreCountedNotSteppedAndTheirDecisionAbstains() throws {
        let recordings = F.recordings(3)
        let loaded = try ServicePipelinesFixture.loaded(yaml: "")
        let expected = try recordings.map { try ServicePipelinesFixture.evaluatorDecision($0, loaded: loaded) }
        var writer = EventPacketWriter(sensor: SensorName("cam0")!)
        let perRecording = try Self.messages(recordings, writer: &writer)
        #expect(perRecording[1].count >= 3)
        var pipelines = try Self.pipelines()
        // Shed the middle messages of the second recording only.
        let second = perRecording[0].count..<(perRecording[0].count + perRecording[1].count)
        let shedIndices = Set(second.dropFirst().dropLast())
        let predictions = Self.feed(perRecording.flatMap { $0 }, into: &pipelines) { shedIndices.contains($0) }
        try #require(predictions.count == 3)
        Self.expectWhole(predictions[0], as: expected[0])
        Self.expectWhole(predictions[2], as: expected[2])  // recovered: the next segment is exactly eval's

        let damaged = predictions[1].message
        #expect(!damaged.complete)
        #expect(damaged.abstained)
        #expect(damaged.shedFrames > 0)
        #expect(damaged.eventCount == recordings[1].events.count, "shed messages' events are still counted")
        #expect(damaged.probabilities != expected[1].probabilities)

        let status = pipelines.status(service: "s", version: "v", time: 0, uptimeSeconds: 0, now: .now)
        let entry = try #require(status.sensors["cam0"])
        #expect(entry.shedFrames == damaged.shedFrames)
        let allFrames = recordings.reduce(0) { $0 + LabelledDataset.frames(of: $1.events, configuration: loaded.frames).frameCount }
        #expect(entry.frames == allFrames, "shed frames are binned and counted in frames too")
        #expect(entry.events == recordings.reduce(0) { $0 + $1.events.count })
    }

    @Test func aSequenceGapMakesTheSegmentIncompleteAndTheNextOneIsWhole() throws {
        let recordings = F.recordings(3, from: 4)
        let loaded = try ServicePipelinesFixture.loaded(yaml: "")
        let expected = try recordings.map { try ServicePipelinesFixture.evaluatorDecision($0, loaded: loaded) }
        var writer = EventPacketWriter(sensor: SensorName("cam1")!)
        var perRecording = try Self.messages(recordings, writer: &writer)
        perRecording[0].remove(at: 1)  // lost in the first segment
        perRecording[2].remove(at: 0)  // the third segment's START is lost
        var pipelines = try Self.pipelines()
        let predictions = Self.feed(perRecording.flatMap { $0 }, into: &pipelines)
        try #require(predictions.count == 3)
        #expect(!predictions[0].message.complete && predictions[0].message.abstained)
        #expect(predictions[0].message.droppedMessages == 1)
        Self.expectWhole(predictions[1], as: expected[1])
        #expect(!predictions[2].message.complete && predictions[2].message.abstained, "a segment missing its START")
    }

    @Test func aRejectedMessageMakesItsSegmentIncompleteButADuplicateDoesNot() throws {
        let recordings = F.recordings(2, from: 7)
        let loaded = try ServicePipelinesFixture.loaded(yaml: "")
        let expected = try recordings.map { try ServicePipelinesFixture.evaluatorDecision($0, loaded: loaded) }
        var writer = EventPacketWriter(sensor: SensorName("cam2")!)
        var perRecording = try Self.messages(recordings, writer: &writer)
        // First segment: a message whose events lie outside the geometry replaces one of its own (same number).
        var bad: [UInt8] = []
        try NativeEventCodec.encode(
            EventBuffer([Event(t: 5, x: 60, y: 1, polarity: 1)]), timeBase: 0, into: &bad)
        var header = try perRecording[0][1][1].withUnsafeBytes { raw in
            try Result { () throws(WireRejection) in try EventPacketHeader(parsing: raw) }.get()
        }
        header.count = 1
        perRecording[0][1] = [perRecording[0][1][0], header.encoded(), bad]
        // Second segment: a message sent twice.
        perRecording[1].insert(perRecording[1][1], at: 2)
        var pipelines = try Self.pipelines()
        let predictions = Self.feed(perRecording.flatMap { $0 }, into: &pipelines)
        try #require(predictions.count == 2)
        #expect(!predictions[0].message.complete && predictions[0].message.abstained)
        Self.expectWhole(predictions[1], as: expected[1])
        let status = pipelines.status(service: "s", version: "v", time: 0, uptimeSeconds: 0, now: .now)
        #expect(status.sensors["cam2"]?.malformed == ["coordinates": 1, "duplicate_sequence": 1])
    }

    @Test func aPublisherRestartCutsTheOpenSegmentAsIncomplete() throws {
        let recordings = F.recordings(2, from: 9)
        let loaded = try ServicePipelinesFixture.loaded(yaml: "")
        let expected = try ServicePipelinesFixture.evaluatorDecision(recordings[1], loaded: loaded)
        var first = EventPacketWriter(sensor: SensorName("cam3")!, firstSequence: 100)
        let cut = Array(try Self.messages([recordings[0]], writer: &first)[0].prefix(3))
        // The publisher dies and comes back numbering from 0, without START.
        var restarted = EventPacketWriter(sensor: SensorName("cam3")!)
        let again = try Self.messages([recordings[1]], writer: &restarted, start: false)[0]
        var pipelines = try Self.pipelines()
        let predictions = Self.feed(cut + again, into: &pipelines)
        try #require(predictions.count == 2)
        #expect(predictions[0].cause == .start)
        #expect(!predictions[0].message.complete && predictions[0].message.abstained)
        Self.expectWhole(predictions[1], as: expected)
        let status = pipelines.status(service: "s", version: "v", time: 0, uptimeSeconds: 0, now: .now)
        #expect(status.sensors["cam3"]?.restarts == 1)
    }

    @Test func windowModeMarksTheWindowsThatCoverALossOrAShedFrame() throws {
        var writer = EventPacketWriter(sensor: SensorName("cam4")!)
        let stream = SensorPipelineTests.steadyStream(
            from: 0, to: 2_000_000, spacing: 250, perMessage: 200, writer: &writer)
        // 200 events of 250 µs: 50 ms a message. Lose the one ending at 550 ms; shed the one ending at 1300 ms.
        let lost = try #require(stream.lastTimes.firstIndex(of: 549_750))
        let shed = try #require(stream.lastTimes.firstIndex(of: 1_299_750))
        var messages = stream.messages
        messages.remove(at: lost)
        var pipelines = try Self.pipelines("decisions:\n  mode: window\n  window_ms: 300\n  interval_ms: 100\n")
        let predictions = Self.feed(messages, into: &pipelines) { $0 == shed - 1 }
        #expect(predictions.count >= 18)
        for prediction in predictions {
            let m = prediction.message
            let windowStart = m.endTimeMicroseconds - 300_000
            // The lost events lie between 499 750 µs (the last one before the gap) and 550 000 µs (the first
            // after it); the shed frames between 1 250 000 and 1 300 000 µs.
            let coversLoss = m.endTimeMicroseconds > 499_750 && windowStart < 550_000
            let coversShed = m.endTimeMicroseconds > 1_250_000 && windowStart < 1_300_000
            #expect(m.complete == !(coversLoss || coversShed), "window ending at \(m.endTimeMicroseconds)")
            if !m.complete { #expect(m.abstained) }
        }
        #expect(predictions.contains { $0.message.shedFrames > 0 })
        #expect(predictions.last!.message.complete, "later windows are whole again")
    }
}

extension IncompleteDecisionTests {
    @Test func segmentsCutByTheServiceOrBySilenceAfterEndAreIncomplete() throws {
        let recordings = F.recordings(3, from: 12)
        var writer = EventPacketWriter(sensor: SensorName("cam5")!)
        let perRecording = try Self.messages(recordings, writer: &writer)
        var pipelines = try Self.pipelines("decisions:\n  idle_reset_ms: 50\n")
        let start = ContinuousClock.now
        var predictions: [SensorPipelines.Prediction] = []
        // Without END so far, silence is how this sensor ends segments: an idle close is whole.
        for message in perRecording[0].dropLast() {
            _ = pipelines.accept(message, receivedAt: start, into: &predictions)
        }
        pipelines.closeIdleSensors(now: start + .milliseconds(60), into: &predictions)
        try #require(predictions.count == 1)
        #expect(predictions[0].cause == .idle && predictions[0].message.complete)
        // A whole segment with END; then one cut off by silence: its END is missing.
        let later = start + .seconds(1)
        for message in perRecording[1] + perRecording[2].dropLast() {
            _ = pipelines.accept(message, receivedAt: later, into: &predictions)
        }
        pipelines.closeIdleSensors(now: later + .milliseconds(60), into: &predictions)
        try #require(predictions.count == 3)
        #expect(predictions[1].cause == .end && predictions[1].message.complete)
        #expect(predictions[2].cause == .idle && !predictions[2].message.complete && predictions[2].message.abstained)
        // A segment open at a stop is cut by the service.
        let last = later + .seconds(1)
        for message in perRecording[0].dropLast() {
            _ = pipelines.accept(message, receivedAt: last, into: &predictions)
        }
        pipelines.closeAll(cause: .shutdown, now: last, into: &predictions)
        try #require(predictions.count == 4)
        #expect(predictions[3].cause == .shutdown && !predictions[3].message.complete)
    }
}
