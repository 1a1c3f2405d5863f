import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Model files: a ``NetworkModel`` in the safetensors layout, readable from Python with the `safetensors`
/// package.
///
/// `__metadata__` holds `"format": "bisnn-model-1"`, `"network"` (the ``NetworkDescription`` as JSON) and
/// `"metadata"` (the ``ModelMetadata`` as JSON). Per layer `l` there are four tensors, row-major as in
/// PyTorch's `Linear`:
///
/// | name | dtype | shape |
/// |---|---|---|
/// | `layers.{l}.weight` | F32 | `[outputs, inputs]` (real weights, latent weights or lambda) |
/// | `layers.{l}.bias` | F32 | `[outputs]` |
/// | `layers.{l}.readout.weight` | I8 | `[classes, outputs]`, +-1 |
/// | `layers.{l}.readout.bias` | I8 | `[classes]`, +-1 |
///
/// Loading checks the container (see ``SafetensorsFile``), then the metadata (``ModelError/Code/badMetadata``;
/// a description out of range is ``ModelError/Code/invalidDescription``), then every tensor's presence, dtype
/// and shape against the description before reading any data (``ModelError/Code/badTensor``; unknown tensors
/// too), then the values: finite weights and biases, +-1 readouts (``ModelError/Code/invalidParameters``, at
/// the value's byte offset).
extension NetworkModel {
    /// The `format` value of a model file's `__metadata__`.
    public static let fileFormat = "bisnn-model-1"
    /// Largest model file ``load(from:)`` reads: 2 GiB.
    public static let maxFileSize = 1 << 31
    /// Largest safetensors header a model file may have: 16 MiB (a model's header is the description, the
    /// metadata and 4 entries a layer; this bounds what parsing a hostile header allocates).
    public static let maxHeaderLength = 16 << 20
    /// Deepest nesting accepted in the JSON of the `network` and `metadata` entries.
    static let maxMetadataNesting = 64

    /// Reads a model from the bytes of a model file; `file` names it in errors.
    public init(safetensors bytes: [UInt8], file: String? = nil) throws(ModelError) {
        let container = try SafetensorsFile(parsing: bytes, file: file, maxHeaderLength: Self.maxHeaderLength)
        func failure(_ code: ModelError.Code, _ message: String, at offset: Int? = nil) -> ModelError {
            ModelError(code, message, file: file, offset: offset)
        }
        let header = 8
        guard let format = container.metadata["format"] else {
            throw failure(.badMetadata, "__metadata__ has no \"format\" (a bisnn model has \"\(Self.fileFormat)\")",
                          at: header)
        }
        guard format == Self.fileFormat else {
            throw failure(.badMetadata, "__metadata__.format is \"\(format)\", not \"\(Self.fileFormat)\"", at: header)
        }
        guard let networkJSON = container.metadata["network"] else {
            throw failure(.badMetadata, "__metadata__ has no \"network\" description", at: header)
        }
        let network = try Self.decode(NetworkDescription.self, networkJSON, key: "network", file: file)
        do throws(ModelError) {
            try network.validate()
        } catch {
            var error = error
            error.file = file
            throw error
        }
        var metadata = ModelMetadata()
        if let metadataJSON = container.metadata["metadata"] {
            metadata = try Self.decode(ModelMetadata.self, metadataJSON, key: "metadata", file: file)
        }

        // Presence, dtype and shape of every tensor before reading any data.
        let byName = Dictionary(container.tensors.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        func entry(_ name: String, _ dtype: SafetensorsDType, _ shape: [Int]) throws(ModelError) -> SafetensorsTensor {
            guard let t = byName[name] else { throw failure(.badTensor, "\(name) is missing") }
            guard t.dtype == dtype else {
                throw failure(.badTensor, "\(name): dtype \(t.dtype.rawValue) but a model needs \(dtype.rawValue)",
                              at: t.headerOffset)
            }
            guard t.shape == shape else {
                throw failure(.badTensor, "\(name): shape \(t.shape) but the description needs \(shape)", at: t.headerOffset)
            }
            return t
        }
        var entries: [(weight: SafetensorsTensor, bias: SafetensorsTensor, readout: SafetensorsTensor,
                       readoutBias: SafetensorsTensor)] = []
        let classes = network.classCount
        for l in network.layers.indices {
            let outputs = network.layers[l].size
            entries.append((
                try entry(LayerParameters.weightName(l), .float32, [outputs, network.inputCount(ofLayer: l)]),
                try entry(LayerParameters.biasName(l), .float32, [outputs]),
                try entry(LayerParameters.readoutWeightName(l), .int8, [classes, outputs]),
                try entry(LayerParameters.readoutBiasName(l), .int8, [classes])))
        }
        let known = Set(entries.flatMap { [$0.weight.name, $0.bias.name, $0.readout.name, $0.readoutBias.name] })
        if let extra = container.tensors.first(where: { !known.contains($0.name) }) {
            throw failure(.badTensor, "\(extra.name): unexpected tensor (the description has \(network.layers.count) "
                          + "layers)", at: extra.headerOffset)
        }

        // Values.
        func reals(_ t: SafetensorsTensor) throws(ModelError) -> [Float] {
            let values = try container.floats(t)
            if let i = values.firstIndex(where: { !$0.isFinite }) {
                throw failure(.invalidParameters, "\(t.name)[\(i)] is \(values[i])", at: t.fileOffset + 4 * i)
            }
            return values
        }
        func signs(_ t: SafetensorsTensor) throws(ModelError) -> [Int8] {
            let values = try container.int8s(t)
            if let i = values.firstIndex(where: { $0 != 1 && $0 != -1 }) {
                throw failure(.invalidParameters, "\(t.name)[\(i)] is \(values[i]), not +-1", at: t.fileOffset + i)
            }
            return values
        }
        var layers: [LayerParameters] = []
        for e in entries {
            layers.append(LayerParameters(
                weights: try reals(e.weight), bias: try reals(e.bias), readoutWeights: try signs(e.readout),
                readoutBias: try signs(e.readoutBias)))
        }
        self.init(network: network, layers: layers, metadata: metadata)
        do throws(ModelError) {
            try validate()
        } catch {
            var error = error
            error.file = file
            throw error
        }
    }

    /// Reads a model file. Files over ``maxFileSize`` are refused (``ModelError/Code/tooLarge``); a file that
    /// cannot be opened or read is ``ModelError/Code/io``.
    public static func load(from path: String) throws(ModelError) -> NetworkModel {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw ModelError(.io, "cannot open: \(Self.errnoText())", file: path) }
        defer { _ = close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw ModelError(.io, "cannot stat: \(Self.errnoText())", file: path) }
        guard (st.st_mode & S_IFMT) == S_IFREG else { throw ModelError(.io, "not a regular file", file: path) }
        guard st.st_size <= maxFileSize else {
            throw ModelError(.tooLarge, "\(st.st_size) bytes; model files up to \(maxFileSize) bytes are read",
                             file: path, offset: 0)
        }
        var bytes = [UInt8](repeating: 0, count: Int(st.st_size))
        var filled = 0
        while filled < bytes.count {
            let n = bytes.withUnsafeMutableBytes { posixRead(fd, $0.baseAddress! + filled, $0.count - filled) }
            if n < 0 {
                if errno == EINTR { continue }
                throw ModelError(.io, "read failed: \(Self.errnoText())", file: path, offset: filled)
            }
            if n == 0 { break }  // the file shrank while we read; parsing reports what is missing
            filled += n
        }
        if filled < bytes.count { bytes.removeSubrange(filled...) }
        return try NetworkModel(safetensors: bytes, file: path)
    }

