import Foundation
import Testing

@testable import BiSNN

/// ``NetworkDescription`` validation and JSON form, ``TimeConstants``, and ``NetworkModel/validate()``.
@Suite struct DescriptionTests {
    /// A valid description: 2x4x5 inputs, layers 6 and 3, three classes.
    static let valid = NetworkDescription.mlp(
        input: InputGeometry(channels: 2, height: 4, width: 5), hiddenSizes: [6, 3], classNames: ["a", "b", "c"],
        binWidthMicroseconds: 2_000, burnInSteps: 5, weightKind: .bernoulli)

    /// The error `body` throws, or nil.
    static func error(_ body: () throws(ModelError) -> Void) -> ModelError? {
        do {
            try body()
            return nil
        } catch {
            return error
        }
    }

    /// One way a description is wrong, and the key its error must name.
    struct BadDescription: Sendable, CustomStringConvertible {
        let key: String
        let description: String
        let network: NetworkDescription

        init(_ key: String, _ description: String, _ change: (inout NetworkDescription) -> Void) {
            self.key = key
            self.description = description
            var network = DescriptionTests.valid
            change(&network)
            self.network = network
        }
    }

    static let badDescriptions: [BadDescription] = [
        BadDescription("input.channels", "0 channels") { $0.input.channels = 0 },
        BadDescription("input.height", "negative height") { $0.input.height = -3 },
        BadDescription("input.width", "width beyond maxInputs") { $0.input.width = NetworkDescription.Limits.maxInputs + 1 },
        BadDescription("input.height", "2^40 x 2^40 x 1") {
            $0.input = InputGeometry(channels: 1, height: 1 << 40, width: 1 << 40)
        },
        // Every dimension in range, the product overflows Int: must be caught, not trap.
        BadDescription("input", "2^22 x 2^22 x 2^22 overflows") {
            $0.input = InputGeometry(channels: 1 << 22, height: 1 << 22, width: 1 << 22)
        },
        BadDescription("input", "2 x 2048 x 2048 exceeds maxInputs") {
            $0.input = InputGeometry(channels: 2, height: 2048, width: 2048)
        },
        BadDescription("layers", "no layers") { $0.layers = [] },
        BadDescription("layers", "too many layers") {
            $0.layers = Array(repeating: .dense(2), count: NetworkDescription.Limits.maxLayers + 1)
        },
        BadDescription("layers[0].size", "layer size 0") { $0.layers[0].size = 0 },
        BadDescription("layers[1].size", "layer size above maxLayerSize") {
            $0.layers[1].size = NetworkDescription.Limits.maxLayerSize + 1
        },
        BadDescription("layers[0].tau_mem", "tau_mem 0") { $0.layers[0].timeConstants.membrane = 0 },
        BadDescription("layers[1].tau_syn", "tau_syn negative") { $0.layers[1].timeConstants.synapse = -1 },
        BadDescription("layers[0].tau_ref", "tau_ref NaN") { $0.layers[0].timeConstants.refractory = .nan },
        BadDescription("layers[1].tau_mem", "tau_mem NaN") { $0.layers[1].timeConstants.membrane = .nan },
        BadDescription("layers[0].tau_mem", "tau_mem infinite") { $0.layers[0].timeConstants.membrane = .infinity },
        BadDescription("layers[0].tau_syn", "tau_syn above 1e6") { $0.layers[0].timeConstants.synapse = 1e6.nextUp },
        BadDescription("class_names", "one class") { $0.classNames = ["only"] },
        BadDescription("class_names", "no classes") { $0.classNames = [] },
        BadDescription("class_names[2]", "duplicate class name") { $0.classNames = ["a", "b", "a"] },
        BadDescription("class_names[1]", "empty class name") { $0.classNames = ["a", "", "c"] },
        BadDescription("class_names[0]", "class name too long") {
            $0.classNames[0] = String(repeating: "x", count: NetworkDescription.Limits.maxClassNameLength + 1)
        },
        BadDescription("bin_width_us", "bin width 0") { $0.binWidthMicroseconds = 0 },
        BadDescription("bin_width_us", "bin width above 10 s") { $0.binWidthMicroseconds = 10_000_001 },
        BadDescription("burn_in_steps", "negative burn-in") { $0.burnInSteps = -1 },
        // 2^22 inputs x 64 = 2^28 weights is the limit; one more neuron exceeds it.
        BadDescription("layers", "too many weights") {
            $0.input = InputGeometry(channels: 1, height: 2048, width: 2048)
            $0.layers = [.dense(65)]
        },
    ]

