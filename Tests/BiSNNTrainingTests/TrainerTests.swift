import BiSNN
import EventStream
import Testing

@testable import BiSNNTraining

/// Each learning rule learns a small problem it cannot solve by chance.
@Suite struct TrainerTests {
    /// Two classes: events on the left half of a 1x4x8 sensor, or on the right half, at random times.
    static func samples(count: Int, steps: Int, seed: UInt64) -> [TrainingSample] {
        var rng = SplitMix64(state: seed)
        return (0..<count).map { n in
            let label = n % 2
            var frames = SpikeFrameBatch(inputCount: 32, hasCounts: false)
            var binner = try! SpikeFrameBinner(configuration: SpikeFrameConfiguration(
                sensor: SensorGeometry(width: 8, height: 4), binWidth: 1_000, polarity: .merged))
            var events = EventBuffer()
            for t in 0..<Int64(steps) {
                for _ in 0..<2 {
                    let x = UInt16(rng.next() % 4) + (label == 0 ? 0 : 4)
                    events.append(Event(t: t * 1_000 + Int64(rng.next() % 1_000), x: x, y: UInt16(rng.next() % 4), polarity: 1))
                }
            }
            binner.reset(origin: 0)
            binner.append(events, to: &frames)
            binner.flush(to: &frames)
            return TrainingSample(frames: frames, label: label)
        }
    }

    @Test(arguments: LearningRule.allCases)
    func ruleLearnsLeftFromRight(rule: LearningRule) {
        let network = NetworkDescription.mlp(
            input: InputGeometry(channels: 1, height: 4, width: 8), hiddenSizes: [24], classNames: ["left", "right"],
            burnInSteps: 5, weightKind: rule.weightKind)
        var hyper = RuleHyperparameters.defaults(for: rule, trainingSamples: 64)
        hyper.learningRate = rule == .fp ? 0.5 : rule == .st ? 5 : 5
        hyper.initialLambda = 2
        let model = RuleState.initialModel(network: network, rule: rule, hyperparameters: hyper, seed: 4)
        var trainer = Trainer(
            model: model, options: TrainingOptions(rule: rule, hyperparameters: hyper, batchSize: 8, steps: 30, seed: 2))
        let data = Self.samples(count: 64, steps: 30, seed: 1)
        var reports: [EpochReport] = []
        for _ in 0..<4 { reports.append(trainer.trainEpoch(data)) }
        #expect(reports.last!.trainingAccuracy > 0.9, "\(rule): \(reports.map(\.trainingAccuracy))")
        // Chance for two classes is a loss of ln 2 = 0.693 a layer.
        #expect(reports.last!.meanLoss < 0.6 * 0.693, "\(rule): \(reports.map(\.meanLoss))")
        #expect(trainer.rule.isFinite)
        let trained = trainer.model
        #expect(trained.network.weightKind == rule.weightKind)
        #expect((try? trained.validate()) != nil)
    }

    @Test(arguments: LearningRule.allCases)
    func sameSeedSameModelAndResumingChangesNothing(rule: LearningRule) {
        let network = NetworkDescription.mlp(
            input: InputGeometry(channels: 1, height: 4, width: 8), hiddenSizes: [16], classNames: ["left", "right"],
            burnInSteps: 5, weightKind: rule.weightKind)
        var hyper = RuleHyperparameters.defaults(for: rule, trainingSamples: 32)
        hyper.initialLambda = 2
        let options = TrainingOptions(rule: rule, hyperparameters: hyper, batchSize: 8, steps: 20, seed: 7)
        let start = RuleState.initialModel(network: network, rule: rule, hyperparameters: hyper, seed: 3)
        let data = Self.samples(count: 32, steps: 20, seed: 5)
        func twoEpochs() -> NetworkModel {
            var trainer = Trainer(model: start, options: options)
            _ = trainer.trainEpoch(data)
            _ = trainer.trainEpoch(data)
            return trainer.model
        }
        let first = twoEpochs()
        #expect(twoEpochs() == first)
        // Stop after one epoch, keep only the model (a checkpoint), and go on from it.
        var trainer = Trainer(model: start, options: options)
        _ = trainer.trainEpoch(data)
        var resumed = Trainer(model: trainer.model, options: options, epochsDone: 1)
        _ = resumed.trainEpoch(data)
        #expect(resumed.model == first)
        #expect(first != start)
    }
}