    /// The model as a safetensors file (see the extension's documentation).
    ///
    /// Meant for a valid model (``validate()``); for an invalid one the bytes are still a well-formed
    /// safetensors file (a tensor whose size disagrees with the description is stored flat), but it will not
    /// load as a model. Non-finite numbers in the metadata are stored as the strings `"NaN"`, `"Infinity"` and
    /// `"-Infinity"`.
    public func safetensorsBytes() -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.nonConformingFloatEncodingStrategy = .convertToString(
            positiveInfinity: "Infinity", negativeInfinity: "-Infinity", nan: "NaN")
        func json(_ value: some Encodable) -> String {
            (try? encoder.encode(value)).map { String(decoding: $0, as: UTF8.self) } ?? "null"
        }
        var writer = SafetensorsWriter(metadata: [
            "format": Self.fileFormat, "network": json(network), "metadata": json(metadata),
        ])
        func shape(_ dimensions: [Int], holding count: Int) -> [Int] {
            var product = 1
            for d in dimensions {
                let (p, overflow) = product.multipliedReportingOverflow(by: d)
                if overflow || d < 0 { return [count] }
                product = p
            }
            return product == count ? dimensions : [count]
        }
        let classes = network.classCount
        for (l, p) in layers.enumerated() {
            let described = l < network.layers.count
            let outputs = described ? network.layers[l].size : -1
            let inputCount = l == 0 ? checkedInputCount ?? -1 : (described ? network.layers[l - 1].size : -1)
            writer.append(LayerParameters.weightName(l), float32: p.weights,
                          shape: shape([outputs, inputCount], holding: p.weights.count))
            writer.append(LayerParameters.biasName(l), float32: p.bias, shape: shape([outputs], holding: p.bias.count))
            writer.append(LayerParameters.readoutWeightName(l), int8: p.readoutWeights,
                          shape: shape([classes, outputs], holding: p.readoutWeights.count))
            writer.append(LayerParameters.readoutBiasName(l), int8: p.readoutBias,
                          shape: shape([classes], holding: p.readoutBias.count))
        }
        return writer.bytes()
    }

    /// Writes the model file at `path`, through a temporary file in the same directory renamed into place, so
    /// a reader never sees half a file. An invalid model (``validate()``) is refused.
    public func write(to path: String) throws(ModelError) {
        try validate()
        let bytes = safetensorsBytes()
        let temporary = "\(path).tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw ModelError(.io, "cannot create \(temporary): \(Self.errnoText())", file: path) }
        var written = 0
        while written < bytes.count {
            let n = bytes.withUnsafeBytes { posixWrite(fd, $0.baseAddress! + written, $0.count - written) }
            if n < 0 {
                if errno == EINTR { continue }
                let why = Self.errnoText()
                _ = close(fd)
                _ = unlink(temporary)
                throw ModelError(.io, "write failed: \(why)", file: path, offset: written)
            }
            written += n
        }
        if fsync(fd) != 0 || close(fd) != 0 {
            let why = Self.errnoText()
            _ = unlink(temporary)
            throw ModelError(.io, "cannot flush \(temporary): \(why)", file: path)
        }
        guard rename(temporary, path) == 0 else {
            let why = Self.errnoText()
            _ = unlink(temporary)
            throw ModelError(.io, "cannot rename \(temporary) into place: \(why)", file: path)
        }
    }

    /// Bytes the binary engine needs for this model: for `.sign` and `.bernoulli` weights 1 bit per weight,
    /// each row (one output neuron) rounded up to 64-bit words, the biases as float32, and the +-1 readouts
    /// packed the same way (a row per class, and the readout bias as one row). For `.real` weights, the same
    /// as ``float32ByteCount``. For a valid model.
    public var packedWeightByteCount: Int {
        guard network.weightKind != .real else { return float32ByteCount }
        func words(_ bits: Int) -> Int { (bits + 63) / 64 }
        let classes = network.classCount
        var bytes = 0
        for (l, layer) in network.layers.enumerated() {
            bytes += layer.size * words(network.inputCount(ofLayer: l)) * 8
            bytes += layer.size * 4
            bytes += (classes * words(layer.size) + words(classes)) * 8
        }
        return bytes
    }

    /// Bytes of every parameter (weights, biases, readouts) as float32. For a valid model.
    public var float32ByteCount: Int {
        4 * (network.trainableParameterCount + network.readoutParameterCount)
    }

    /// For a Bernoulli model, how certain its weights are: counts of |tanh(lambda)| (the magnitude of the
    /// weight's mean, 0 for a coin flip, 1 for a sure sign) over all weights, in `bins` equal-width bins on
    /// [0, 1] (1 falls in the last bin). Empty when `bins` < 1; non-finite weights are not counted.
    public func certaintyHistogram(bins: Int = 10) -> [Int] {
        guard bins >= 1 else { return [] }
        var counts = [Int](repeating: 0, count: bins)
        for layer in layers {
            for lambda in layer.weights where lambda.isFinite {
                let certainty = abs(tanh(Double(lambda)))
                counts[min(Int(certainty * Double(bins)), bins - 1)] += 1
            }
        }
        return counts
    }

    // MARK: - Helpers

    /// channels x height x width, or nil when it overflows.
    private var checkedInputCount: Int? {
        let i = network.input
        let (a, o1) = i.channels.multipliedReportingOverflow(by: i.height)
        let (b, o2) = a.multipliedReportingOverflow(by: i.width)
        return o1 || o2 ? nil : b
    }

    /// Decodes the JSON text of `__metadata__.key`, bounding its nesting first.
    private static func decode<T: Decodable>(
        _ type: T.Type, _ text: String, key: String, file: String?
    ) throws(ModelError) -> T {
        do throws(HeaderJSON.ParseError) {
            try HeaderJSON.check(text, maxNesting: maxMetadataNesting)
        } catch {
            throw ModelError(.badMetadata, "__metadata__.\(key) is not JSON: \(error.message) at byte \(error.position)",
                             file: file, offset: 8)
        }
        do {
            return try JSONDecoder().decode(T.self, from: Data(text.utf8))
        } catch {
            throw ModelError(.badMetadata, "__metadata__.\(key): \(describe(error))", file: file, offset: 8)
        }
    }

    private static func describe(_ error: any Error) -> String {
        func path(_ keys: [any CodingKey]) -> String {
            let text = keys.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined()
            return text.hasPrefix(".") ? String(text.dropFirst()) : text
        }
        switch error as? DecodingError {
        case .keyNotFound(let key, let context)?:
            return "missing key \(path(context.codingPath + [key]))"
        case .typeMismatch(_, let context)?, .valueNotFound(_, let context)?, .dataCorrupted(let context)?:
            let at = path(context.codingPath)
            return (at.isEmpty ? "" : "\(at): ") + context.debugDescription
        default:
            return String(describing: error)
        }
    }

    private static func errnoText() -> String { String(cString: strerror(errno)) }
}

private func posixRead(_ fd: Int32, _ buffer: UnsafeMutableRawPointer, _ count: Int) -> Int {
    read(fd, buffer, count)
}

private func posixWrite(_ fd: Int32, _ buffer: UnsafeRawPointer, _ count: Int) -> Int {
    write(fd, buffer, count)
}
