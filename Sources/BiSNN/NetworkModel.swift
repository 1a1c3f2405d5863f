import EventStream

/// A network's parameters: its description, the weights and biases of every layer, the fixed random
/// readouts, and metadata about how it was made. What a model file holds.
public struct NetworkModel: Sendable, Hashable {
    /// Shape, classes, time base and weight kind.
    public var network: NetworkDescription
    /// One entry per layer of ``network``.
    public var layers: [LayerParameters]
    /// Training rule, data, hyperparameters, evaluation figures.
    public var metadata: ModelMetadata

    /// A model; ``validate()`` checks the parameters against the description.
    public init(network: NetworkDescription, layers: [LayerParameters], metadata: ModelMetadata = ModelMetadata()) {
        self.network = network
        self.layers = layers
        self.metadata = metadata
    }

    /// Checks the description, then every tensor's size against it, readouts for +-1 values and all
    /// weights and biases for finite values; the error names the tensor.
    public func validate() throws(ModelError) {
        try network.validate()
        guard layers.count == network.layers.count else {
            throw ModelError(.invalidParameters, "\(layers.count) layers of parameters for \(network.layers.count) layers")
        }
        for (l, p) in layers.enumerated() {
            let outputs = network.layers[l].size
            let expected: [(String, Int, Int)] = [
                (LayerParameters.weightName(l), p.weights.count, network.weightCount(ofLayer: l)),
                (LayerParameters.biasName(l), p.bias.count, outputs),
                (LayerParameters.readoutWeightName(l), p.readoutWeights.count, network.classCount * outputs),
                (LayerParameters.readoutBiasName(l), p.readoutBias.count, network.classCount),
            ]
            for (name, count, want) in expected where count != want {
                throw ModelError(.invalidParameters, "\(name) has \(count) values, the description needs \(want)")
            }
            if let i = p.weights.firstIndex(where: { !$0.isFinite }) {
                throw ModelError(.invalidParameters, "\(LayerParameters.weightName(l))[\(i)] is \(p.weights[i])")
            }
            if let i = p.bias.firstIndex(where: { !$0.isFinite }) {
                throw ModelError(.invalidParameters, "\(LayerParameters.biasName(l))[\(i)] is \(p.bias[i])")
            }
            if let i = p.readoutWeights.firstIndex(where: { $0 != 1 && $0 != -1 }) {
                throw ModelError(.invalidParameters, "\(LayerParameters.readoutWeightName(l))[\(i)] is \(p.readoutWeights[i]), not +-1")
            }
            if let i = p.readoutBias.firstIndex(where: { $0 != 1 && $0 != -1 }) {
                throw ModelError(.invalidParameters, "\(LayerParameters.readoutBiasName(l))[\(i)] is \(p.readoutBias[i]), not +-1")
            }
        }
    }

    /// A model with random parameters from `seed`: weights (or lambda) uniform in `-weightScale...weightScale`,
    /// biases uniform in `-biasScale...biasScale`, readouts random +-1. For tests, benchmarks and as the start
    /// of training.
    public static func random(
        network: NetworkDescription, seed: UInt64, weightScale: Float = 1, biasScale: Float = 1
    ) -> NetworkModel {
        var rng = Xoshiro256StarStar(seed: seed)
        func uniform(_ scale: Float) -> Float { Float(2 * rng.nextUniform() - 1) * scale }
        func sign() -> Int8 { rng.next() >> 63 == 0 ? 1 : -1 }
        let layers = network.layers.indices.map { l in
            let outputs = network.layers[l].size
            return LayerParameters(
                weights: (0..<network.weightCount(ofLayer: l)).map { _ in uniform(weightScale) },
                bias: (0..<outputs).map { _ in uniform(biasScale) },
                readoutWeights: (0..<(network.classCount * outputs)).map { _ in sign() },
                readoutBias: (0..<network.classCount).map { _ in sign() })
        }
        return NetworkModel(network: network, layers: layers)
    }
}

/// One layer's parameters. Tensors are row-major, outputs first, as in PyTorch's `Linear`.
public struct LayerParameters: Sendable, Hashable {
    /// `outputs x inputs`: real weights, latent weights or lambda, by the model's ``WeightKind``.
    public var weights: [Float]
    /// `outputs`: the bias b in `U = c (W P + b) - R`; a real threshold for every weight kind.
    public var bias: [Float]
    /// `classes x outputs`, +-1: the fixed random readout B.
    public var readoutWeights: [Int8]
    /// `classes`, +-1: the fixed random readout bias d.
    public var readoutBias: [Int8]

    /// A layer's parameters.
    public init(weights: [Float], bias: [Float], readoutWeights: [Int8], readoutBias: [Int8]) {
        self.weights = weights
        self.bias = bias
        self.readoutWeights = readoutWeights
        self.readoutBias = readoutBias
    }

    /// Tensor names in a model file.
    public static func weightName(_ layer: Int) -> String { "layers.\(layer).weight" }
    public static func biasName(_ layer: Int) -> String { "layers.\(layer).bias" }
    public static func readoutWeightName(_ layer: Int) -> String { "layers.\(layer).readout.weight" }
    public static func readoutBiasName(_ layer: Int) -> String { "layers.\(layer).readout.bias" }
}

/// How a model was made and how well it did: free-form beyond the training rule and the data.
public struct ModelMetadata: Sendable, Hashable, Codable {
    /// Learning rule: "fp", "st" or "bayes" (empty for an untrained model).
    public var rule: String
    /// What it was trained on (folders, counts).
    public var trainedOn: String
    /// Hyperparameters of the run (learning rate, epochs, seed, ...).
    public var hyperparameters: [String: JSONValue]
    /// Evaluation figures (accuracy, ECE, ... on a named split).
    public var evaluation: [String: JSONValue]

    /// Metadata; all fields default to empty.
    public init(
        rule: String = "", trainedOn: String = "", hyperparameters: [String: JSONValue] = [:],
        evaluation: [String: JSONValue] = [:]
    ) {
        self.rule = rule
        self.trainedOn = trainedOn
        self.hyperparameters = hyperparameters
        self.evaluation = evaluation
    }

    enum CodingKeys: String, CodingKey {
        case rule, hyperparameters, evaluation
        case trainedOn = "trained_on"
    }

    /// Every key is optional, so a file written by another tool needs only what it knows.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        rule = try c.decodeIfPresent(String.self, forKey: .rule) ?? ""
        trainedOn = try c.decodeIfPresent(String.self, forKey: .trainedOn) ?? ""
        hyperparameters = try c.decodeIfPresent([String: JSONValue].self, forKey: .hyperparameters) ?? [:]
        evaluation = try c.decodeIfPresent([String: JSONValue].self, forKey: .evaluation) ?? [:]
    }
}
