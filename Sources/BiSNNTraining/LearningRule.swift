import BiSNN
import EventStream

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The three learning rules of BISNN.md section 3.
public enum LearningRule: String, Sendable, Hashable, Codable, CaseIterable {
    /// Full precision: real weights, plain SGD.
    case fp
    /// ST-BiSNN: latent real weights, their signs forward, the gradient at the signs passed straight through.
    case st
    /// Bayes-BiSNN: natural parameters lambda of a Bernoulli posterior, a relaxed (Gumbel-softmax) sample
    /// forward at every step, the natural-parameter update.
    case bayes

    /// The weight kind of the model a rule trains.
    public var weightKind: WeightKind {
        switch self {
        case .fp: .real
        case .st: .sign
        case .bayes: .bernoulli
        }
    }
}

/// Hyperparameters of the learning rules.
public struct RuleHyperparameters: Sendable, Hashable, Codable {
    /// eta: step size of the weight (or lambda) update.
    public var learningRate: Float
    /// Step size of the bias update (plain SGD for every rule; biases are real thresholds).
    public var biasLearningRate: Float
    /// tau of the relaxed sample (Bayes).
    public var temperature: Float
    /// rho: weight of the prior (Bayes), about 1 / training-set size.
    public var priorWeight: Float
    /// |lambda| at initialisation, with random signs (Bayes).
    public var initialLambda: Float

    /// Hyperparameters; defaults per rule come from ``defaults(for:)``.
    public init(learningRate: Float, biasLearningRate: Float, temperature: Float = 1, priorWeight: Float = 0,
                initialLambda: Float = 0) {
        self.learningRate = learningRate
        self.biasLearningRate = biasLearningRate
        self.temperature = temperature
        self.priorWeight = priorWeight
        self.initialLambda = initialLambda
    }

    /// Starting points, measured on N-MNIST (one epoch, 800 recordings). The reference code's values do not
    /// transfer: our gradient carries c = 1/sqrt(fan-in) (st learns with 5, stays at chance with 500), and the
    /// prior acts at every update, that is every time step after burn-in, so rho is 1 / (samples x updates a
    /// sample); with rho = 1/samples the prior pulls lambda to 0 within an epoch and nothing is learned.
    public static func defaults(
        for rule: LearningRule, trainingSamples: Int, updatesPerSample: Int = 270
    ) -> RuleHyperparameters {
        switch rule {
        case .fp: RuleHyperparameters(learningRate: 1, biasLearningRate: 1)
        case .st: RuleHyperparameters(learningRate: 5, biasLearningRate: 1)
        case .bayes:
            RuleHyperparameters(
                learningRate: 5, biasLearningRate: 1, temperature: 1,
                priorWeight: 1 / Float(max(trainingSamples, 1) * max(updatesPerSample, 1)), initialLambda: 2)
        }
    }
}

/// What a rule learns and how it updates it: the real weights (fp), latent weights (st) or lambda (bayes)
/// of every layer, and the forward weights it writes into a ``BatchedNetwork`` before each step.
public struct RuleState: Sendable {
    /// The rule.
    public let rule: LearningRule
    /// Its hyperparameters.
    public var hyperparameters: RuleHyperparameters
    /// Per layer: real weights (fp), latent weights (st) or lambda (bayes), `[outputs x inputs]`.
    public internal(set) var parameters: [[Float]]
    /// Bayes: e^(2 lambda) per weight, kept in step with lambda (the relaxed sample and tanh(lambda) both
    /// come from it).
    var expTwoLambda: [[Float]] = []
    var uniforms: [Float] = []
    var generator: Xoshiro256StarStar

    /// The rule's state starting from `model`'s stored weights (as real, latent or lambda values).
    public init(rule: LearningRule, hyperparameters: RuleHyperparameters, model: NetworkModel, seed: UInt64) {
        self.rule = rule
        self.hyperparameters = hyperparameters
        parameters = model.layers.map(\.weights)
        generator = Xoshiro256StarStar(seed: seed)
        if rule == .bayes { expTwoLambda = parameters.map { $0.map { fastExp(2 * $0) } } }
    }