    @Test(arguments: badDescriptions)
    func validateRejects(_ bad: BadDescription) {
        let error = Self.error { () throws(ModelError) in try bad.network.validate() }
        #expect(error?.code == .invalidDescription)
        #expect(error?.message.hasPrefix(bad.key + ":") == true, "message \"\(error?.message ?? "none")\"")
    }

    @Test func validateAcceptsBoundaries() {
        #expect(Self.error { () throws(ModelError) in try Self.valid.validate() } == nil)
        var edge = Self.valid
        edge.classNames = ["x", String(repeating: "y", count: NetworkDescription.Limits.maxClassNameLength)]
        edge.binWidthMicroseconds = 1
        edge.burnInSteps = 0
        edge.layers[0].timeConstants = TimeConstants(membrane: 1e6, synapse: 1e-3, refractory: 0.5)
        #expect(Self.error { () throws(ModelError) in try edge.validate() } == nil)
        // Exactly maxWeights weights and exactly maxInputs inputs are accepted.
        var large = Self.valid
        large.input = InputGeometry(channels: 1, height: 2048, width: 2048)
        large.layers = [.dense(64)]
        #expect(large.weightCount(ofLayer: 0) == NetworkDescription.Limits.maxWeights)
        #expect(Self.error { () throws(ModelError) in try large.validate() } == nil)
    }

    @Test func derivedCounts() {
        let n = Self.valid
        #expect(n.inputCount == 40)
        #expect(n.inputCount(ofLayer: 0) == 40 && n.inputCount(ofLayer: 1) == 6)
        #expect(n.weightCount(ofLayer: 0) == 240 && n.weightCount(ofLayer: 1) == 18)
        #expect(n.trainableParameterCount == 240 + 6 + 18 + 3)
        #expect(n.readoutParameterCount == 3 * 7 + 3 * 4)
        #expect(n.classCount == 3)
    }

    @Test func jsonRoundTripWithSnakeCaseKeys() throws {
        var network = Self.valid
        network.layers[1].timeConstants = TimeConstants(membrane: 12.5, synapse: 3, refractory: 1.25)
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let data = try encoder.encode(network)
        let json = try #require(String(data: data, encoding: .utf8))
        for key in ["\"class_names\"", "\"tau_mem\"", "\"tau_syn\"", "\"tau_ref\"", "\"bin_width_us\"",
                    "\"burn_in_steps\"", "\"weight_kind\"", "\"bernoulli\"", "\"dense\""] {
            #expect(json.contains(key), "\(key) missing from \(json)")
        }
        for key in ["classNames", "binWidth", "weightKind", "timeConstants", "membrane"] {
            #expect(!json.contains(key), "camel-case \(key) in \(json)")
        }
        #expect(try JSONDecoder().decode(NetworkDescription.self, from: data) == network)

        // What another tool (Python) would write decodes to the same description.
        let handWritten = """
            {"input": {"channels": 2, "height": 4, "width": 5},
             "layers": [{"kind": "dense", "size": 6, "tau_mem": 10, "tau_syn": 6, "tau_ref": 2},
                        {"kind": "dense", "size": 3, "tau_mem": 12.5, "tau_syn": 3, "tau_ref": 1.25}],
             "class_names": ["a", "b", "c"], "bin_width_us": 2000, "burn_in_steps": 5, "weight_kind": "bernoulli"}
            """
        #expect(try JSONDecoder().decode(NetworkDescription.self, from: Data(handWritten.utf8)) == network)
        // A missing time constant is an error, not a silent default.
        let missing = handWritten.replacingOccurrences(of: "\"tau_ref\": 1.25", with: "\"tau_x\": 1")
        #expect(throws: DecodingError.self) { try JSONDecoder().decode(NetworkDescription.self, from: Data(missing.utf8)) }
    }

