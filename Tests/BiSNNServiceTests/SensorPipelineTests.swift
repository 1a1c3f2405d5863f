import BiSNN
import BiSNNTraining
import EventStream
import Foundation
import Testing

@testable import BiSNNService

/// Shared by the pipeline and service tests: real N-MNIST recordings, a small random Bernoulli model, and what
/// `bisnn eval` decides for them.
enum PipelineFixtures {
    /// `../shared/data` beside the repository.
    static let dataRoot: String = {
        let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        return repo.deletingLastPathComponent().appendingPathComponent("shared/data").path
    }()

    static let sensor = SensorGeometry(width: 34, height: 34)
    static let ensembleSize = 10
    static let seed: UInt64 = 5
    static let classNames = (0..<10).map { "digit\($0)" }

    /// A random Bernoulli model on N-MNIST input whose outputs differ from recording to recording.
    static let model: NetworkModel = {
        let network = NetworkDescription.mlp(
            input: .nmnist, hiddenSizes: [32], classNames: classNames, burnInSteps: 20, weightKind: .bernoulli)
        return NetworkModel.random(network: network, seed: 1, weightScale: 1.5, biasScale: 4)
    }()

    static let predictor: EnsemblePredictor = {
        try! EnsemblePredictor(model: model, kind: .ensemble(size: ensembleSize, seed: seed))
    }()

    /// How the service and `bisnn eval` bin a 34x34 sensor for the model.
    static let frames: SpikeFrameConfiguration = {
        try! LabelledDataset.frameConfiguration(for: model.network, sensor: sensor)
    }()

    /// The first `count` recordings of nmnist-small/train (by file number), as eval loads them.
    static func recordings(_ count: Int, from first: Int = 1) -> [LabelledRecording] {
        (first..<(first + count)).map { n in
            let path = dataRoot + "/nmnist-small/train/\(n).bin"
            let events = try! EventFileReader.read(path, format: .nmnist, geometry: sensor).events
            return LabelledRecording(file: "\(n).bin", path: path, label: 0, events: events, geometry: sensor)
        }
    }

    /// What `bisnn eval` decides for `recordings` with the fixture's model, ensemble and seed.
    static func evaluatorDecisions(_ recordings: [LabelledRecording]) throws -> [Decision] {
        let dataset = LabelledDataset(classNames: classNames, recordings: recordings)
        return try ModelEvaluator.decisions(
            model: model, dataset: dataset, predictor: .ensemble(size: ensembleSize, seed: seed), jobs: 2)
    }

    /// A recording as native messages with time base 0 (offsets are the recording's own timestamps), cut into
    /// chunks of random sizes from `generator`; START on the first, END on the last.
    static func messages(
        _ events: EventBuffer, writer: inout EventPacketWriter, maximumChunk: Int, generator: inout SplitMix64,
        start: Bool = true, end: Bool = true
    ) -> [[[UInt8]]] {
        var cuts: [Range<Int>] = []
        var position = 0
        while position < events.count {
            let size = 1 + Int(generator.next() % UInt64(maximumChunk))
            cuts.append(position..<min(events.count, position + size))
            position += size
        }
        if cuts.isEmpty { cuts = [0..<0] }
        return cuts.indices.map { i in
            var payload: [UInt8] = []
            try! NativeEventCodec.encode(events, range: cuts[i], timeBase: 0, into: &payload)
            var flags: EventPacketHeader.Flags = []
            if start && i == 0 { flags.insert(.start) }
            if end && i == cuts.count - 1 { flags.insert(.end) }
            return writer.message(encoding: .native, geometry: sensor, flags: flags, timeBase: 0, payload: payload)
        }
    }

    /// Native events at `times` (µs), spread over the sensor.
    static func events(at times: [Int64]) -> EventBuffer {
        EventBuffer(times.enumerated().map { i, t in
            Event(t: t, x: UInt16((i * 7) % 34), y: UInt16((i * 13) % 34), polarity: UInt8(i % 2))
        })
    }
}

/// One sensor's pipeline without sockets: the receiving rules (``EventIntake``) feeding ``SensorPipeline``, in
/// segment and window mode.
@Suite struct SensorPipelineTests {
    typealias F = PipelineFixtures

