import BiSNN
import EventStream
import Foundation
import Synchronization

/// Which network decides in an evaluation.
public enum EvaluationPredictor: Sendable, Hashable {
    /// The binary mode network (sign of the stored values); for a real model, its float weights as they are.
    case mode
    /// An ensemble of exact draws from a Bernoulli posterior.
    case ensemble(size: Int, seed: UInt64)
}

/// Decides every recording of a dataset with a model: frames binned as the model's description says, one
/// decision per recording over all its frames (after burn-in). Binary models run on the binary engine
/// (``EnsemblePredictor``), a real model through ``BatchedNetwork`` in Float32. Recordings are spread over
/// `jobs` threads; the decisions come back in dataset order and do not depend on `jobs`.
public enum ModelEvaluator {
    /// The decisions for `dataset`'s recordings.
    public static func decisions(
        model: NetworkModel, dataset: LabelledDataset, predictor: EvaluationPredictor, jobs: Int = 2
    ) throws -> [Decision] {
        let frames = try dataset.recordings.map { recording in
            let configuration = try LabelledDataset.frameConfiguration(for: model.network, sensor: recording.geometry)
            return LabelledDataset.frames(of: recording.events, configuration: configuration)
        }
        if model.network.weightKind == .real {
            guard predictor == .mode else {
                throw ModelError(.invalidParameters, "a real (full-precision) model has no posterior to draw an ensemble from")
            }
            return floatDecisions(model: model, frames: frames)
        }
        let binary: EnsemblePredictor
        switch predictor {
        case .mode: binary = try EnsemblePredictor(model: model, kind: .mode)
        case .ensemble(let size, let seed): binary = try EnsemblePredictor(model: model, kind: .ensemble(size: size, seed: seed))
        }
        let results = Mutex([Decision?](repeating: nil, count: frames.count))
        let workers = max(1, min(jobs, frames.count))
        runParallel(workers: workers) { w in
            var stream = binary.makeStream()
            var index = w
            while index < frames.count {
                stream.reset()
                for f in 0..<frames[index].frameCount { binary.step(&stream, frame: f, of: frames[index]) }
                let decision = binary.decision(for: stream)
                results.withLock { $0[index] = decision }
                index += workers
            }
        }
        return results.withLock { $0.map { $0! } }
    }

    /// A real model's decisions: the batched float network, 32 recordings at a time, softmax of the output
    /// readout averaged over each recording's steps after burn-in.
    static func floatDecisions(model: NetworkModel, frames: [SpikeFrameBatch]) -> [Decision] {
        let batch = min(32, max(frames.count, 1))
        var network = BatchedNetwork(model: model, batch: batch)
        let classes = model.network.classCount
        let last = model.network.layers.count - 1
        var decisions: [Decision] = []
        for start in stride(from: 0, to: frames.count, by: batch) {
            let members = Array(frames[start..<min(start + batch, frames.count)])
            let steps = members.map(\.frameCount).max() ?? 0
            network.reset()
            var sums = [[Double]](repeating: [Double](repeating: 0, count: classes), count: members.count)
            var counted = [Int](repeating: 0, count: members.count)
            for t in 0..<steps {
                network.step(frames: members, at: t)
                for b in members.indices where t < members[b].frameCount && t >= model.network.burnInSteps {
                    let logits = network.readouts[last][(b * classes)..<((b + 1) * classes)].map(Double.init)
                    var p: [Double] = []
                    Decision.softmax(logits, into: &p)
                    for k in 0..<classes { sums[b][k] += p[k] }
                    counted[b] += 1
                }
            }
            for b in members.indices {
                let steps = counted[b]
                decisions.append(Decision(
                    drawProbabilities: steps > 0 ? [sums[b].map { $0 / Double(steps) }] : [], classCount: classes,
                    steps: steps))
            }
        }
        return decisions
    }
}