    @Test func timeConstantDecays() {
        for tau in [0.5, 1, 2, 6, 10, 123.25] {
            let t = TimeConstants(membrane: tau, synapse: tau * 2, refractory: tau / 4)
            #expect(abs(t.alpha - exp(-1 / tau)) <= 1e-15)
            #expect(abs(t.beta - exp(-1 / (tau * 2))) <= 1e-15)
            #expect(abs(t.alphaRefractory - exp(-1 / (tau / 4))) <= 1e-15)
            #expect(t.alpha > 0 && t.alpha < 1)
        }
        #expect(TimeConstants.reference == TimeConstants(membrane: 10, synapse: 6, refractory: 2))
        #expect(abs(TimeConstants.reference.alpha - 0.904_837_418_035_959_6) <= 1e-15)
        // The layer dynamics take their decays from the layer's time constants, the scales from the sizes.
        let d = LayerDynamics(network: Self.valid, layer: 1)
        #expect(d.alpha == Self.valid.layers[1].timeConstants.alpha)
        #expect(d.beta == Self.valid.layers[1].timeConstants.beta)
        #expect(d.alphaRefractory == Self.valid.layers[1].timeConstants.alphaRefractory)
        #expect(abs(d.scale - 1 / 6.0.squareRoot()) <= 1e-15)
        #expect(abs(d.readoutScale - 1 / 3.0.squareRoot()) <= 1e-15)
    }

    // MARK: - NetworkModel.validate

    static let validModel = NetworkModel.random(network: valid, seed: 4)

    /// `change` applied to ``validModel`` must make validation fail with `code` and a message naming `name`.
    static func expectRejected(
        _ code: ModelError.Code, _ name: String, sourceLocation: SourceLocation = #_sourceLocation,
        _ change: (inout NetworkModel) -> Void
    ) {
        var model = validModel
        change(&model)
        let error = Self.error { () throws(ModelError) in try model.validate() }
        #expect(error?.code == code, "\(name)", sourceLocation: sourceLocation)
        #expect(error?.message.contains(name) == true, "message \"\(error?.message ?? "none")\"", sourceLocation: sourceLocation)
    }

    @Test func modelValidateAcceptsAValidModel() {
        #expect(Self.error { () throws(ModelError) in try Self.validModel.validate() } == nil)
        for kind in WeightKind.allCases {
            var network = Self.valid
            network.weightKind = kind
            let model = NetworkModel.random(network: network, seed: 1)
            #expect(Self.error { () throws(ModelError) in try model.validate() } == nil, "\(kind)")
        }
    }

    @Test func modelValidateRejectsWrongSizes() {
        Self.expectRejected(.invalidParameters, "layers.0.weight") { $0.layers[0].weights.removeLast() }
        Self.expectRejected(.invalidParameters, "layers.1.weight") { $0.layers[1].weights.append(0) }
        Self.expectRejected(.invalidParameters, "layers.1.bias") { $0.layers[1].bias.append(0) }
        Self.expectRejected(.invalidParameters, "layers.0.readout.weight") { $0.layers[0].readoutWeights.removeLast() }
        Self.expectRejected(.invalidParameters, "layers.1.readout.bias") { $0.layers[1].readoutBias.append(1) }
        Self.expectRejected(.invalidParameters, "layers") { $0.layers.removeLast() }
        // Swapped layers: every count is wrong for its place.
        Self.expectRejected(.invalidParameters, "layers.0.weight") { $0.layers.swapAt(0, 1) }
        // A bad description is reported as such, before any tensor.
        Self.expectRejected(.invalidDescription, "class_names") { $0.network.classNames = ["a"] }
    }

    @Test func modelValidateRejectsBadValues() {
        Self.expectRejected(.invalidParameters, "layers.0.bias[3]") { $0.layers[0].bias[3] = .nan }
        Self.expectRejected(.invalidParameters, "layers.1.bias[0]") { $0.layers[1].bias[0] = -.infinity }
        Self.expectRejected(.invalidParameters, "layers.0.weight[17]") { $0.layers[0].weights[17] = .infinity }
        Self.expectRejected(.invalidParameters, "layers.1.weight[5]") { $0.layers[1].weights[5] = .nan }
        Self.expectRejected(.invalidParameters, "layers.0.readout.weight[2]") { $0.layers[0].readoutWeights[2] = 0 }
        Self.expectRejected(.invalidParameters, "layers.1.readout.weight[8]") { $0.layers[1].readoutWeights[8] = 2 }
        Self.expectRejected(.invalidParameters, "layers.0.readout.bias[1]") { $0.layers[0].readoutBias[1] = 0 }
        Self.expectRejected(.invalidParameters, "layers.1.readout.bias[2]") { $0.layers[1].readoutBias[2] = -2 }
    }
}
