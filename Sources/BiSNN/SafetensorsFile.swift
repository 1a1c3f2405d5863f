/// Element types of the safetensors format, by their names in the header.
///
/// Reading knows every byte-sized type (their element sizes); ``SafetensorsFile`` converts `F32` and `I8`
/// tensors to Swift arrays, and ``SafetensorsWriter`` writes those two.
public enum SafetensorsDType: String, Sendable, Hashable, CaseIterable {
    /// Booleans, one byte each.
    case bool = "BOOL"
    /// Unsigned 8-bit integers.
    case uint8 = "U8"
    /// Signed 8-bit integers.
    case int8 = "I8"
    /// 8-bit floats, 5 exponent and 2 mantissa bits.
    case float8E5M2 = "F8_E5M2"
    /// 8-bit floats, 4 exponent and 3 mantissa bits.
    case float8E4M3 = "F8_E4M3"
    /// Signed 16-bit integers.
    case int16 = "I16"
    /// Unsigned 16-bit integers.
    case uint16 = "U16"
    /// IEEE half-precision floats.
    case float16 = "F16"
    /// bfloat16 (the top half of a float32).
    case bfloat16 = "BF16"
    /// Signed 32-bit integers.
    case int32 = "I32"
    /// Unsigned 32-bit integers.
    case uint32 = "U32"
    /// IEEE single-precision floats.
    case float32 = "F32"
    /// Signed 64-bit integers.
    case int64 = "I64"
    /// Unsigned 64-bit integers.
    case uint64 = "U64"
    /// IEEE double-precision floats.
    case float64 = "F64"

    /// Bytes per element.
    public var elementSize: Int {
        switch self {
        case .bool, .uint8, .int8, .float8E5M2, .float8E4M3: 1
        case .int16, .uint16, .float16, .bfloat16: 2
        case .int32, .uint32, .float32: 4
        case .int64, .uint64, .float64: 8
        }
    }
}

/// One tensor entry of a safetensors header, checked against its dtype, shape and the data buffer.
public struct SafetensorsTensor: Sendable, Hashable {
    /// The tensor's name (its key in the header).
    public var name: String
    /// Element type.
    public var dtype: SafetensorsDType
    /// Dimensions, outermost first (row-major); empty for a scalar.
    public var shape: [Int]
    /// Byte range in the data buffer (relative to its start, as in the header's `data_offsets`).
    public var dataOffsets: Range<Int>
    /// Absolute file offset of the tensor's data.
    public var fileOffset: Int
    /// Absolute file offset of the tensor's entry in the JSON header.
    public var headerOffset: Int

    /// Elements: the product of ``shape`` (1 for a scalar).
    public var elementCount: Int { dataOffsets.count / dtype.elementSize }
}

/// A safetensors container held in memory, its header parsed and checked.
///
/// Layout: an 8-byte little-endian header length N, N bytes of UTF-8 JSON (an object mapping tensor names
/// to `{"dtype", "shape", "data_offsets"}`, plus an optional `"__metadata__"` object of strings; it may
/// end with spaces), then the data buffer, which the tensors cover exactly, without overlap or gap.
///
/// Parsing never traps. The header is read against its schema (no generic JSON tree is built), so what it
/// allocates is a small multiple of the header's length, which is capped (``defaultMaxHeaderLength``, or
/// less for a caller that knows its headers are small). Every problem is a ``ModelError`` naming the
/// tensor or key, with the file and the absolute byte offset:
///
/// | problem | code | offset |
/// |---|---|---|
/// | fewer than 8 bytes | ``ModelError/Code/truncated`` | 0 |
/// | header length over the cap | ``ModelError/Code/tooLarge`` | 0 |
/// | header length past the end of the file | ``ModelError/Code/truncated`` | 8 |
/// | header not UTF-8 JSON, not an object, duplicate key, `__metadata__` not an object of strings | ``ModelError/Code/badHeader`` | the offending byte |
/// | entry without a known dtype, with a bad shape or offsets, unknown fields, or offsets that disagree with dtype x shape | ``ModelError/Code/badTensor`` | the entry's value in the header |
/// | tensor data past the end of the file | ``ModelError/Code/truncated`` | the tensor's data (or the end of the file) |
/// | tensors overlapping or leaving a gap | ``ModelError/Code/badTensor`` | the tensor's data |
/// | bytes after the last tensor | ``ModelError/Code/badHeader`` | the first such byte |
public struct SafetensorsFile: Sendable {
    /// Largest header accepted by default, in bytes (the reference implementation's limit).
    public static let defaultMaxHeaderLength = 100_000_000
    /// Most dimensions a tensor may have (NumPy's limit).
    public static let maxRank = 64

