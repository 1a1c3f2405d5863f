import EventStream
import Foundation
import Testing

@testable import BiSNN

/// Model files: round trips, Python interoperability, one test per way a file can be wrong (with its error
/// code and offset), and seeded mutants of a valid file that must load or throw, never crash.
///
/// `BISNN_MODEL_MUTANTS=N` changes the number of mutants (default 3000), `BISNN_FUZZ_SEED=S` their seed;
/// `BISNN_FUZZ_VERBOSE=1` prints how many loaded and the error codes of the others.
@Suite struct ModelFileTests {
    // MARK: - Fixtures

    static func network(_ kind: WeightKind) -> NetworkDescription {
        .mlp(
            input: InputGeometry(channels: 2, height: 3, width: 4), hiddenSizes: [7, 4], classNames: ["a", "b", "c"],
            timeConstants: TimeConstants(membrane: 10.5, synapse: 6, refractory: 2), binWidthMicroseconds: 1_500,
            burnInSteps: 12, weightKind: kind)
    }

    static let metadata = ModelMetadata(
        rule: "bayes", trainedOn: "tests: 12 samples \"quoted\" ∂",
        hyperparameters: [
            "eta": .number(150), "tau": .number(1), "rho": .number(1e-7), "seed": .number(42),
            "schedule": .array([.number(0.5), .string("halve"), .bool(false), .null]),
            "nested": .object(["a": .object(["b": .array([.object(["c": .string("deep")])])])]),
        ],
        evaluation: ["accuracy": .number(0.9375), "ece_15": .number(0.0123), "split": .string("test")])

    static func model(_ kind: WeightKind = .bernoulli, seed: UInt64 = 7) -> NetworkModel {
        var model = NetworkModel.random(network: network(kind), seed: seed, weightScale: 5)
        model.metadata = metadata
        return model
    }

    /// What loading `bytes` throws, nil if it loads.
    static func loadError(_ bytes: [UInt8], file: String? = "m.safetensors") -> ModelError? {
        do throws(ModelError) {
            _ = try NetworkModel(safetensors: bytes, file: file)
            return nil
        } catch {
            return error
        }
    }

    /// A safetensors file from a raw header text (its length field overridable) and data.
    static func raw(_ header: String, data: [UInt8] = [], length: UInt64? = nil) -> [UInt8] {
        let h = Array(header.utf8)
        let n = length ?? UInt64(h.count)
        return (0..<8).map { UInt8(truncatingIfNeeded: n >> (8 * UInt64($0))) } + h + data
    }

    /// Absolute file offset of the first occurrence of `needle` in `header` (as laid out by ``raw``).
    static func offset(of needle: String, in header: String) -> Int {
        let r = header.range(of: needle)!
        return 8 + header.utf8.distance(from: header.startIndex, to: r.lowerBound)
    }

    /// One tensor of a model file, to be tampered with.
    struct Entry {
        var name: String
        var floats: [Float]? = nil
        var int8s: [Int8]? = nil
        var shape: [Int]
    }

    static func entries(_ model: NetworkModel) -> [Entry] {
        let net = model.network
        return model.layers.enumerated().flatMap { l, p in
            let outputs = net.layers[l].size
            return [
                Entry(name: LayerParameters.weightName(l), floats: p.weights, shape: [outputs, net.inputCount(ofLayer: l)]),
                Entry(name: LayerParameters.biasName(l), floats: p.bias, shape: [outputs]),
                Entry(name: LayerParameters.readoutWeightName(l), int8s: p.readoutWeights, shape: [net.classCount, outputs]),
                Entry(name: LayerParameters.readoutBiasName(l), int8s: p.readoutBias, shape: [net.classCount]),
            ]
        }
    }

