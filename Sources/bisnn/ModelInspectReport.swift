import BiSNN
import Foundation

/// What `bisnn inspect MODEL` reports about a model file: its description, how it was made, its size
/// packed and as float32, and for a Bernoulli model how certain its weights are.
///
/// JSON keys: `file`, `kind` ("model"), `format`, `network` (the description as stored), `metadata` (rule,
/// trained_on, hyperparameters, evaluation), `trainable_parameters`, `readout_parameters`, `packed_bytes`,
/// `float32_bytes`, `compression` (float32 over packed); for Bernoulli weights also `certainty_histogram`
/// (counts of |tanh(lambda)| in 10 equal bins on [0, 1]), `mean_abs_lambda` and `certain_fraction` (the
/// fraction of weights with |tanh(lambda)| > 0.99).
struct ModelInspectReport: Encodable {
    var file: String
    var network: NetworkDescription
    var metadata: ModelMetadata
    var trainableParameters: Int
    var readoutParameters: Int
    var packedBytes: Int
    var float32Bytes: Int
    var certaintyHistogram: [Int]?
    var meanAbsLambda: Double?
    var certainFraction: Double?

    /// Threshold on |tanh(lambda)| above which a weight counts as certain.
    static let certainThreshold = 0.99

    init(file: String, model: NetworkModel) {
        self.file = file
        network = model.network
        metadata = model.metadata
        trainableParameters = model.network.trainableParameterCount
        readoutParameters = model.network.readoutParameterCount
        packedBytes = model.packedWeightByteCount
        float32Bytes = model.float32ByteCount
        if model.network.weightKind == .bernoulli {
            certaintyHistogram = model.certaintyHistogram(bins: 10)
            var sum = 0.0
            var certain = 0
            var count = 0
            for layer in model.layers {
                for lambda in layer.weights {
                    sum += Double(abs(lambda))
                    if abs(tanh(Double(lambda))) > Self.certainThreshold { certain += 1 }
                }
                count += layer.weights.count
            }
            meanAbsLambda = count > 0 ? sum / Double(count) : 0
            certainFraction = count > 0 ? Double(certain) / Double(count) : 0
        }
    }