    /// The whole file.
    public let bytes: [UInt8]
    /// The file's path, when known (for errors).
    public let file: String?
    /// Absolute offset of the data buffer: 8 + header length.
    public let dataStart: Int
    /// The `__metadata__` strings (empty when absent).
    public let metadata: [String: String]
    /// The tensors, in header order.
    public let tensors: [SafetensorsTensor]

    /// Parses and checks `bytes` as a safetensors file; `file` names it in errors. A header longer than
    /// `maxHeaderLength` is refused (``ModelError/Code/tooLarge``).
    public init(
        parsing bytes: [UInt8], file: String? = nil, maxHeaderLength: Int = defaultMaxHeaderLength
    ) throws(ModelError) {
        func failure(_ code: ModelError.Code, _ message: String, at offset: Int?) -> ModelError {
            ModelError(code, message, file: file, offset: offset)
        }
        guard bytes.count >= 8 else {
            throw failure(.truncated, "\(bytes.count) bytes; a safetensors file starts with an 8-byte header length",
                          at: 0)
        }
        var declared: UInt64 = 0
        for i in 0..<8 { declared |= UInt64(bytes[i]) << (8 * UInt64(i)) }
        guard declared <= UInt64(max(0, maxHeaderLength)) else {
            throw failure(.tooLarge, "header length \(declared) exceeds \(maxHeaderLength) bytes", at: 0)
        }
        let headerLength = Int(declared)
        guard headerLength <= bytes.count - 8 else {
            throw failure(.truncated, "header length \(headerLength) but only \(bytes.count - 8) bytes follow", at: 8)
        }
        let dataStart = 8 + headerLength
        let dataLength = bytes.count - dataStart
        guard headerLength > 0, bytes[8] == UInt8(ascii: "{") else {
            throw failure(.badHeader, "the header does not start with '{'", at: 8)
        }

        let header: HeaderJSON.Header
        do throws(HeaderJSON.ParseError) {
            header = try HeaderJSON.parseHeader(bytes, 8..<dataStart, maxRank: Self.maxRank)
        } catch {
            throw failure(error.code ?? .badHeader, error.code == nil ? "header JSON: \(error.message)" : error.message,
                          at: error.position)
        }
        var tensors: [SafetensorsTensor] = []
        tensors.reserveCapacity(header.tensors.count)
        for raw in header.tensors {
            tensors.append(try Self.tensor(raw, dataStart: dataStart, file: file))
        }

        // Byte ranges, in data order: inside the buffer, contiguous from 0, covering it all.
        let order = tensors.indices.sorted {
            (tensors[$0].dataOffsets.lowerBound, tensors[$0].dataOffsets.upperBound)
                < (tensors[$1].dataOffsets.lowerBound, tensors[$1].dataOffsets.upperBound)
        }
        var covered = 0
        var previous: String?
        for i in order {
            let t = tensors[i]
            if t.dataOffsets.upperBound > dataLength {
                throw failure(.truncated, "\(t.name): data_offsets end \(t.dataOffsets.upperBound) but the data buffer "
                              + "has \(dataLength) bytes", at: dataStart + min(t.dataOffsets.lowerBound, dataLength))
            }
            if t.dataOffsets.lowerBound < covered {
                throw failure(.badTensor, "\(t.name): data overlaps \(previous ?? "another tensor")", at: t.fileOffset)
            }
            if t.dataOffsets.lowerBound > covered {
                throw failure(.badTensor, "\(t.name): \(t.dataOffsets.lowerBound - covered) bytes of gap before its data",
                              at: t.fileOffset)
            }
            covered = t.dataOffsets.upperBound
            previous = t.name
        }
        if covered != dataLength {
            throw failure(.badHeader, "the tensors cover \(covered) of the \(dataLength) data bytes", at: dataStart + covered)
        }

        self.bytes = bytes
        self.file = file
        self.dataStart = dataStart
        self.metadata = header.metadata
        self.tensors = tensors
    }