    /// Runs `messages` through a fresh intake and pipeline; returns the closed decisions.
    static func run(
        _ messages: [[[UInt8]]], settings: SensorPipeline.Settings = .init(mode: .segment),
        predictor: EnsemblePredictor = F.predictor
    ) throws -> [SensorPipeline.ClosedDecision] {
        var intake = EventIntake(expectedGeometry: F.sensor)
        var pipeline = try SensorPipeline(predictor: predictor, frames: F.frames, settings: settings)
        var decisions: [SensorPipeline.ClosedDecision] = []
        var events = EventBuffer()
        for message in messages {
            events.removeAll()
            let accepted = try intake.accept(frames: message, into: &events)
            pipeline.apply(accepted.packet, events: events, into: &decisions)
        }
        return decisions
    }

    @Test func segmentDecisionsEqualTheEvaluatorsInAnyChunking() throws {
        let recordings = F.recordings(8)
        let expected = try F.evaluatorDecisions(recordings)
        #expect(Set(expected.map(\.predictedClass)).count > 1, "the fixture model should not decide everything alike")
        var generator = SplitMix64(state: 11)
        for (maximumChunk, pending) in [(5000, 1000), (300, 1000), (37, 1000), (800, 3)] {
            var writer = EventPacketWriter(sensor: SensorName("cam0")!, firstSequence: 40)
            var messages: [[[UInt8]]] = []
            for recording in recordings {
                messages += F.messages(
                    recording.events, writer: &writer, maximumChunk: maximumChunk, generator: &generator)
            }
            let decisions = try Self.run(
                messages, settings: .init(mode: .segment, maximumPendingFrames: pending))
            try #require(decisions.count == recordings.count)
            for (i, closed) in decisions.enumerated() {
                #expect(closed.cause == .end)
                #expect(closed.decision == expected[i], "recording \(recordings[i].file), chunks up to \(maximumChunk)")
                #expect(closed.eventCount == recordings[i].events.count)
                #expect(closed.startTime == recordings[i].events[0].t)
                #expect(closed.endTime == recordings[i].events[recordings[i].events.count - 1].t)
            }
        }
    }

    @Test func segmentAlignsToTheFirstEventWhenItIsFarFromTheTimeBase() throws {
        // Shifted by 10 s with time base 0, the recording's bins start at its first event, as eval does for a
        // recording on a running clock.
        let recording = F.recordings(1, from: 3)[0]
        let shifted = EventBuffer(recording.events.events.map { Event(t: $0.t + 10_000_000, x: $0.x, y: $0.y, polarity: $0.polarity) })
        var moved = recording
        moved.events = shifted
        let expected = try F.evaluatorDecisions([moved])
        var writer = EventPacketWriter(sensor: SensorName("cam0")!)
        var generator = SplitMix64(state: 1)
        let decisions = try Self.run(F.messages(shifted, writer: &writer, maximumChunk: 700, generator: &generator))
        #expect(decisions.map(\.decision) == expected)
    }

    @Test func endWithoutEventsIsUniformAndAbstains() throws {
        var writer = EventPacketWriter(sensor: SensorName("cam0")!, firstSequence: 7)
        let message = writer.message(encoding: .native, geometry: F.sensor, flags: [.start, .end], payload: [])
        let decisions = try Self.run([message])
        try #require(decisions.count == 1)
        let closed = decisions[0]
        #expect(closed.decision.probabilities == [Double](repeating: 0.1, count: 10))
        #expect(closed.decision.abstained)
        #expect(closed.decision.drawCount == F.ensembleSize)
        #expect(closed.eventCount == 0 && closed.startTime == 0 && closed.endTime == 0)
        #expect(closed.sequence == 7)
    }

    @Test func startClosesAnOpenSegmentWithItsLastSequenceNumber() throws {
        let recordings = F.recordings(2)
        let expected = try F.evaluatorDecisions(recordings)
        var writer = EventPacketWriter(sensor: SensorName("cam0")!, firstSequence: 100)
        var generator = SplitMix64(state: 3)
        let first = F.messages(recordings[0].events, writer: &writer, maximumChunk: 900, generator: &generator, end: false)
        let lastOfFirst = writer.nextSequence - 1
        let second = F.messages(recordings[1].events, writer: &writer, maximumChunk: 900, generator: &generator)
        let decisions = try Self.run(first + second)
        try #require(decisions.count == 2)
        #expect(decisions[0].cause == .start)
        #expect(decisions[0].sequence == lastOfFirst)
        #expect(decisions[0].decision == expected[0])
        #expect(decisions[1].cause == .end)
        #expect(decisions[1].decision == expected[1])
    }

