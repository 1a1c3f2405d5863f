import BiSNN
import BiSNNTraining
import EventStream
import Foundation
import Testing
import ZeroMQ

@testable import BiSNNService

#if canImport(Glibc)
import Glibc
#endif

/// The real `bisnnd` under a burst far faster than its networks (docs/protocol.md 4.6): it sheds frames by the
/// documented policy instead of falling ever further behind, says so per sensor and in its log, lets no
/// decision made on shed frames out as a confident one, decides every segment it was sent, keeps its memory
/// bounded, and once the burst is over decides exactly as `bisnn eval` does again.
@Suite struct OverloadTests {
    typealias F = PipelineFixtures
    typealias S = BisnndServiceTests

    static let ensembleSize = 16
    static let seed: UInt64 = 3

    /// A model heavy enough that the service cannot keep up with a burst: 128 hidden neurons, 16 draws.
    static let model: NetworkModel = {
        let network = NetworkDescription.mlp(
            input: .nmnist, hiddenSizes: [128], classNames: F.classNames, burnInSteps: 20, weightKind: .bernoulli)
        return NetworkModel.random(network: network, seed: 7, weightScale: 1.5, biasScale: 4)
    }()

    /// What `bisnn eval` decides for `recordings` with the heavy model.
    static func evaluatorDecisions(_ recordings: [LabelledRecording]) throws -> [Decision] {
        let dataset = LabelledDataset(classNames: F.classNames, recordings: recordings)
        return try ModelEvaluator.decisions(
            model: model, dataset: dataset, predictor: .ensemble(size: ensembleSize, seed: seed), jobs: 2)
    }

    /// Peak resident memory of a process, in bytes (VmHWM).
    static func peakResidentBytes(of pid: Int32) -> Int? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix("VmHWM:") {
            let kilobytes = line.split(separator: " ").dropFirst().first.flatMap { Int($0) }
            return kilobytes.map { $0 * 1024 }
        }
        return nil
    }

    @Test func aBurstIsShedByPolicyReportedAndRecoveredFrom() throws {
        let directory = try S.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let modelPath = directory.appendingPathComponent("heavy.safetensors").path
        try Self.model.write(to: modelPath)
        let input = "ipc://\(directory.path)/in.sock"
        let output = "tcp://127.0.0.1:\(try S.freePort())"
        let configuration = directory.appendingPathComponent("bisnnd.yaml").path
        try Data("""
            service:
              status_interval_s: 0.2
              stop_timeout_s: 5
            model:
              path: \(modelPath)
              ensemble_size: \(Self.ensembleSize)
              seed: \(Self.seed)
            input:
              pull_bind: ["\(input)"]
              queue_bytes: 1048576
              receive_hwm: 50
            output:
              pub_bind: \(output)
            sensor:
              max_lag_ms: 100
            log:
              format: plain
            """.utf8).write(to: URL(fileURLWithPath: configuration))
        let daemon = try S.Daemon(configuration: configuration, directory: directory)
        let subscriber = try S.Subscriber(output)
        _ = try #require(try subscriber.nextStatus(), "no status message: \(daemon.log)")

        // The burst: 60 recordings as START…END segments, pushed as fast as the socket takes them.
        let burst = F.recordings(60)
        let recovery = F.recordings(3, from: 61)
        let expected = try Self.evaluatorDecisions(burst + recovery)
        let sender = try S.Sender(input)
        var writer = EventPacketWriter(sensor: SensorName("cam0")!)
        var generator = SplitMix64(state: 9)
        var lastSequence: [UInt64: Int] = [:]
        for (i, recording) in burst.enumerated() {
            try sender.send(F.messages(recording.events, writer: &writer, maximumChunk: 1500, generator: &generator))
            lastSequence[writer.nextSequence - 1] = i
        }

        // Every segment is decided (PUSH loses nothing); the ones that lost frames say so and abstain; the
        // others are exactly eval's.
        var shedDecisions = 0
        var shedFrames = 0
        for n in 0..<burst.count {
            let prediction = try #require(try subscriber.nextPrediction(), "prediction \(n) missing: \(daemon.log)")
            let i = try #require(lastSequence[prediction.sequence], "unexpected seq \(prediction.sequence)")
            #expect(prediction.eventCount == burst[i].events.count)
            if prediction.shedFrames > 0 {
                shedDecisions += 1
                shedFrames += prediction.shedFrames
                #expect(!prediction.complete && prediction.abstained, "a decision on shed frames must abstain")
            } else {
                #expect(prediction.complete)
                #expect(prediction.probabilities == expected[i].probabilities, "recording \(burst[i].file)")
            }
        }
        #expect(shedDecisions > 0, "the burst should have been shed: \(daemon.log)")

        // Recovered: recordings sent one at a time, each in one message (so none waits behind another), are
        // decided exactly as eval does, nothing shed.
        for (k, recording) in recovery.enumerated() {
            try sender.send(F.messages(recording.events, writer: &writer, maximumChunk: 1 << 30, generator: &generator))
            let prediction = try #require(try subscriber.nextPrediction(), "recovery \(k) missing: \(daemon.log)")
            #expect(prediction.complete && prediction.shedFrames == 0)
            #expect(prediction.probabilities == expected[burst.count + k].probabilities)
        }

        // Status reports the shedding per sensor, and accounts for every event and frame.
        var status = try #require(try subscriber.nextStatus())
        while status.sensors["cam0"]?.decisions != burst.count + recovery.count {
            status = try #require(try subscriber.nextStatus(), "status never caught up: \(daemon.log)")
        }
        let entry = try #require(status.sensors["cam0"])
        #expect(entry.shedFrames == shedFrames)
        let frames = try LabelledDataset.frameConfiguration(for: Self.model.network, sensor: F.sensor)
        let recoveryFrames = recovery.reduce(0) { $0 + LabelledDataset.frames(of: $1.events, configuration: frames).frameCount }
        #expect(entry.frames - entry.shedFrames > recoveryFrames, "during the burst it steps what it can keep up with")
        #expect(entry.events == (burst + recovery).reduce(0) { $0 + $1.events.count })
        #expect(entry.malformed.isEmpty && entry.lostMessages == 0 && entry.lateEvents == 0)
        #expect(daemon.log.contains("overload: shed the spike frames"), "\(daemon.log)")

        // Memory stayed bounded: the input queue holds 1 MiB, not the burst.
        let peak = try #require(Self.peakResidentBytes(of: daemon.process.processIdentifier))
        #expect(peak < 400 << 20, "peak resident \(peak >> 20) MiB")

        daemon.signal(SIGTERM)
        #expect(daemon.exitStatus() == 0, "\(daemon.log)")
    }
}
