import EventStream

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The binary weights of one network: a +-1 matrix per layer. The mode of a posterior, one exact draw from
/// it, or the signs of a straight-through model's latent weights.
public struct BinaryDraw: Sendable, Hashable {
    /// One `outputs x inputs` matrix per layer.
    public var layers: [SignMatrix]

    /// Weights given per layer.
    public init(layers: [SignMatrix]) {
        self.layers = layers
    }

    /// The most likely binary network: w = sign(stored value), 0 counting as +1. For a Bernoulli model this
    /// is the posterior's mode (sign of lambda); for a straight-through model, the signs of its latent
    /// weights; for a real model, the signs of its weights.
    public static func mode(of model: NetworkModel) -> BinaryDraw {
        BinaryDraw(
            layers: model.network.layers.indices.map { l in
                SignMatrix(
                    rows: model.network.layers[l].size, columns: model.network.inputCount(ofLayer: l),
                    signsOf: model.layers[l].weights)
            })
    }

    /// `count` exact draws from a Bernoulli model's posterior, w = +1 with probability sigmoid(2 lambda).
    ///
    /// Draw `d` uses its own xoshiro256** stream seeded from `(seed, d)` and visits the weights layer by layer,
    /// row-major; probabilities come from ``DeterministicMath``, so the same seed gives the same draws on
    /// every machine, and the first `n` draws of a larger ensemble are the `n` draws of a smaller one.
    public static func samples(from model: NetworkModel, count: Int, seed: UInt64) -> [BinaryDraw] {
        precondition(model.network.weightKind == .bernoulli, "draws need a Bernoulli posterior")
        let probabilities = model.layers.map { layer in
            layer.weights.map { lambda in 1 / (1 + DeterministicMath.exp(-2 * Double(lambda))) }
        }
        return (0..<count).map { d in
            var rng = Xoshiro256StarStar(seed: drawSeed(seed, d))
            return BinaryDraw(
                layers: model.network.layers.indices.map { l in
                    let columns = model.network.inputCount(ofLayer: l)
                    let p = probabilities[l]
                    var positive = [Bool](repeating: false, count: p.count)
                    for i in p.indices { positive[i] = rng.nextUniform() < p[i] }
                    return SignMatrix(rows: model.network.layers[l].size, columns: columns) {
                        positive[$0 * columns + $1]
                    }
                })
        }
    }

    /// The seed of draw `index` of an ensemble seeded with `seed`.
    static func drawSeed(_ seed: UInt64, _ index: Int) -> UInt64 {
        var mixer = SplitMix64(state: seed ^ (UInt64(index) &* 0xD1B5_4A32_D192_ED03))
        return mixer.next()
    }
}