    static func json(_ value: some Encodable) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        return String(decoding: try! encoder.encode(value), as: UTF8.self)
    }

    static func standardMetadata(_ model: NetworkModel) -> [String: String] {
        ["format": NetworkModel.fileFormat, "network": json(model.network), "metadata": json(model.metadata)]
    }

    static func assemble(_ entries: [Entry], metadata: [String: String]) -> [UInt8] {
        var writer = SafetensorsWriter(metadata: metadata)
        for e in entries {
            if let floats = e.floats {
                writer.append(e.name, float32: floats, shape: e.shape)
            } else {
                writer.append(e.name, int8: e.int8s!, shape: e.shape)
            }
        }
        return writer.bytes()
    }

    static func temporaryDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("bisnn-modelfile-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    // MARK: - Round trips

    @Test(arguments: WeightKind.allCases)
    func roundTripBytes(kind: WeightKind) throws {
        let model = Self.model(kind)
        let bytes = model.safetensorsBytes()
        let loaded = try NetworkModel(safetensors: bytes)
        #expect(loaded == model)
        #expect(loaded.metadata.hyperparameters["nested"] == Self.metadata.hyperparameters["nested"])
        // Written the same way twice; header padded so tensors are aligned.
        #expect(loaded.safetensorsBytes() == bytes)
        let container = try SafetensorsFile(parsing: bytes)
        #expect(container.dataStart % 8 == 0)
        for t in container.tensors { #expect(t.fileOffset % t.dtype.elementSize == 0) }
    }

    @Test(arguments: WeightKind.allCases)
    func roundTripFile(kind: WeightKind) throws {
        let dir = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("model.safetensors").path
        let model = Self.model(kind, seed: 99)
        try model.write(to: path)
        #expect(try NetworkModel.load(from: path) == model)
        // Overwriting goes through a temporary file renamed into place; nothing else is left behind.
        var other = Self.model(kind, seed: 100)
        other.metadata = ModelMetadata()
        try other.write(to: path)
        #expect(try NetworkModel.load(from: path) == other)
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path) == ["model.safetensors"])
    }

    @Test func metadataIsOptional() throws {
        let model = Self.model(.sign)
        var metadata = Self.standardMetadata(model)
        metadata["metadata"] = nil
        metadata["written_by"] = "someone else"  // unknown metadata keys are ignored
        let loaded = try NetworkModel(safetensors: Self.assemble(Self.entries(model), metadata: metadata))
        #expect(loaded.metadata == ModelMetadata())
        #expect(loaded.layers == model.layers)
    }

    @Test func writeRefusesInvalidModel() throws {
        var model = Self.model()
        model.layers[0].bias[0] = .nan
        let dir = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("bad.safetensors").path
        #expect(throws: ModelError.self) { try model.write(to: path) }
        #expect(!FileManager.default.fileExists(atPath: path))
    }

    // MARK: - Python

    /// Runs `python3 -c script args`, returning stdout; fails clearly when python3, numpy or safetensors
    /// is missing.
    static func python(_ script: String, _ arguments: [String]) throws -> String {
        let check = Process()
        check.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        check.arguments = ["python3", "-c", "import numpy, safetensors"]
        check.standardError = FileHandle.nullDevice
        try check.run()
        check.waitUntilExit()
        try #require(check.terminationStatus == 0,
                     "python3 with numpy and safetensors is needed: pip install safetensors numpy")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", script] + arguments
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let output = out.fileHandleForReading.readDataToEndOfFile()
        let errors = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        try #require(process.terminationStatus == 0, "python failed: \(String(decoding: errors, as: UTF8.self))")
        return String(decoding: output, as: UTF8.self)
    }

    @Test func pythonReadsModelFile() throws {
        let dir = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("model.safetensors").path
        let model = Self.model(.bernoulli)
        try model.write(to: path)
        let script = """
            import json, sys
            from safetensors import safe_open
            from safetensors.numpy import load_file
            tensors = load_file(sys.argv[1])
            with safe_open(sys.argv[1], framework="np") as f:
                meta = f.metadata()
                keys = sorted(f.keys())
            out = {
                "keys": keys,
                "format": meta["format"],
                "layer_sizes": [l["size"] for l in json.loads(meta["network"])["layers"]],
                "rule": json.loads(meta["metadata"])["rule"],
                "tensors": {k: {"dtype": str(v.dtype), "shape": list(v.shape), "first": v.ravel()[:5].tolist(),
                                "last": v.ravel()[-1].item()} for k, v in tensors.items()},
            }
            print(json.dumps(out))
            """
        let output = try Self.python(script, [path])
        struct Tensor: Decodable {
            var dtype: String
            var shape: [Int]
            var first: [Double]
            var last: Double
        }
        struct Report: Decodable {
            var keys: [String]
            var format: String
            var layer_sizes: [Int]
            var rule: String
            var tensors: [String: Tensor]
        }
        let report = try JSONDecoder().decode(Report.self, from: Data(output.utf8))
        let expected = Self.entries(model)
        #expect(report.keys == expected.map(\.name).sorted())
        #expect(report.format == "bisnn-model-1")
        #expect(report.layer_sizes == [7, 4])
        #expect(report.rule == "bayes")
        for e in expected {
            let t = try #require(report.tensors[e.name], "\(e.name) missing in Python")
            #expect(t.shape == e.shape, "\(e.name)")
            if let floats = e.floats {
                #expect(t.dtype == "float32")
                #expect(t.first == floats.prefix(5).map(Double.init), "\(e.name)")
                #expect(t.last == Double(floats.last!), "\(e.name)")
            } else {
                #expect(t.dtype == "int8")
                #expect(t.first == e.int8s!.prefix(5).map(Double.init), "\(e.name)")
                #expect(t.last == Double(e.int8s!.last!), "\(e.name)")
            }
        }
    }

    @Test func pythonWrittenModelLoads() throws {
        let dir = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("py.safetensors").path
        let model = Self.model(.sign)
        // Python gets the description and metadata JSON and the values, and writes its own file.
        let spec = Self.json(Self.entries(model).map { e -> [String: JSONValue] in
            let values: [Double] = e.floats.map { $0.map(Double.init) } ?? e.int8s!.map(Double.init)
            return ["name": .string(e.name), "dtype": .string(e.floats == nil ? "int8" : "float32"),
                    "shape": .array(e.shape.map { .number(Double($0)) }), "values": .array(values.map(JSONValue.number))]
        })
        let specPath = dir.appendingPathComponent("spec.json").path
        try Data(spec.utf8).write(to: URL(fileURLWithPath: specPath))
        let script = """
            import json, sys
            import numpy as np
            from safetensors.numpy import save_file
            spec = json.load(open(sys.argv[2]))
            tensors = {e["name"]: np.array(e["values"], dtype=e["dtype"]).reshape([int(s) for s in e["shape"]])
                       for e in spec}
            save_file(tensors, sys.argv[1], metadata={"format": "bisnn-model-1", "network": sys.argv[3],
                                                      "metadata": sys.argv[4]})
            """
        _ = try Self.python(script, [path, specPath, Self.json(model.network), Self.json(model.metadata)])
        #expect(try NetworkModel.load(from: path) == model)
    }

    // MARK: - Container errors

    @Test func truncatedAtSeveralLengths() throws {
        let bytes = Self.model().safetensorsBytes()
        let container = try SafetensorsFile(parsing: bytes)
        let start = container.dataStart
        let ordered = container.tensors.sorted { $0.dataOffsets.lowerBound < $1.dataOffsets.lowerBound }
        let cuts = [0, 1, 7, 8, 9, start / 2, start - 1, start, start + 1, start + 100, bytes.count / 2,
                    bytes.count - 1]
        for cut in cuts {
            let error = try #require(Self.loadError(Array(bytes[..<cut])), "cut at \(cut)")
            #expect(error.code == .truncated, "cut at \(cut): \(error)")
            #expect(error.file == "m.safetensors")
            let expected: Int
            if cut < 8 {
                expected = 0
            } else if cut < start {
                expected = 8
            } else {
                let partial = try #require(ordered.first { start + $0.dataOffsets.upperBound > cut })
                expected = partial.fileOffset
                #expect(error.message.contains(partial.name), "\(error)")
            }
            #expect(error.offset == expected, "cut at \(cut): \(error)")
        }
    }

    @Test func headerLengthBeyondFile() {
        let error = Self.loadError(Self.raw("{}", length: 100))
        #expect(error?.code == .truncated)
        #expect(error?.offset == 8)
    }

    @Test(arguments: [UInt64.max, UInt64(Int.max), UInt64(NetworkModel.maxHeaderLength) + 1,
                       UInt64(SafetensorsFile.defaultMaxHeaderLength) + 1, 1 << 40])
    func headerLengthHuge(length: UInt64) {
        let error = Self.loadError(Self.raw("{}", length: length))
        #expect(error?.code == .tooLarge)
        #expect(error?.offset == 0)
    }

    /// Headers that are not JSON; `§` marks the byte the error must point at (and is removed).
    @Test(arguments: [
        #"§"#, #"§[1, 2]"#, #"{"__metadata__": §"#, #"{"__metadata__":{"a":"x",§}}"#, #"{"__metadata__" §1}"#,
        #"{"__metadata__":{"a":"§\x"}}"#, #"{"__metadata__":{"a":"§\ud800"}}"#, #"{"__metadata__":{"a":"§\udc00x"}}"#,
        "{\"__metadata__\":{\"a\":\"§\u{1}\"}}", #"{} §x"#, #"{"__metadata__":{"a":"x", §"a":"y"}}"#,
        #"{"__metadata__":{"a":§"xyz"#, #"{"t":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},§}"#,
        #"{"__metadata__":{"a":"x"} §"b"}"#, #"{"__metadata__":{"a":"x"}, "t":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}§]"#,
    ])
    func headerNotJSON(marked: String) throws {
        let marker = try #require(marked.range(of: "§"))
        let offset = 8 + marked.utf8.distance(from: marked.startIndex, to: marker.lowerBound)
        let header = marked.replacingOccurrences(of: "§", with: "")
        let error = Self.loadError(Self.raw(header, data: [0, 0, 0, 0]))
        #expect(error?.code == .badHeader, "\(header): \(String(describing: error))")
        #expect(error?.offset == offset, "\(header): \(String(describing: error))")
    }

    @Test func headerNotUTF8() {
        var bytes = Self.raw("{\"aXb\": 1}")
        bytes[11] = 0xFF  // inside the key, which starts at 9
        let error = Self.loadError(bytes)
        #expect(error?.code == .badHeader)
        #expect(error?.offset == 9)
    }

    @Test func headerNestedTooDeeply() {
        // Nothing in a header nests beyond entry -> shape: deeper values fail their schema at once.
        for depth in [65, 100_000] {
            let deep = String(repeating: "[", count: depth) + String(repeating: "]", count: depth)
            #expect(Self.loadError(Self.raw("{\"__metadata__\":{\"a\":\(deep)}}"))?.code == .badHeader)
            #expect(Self.loadError(Self.raw("{\"__metadata__\":\(deep)}"))?.code == .badHeader)
            #expect(Self.loadError(Self.raw("{\"t\":{\"shape\":\(deep)}}"))?.code == .badTensor)
            #expect(Self.loadError(Self.raw("{\"t\":\(deep)}"))?.code == .badTensor)
            // JSON inside metadata strings is checked with a nesting limit.
            #expect(throws: HeaderJSON.ParseError.self) { try HeaderJSON.check(deep, maxNesting: 64) }
        }
        #expect(throws: Never.self) { try HeaderJSON.check("[{\"a\":[1,true,null,\"x\",-0.5e3]}]", maxNesting: 3) }
        #expect(throws: HeaderJSON.ParseError.self) { try HeaderJSON.check("[{\"a\":[[]]}]", maxNesting: 3) }
    }

    @Test func headerNotAnObject() {
        // The header must be an object: one that starts with '{' but is something else cannot be JSON.
        for header in ["[]", "\"{\"", " {}", "null"] {
            let error = Self.loadError(Self.raw(header))
            #expect(error?.code == .badHeader, "\(header)")
            #expect(error?.offset == 8)
        }
    }

    @Test func metadataNotStrings() {
        let header = "{\"__metadata__\":{\"format\":1}}"
        let error = Self.loadError(Self.raw(header))
        #expect(error?.code == .badHeader)
        #expect(error?.offset == Self.offset(of: "1}", in: header))
        #expect(Self.loadError(Self.raw("{\"__metadata__\":[]}"))?.code == .badHeader)
    }

    @Test func unknownDtype() {
        let header = "{\"t\":{\"dtype\":\"F4X\",\"shape\":[1],\"data_offsets\":[0,4]}}"
        let error = Self.loadError(Self.raw(header, data: [0, 0, 0, 0]))
        #expect(error?.code == .badTensor)
        #expect(error?.offset == Self.offset(of: "\"F4X\"", in: header))
        #expect(error?.message.contains("t: unknown dtype \"F4X\"") == true)
    }

    @Test(arguments: [
        "{\"t\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}",
        "{\"t\":{\"dtype\":\"F32\",\"shape\":[1.0],\"data_offsets\":[0,4]}}",
        "{\"t\":{\"dtype\":\"F32\",\"shape\":1,\"data_offsets\":[0,4]}}",
        "{\"t\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0]}}",
        "{\"t\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,0]}}",
        "{\"t\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,99999999999999999999]}}",
        "{\"t\":{\"dtype\":\"F32\",\"shape\":[1]}}",
        "{\"t\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4],\"extra\":0}}",
        "{\"t\":{\"dtype\":7,\"shape\":[1],\"data_offsets\":[0,4]}}",
        "{\"t\":[]}",
        "{\"t\":{\"dtype\":\"F32\",\"shape\":[4611686018427387904,4],\"data_offsets\":[0,4]}}",
    ])
    func malformedEntry(header: String) {
        let error = Self.loadError(Self.raw(header, data: [0, 0, 0, 0]))
        #expect(error?.code == .badTensor, "\(header)")
        #expect(error?.message.hasPrefix("t: ") == true, "\(String(describing: error))")
        #expect((error?.offset ?? 0) > 8)
    }

    @Test func shapeOffsetMismatch() {
        let header = "{\"t\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,4]}}"
        let error = Self.loadError(Self.raw(header, data: [0, 0, 0, 0]))
        #expect(error?.code == .badTensor)
        #expect(error?.offset == Self.offset(of: "[0,4]", in: header))
        #expect(error?.message.contains("needs 8 bytes") == true)
    }

    @Test func overlappingOffsets() {
        let header = "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
            + "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}"
        let error = Self.loadError(Self.raw(header, data: [UInt8](repeating: 0, count: 12)))
        #expect(error?.code == .badTensor)
        #expect(error?.offset == 8 + header.utf8.count + 4)
        #expect(error?.message == "b: data overlaps a")
    }

    @Test func gapBetweenTensors() {
        let header = "{\"a\":{\"dtype\":\"I8\",\"shape\":[2],\"data_offsets\":[0,2]},"
            + "\"b\":{\"dtype\":\"I8\",\"shape\":[2],\"data_offsets\":[3,5]}}"
        let error = Self.loadError(Self.raw(header, data: [UInt8](repeating: 0, count: 5)))
        #expect(error?.code == .badTensor)
        #expect(error?.offset == 8 + header.utf8.count + 3)
    }

    @Test func offsetsPastTheEnd() {
        let header = "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
            + "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[1000,1004]}}"
        let error = Self.loadError(Self.raw(header, data: [UInt8](repeating: 0, count: 8)))
        #expect(error?.code == .truncated)
        #expect(error?.offset == 8 + header.utf8.count + 8)
        #expect(error?.message.hasPrefix("b: ") == true)
    }

    @Test func bytesAfterTheLastTensor() {
        let header = "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}"
        let error = Self.loadError(Self.raw(header, data: [UInt8](repeating: 0, count: 6)))
        #expect(error?.code == .badHeader)
        #expect(error?.offset == 8 + header.utf8.count + 4)
    }

    @Test func containerReadsOtherDtypes() throws {
        // Header padded with spaces, unusual dtypes, a scalar and an empty tensor.
        let header = "{\"s\":{\"dtype\":\"F64\",\"shape\":[],\"data_offsets\":[0,8]},"
            + "\"e\":{\"dtype\":\"BOOL\",\"shape\":[0,3],\"data_offsets\":[8,8]},"
            + "\"h\":{\"dtype\":\"I16\",\"shape\":[2],\"data_offsets\":[8,12]}}   "
        let file = try SafetensorsFile(parsing: Self.raw(header, data: [UInt8](repeating: 1, count: 12)))
        #expect(file.tensors.map(\.name) == ["s", "e", "h"])
        #expect(file.tensors.map(\.elementCount) == [1, 0, 2])
        #expect(file.metadata.isEmpty)
        #expect(throws: ModelError.self) { try file.floats(file.tensors[0]) }
    }

    // MARK: - Model errors

    @Test func missingTensor() {
        let model = Self.model()
        let bytes = Self.assemble(Self.entries(model).filter { $0.name != "layers.1.bias" },
                                  metadata: Self.standardMetadata(model))
        let error = Self.loadError(bytes)
        #expect(error?.code == .badTensor)
        #expect(error?.message == "layers.1.bias is missing")
    }

    @Test func extraTensor() {
        let model = Self.model()
        let bytes = Self.assemble(Self.entries(model) + [Entry(name: "layers.2.weight", floats: [1], shape: [1])],
                                  metadata: Self.standardMetadata(model))
        let error = Self.loadError(bytes)
        #expect(error?.code == .badTensor)
        #expect(error?.message.hasPrefix("layers.2.weight: unexpected tensor") == true)
    }

    @Test func wrongShapeForDescription() throws {
        let model = Self.model()
        var entries = Self.entries(model)
        let i = entries.firstIndex { $0.name == "layers.1.bias" }!
        entries[i].floats!.append(0)
        entries[i].shape = [5]
        let bytes = Self.assemble(entries, metadata: Self.standardMetadata(model))
        let error = try #require(Self.loadError(bytes))
        #expect(error.code == .badTensor)
        #expect(error.message == "layers.1.bias: shape [5] but the description needs [4]")
        #expect(try error.offset == SafetensorsFile(parsing: bytes).tensor(named: "layers.1.bias")?.headerOffset)

        // Same count, transposed.
        entries = Self.entries(model)
        entries[0].shape.reverse()
        #expect(Self.loadError(Self.assemble(entries, metadata: Self.standardMetadata(model)))?.code == .badTensor)
    }

    @Test func wrongDtype() {
        let model = Self.model()
        var entries = Self.entries(model)
        let i = entries.firstIndex { $0.name == "layers.0.readout.bias" }!
        entries[i].floats = entries[i].int8s!.map(Float.init)
        entries[i].int8s = nil
        let error = Self.loadError(Self.assemble(entries, metadata: Self.standardMetadata(model)))
        #expect(error?.code == .badTensor)
        #expect(error?.message == "layers.0.readout.bias: dtype F32 but a model needs I8")
    }

    @Test(arguments: [Float.nan, .infinity, -.infinity])
    func nonFiniteWeights(value: Float) throws {
        var model = Self.model(.real)
        model.layers[1].weights[5] = value
        let bytes = Self.assemble(Self.entries(model), metadata: Self.standardMetadata(model))
        let error = try #require(Self.loadError(bytes))
        #expect(error.code == .invalidParameters)
        #expect(error.message.hasPrefix("layers.1.weight[5] is "))
        #expect(try error.offset == SafetensorsFile(parsing: bytes).tensor(named: "layers.1.weight")!.fileOffset + 20)

        model = Self.model(.real)
        model.layers[0].bias[2] = value
        let biasError = Self.loadError(Self.assemble(Self.entries(model), metadata: Self.standardMetadata(model)))
        #expect(biasError?.code == .invalidParameters)
        #expect(biasError?.message.hasPrefix("layers.0.bias[2] is ") == true)
    }

    @Test(arguments: [Int8(0), 2, -128])
    func readoutNotSign(value: Int8) throws {
        var model = Self.model()
        model.layers[0].readoutWeights[3] = value
        let bytes = Self.assemble(Self.entries(model), metadata: Self.standardMetadata(model))
        let error = try #require(Self.loadError(bytes))
        #expect(error.code == .invalidParameters)
        #expect(error.message == "layers.0.readout.weight[3] is \(value), not +-1")
        #expect(try error.offset == SafetensorsFile(parsing: bytes).tensor(named: "layers.0.readout.weight")!.fileOffset + 3)

        model = Self.model()
        model.layers[1].readoutBias[0] = value
        let biasError = Self.loadError(Self.assemble(Self.entries(model), metadata: Self.standardMetadata(model)))
        #expect(biasError?.code == .invalidParameters)
    }

    @Test(arguments: [nil, "pt", "bisnn-model-2", ""])
    func missingOrWrongFormat(format: String?) {
        let model = Self.model()
        var metadata = Self.standardMetadata(model)
        metadata["format"] = format
        let error = Self.loadError(Self.assemble(Self.entries(model), metadata: metadata))
        #expect(error?.code == .badMetadata)
        #expect(error?.message.contains("format") == true)
        // No __metadata__ at all.
        #expect(Self.loadError(Self.assemble(Self.entries(model), metadata: [:]))?.code == .badMetadata)
    }

    @Test(arguments: [
        nil, "", "{", "[]", "{\"input\": 1}", "deep",
        #"{"input":{"channels":2,"height":3,"width":4},"layers":[],"class_names":["a","b"],"bin_width_us":1,"burn_in_steps":0,"weight_kind":"quantum"}"#,
    ])
    func badNetworkJSON(text: String?) {
        let model = Self.model()
        var metadata = Self.standardMetadata(model)
        metadata["network"] = text == "deep" ? String(repeating: "[", count: 10_000) : text
        let error = Self.loadError(Self.assemble(Self.entries(model), metadata: metadata))
        #expect(error?.code == .badMetadata, "\(String(describing: error))")
        #expect(error?.message.contains("network") == true)
    }

    @Test func badMetadataJSON() {
        let model = Self.model()
        for text in ["{", "{\"rule\": 3}", "[]", String(repeating: "{\"a\":", count: 5_000)] {
            var metadata = Self.standardMetadata(model)
            metadata["metadata"] = text
            let error = Self.loadError(Self.assemble(Self.entries(model), metadata: metadata))
            #expect(error?.code == .badMetadata)
            #expect(error?.message.contains("metadata") == true)
        }
    }

    @Test func descriptionFailsValidation() {
        let model = Self.model()
        func load(_ change: (inout NetworkDescription) -> Void) -> ModelError? {
            var network = model.network
            change(&network)
            var metadata = Self.standardMetadata(model)
            metadata["network"] = Self.json(network)
            return Self.loadError(Self.assemble(Self.entries(model), metadata: metadata))
        }
        let cases: [(String, (inout NetworkDescription) -> Void)] = [
            ("layers[1].size", { $0.layers[1].size = 0 }),
            ("class_names", { $0.classNames = ["only"] }),
            ("class_names[1]", { $0.classNames[1] = "a" }),
            ("layers[0].tau_mem", { $0.layers[0].timeConstants.membrane = -1 }),
            ("input.width", { $0.input.width = 1 << 23 }),
            // Each dimension in range, but their product would overflow Int.
            ("input", { $0.input = InputGeometry(channels: 1 << 22, height: 1 << 22, width: 1 << 22) }),
            ("layers", { $0.layers = Array(repeating: .dense(65536), count: 5) }),
        ]
        for (key, change) in cases {
            let error = load(change)
            #expect(error?.code == .invalidDescription, "\(key): \(String(describing: error))")
            #expect(error?.message.hasPrefix(key) == true, "\(key): \(String(describing: error))")
            #expect(error?.file == "m.safetensors")
        }
    }

    // MARK: - Files

    @Test func loadMissingOrUnreadable() throws {
        let dir = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let missing = dir.appendingPathComponent("none.safetensors").path
        do throws(ModelError) {
            _ = try NetworkModel.load(from: missing)
            Issue.record("loaded a missing file")
        } catch {
            #expect(error.code == .io)
            #expect(error.file == missing)
            #expect(error.description.contains(missing))
        }
        do throws(ModelError) {
            _ = try NetworkModel.load(from: dir.path)
            Issue.record("loaded a directory")
        } catch {
            #expect(error.code == .io)
        }
        // A sparse file over the cap is refused before reading.
        let big = dir.appendingPathComponent("big.safetensors").path
        #expect(FileManager.default.createFile(atPath: big, contents: nil))
        let handle = try #require(FileHandle(forWritingAtPath: big))
        try handle.truncate(atOffset: UInt64(NetworkModel.maxFileSize) + 1)
        try handle.close()
        do throws(ModelError) {
            _ = try NetworkModel.load(from: big)
            Issue.record("loaded a file over the cap")
        } catch {
            #expect(error.code == .tooLarge)
        }
        // Writing into a missing directory.
        #expect(throws: ModelError.self) { try Self.model().write(to: dir.path + "/no/such/dir/m.safetensors") }
    }

    // MARK: - Report helpers

    @Test func packedAndFloatSizes() {
        // Layer 0: 7 x 24 inputs, layer 1: 4 x 7; 3 classes.
        let binary = Self.model(.sign)
        let layer0 = 7 * 8 + 7 * 4 + (3 * 8 + 8)
        let layer1 = 4 * 8 + 4 * 4 + (3 * 8 + 8)
        #expect(binary.packedWeightByteCount == layer0 + layer1)
        let parameters = (7 * 24 + 7) + (4 * 7 + 4) + 3 * 8 + 3 * 5
        #expect(binary.float32ByteCount == 4 * parameters)
        #expect(Self.model(.real).packedWeightByteCount == 4 * parameters)
    }

    @Test func certaintyHistogramBins() {
        var model = Self.model(.bernoulli)
        let lambdas: [Float] = [0, -0.05, 0.2, -1, 3, 30, -30]  // |tanh|: 0, 0.05, 0.197, 0.76, 0.995, 1, 1
        model.layers[0].weights = Array(lambdas + [Float](repeating: 0, count: model.layers[0].weights.count - 7))
        model.layers[1].weights = [Float](repeating: 0.5, count: model.layers[1].weights.count)  // 0.46
        let histogram = model.certaintyHistogram()
        #expect(histogram.count == 10)
        #expect(histogram.reduce(0, +) == model.layers[0].weights.count + model.layers[1].weights.count)
        #expect(histogram[0] == model.layers[0].weights.count - 7 + 2)
        #expect(histogram[1] == 1)
        #expect(histogram[4] == model.layers[1].weights.count)
        #expect(histogram[7] == 1)
        #expect(histogram[9] == 3)
        #expect(model.certaintyHistogram(bins: 0) == [])
        #expect(model.certaintyHistogram(bins: 1) == [histogram.reduce(0, +)])
    }

    // MARK: - Hostile input

    static let mutantCount =
        ProcessInfo.processInfo.environment["BISNN_MODEL_MUTANTS"].flatMap { Int($0) }.map { max(1, $0) } ?? 3000

    static let mutantSeed =
        ProcessInfo.processInfo.environment["BISNN_FUZZ_SEED"].flatMap { UInt64($0) } ?? 0x4D0D_E1F1

    @Test func mutantsLoadOrThrow() {
        let valid = Self.model().safetensorsBytes()
        let headerEnd = (try? SafetensorsFile(parsing: valid))?.dataStart ?? valid.count
        var rng = SplitMix64(state: Self.mutantSeed)
        var loaded = 0
        var codes: [String: Int] = [:]
        let structural = Array("{}[],:\"0123456789-.e ".utf8)
        for index in 0..<Self.mutantCount {
            var bytes = valid
            let mutations = 1 + Int(rng.next() % 3)
            for _ in 0..<mutations {
                // Most mutations aim at the header, where the structure is.
                let inHeader = rng.next() % 4 != 0
                let span = inHeader ? max(1, min(headerEnd, bytes.count)) : max(1, bytes.count)
                let position = Int(rng.next() % UInt64(span))
                switch rng.next() % 8 {
                case 0 where !bytes.isEmpty:
                    bytes[min(position, bytes.count - 1)] ^= UInt8(1 << (rng.next() % 8))
                case 1 where !bytes.isEmpty:
                    bytes[min(position, bytes.count - 1)] = UInt8(truncatingIfNeeded: rng.next())
                case 2 where !bytes.isEmpty:
                    bytes[min(position, bytes.count - 1)] = structural[Int(rng.next() % UInt64(structural.count))]
                case 3:
                    bytes.removeSubrange(min(position, bytes.count)...)
                case 4:
                    let count = 1 + Int(rng.next() % 16)
                    bytes.insert(contentsOf: (0..<count).map { _ in UInt8(truncatingIfNeeded: rng.next()) },
                                 at: min(position, bytes.count))
                case 5 where bytes.count >= 8:
                    let length: UInt64 = switch rng.next() % 4 {
                    case 0: rng.next()
                    case 1: rng.next() % UInt64(bytes.count + 16)
                    case 2: UInt64(headerEnd - 8) &+ (rng.next() % 17) &- 8
                    default: UInt64(NetworkModel.maxHeaderLength) &+ (rng.next() % 3) &- 1
                    }
                    for i in 0..<8 { bytes[i] = UInt8(truncatingIfNeeded: length >> (8 * UInt64(i))) }
                case 6 where !bytes.isEmpty:
                    let end = min(bytes.count, position + 1 + Int(rng.next() % 32))
                    bytes.removeSubrange(min(position, end)..<end)
                default:
                    let p = min(position, bytes.count)
                    let end = min(bytes.count, p + 1 + Int(rng.next() % 16))
                    bytes.insert(contentsOf: Array(bytes[p..<end]), at: p)
                }
            }
            do throws(ModelError) {
                let model = try NetworkModel(safetensors: bytes, file: "mutant-\(index)")
                do throws(ModelError) {
                    try model.validate()
                } catch {
                    Issue.record("mutant \(index) loaded but does not validate: \(error)")
                }
                loaded += 1
            } catch {
                codes[error.code.description, default: 0] += 1
                #expect(error.file == "mutant-\(index)")
                #expect(!error.message.isEmpty)
                if let offset = error.offset {
                    #expect((0...bytes.count).contains(offset), "mutant \(index): \(error)")
                }
            }
        }
        // Random bytes, and random bytes behind a plausible header length.
        for index in 0..<(Self.mutantCount / 10) {
            let count = Int(rng.next() % 256)
            var bytes = (0..<count).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            if count > 9, index % 2 == 0 {
                let length = UInt64(rng.next() % UInt64(count - 8))
                for i in 0..<8 { bytes[i] = UInt8(truncatingIfNeeded: length >> (8 * UInt64(i))) }
                bytes[8] = UInt8(ascii: "{")
            }
            #expect(Self.loadError(bytes) != nil)
        }
        if ProcessInfo.processInfo.environment["BISNN_FUZZ_VERBOSE"] != nil {
            print("model mutants: \(Self.mutantCount), loaded \(loaded), errors \(codes.sorted { $0.key < $1.key })")
        }
        // Most mutants are rejected, for a spread of reasons.
        #expect(codes.count >= 5, "\(codes)")
        #expect(loaded < Self.mutantCount / 2, "\(loaded) loaded, \(codes)")
    }
}