    /// Checks an entry's byte count against its dtype and shape (its range not yet against the buffer).
    private static func tensor(
        _ raw: HeaderJSON.RawTensor, dataStart: Int, file: String?
    ) throws(ModelError) -> SafetensorsTensor {
        let (begin, end) = raw.offsets
        func fail(_ why: String) -> ModelError {
            ModelError(.badTensor, "\(raw.name): \(why)", file: file, offset: raw.offsetsPosition)
        }
        guard begin <= end else { throw fail("data_offsets [\(begin), \(end)] end before they begin") }
        var byteCount = raw.dtype.elementSize
        for dimension in raw.shape {
            let (product, overflow) = byteCount.multipliedReportingOverflow(by: dimension)
            guard !overflow else {
                throw ModelError(.badTensor, "\(raw.name): shape \(raw.shape) is too large", file: file,
                                 offset: raw.shapePosition)
            }
            byteCount = product
        }
        guard end - begin == byteCount else {
            throw fail("\(raw.dtype.rawValue) \(raw.shape) needs \(byteCount) bytes but data_offsets [\(begin), \(end)] "
                       + "hold \(end - begin)")
        }
        let (fileOffset, overflow) = dataStart.addingReportingOverflow(begin)
        return SafetensorsTensor(
            name: raw.name, dtype: raw.dtype, shape: raw.shape, dataOffsets: begin..<end,
            fileOffset: overflow ? Int.max : fileOffset, headerOffset: raw.position)
    }

    /// The tensor called `name`, if there is one.
    public func tensor(named name: String) -> SafetensorsTensor? {
        tensors.first { $0.name == name }
    }

    /// The raw little-endian bytes of `tensor`.
    public func data(of tensor: SafetensorsTensor) -> ArraySlice<UInt8> {
        bytes[(dataStart + tensor.dataOffsets.lowerBound)..<(dataStart + tensor.dataOffsets.upperBound)]
    }

    /// The values of an `F32` tensor, flattened row-major.
    public func floats(_ tensor: SafetensorsTensor) throws(ModelError) -> [Float] {
        guard tensor.dtype == .float32 else {
            throw ModelError(.badTensor, "\(tensor.name): dtype \(tensor.dtype.rawValue), F32 expected", file: file,
                             offset: tensor.headerOffset)
        }
        let count = tensor.elementCount
        let start = dataStart + tensor.dataOffsets.lowerBound
        return [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
            bytes.withUnsafeBytes { raw in
                for i in 0..<count {
                    let bits = raw.loadUnaligned(fromByteOffset: start + 4 * i, as: UInt32.self)
                    buffer[i] = Float(bitPattern: UInt32(littleEndian: bits))
                }
            }
            initialized = count
        }
    }

    /// The values of an `I8` tensor, flattened row-major.
    public func int8s(_ tensor: SafetensorsTensor) throws(ModelError) -> [Int8] {
        guard tensor.dtype == .int8 else {
            throw ModelError(.badTensor, "\(tensor.name): dtype \(tensor.dtype.rawValue), I8 expected", file: file,
                             offset: tensor.headerOffset)
        }
        return data(of: tensor).map { Int8(bitPattern: $0) }
    }
}

