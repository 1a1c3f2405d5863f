import EventStream

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Which binary networks vote: the posterior's mode, or an ensemble of exact draws.
public enum PredictorKind: Sendable, Hashable {
    /// One network, w = sign(stored value).
    case mode
    /// `size` draws (1...64) from a Bernoulli posterior, seeded with `seed`.
    case ensemble(size: Int, seed: UInt64)

    /// Largest ensemble.
    public static let maxEnsembleSize = 64
}

/// Runs one or more binary networks over the same frames and turns their output readouts into a
/// ``Decision`` (BISNN.md section 4): per draw, the softmax of the output readout averaged over the steps
/// after burn-in; over draws, their mean, with entropy, mutual information and agreement.
///
/// The draws are made once, at init, and kept. Immutable and `Sendable`: one predictor serves any number of
/// streams, each with its own ``EnsembleStream``.
public struct EnsemblePredictor: Sendable {
    /// The model's description.
    public let network: NetworkDescription
    /// One engine per draw.
    public let networks: [BinaryNetwork]
    /// When a decision is "unknown".
    public var abstention: AbstentionRule
    /// How the draws share a step: draw after draw (each runs all layers), or layer after layer (every draw
    /// runs layer 0, then every draw layer 1, ...). Same results; the speed differs (``bisnn bench network``).
    public var order: StepOrder = .drawByDraw

    /// How draws share a time step.
    public enum StepOrder: Sendable, Hashable {
        case drawByDraw
        case layerByLayer
    }

    /// A predictor for `model`: `.mode` works for every weight kind (signs of the stored values), an
    /// ensemble needs a Bernoulli model.
    public init(model: NetworkModel, kind: PredictorKind, abstention: AbstentionRule = .never) throws(ModelError) {
        let draws: [BinaryDraw]
        switch kind {
        case .mode:
            draws = [BinaryDraw.mode(of: model)]
        case .ensemble(let size, let seed):
            guard model.network.weightKind == .bernoulli else {
                throw ModelError(.invalidParameters, "an ensemble needs a Bernoulli posterior; this model's weights are \(model.network.weightKind.rawValue)")
            }
            guard (1...PredictorKind.maxEnsembleSize).contains(size) else {
                throw ModelError(.invalidParameters, "ensemble size \(size) is outside 1...\(PredictorKind.maxEnsembleSize)")
            }
            draws = BinaryDraw.samples(from: model, count: size, seed: seed)
        }
        self.init(model: model, draws: draws, abstention: abstention)
    }

    /// A predictor over given binary networks. `sparseLimitOverride` fixes how many active inputs a layer
    /// still adds column by column, for every layer (benchmarks measure each input-current path with it).
    public init(
        model: NetworkModel, draws: [BinaryDraw], abstention: AbstentionRule = .never, sparseLimitOverride: Int? = nil
    ) {
        precondition(!draws.isEmpty, "a predictor needs at least one draw")
        network = model.network
        networks = draws.map { BinaryNetwork(model: model, draw: $0, sparseLimitOverride: sparseLimitOverride) }
        self.abstention = abstention
    }

    /// Number of draws.
    public var size: Int { networks.count }

    /// A fresh stream: every draw's state zero, no evidence.
    public func makeStream() -> EnsembleStream {
        EnsembleStream(states: networks.map { $0.makeState() }, classCount: network.classCount)
    }

    /// Advances every draw of `stream` by one time step on frame `frame` of `batch`.
    public func step(_ stream: inout EnsembleStream, frame: Int, of batch: SpikeFrameBatch) {
        precondition(batch.inputCount == network.inputCount, "frame size differs from the network's input")
        batch.withFrame(frame) { active, bits in step(&stream, active: active, bits: bits) }
    }

    /// Advances every draw of `stream` by one time step on one frame (ascending active indices and the same
    /// frame bit-packed), and after burn-in adds each draw's softmax to its running sum.
    public func step(
        _ stream: inout EnsembleStream, active: UnsafeBufferPointer<UInt32>, bits: UnsafeBufferPointer<UInt64>
    ) {
        switch order {
        case .drawByDraw:
            for d in networks.indices { networks[d].step(&stream.states[d], active: active, bits: bits) }
        case .layerByLayer:
            for l in network.layers.indices {
                for d in networks.indices { networks[d].stepLayer(l, &stream.states[d], active: active, bits: bits) }
            }
            for d in networks.indices { stream.states[d].steps += 1 }
        }
        stream.steps += 1
        if stream.steps > network.burnInSteps {
            for d in networks.indices { stream.accumulate(draw: d) }
            stream.countedSteps += 1
        }
    }

    /// The decision over the steps since the stream's last reset.
    public func decision(for stream: EnsembleStream) -> Decision {
        let steps = Double(stream.countedSteps)
        let perDraw = stream.sums.map { $0.map { $0 / steps } }
        return Decision(
            drawProbabilities: perDraw, classCount: network.classCount, steps: stream.countedSteps, rule: abstention)
    }
}

/// One stream's state in an ``EnsemblePredictor``: every draw's network state and its running sum of
/// probabilities.
public struct EnsembleStream: Sendable {
    var states: [BinaryNetworkState]
    var sums: [[Double]]
    /// Steps since the last reset.
    public internal(set) var steps = 0
    /// Steps after burn-in, whose readouts count in the decision.
    public internal(set) var countedSteps = 0

    init(states: [BinaryNetworkState], classCount: Int) {
        self.states = states
        sums = states.map { _ in [Double](repeating: 0, count: classCount) }
    }

    /// Starts a new sample: every draw's state and the evidence to zero.
    public mutating func reset() {
        for d in states.indices { states[d].reset() }
        for d in sums.indices { for c in sums[d].indices { sums[d][c] = 0 } }
        steps = 0
        countedSteps = 0
    }

    /// Draw `draw`'s network state (spikes, readouts) after the last step.
    public func state(ofDraw draw: Int) -> BinaryNetworkState { states[draw] }

    /// Adds the softmax of draw `draw`'s output readout to its running sum.
    mutating func accumulate(draw: Int) {
        let storage = states[draw].storage
        let logits = storage.layer(storage.layout.sizes.count - 1).readout
        let top = logits.max() ?? 0
        withUnsafeTemporaryAllocation(of: Double.self, capacity: logits.count) { e in
            var total = 0.0
            for c in logits.indices {
                e[c] = exp(logits[c] - top)
                total += e[c]
            }
            sums[draw].withUnsafeMutableBufferPointer { sum in
                for c in logits.indices { sum[c] += e[c] / total }
            }
        }
    }
}