    /// Whether `path` should be inspected as a model: its name ends in `.safetensors`, or (when the format
    /// is left to detection) it starts like a safetensors file: an 8-byte length that fits in the file,
    /// then `{`.
    static func looksLikeModel(_ path: String, detectFormat: Bool) -> Bool {
        if path.hasSuffix(".safetensors") { return true }
        guard detectFormat, let handle = FileHandle(forReadingAtPath: path) else { return false }
        defer { try? handle.close() }
        guard let prefix = try? handle.read(upToCount: 9), prefix.count == 9,
              let size = try? handle.seekToEnd()
        else { return false }
        let bytes = [UInt8](prefix)
        let length = bytes[0..<8].enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) }
        return bytes[8] == UInt8(ascii: "{") && length >= 2 && length <= size - 8
    }

    enum CodingKeys: String, CodingKey {
        case file, kind, format, network, metadata
        case trainableParameters = "trainable_parameters"
        case readoutParameters = "readout_parameters"
        case packedBytes = "packed_bytes"
        case float32Bytes = "float32_bytes"
        case compression
        case certaintyHistogram = "certainty_histogram"
        case meanAbsLambda = "mean_abs_lambda"
        case certainFraction = "certain_fraction"
    }

    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(file, forKey: .file)
        try c.encode("model", forKey: .kind)
        try c.encode(NetworkModel.fileFormat, forKey: .format)
        try c.encode(network, forKey: .network)
        try c.encode(metadata, forKey: .metadata)
        try c.encode(trainableParameters, forKey: .trainableParameters)
        try c.encode(readoutParameters, forKey: .readoutParameters)
        try c.encode(packedBytes, forKey: .packedBytes)
        try c.encode(float32Bytes, forKey: .float32Bytes)
        try c.encode(compression, forKey: .compression)
        try c.encodeIfPresent(certaintyHistogram, forKey: .certaintyHistogram)
        try c.encodeIfPresent(meanAbsLambda, forKey: .meanAbsLambda)
        try c.encodeIfPresent(certainFraction, forKey: .certainFraction)
    }

    /// float32 size over packed size.
    var compression: Double { packedBytes > 0 ? Double(float32Bytes) / Double(packedBytes) : 0 }

    /// One JSON object.
    func json() throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.nonConformingFloatEncodingStrategy = .convertToString(
            positiveInfinity: "Infinity", negativeInfinity: "-Infinity", nan: "NaN")
        return String(decoding: try encoder.encode(self), as: UTF8.self)
    }

    var text: String {
        let kinds: [WeightKind: String] = [
            .real: "real (full-precision weights)",
            .sign: "sign (latent weights of a straight-through model; the network uses their signs)",
            .bernoulli: "bernoulli (lambda of a Bernoulli posterior, P(w = +1) = sigmoid(2 lambda))",
        ]
        var lines = [
            "file        \(file)",
            "model       \(NetworkModel.fileFormat), weights \(kinds[network.weightKind] ?? network.weightKind.rawValue)",
            "input       \(network.input) (\(grouped(network.inputCount)) inputs)",
        ]
        for (l, layer) in network.layers.enumerated() {
            let t = layer.timeConstants
            lines.append(pad("layer \(l)") + "\(layer.kind.rawValue) \(grouped(network.inputCount(ofLayer: l))) -> "
                         + "\(grouped(layer.size)), tau_mem \(number(t.membrane)), tau_syn \(number(t.synapse)), "
                         + "tau_ref \(number(t.refractory))")
        }
        let shown = network.classNames.prefix(64).joined(separator: ", ")
        let more = network.classCount > 64 ? ", ... (\(network.classCount - 64) more)" : ""
        lines += [
            "classes     \(network.classCount): \(shown)\(more)",
            "time base   bins of \(network.binWidthMicroseconds) µs, burn-in \(network.burnInSteps) steps",
            "rule        \(metadata.rule.isEmpty ? "none (untrained)" : metadata.rule)",
            "trained on  \(metadata.trainedOn.isEmpty ? "-" : metadata.trainedOn)",
            "hyperparams \(fields(metadata.hyperparameters))",
            "evaluation  \(fields(metadata.evaluation))",
            "parameters  \(grouped(trainableParameters)) trainable, \(grouped(readoutParameters)) fixed readout",
        ]
        if network.weightKind == .real {
            lines.append("size        \(bytes(float32Bytes)) as float32 (real weights are not packed)")
        } else {
            lines.append("size        \(bytes(packedBytes)) packed, \(bytes(float32Bytes)) as float32 "
                         + "(\(String(format: "%.1f", compression))x smaller)")
        }
        if let certaintyHistogram, let meanAbsLambda, let certainFraction {
            lines.append("certainty   |tanh(lambda)| per weight: mean |lambda| \(String(format: "%.3g", meanAbsLambda)), "
                         + String(format: "%.1f%%", 100 * certainFraction) + " of weights above \(Self.certainThreshold)")
            let largest = max(certaintyHistogram.max() ?? 0, 1)
            let width = String(grouped(largest)).count
            for (i, count) in certaintyHistogram.enumerated() {
                let low = Double(i) / Double(certaintyHistogram.count)
                let high = Double(i + 1) / Double(certaintyHistogram.count)
                let bar = String(repeating: "#", count: (count * 40 + largest - 1) / largest)
                let label = String(format: "  [%.1f, %.1f", low, high) + (i == certaintyHistogram.count - 1 ? "]  " : ")  ")
                let counted = grouped(count)
                lines.append(label + String(repeating: " ", count: max(0, width - counted.count)) + counted + "  " + bar)
            }
        }
        return lines.joined(separator: "\n")
    }

    private func pad(_ label: String) -> String {
        label + String(repeating: " ", count: max(1, 12 - label.count))
    }

    private func fields(_ values: [String: JSONValue]) -> String {
        values.isEmpty ? "-" : values.keys.sorted().map { "\($0) \(render(values[$0]!))" }.joined(separator: ", ")
    }

    private func render(_ value: JSONValue) -> String {
        switch value {
        case .string(let s): return s
        case .number(let d): return number(d)
        case .bool(let b): return String(b)
        case .null: return "null"
        case .array, .object:
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            encoder.nonConformingFloatEncodingStrategy = .convertToString(
                positiveInfinity: "Infinity", negativeInfinity: "-Infinity", nan: "NaN")
            return (try? encoder.encode(value)).map { String(decoding: $0, as: UTF8.self) } ?? "?"
        }
    }

    private func number(_ d: Double) -> String {
        if d.isFinite, d == d.rounded(), abs(d) < 1e15 { return String(Int64(d)) }
        return String(d)
    }

    private func grouped(_ n: Int) -> String {
        let digits = String(n.magnitude)
        var out = ""
        for (i, c) in digits.enumerated() {
            if i > 0, (digits.count - i) % 3 == 0 { out.append(",") }
            out.append(c)
        }
        return (n < 0 ? "-" : "") + out
    }

    private func bytes(_ n: Int) -> String {
        if n < 1024 { return "\(n) B" }
        if n < 1 << 20 { return String(format: "%.1f KiB", Double(n) / 1024) + " (\(grouped(n)) B)" }
        return String(format: "%.1f MiB", Double(n) / Double(1 << 20)) + " (\(grouped(n)) B)"
    }
}