    @Test func idleTimeoutClosesASegmentOnceWithLatencyFromTheTimeout() throws {
        let loaded = try ServicePipelinesFixture.loaded(yaml: "decisions:\n  idle_reset_ms: 50\n")
        var pipelines = try SensorPipelines(loaded: loaded, model: ModelIdentifier(fileName: "m", bytes: []))
        let recording = F.recordings(1)[0]
        var writer = EventPacketWriter(sensor: SensorName("cam9")!, firstSequence: 3)
        var generator = SplitMix64(state: 5)
        let messages = F.messages(recording.events, writer: &writer, maximumChunk: 2000, generator: &generator, end: false)
        let t0 = ContinuousClock.now
        var predictions: [SensorPipelines.Prediction] = []
        for message in messages {
            #expect(pipelines.accept(message, receivedAt: t0, into: &predictions) == nil)
        }
        #expect(predictions.isEmpty)
        pipelines.closeIdleSensors(now: t0 + .milliseconds(49), into: &predictions)
        #expect(predictions.isEmpty)
        pipelines.closeIdleSensors(now: t0 + .milliseconds(50), into: &predictions)
        try #require(predictions.count == 1)
        #expect(predictions[0].cause == .idle)
        #expect(predictions[0].receivedAt == t0 + .milliseconds(50))
        #expect(predictions[0].message.sequence == writer.nextSequence - 1)
        #expect(predictions[0].message.eventCount == recording.events.count)
        let expected = try ServicePipelinesFixture.evaluatorDecision(recording, loaded: loaded)
        #expect(predictions[0].message.probabilities == expected.probabilities)
        pipelines.closeIdleSensors(now: t0 + .seconds(5), into: &predictions)
        #expect(predictions.count == 1)
        let status = pipelines.status(service: "s", version: "v", time: 0, uptimeSeconds: 0, now: t0 + .seconds(1))
        #expect(status.sensors["cam9"]?.decisions == 1)
        #expect(status.sensors["cam9"]?.messages == messages.count)
        #expect(status.sensors["cam9"]?.events == recording.events.count)
        #expect(status.sensors["cam9"]?.lastMessageAgeSeconds == 1)
    }

    @Test func droppedMessagesReachTheNextPrediction() throws {
        let loaded = try ServicePipelinesFixture.loaded(yaml: "")
        var pipelines = try SensorPipelines(loaded: loaded, model: ModelIdentifier(fileName: "m", bytes: []))
        var writer = EventPacketWriter(sensor: SensorName("cam1")!, firstSequence: 10)
        let events = F.events(at: [100, 200, 300])
        var payload: [UInt8] = []
        try NativeEventCodec.encode(events, timeBase: 0, into: &payload)
        var predictions: [SensorPipelines.Prediction] = []
        let now = ContinuousClock.now
        _ = pipelines.accept(
            writer.message(encoding: .native, geometry: F.sensor, flags: .start, payload: payload), receivedAt: now,
            into: &predictions)
        writer.nextSequence += 3  // three messages lost
        _ = pipelines.accept(
            writer.message(encoding: .native, geometry: SensorGeometry(width: 35, height: 34), payload: payload),
            receivedAt: now, into: &predictions)  // rejected: geometry change
        _ = pipelines.accept(
            writer.message(encoding: .native, geometry: F.sensor, flags: .end, payload: []), receivedAt: now,
            into: &predictions)
        try #require(predictions.count == 1)
        #expect(predictions[0].message.droppedMessages == 4)
        #expect(predictions[0].message.eventCount == 3)
        #expect(predictions[0].message.ensembleSize == F.ensembleSize)
        _ = pipelines.accept(
            writer.message(encoding: .native, geometry: F.sensor, flags: .end, payload: []), receivedAt: now,
            into: &predictions)
        #expect(predictions.count == 2)
        #expect(predictions[1].message.droppedMessages == 0)
    }

