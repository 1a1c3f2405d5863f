import BiSNN
import EventStream

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One recording ready for training: its spike frames (binned as the model's description says) and label.
public struct TrainingSample: Sendable {
    /// The frames, one per time step.
    public var frames: SpikeFrameBatch
    /// Class index.
    public var label: Int

    /// A sample.
    public init(frames: SpikeFrameBatch, label: Int) {
        self.frames = frames
        self.label = label
    }
}

/// How to train.
public struct TrainingOptions: Sendable, Hashable {
    /// The learning rule.
    public var rule: LearningRule
    /// Its hyperparameters.
    public var hyperparameters: RuleHyperparameters
    /// Samples stepping together; one optimiser step per time step after burn-in.
    public var batchSize: Int
    /// Time steps per sample: shorter recordings are padded with empty frames, longer ones cut.
    public var steps: Int
    /// Seed of the shuffling and of the relaxed samples.
    public var seed: UInt64

    /// Options; see the properties.
    public init(rule: LearningRule, hyperparameters: RuleHyperparameters, batchSize: Int = 32, steps: Int = 300,
                seed: UInt64 = 1) {
        self.rule = rule
        self.hyperparameters = hyperparameters
        self.batchSize = batchSize
        self.steps = steps
        self.seed = seed
    }
}

/// What one epoch did.
public struct EpochReport: Sendable, Hashable, Codable {
    /// 1 for the first epoch.
    public var epoch: Int
    /// Samples trained on (whole batches only).
    public var samples: Int
    /// Mean over learning steps and layers of the local loss.
    public var meanLoss: Double
    /// Fraction of samples whose output readout, softmax averaged over the learning steps, picked the label
    /// (measured while the weights move, so it overstates what the final weights do).
    public var trainingAccuracy: Double
    /// Wall-clock seconds.
    public var seconds: Double
}

/// Trains a network online (BISNN.md section 3): per mini-batch, state from zero, a burn-in without learning,
/// then at every step the forward pass, each layer's local loss and gradient, and one update.
public struct Trainer: Sendable {
    /// The options (the learning rate may be changed between epochs).
    public var options: TrainingOptions {
        didSet { rule.hyperparameters = options.hyperparameters }
    }
    /// The network the batch steps through (forward weights, biases).
    public private(set) var network: BatchedNetwork
    /// What the rule learns.
    public private(set) var rule: RuleState
    /// The model trained from (shape, readouts, metadata).
    public let base: NetworkModel
    /// Epochs done.
    public private(set) var epochsDone = 0

    /// A trainer starting from `model` (its weights as the rule's parameters), `epochsDone` epochs in (a
    /// resumed run: epoch `n` shuffles and samples the same way whether or not the run was resumed).
    public init(model: NetworkModel, options: TrainingOptions, epochsDone: Int = 0) {
        precondition(options.batchSize > 0 && options.steps > model.network.burnInSteps, "bad batch size or steps")
        self.options = options
        self.epochsDone = epochsDone
        base = model
        network = BatchedNetwork(model: model, batch: options.batchSize)
        rule = RuleState(rule: options.rule, hyperparameters: options.hyperparameters, model: model, seed: options.seed)
        rule.writeForwardWeights(into: &network)
    }

    /// The model as trained so far.
    public var model: NetworkModel { rule.model(from: base, biases: network.biases) }

    /// One pass over `samples` in a seeded shuffled order, whole batches only. `progress` is called after
    /// each batch with (samples done, samples total, running loss, running accuracy).
    public mutating func trainEpoch(
        _ samples: [TrainingSample], progress: (Int, Int, Double, Double) -> Void = { _, _, _, _ in }
    ) -> EpochReport {
        let clock = ContinuousClock()
        let start = clock.now
        let batch = options.batchSize
        var order = Array(samples.indices)
        let epochSeed = options.seed &+ UInt64(epochsDone + 1) &* 0x9E37_79B9_7F4A_7C15
        var shuffler = Xoshiro256StarStar(seed: epochSeed)
        rule.generator = Xoshiro256StarStar(seed: ~epochSeed)
        rule.writeForwardWeights(into: &network)
        for i in stride(from: order.count - 1, to: 0, by: -1) { order.swapAt(i, shuffler.nextInt(below: i + 1)) }
        let batches = order.count / batch
        let classes = network.network.classCount
        let last = network.network.layers.count - 1
        var lossSum = 0.0, lossCount = 0, correct = 0
        for n in 0..<batches {
            let members = order[(n * batch)..<((n + 1) * batch)].map { samples[$0] }
            let labels = members.map(\.label)
            let frames = members.map(\.frames)
            network.reset()
            var evidence = [Double](repeating: 0, count: batch * classes)
            for t in 0..<options.steps {
                network.step(frames: frames, at: t)
                guard t >= network.network.burnInSteps else { continue }
                let losses = network.computeGradients(labels: labels)
                lossSum += Double(losses.reduce(0, +)) / Double(losses.count)
                lossCount += 1
                rule.update(from: network)
                rule.updateBiases(of: &network)
                rule.writeForwardWeights(into: &network)
                for b in 0..<batch {
                    let logits = network.readouts[last][(b * classes)..<((b + 1) * classes)]
                    let top = logits.max() ?? 0
                    let e = logits.map { expf($0 - top) }
                    let total = e.reduce(0, +)
                    for k in 0..<classes { evidence[b * classes + k] += Double(e[k] / total) }
                }
            }
            for b in 0..<batch {
                let row = Array(evidence[(b * classes)..<((b + 1) * classes)])
                if Decision.argmax(row) == labels[b] { correct += 1 }
            }
            progress((n + 1) * batch, batches * batch, lossSum / Double(max(lossCount, 1)),
                     Double(correct) / Double((n + 1) * batch))
        }
        epochsDone += 1
        let took = start.duration(to: clock.now)
        return EpochReport(
            epoch: epochsDone, samples: batches * batch, meanLoss: lossSum / Double(max(lossCount, 1)),
            trainingAccuracy: Double(correct) / Double(max(batches * batch, 1)),
            seconds: Double(took.components.seconds) + Double(took.components.attoseconds) * 1e-18)
    }
}
