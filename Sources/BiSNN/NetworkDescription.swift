/// Everything needed to build a network besides its parameters: input geometry, layers, classes, the time
/// base it was trained with, and what its stored weights mean.
///
/// Encoded as JSON (snake_case keys) in a model file's metadata, so Python can read it too.
public struct NetworkDescription: Sendable, Hashable, Codable {
    /// Shape of one input frame: channels x height x width, flattened channel-major (as ``SpikeFrameBatch``).
    public var input: InputGeometry
    /// The spiking layers, input side first. Each has a fixed random readout; the last one's is the output.
    public var layers: [LayerDescription]
    /// One name per class, in output order.
    public var classNames: [String]
    /// Width of a time step (one spike frame), in microseconds.
    public var binWidthMicroseconds: Int
    /// Time steps at the start of a sample whose readouts count neither in training nor in predictions.
    public var burnInSteps: Int
    /// What the stored weight tensors hold.
    public var weightKind: WeightKind

    /// A description; see the properties.
    public init(
        input: InputGeometry, layers: [LayerDescription], classNames: [String], binWidthMicroseconds: Int = 1_000,
        burnInSteps: Int = 30, weightKind: WeightKind
    ) {
        self.input = input
        self.layers = layers
        self.classNames = classNames
        self.binWidthMicroseconds = binWidthMicroseconds
        self.burnInSteps = burnInSteps
        self.weightKind = weightKind
    }

    /// A multilayer perceptron: dense layers of `hiddenSizes`, all with `timeConstants`.
    public static func mlp(
        input: InputGeometry, hiddenSizes: [Int], classNames: [String], timeConstants: TimeConstants = .reference,
        binWidthMicroseconds: Int = 1_000, burnInSteps: Int = 30, weightKind: WeightKind
    ) -> NetworkDescription {
        NetworkDescription(
            input: input, layers: hiddenSizes.map { .dense($0, timeConstants: timeConstants) },
            classNames: classNames, binWidthMicroseconds: binWidthMicroseconds, burnInSteps: burnInSteps,
            weightKind: weightKind)
    }

    /// Number of classes (outputs of every readout).
    public var classCount: Int { classNames.count }
    /// Inputs per frame: channels x height x width.
    public var inputCount: Int { input.count }
    /// Inputs of layer `layer` (the frame for layer 0, the previous layer's outputs after).
    public func inputCount(ofLayer layer: Int) -> Int {
        layer == 0 ? inputCount : layers[layer - 1].size
    }
    /// Weights of layer `layer`: outputs x inputs.
    public func weightCount(ofLayer layer: Int) -> Int { layers[layer].size * inputCount(ofLayer: layer) }
    /// Trainable parameters: weights and biases of every layer (the fixed random readouts excluded).
    public var trainableParameterCount: Int {
        layers.indices.reduce(0) { $0 + weightCount(ofLayer: $1) + layers[$1].size }
    }
    /// Fixed readout parameters: `classCount x (size + 1)` per layer.
    public var readoutParameterCount: Int { layers.reduce(0) { $0 + classCount * ($1.size + 1) } }

    /// Largest accepted value of several sizes, so a hostile file cannot make the loader allocate without bound.
    public enum Limits {
        /// Inputs per frame.
        public static let maxInputs = 1 << 22
        /// Neurons per layer.
        public static let maxLayerSize = 1 << 16
        /// Layers.
        public static let maxLayers = 64
        /// Classes.
        public static let maxClasses = 4096
        /// Weights over all layers.
        public static let maxWeights = 1 << 28
        /// Characters in a class name.
        public static let maxClassNameLength = 256
    }