    // MARK: - Window mode

    /// A steady stream: one event every `spacing` µs from `start` to `end`, as messages of `perMessage` events.
    static func steadyStream(
        from start: Int64, to end: Int64, spacing: Int64, perMessage: Int, writer: inout EventPacketWriter
    ) -> (events: EventBuffer, messages: [[[UInt8]]], sequences: [UInt64], lastTimes: [Int64]) {
        let events = F.events(at: Array(stride(from: start, to: end, by: Int(spacing))))
        var messages: [[[UInt8]]] = []
        var sequences: [UInt64] = []
        var lastTimes: [Int64] = []
        var position = 0
        while position < events.count {
            let range = position..<min(events.count, position + perMessage)
            var payload: [UInt8] = []
            try! NativeEventCodec.encode(events, range: range, timeBase: 0, into: &payload)
            sequences.append(writer.nextSequence)
            lastTimes.append(events[range.upperBound - 1].t)
            messages.append(writer.message(
                encoding: .native, geometry: F.sensor, flags: position == 0 ? .start : [], timeBase: 0, payload: payload))
            position = range.upperBound
        }
        return (events, messages, sequences, lastTimes)
    }

    /// Independently of ``DecisionWindow``: each step's per-draw softmax over one continuous stream of frames.
    static func referenceReadouts(_ events: EventBuffer) -> (starts: [Int64], perDraw: [[[Double]]]) {
        var binner = try! SpikeFrameBinner(configuration: F.frames)
        var batch = binner.makeBatch()
        binner.reset(origin: 0)
        binner.append(events, to: &batch)
        var stream = F.predictor.makeStream()
        var starts: [Int64] = []
        var perDraw: [[[Double]]] = []
        for f in 0..<batch.frameCount {
            F.predictor.step(&stream, frame: f, of: batch)
            starts.append(batch.startTime(of: f))
            perDraw.append((0..<F.ensembleSize).map { d in
                var p: [Double] = []
                Decision.softmax(stream.state(ofDraw: d).output, into: &p)
                return p
            })
        }
        return (starts, perDraw)
    }

    @Test func windowModeDecidesAtSensorTimeBoundariesWithCarriedState() throws {
        var writer = EventPacketWriter(sensor: SensorName("cam0")!)
        let stream = Self.steadyStream(from: 0, to: 1_001_500, spacing: 250, perMessage: 333, writer: &writer)
        let settings = SensorPipeline.Settings(
            mode: .window, windowMicroseconds: 300_000, intervalMicroseconds: 100_000, maximumPendingFrames: 50)
        let decisions = try Self.run(stream.messages, settings: settings)
        let boundaries = (1...10).map { Int64($0) * 100_000 }
        try #require(decisions.count == boundaries.count)
        let reference = Self.referenceReadouts(stream.events)
        let burnIn = F.model.network.burnInSteps
        for (closed, boundary) in zip(decisions, boundaries) {
            #expect(closed.cause == .window)
            #expect(closed.endTime == boundary)
            #expect(closed.startTime == max(0, boundary - 300_000))
            // The message whose events crossed the boundary.
            let crossing = stream.lastTimes.firstIndex { $0 >= boundary }!
            #expect(closed.sequence == stream.sequences[crossing])
            #expect(closed.eventCount == Int((boundary - max(0, boundary - 300_000)) / 250))
            // Average of each draw's softmax over the window's steps after burn-in, continuous state.
            let steps = reference.starts.indices.filter {
                $0 >= burnIn && reference.starts[$0] >= boundary - 300_000 && reference.starts[$0] < boundary
            }
            let perDraw = (0..<F.ensembleSize).map { d in
                (0..<10).map { c in steps.reduce(0.0) { $0 + reference.perDraw[$1][d][c] } / Double(steps.count) }
            }
            let expected = Decision(drawProbabilities: perDraw, classCount: 10, steps: steps.count, rule: .never)
            #expect(closed.decision.steps == steps.count)
            for c in 0..<10 {
                #expect(abs(closed.decision.probabilities[c] - expected.probabilities[c]) < 1e-12)
            }
        }
    }