    /// Writes the weights the next step computes with: the real weights, the signs of the latent weights,
    /// or a fresh relaxed sample `tanh((lambda + delta) / tau)`, `delta = 0.5 log(eps / (1 - eps))`, one sample
    /// shared by the whole batch.
    public mutating func writeForwardWeights(into network: inout BatchedNetwork) {
        for l in parameters.indices {
            switch rule {
            case .fp:
                network.weights[l] = parameters[l]
            case .st:
                let latent = parameters[l]
                network.weights[l].withUnsafeMutableBufferPointer { w in
                    for i in latent.indices { w[i] = latent[i] >= 0 ? 1 : -1 }
                }
            case .bayes:
                let tau = hyperparameters.temperature
                let count = parameters[l].count
                if uniforms.count < count { uniforms = [Float](repeating: 0, count: count) }
                // eps in (0, 1): 24 random bits each, two from one 64-bit draw, centred in their cell.
                uniforms.withUnsafeMutableBufferPointer { u in
                    var i = 0
                    while i < count {
                        let bits = generator.next()
                        u[i] = (Float(bits & 0xFF_FFFF) + 0.5) * 0x1p-24
                        if i + 1 < count { u[i + 1] = (Float((bits >> 32) & 0xFF_FFFF) + 0.5) * 0x1p-24 }
                        i += 2
                    }
                }
                let lambda = parameters[l]
                let e = expTwoLambda[l]
                network.weights[l].withUnsafeMutableBufferPointer { w in
                    lambda.withUnsafeBufferPointer { lambda in
                        e.withUnsafeBufferPointer { e in
                            uniforms.withUnsafeBufferPointer { eps in
                                let out = SendablePointer(w.baseAddress!)
                                let (lp, ep) = (SendablePointer(lambda.baseAddress!), SendablePointer(e.baseAddress!))
                                let up = SendablePointer(eps.baseAddress!)
                                runParallel(workers: 2) { half in
                                    for i in Self.range(half: half, of: count) {
                                        out[i] = Self.relaxedSample(lambda: lp[i], expTwoLambda: ep[i], eps: up[i], tau: tau)
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /// Half `half` (0 or 1) of `0..<count`: the two threads of the element-wise loops.
    static func range(half: Int, of count: Int) -> Range<Int> {
        half == 0 ? 0..<(count / 2) : (count / 2)..<count
    }

    /// The relaxed sample `tanh((lambda + delta) / tau)`, `delta = 0.5 log(eps / (1 - eps))`. For tau = 1 it is
    /// `(E eps - (1 - eps)) / (E eps + (1 - eps))` with `E = e^(2 lambda)`: no logarithm, no tanh. Otherwise
    /// `(z - 1) / (z + 1)` with `z = e^((2 lambda + log eps - log(1 - eps)) / tau)` from ``fastLog`` and
    /// ``fastExp`` (z clamps at e^87, so a tiny tau gives exact signs).
    @inline(__always)
    static func relaxedSample(lambda: Float, expTwoLambda: Float, eps: Float, tau: Float) -> Float {
        if tau == 1 {
            let a = expTwoLambda * eps
            let b = 1 - eps
            return (a - b) / (a + b)
        }
        let z = fastExp((2 * lambda + fastLog(eps) - fastLog(1 - eps)) / tau)
        return (z - 1) / (z + 1)
    }

    /// One optimiser step from the gradients `network` computed at the forward weights.
    public mutating func update(from network: BatchedNetwork) {
        let h = hyperparameters
        for l in parameters.indices {
            let g = network.weightGradients[l]
            switch rule {
            case .fp, .st:
                // w_r <- w_r - eta dL/dw (for st the gradient was taken at the signs).
                parameters[l].withUnsafeMutableBufferPointer { w in
                    for i in g.indices { w[i] -= h.learningRate * g[i] }
                }
            case .bayes:
                // s = (1 - w^2) / (tau (1 - tanh(lambda)^2)); lambda <- (1 - eta rho) lambda - eta (s g - rho lambda0),
                // tanh(lambda) = (E - 1) / (E + 1) with E = e^(2 lambda); then E follows the new lambda.
                let decay = 1 - h.learningRate * h.priorWeight
                let (eta, tau) = (h.learningRate, h.temperature)
                network.weights[l].withUnsafeBufferPointer { w in
                    g.withUnsafeBufferPointer { g in
                        parameters[l].withUnsafeMutableBufferPointer { lambda in
                            expTwoLambda[l].withUnsafeMutableBufferPointer { e in
                                let (wp, gp) = (SendablePointer(w.baseAddress!), SendablePointer(g.baseAddress!))
                                let (lp, ep) = (SendablePointer(lambda.baseAddress!), SendablePointer(e.baseAddress!))
                                let count = g.count
                                runParallel(workers: 2) { half in
                                    for i in Self.range(half: half, of: count) {
                                        let t = (ep[i] - 1) / (ep[i] + 1)
                                        let s = (1 - wp[i] * wp[i] + 1e-10) / (tau * (1 - t * t) + 1e-10)
                                        lp[i] = decay * lp[i] - eta * s * gp[i]
                                        ep[i] = fastExp(2 * lp[i])
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /// Plain SGD on the biases (every rule).
    public func updateBiases(of network: inout BatchedNetwork) {
        for l in network.biases.indices {
            let g = network.biasGradients[l]
            let eta = hyperparameters.biasLearningRate
            network.biases[l].withUnsafeMutableBufferPointer { b in
                for i in g.indices { b[i] -= eta * g[i] }
            }
        }
    }

    /// Whether every learned value is finite (training stops otherwise, keeping the last good checkpoint).
    public var isFinite: Bool { parameters.allSatisfy { $0.allSatisfy(\.isFinite) } }

    /// `base` with this state's parameters and `biases`, as a model of the rule's weight kind.
    public func model(from base: NetworkModel, biases: [[Float]]) -> NetworkModel {
        var model = base
        model.network.weightKind = rule.weightKind
        for l in model.layers.indices {
            model.layers[l].weights = parameters[l]
            model.layers[l].bias = biases[l]
        }
        return model
    }

    /// Initial weights for `rule` on `network`: fp and st uniform in +-1/sqrt(fan-in) scaled to the dynamics'
    /// range (here +-1, since c already divides by sqrt(fan-in)); bayes lambda = +-initialLambda with random
    /// signs. Biases uniform in +-1, readouts random +-1, from `seed`.
    public static func initialModel(
        network: NetworkDescription, rule: LearningRule, hyperparameters: RuleHyperparameters, seed: UInt64
    ) -> NetworkModel {
        var description = network
        description.weightKind = rule.weightKind
        var model = NetworkModel.random(network: description, seed: seed, weightScale: 1, biasScale: 1)
        if rule == .bayes {
            for l in model.layers.indices {
                model.layers[l].weights = model.layers[l].weights.map {
                    $0 >= 0 ? hyperparameters.initialLambda : -hyperparameters.initialLambda
                }
            }
        }
        return model
    }
}

/// A pointer handed to the threads of ``runParallel(workers:_:)``, each touching its own indices.
struct SendablePointer<T>: @unchecked Sendable {
    let base: UnsafeMutablePointer<T>
    init(_ base: UnsafeMutablePointer<T>) { self.base = base }
    init(_ base: UnsafePointer<T>) { self.base = UnsafeMutablePointer(mutating: base) }
    subscript(i: Int) -> T {
        get { base[i] }
        nonmutating set { base[i] = newValue }
    }
}