/// Builds a safetensors file: `F32` and `I8` tensors and `__metadata__` strings.
///
/// Tensors are laid out by decreasing element size, then by name, after a header padded with spaces to a
/// multiple of 8 bytes, so every tensor is aligned to its element size in the file.
public struct SafetensorsWriter: Sendable {
    private struct Entry: Sendable {
        var name: String
        var dtype: SafetensorsDType
        var shape: [Int]
        var data: [UInt8]
    }

    /// The `__metadata__` strings.
    public var metadata: [String: String]
    private var entries: [Entry] = []

    /// An empty file with `metadata`.
    public init(metadata: [String: String] = [:]) {
        self.metadata = metadata
    }

    /// Adds an `F32` tensor of `shape` (row-major `values`; the product of `shape` must be `values.count`).
    public mutating func append(_ name: String, float32 values: [Float], shape: [Int]) {
        var data: [UInt8] = []
        data.reserveCapacity(4 * values.count)
        for value in values {
            let bits = value.bitPattern
            data.append(contentsOf: [UInt8(truncatingIfNeeded: bits), UInt8(truncatingIfNeeded: bits >> 8),
                                     UInt8(truncatingIfNeeded: bits >> 16), UInt8(truncatingIfNeeded: bits >> 24)])
        }
        append(Entry(name: name, dtype: .float32, shape: shape, data: data), count: values.count)
    }

    /// Adds an `I8` tensor of `shape` (row-major `values`; the product of `shape` must be `values.count`).
    public mutating func append(_ name: String, int8 values: [Int8], shape: [Int]) {
        append(Entry(name: name, dtype: .int8, shape: shape, data: values.map { UInt8(bitPattern: $0) }),
               count: values.count)
    }

    private mutating func append(_ entry: Entry, count: Int) {
        precondition(entry.name != "__metadata__", "__metadata__ is not a tensor name")
        precondition(!entries.contains { $0.name == entry.name }, "tensor \(entry.name) added twice")
        precondition(entry.shape.allSatisfy { $0 >= 0 } && entry.shape.reduce(1, *) == count,
                     "shape \(entry.shape) does not hold \(count) values")
        entries.append(entry)
    }

    /// The file.
    public func bytes() -> [UInt8] {
        let ordered = entries.sorted {
            ($0.dtype.elementSize, $1.name) > ($1.dtype.elementSize, $0.name)
        }
        var header = "{"
        var members: [String] = []
        if !metadata.isEmpty {
            let fields = metadata.keys.sorted().map { "\(jsonString($0)):\(jsonString(metadata[$0]!))" }
            members.append("\"__metadata__\":{\(fields.joined(separator: ","))}")
        }
        var offset = 0
        for entry in ordered {
            let shape = entry.shape.map(String.init).joined(separator: ",")
            members.append("\(jsonString(entry.name)):{\"dtype\":\"\(entry.dtype.rawValue)\",\"shape\":[\(shape)],"
                           + "\"data_offsets\":[\(offset),\(offset + entry.data.count)]}")
            offset += entry.data.count
        }
        header += members.joined(separator: ",") + "}"
        var headerBytes = Array(header.utf8)
        while headerBytes.count % 8 != 0 { headerBytes.append(UInt8(ascii: " ")) }

        var out: [UInt8] = []
        out.reserveCapacity(8 + headerBytes.count + offset)
        let length = UInt64(headerBytes.count)
        for i in 0..<8 { out.append(UInt8(truncatingIfNeeded: length >> (8 * UInt64(i)))) }
        out += headerBytes
        for entry in ordered { out += entry.data }
        return out
    }
}

/// `text` as a JSON string literal.
private func jsonString(_ text: String) -> String {
    var out = "\""
    for scalar in text.unicodeScalars {
        switch scalar {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case "\r": out += "\\r"
        case "\t": out += "\\t"
        case _ where scalar.value < 0x20:
            let hex = String(scalar.value, radix: 16)
            out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
        default: out.unicodeScalars.append(scalar)
        }
    }
    return out + "\""
}