    @Test func windowModeIdleResetRestartsTheTimeLineWithoutADecision() throws {
        let loaded = try ServicePipelinesFixture.loaded(
            yaml: "decisions:\n  mode: window\n  window_ms: 200\n  interval_ms: 50\n  idle_reset_ms: 40\n")
        var pipelines = try SensorPipelines(loaded: loaded, model: ModelIdentifier(fileName: "m", bytes: []))
        var writer = EventPacketWriter(sensor: SensorName("cam2")!)
        let t0 = ContinuousClock.now
        var predictions: [SensorPipelines.Prediction] = []
        let first = Self.steadyStream(from: 0, to: 120_500, spacing: 1000, perMessage: 10, writer: &writer)
        for message in first.messages { _ = pipelines.accept(message, receivedAt: t0, into: &predictions) }
        #expect(predictions.map(\.message.endTimeMicroseconds) == [50_000, 100_000])
        pipelines.closeIdleSensors(now: t0 + .milliseconds(40), into: &predictions)
        #expect(predictions.count == 2)
        // After the reset the boundaries count from the new stream's first bin (500 ms), not from 0.
        predictions.removeAll()
        var payload: [UInt8] = []
        let later = F.events(at: Array(stride(from: Int64(500_000), to: 610_500, by: 1000)))
        try NativeEventCodec.encode(later, timeBase: 500_000, into: &payload)
        _ = pipelines.accept(
            writer.message(encoding: .native, geometry: F.sensor, timeBase: 500_000, payload: payload),
            receivedAt: t0 + .milliseconds(50), into: &predictions)
        #expect(predictions.map(\.message.endTimeMicroseconds) == [550_000, 600_000])
        #expect(predictions.map(\.message.startTimeMicroseconds) == [500_000, 500_000])
        #expect(predictions.map(\.message.eventCount) == [50, 100])
    }

    @Test func windowModeEndDecidesAtOnceAndResets() throws {
        var writer = EventPacketWriter(sensor: SensorName("cam0")!)
        var stream = Self.steadyStream(from: 0, to: 250_000, spacing: 500, perMessage: 100, writer: &writer)
        stream.messages.append(writer.message(encoding: .native, geometry: F.sensor, flags: .end, payload: []))
        let settings = SensorPipeline.Settings(mode: .window, windowMicroseconds: 300_000, intervalMicroseconds: 100_000)
        let decisions = try Self.run(stream.messages, settings: settings)
        try #require(decisions.count == 3)
        #expect(decisions.map(\.cause) == [.window, .window, .end])
        #expect(decisions[2].endTime == 250_000)  // the flushed bin's end
        #expect(decisions[2].startTime == 0)
        #expect(decisions[2].eventCount == 500)
    }
}

/// Loaded configurations for ``SensorPipelines`` tests: the fixture model written to a temporary file.
enum ServicePipelinesFixture {
    static let modelPath: String = {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("bisnnd-pipelines-\(UUID().uuidString)")
        try! FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let path = directory.appendingPathComponent("model.safetensors").path
        try! PipelineFixtures.model.write(to: path)
        return path
    }()

    /// `yaml` (which must not set model.*) with the fixture's model, ensemble size and seed.
    static func loaded(yaml: String) throws -> LoadedServiceConfiguration {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("bisnnd-cfg-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("bisnnd.yaml").path
        let text = "model:\n  path: \(modelPath)\n  ensemble_size: \(PipelineFixtures.ensembleSize)\n"
            + "  seed: \(PipelineFixtures.seed)\n" + yaml
        try Data(text.utf8).write(to: URL(fileURLWithPath: file))
        return try LoadedServiceConfiguration.load(file: file, environment: [:])
    }

    /// What eval decides for `recording` with the loaded predictor.
    static func evaluatorDecision(_ recording: LabelledRecording, loaded: LoadedServiceConfiguration) throws -> Decision {
        let frames = LabelledDataset.frames(of: recording.events, configuration: loaded.frames)
        var stream = loaded.predictor.makeStream()
        for f in 0..<frames.frameCount { loaded.predictor.step(&stream, frame: f, of: frames) }
        return loaded.predictor.decision(for: stream)
    }
}