    /// Checks that the description is consistent and within ``Limits``; the error names the bad key.
    public func validate() throws(ModelError) {
        func fail(_ key: String, _ why: String) -> ModelError {
            ModelError(.invalidDescription, "\(key): \(why)")
        }
        for (key, value) in [("input.channels", input.channels), ("input.height", input.height),
                             ("input.width", input.width)] where value < 1 || value > Limits.maxInputs {
            throw fail(key, "\(value) is outside 1...\(Limits.maxInputs)")
        }
        let (area, o1) = input.height.multipliedReportingOverflow(by: input.width)
        let (inputs, o2) = area.multipliedReportingOverflow(by: input.channels)
        if o1 || o2 || inputs > Limits.maxInputs {
            throw fail("input", "\(input.channels)x\(input.height)x\(input.width) exceeds \(Limits.maxInputs) inputs")
        }
        if layers.isEmpty { throw fail("layers", "at least one layer is needed") }
        if layers.count > Limits.maxLayers { throw fail("layers", "\(layers.count) layers exceed \(Limits.maxLayers)") }
        var weights = 0
        for (l, layer) in layers.enumerated() {
            if layer.size < 1 || layer.size > Limits.maxLayerSize {
                throw fail("layers[\(l)].size", "\(layer.size) is outside 1...\(Limits.maxLayerSize)")
            }
            for (key, tau) in [("tau_mem", layer.timeConstants.membrane), ("tau_syn", layer.timeConstants.synapse),
                               ("tau_ref", layer.timeConstants.refractory)] where !(tau > 0 && tau <= 1e6) {
                throw fail("layers[\(l)].\(key)", "\(tau) is not a time constant in (0, 1e6] steps")
            }
            weights += weightCount(ofLayer: l)
            if weights > Limits.maxWeights { throw fail("layers", "more than \(Limits.maxWeights) weights") }
        }
        if classNames.count < 2 || classNames.count > Limits.maxClasses {
            throw fail("class_names", "\(classNames.count) classes; 2...\(Limits.maxClasses) are supported")
        }
        var seen = Set<String>()
        for (c, name) in classNames.enumerated() {
            if name.isEmpty || name.count > Limits.maxClassNameLength {
                throw fail("class_names[\(c)]", "a name must have 1...\(Limits.maxClassNameLength) characters")
            }
            if !seen.insert(name).inserted { throw fail("class_names[\(c)]", "\"\(name)\" appears twice") }
        }
        if binWidthMicroseconds < 1 || binWidthMicroseconds > 10_000_000 {
            throw fail("bin_width_us", "\(binWidthMicroseconds) is outside 1...10000000")
        }
        if burnInSteps < 0 || burnInSteps > 1_000_000 {
            throw fail("burn_in_steps", "\(burnInSteps) is outside 0...1000000")
        }
    }

    enum CodingKeys: String, CodingKey {
        case input, layers
        case classNames = "class_names"
        case binWidthMicroseconds = "bin_width_us"
        case burnInSteps = "burn_in_steps"
        case weightKind = "weight_kind"
    }
}

/// Shape of one input frame.
public struct InputGeometry: Sendable, Hashable, Codable, CustomStringConvertible {
    /// Channels (2 for split polarity, 1 for merged).
    public var channels: Int
    /// Rows.
    public var height: Int
    /// Columns.
    public var width: Int

    /// A frame of `channels x height x width`.
    public init(channels: Int, height: Int, width: Int) {
        self.channels = channels
        self.height = height
        self.width = width
    }

    /// N-MNIST's frames: 2 x 34 x 34.
    public static let nmnist = InputGeometry(channels: 2, height: 34, width: 34)

    /// Inputs per frame.
    public var count: Int { channels * height * width }
    public var description: String { "\(channels)x\(height)x\(width)" }
}

/// One spiking layer: its kind, its number of neurons and its time constants.
///
/// Only dense (fully connected) layers exist today. A convolution layer would be a new ``Kind`` with its own
/// fields (kernel, stride) and its own engine kernel; description, model file and predictor do not change.
public struct LayerDescription: Sendable, Hashable, Codable {
    /// How the layer connects to its input.
    public enum Kind: String, Sendable, Hashable, Codable {
        /// Every output neuron sees every input.
        case dense
    }

    /// How the layer connects to its input.
    public var kind: Kind
    /// Output neurons.
    public var size: Int
    /// Time constants of its traces.
    public var timeConstants: TimeConstants

    /// A layer; see the properties.
    public init(kind: Kind, size: Int, timeConstants: TimeConstants = .reference) {
        self.kind = kind
        self.size = size
        self.timeConstants = timeConstants
    }

    /// A dense layer of `size` neurons.
    public static func dense(_ size: Int, timeConstants: TimeConstants = .reference) -> LayerDescription {
        LayerDescription(kind: .dense, size: size, timeConstants: timeConstants)
    }

    enum CodingKeys: String, CodingKey {
        case kind, size
        case tauMem = "tau_mem", tauSyn = "tau_syn", tauRef = "tau_ref"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        kind = try c.decode(Kind.self, forKey: .kind)
        size = try c.decode(Int.self, forKey: .size)
        timeConstants = TimeConstants(
            membrane: try c.decode(Double.self, forKey: .tauMem), synapse: try c.decode(Double.self, forKey: .tauSyn),
            refractory: try c.decode(Double.self, forKey: .tauRef))
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(kind, forKey: .kind)
        try c.encode(size, forKey: .size)
        try c.encode(timeConstants.membrane, forKey: .tauMem)
        try c.encode(timeConstants.synapse, forKey: .tauSyn)
        try c.encode(timeConstants.refractory, forKey: .tauRef)
    }
}

/// What a model's stored weight tensors hold, and so how a binary network is made from them.
public enum WeightKind: String, Sendable, Hashable, Codable, CaseIterable {
    /// Full-precision weights, used as they are (the float baseline).
    case real
    /// Latent real weights of a straight-through model; the network uses their signs (0 counts as +1).
    case sign
    /// Natural parameters lambda of a factorised Bernoulli posterior: P(w = +1) = sigmoid(2 lambda).
    case bernoulli
}
