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

/// A strict JSON reader for safetensors headers, driven by their schema: it builds only the metadata
/// strings and the tensor entries (no generic tree), keeps byte positions for errors and offsets exact,
/// rejects duplicate keys, invalid UTF-8 and lone surrogates, and bounds nesting. ``check(_:maxNesting:)``
/// validates any JSON text without building anything.
enum HeaderJSON {
    /// A syntax error (`code` nil: bad header) or a schema error with its code and a message naming the key.
    struct ParseError: Error {
        var message: String
        var position: Int
        var code: ModelError.Code? = nil
    }

    /// One tensor entry as written, positions absolute.
    struct RawTensor: Sendable {
        var name: String
        var position: Int
        var dtype: SafetensorsDType
        var shape: [Int]
        var shapePosition: Int
        var offsets: (Int, Int)
        var offsetsPosition: Int
    }

    struct Header: Sendable {
        var metadata: [String: String] = [:]
        var tensors: [RawTensor] = []
    }

    /// Reads `bytes[range]` as a safetensors header.
    static func parseHeader(_ bytes: [UInt8], _ range: Range<Int>, maxRank: Int) throws(ParseError) -> Header {
        try bytes.withUnsafeBufferPointer { (buffer) throws(ParseError) -> Header in
            var parser = Parser(bytes: buffer, index: range.lowerBound, end: range.upperBound, maxNesting: 0)
            var header = Header()
            parser.skipWhitespace()
            guard parser.peek == UInt8(ascii: "{") else {
                throw ParseError(message: "the header is not a JSON object", position: parser.index, code: .badHeader)
            }
            try parser.members { (p: inout Parser, key: String, _: Int) throws(ParseError) in
                if key == "__metadata__" {
                    header.metadata = try p.metadataObject()
                } else {
                    header.tensors.append(try p.tensorEntry(name: key, maxRank: maxRank))
                }
            }
            try parser.finish()
            return header
        }
    }

    /// Checks that `text` is one JSON value nested at most `maxNesting` deep.
    static func check(_ text: String, maxNesting: Int) throws(ParseError) {
        let bytes = Array(text.utf8)
        try bytes.withUnsafeBufferPointer { (buffer) throws(ParseError) in
            var parser = Parser(bytes: buffer, index: 0, end: buffer.count, maxNesting: maxNesting)
            parser.skipWhitespace()
            try parser.skipValue(depth: 0)
            try parser.finish()
        }
    }

    fileprivate struct Parser {
        let bytes: UnsafeBufferPointer<UInt8>
        var index: Int
        let end: Int
        let maxNesting: Int

        var peek: UInt8? { index < end ? bytes[index] : nil }

        mutating func skipWhitespace() {
            while index < end, bytes[index] == 0x20 || bytes[index] == 0x0A || bytes[index] == 0x0D || bytes[index] == 0x09 {
                index += 1
            }
        }

        func fail(_ message: String, at position: Int? = nil) -> ParseError {
            ParseError(message: message, position: position ?? index)
        }

        mutating func finish() throws(ParseError) {
            skipWhitespace()
            if index != end { throw fail("text after the JSON value") }
        }

        /// Iterates an object's members: `body` is called with the parser at the start of each value and
        /// must consume it.
        mutating func members(
            _ body: (inout Parser, String, Int) throws(ParseError) -> Void
        ) throws(ParseError) {
            index += 1  // {
            var keys = Set<String>()
            skipWhitespace()
            if peek == UInt8(ascii: "}") {
                index += 1
                return
            }
            while true {
                skipWhitespace()
                guard peek == UInt8(ascii: "\"") else { throw fail("expected a string key") }
                let keyStart = index
                let key = try string()
                guard keys.insert(key).inserted else { throw fail("duplicate key \"\(key)\"", at: keyStart) }
                skipWhitespace()
                guard peek == UInt8(ascii: ":") else { throw fail("expected ':'") }
                index += 1
                skipWhitespace()
                guard index < end else { throw fail("unexpected end") }
                try body(&self, key, keyStart)
                skipWhitespace()
                switch peek {
                case UInt8(ascii: ","): index += 1
                case UInt8(ascii: "}"):
                    index += 1
                    return
                case nil: throw fail("unexpected end in an object")
                default: throw fail("expected ',' or '}'")
                }
            }
        }

        /// `__metadata__`: an object of strings.
        mutating func metadataObject() throws(ParseError) -> [String: String] {
            guard peek == UInt8(ascii: "{") else {
                throw ParseError(message: "__metadata__ is not an object", position: index, code: .badHeader)
            }
            var metadata: [String: String] = [:]
            try members { (p: inout Parser, key: String, _: Int) throws(ParseError) in
                guard p.peek == UInt8(ascii: "\"") else {
                    throw ParseError(message: "__metadata__.\(key) is not a string", position: p.index, code: .badHeader)
                }
                metadata[key] = try p.string()
            }
            return metadata
        }

        /// A tensor entry: exactly `dtype`, `shape` and `data_offsets`.
        mutating func tensorEntry(name: String, maxRank: Int) throws(ParseError) -> RawTensor {
            let position = index
            func schema(_ why: String, _ at: Int) -> ParseError {
                ParseError(message: "\(name): \(why)", position: at, code: .badTensor)
            }
            guard peek == UInt8(ascii: "{") else { throw schema("entry is not an object", position) }
            var dtype: SafetensorsDType?
            var shape: (values: [Int], position: Int)?
            var offsets: (values: [Int], position: Int)?
            try members { (p: inout Parser, field: String, _: Int) throws(ParseError) in
                let at = p.index
                switch field {
                case "dtype":
                    guard p.peek == UInt8(ascii: "\"") else { throw schema("dtype is not a string", at) }
                    let text = try p.string()
                    guard let known = SafetensorsDType(rawValue: text) else { throw schema("unknown dtype \"\(text)\"", at) }
                    dtype = known
                case "shape":
                    let values = try p.nonNegativeIntegers(limit: maxRank) { () -> ParseError in
                        schema("shape is not an array of at most \(maxRank) non-negative integers", at)
                    }
                    shape = (values, at)
                case "data_offsets":
                    let values = try p.nonNegativeIntegers(limit: 2) { () -> ParseError in
                        schema("data_offsets is not [begin, end] of non-negative integers", at)
                    }
                    guard values.count == 2 else {
                        throw schema("data_offsets is not [begin, end] of non-negative integers", at)
                    }
                    offsets = (values, at)
                default:
                    throw schema("unknown field \"\(field)\"", at)
                }
            }
            guard let dtype, let shape, let offsets else {
                let missing = [("dtype", dtype == nil), ("shape", shape == nil), ("data_offsets", offsets == nil)]
                    .filter(\.1).map(\.0)
                throw schema("missing \(missing.joined(separator: ", "))", position)
            }
            return RawTensor(
                name: name, position: position, dtype: dtype, shape: shape.values, shapePosition: shape.position,
                offsets: (offsets.values[0], offsets.values[1]), offsetsPosition: offsets.position)
        }

        /// An array of at most `limit` integers in 0...Int.max, written without fraction or exponent.
        mutating func nonNegativeIntegers(
            limit: Int, _ wrong: () -> ParseError
        ) throws(ParseError) -> [Int] {
            guard peek == UInt8(ascii: "[") else { throw wrong() }
            index += 1
            var values: [Int] = []
            skipWhitespace()
            if peek == UInt8(ascii: "]") {
                index += 1
                return values
            }
            while true {
                skipWhitespace()
                let start = index
                var value = 0
                while let c = peek, c >= UInt8(ascii: "0"), c <= UInt8(ascii: "9") {
                    let (times10, o1) = value.multipliedReportingOverflow(by: 10)
                    let (sum, o2) = times10.addingReportingOverflow(Int(c - UInt8(ascii: "0")))
                    guard !o1, !o2 else { throw wrong() }
                    value = sum
                    index += 1
                }
                let digits = index - start
                guard digits > 0, digits == 1 || bytes[start] != UInt8(ascii: "0"), values.count < limit else {
                    throw wrong()
                }
                values.append(value)
                skipWhitespace()
                switch peek {
                case UInt8(ascii: ","): index += 1
                case UInt8(ascii: "]"):
                    index += 1
                    return values
                default: throw wrong()
                }
            }
        }

        /// Consumes any JSON value, checking it, building nothing but transient strings.
        mutating func skipValue(depth: Int) throws(ParseError) {
            guard let c = peek else { throw fail("unexpected end") }
            switch c {
            case UInt8(ascii: "{"):
                guard depth < maxNesting else { throw fail("nested deeper than \(maxNesting)") }
                try members { (p: inout Parser, _: String, _: Int) throws(ParseError) in try p.skipValue(depth: depth + 1) }
            case UInt8(ascii: "["):
                guard depth < maxNesting else { throw fail("nested deeper than \(maxNesting)") }
                index += 1
                skipWhitespace()
                if peek == UInt8(ascii: "]") {
                    index += 1
                    return
                }
                while true {
                    skipWhitespace()
                    try skipValue(depth: depth + 1)
                    skipWhitespace()
                    switch peek {
                    case UInt8(ascii: ","): index += 1
                    case UInt8(ascii: "]"):
                        index += 1
                        return
                    case nil: throw fail("unexpected end in an array")
                    default: throw fail("expected ',' or ']'")
                    }
                }
            case UInt8(ascii: "\""): _ = try string()
            case UInt8(ascii: "t"): try literal("true")
            case UInt8(ascii: "f"): try literal("false")
            case UInt8(ascii: "n"): try literal("null")
            case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): try number()
            default: throw fail("unexpected character 0x\(String(c, radix: 16))")
            }
        }

        mutating func literal(_ word: StaticString) throws(ParseError) {
            let start = index
            for byte in UnsafeBufferPointer(start: word.utf8Start, count: word.utf8CodeUnitCount) {
                guard index < end, bytes[index] == byte else { throw fail("invalid literal", at: start) }
                index += 1
            }
        }

        mutating func number() throws(ParseError) {
            let start = index
            func isDigit(_ i: Int) -> Bool { i < end && bytes[i] >= UInt8(ascii: "0") && bytes[i] <= UInt8(ascii: "9") }
            if bytes[index] == UInt8(ascii: "-") { index += 1 }
            guard isDigit(index) else { throw fail("invalid number", at: start) }
            if bytes[index] == UInt8(ascii: "0") {
                index += 1
            } else {
                while isDigit(index) { index += 1 }
            }
            if peek == UInt8(ascii: ".") {
                index += 1
                guard isDigit(index) else { throw fail("invalid number", at: start) }
                while isDigit(index) { index += 1 }
            }
            if peek == UInt8(ascii: "e") || peek == UInt8(ascii: "E") {
                index += 1
                if peek == UInt8(ascii: "+") || peek == UInt8(ascii: "-") { index += 1 }
                guard isDigit(index) else { throw fail("invalid number", at: start) }
                while isDigit(index) { index += 1 }
            }
        }

        mutating func hex4(_ escape: Int) throws(ParseError) -> UInt32 {
            guard end - index >= 4 else { throw fail("truncated \\u escape", at: escape) }
            var value: UInt32 = 0
            for _ in 0..<4 {
                let c = bytes[index]
                let digit: UInt8
                switch c {
                case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = c - UInt8(ascii: "0")
                case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = c - UInt8(ascii: "a") + 10
                case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = c - UInt8(ascii: "A") + 10
                default: throw fail("bad hex digit in \\u escape", at: escape)
                }
                value = value << 4 | UInt32(digit)
                index += 1
            }
            return value
        }

        mutating func string() throws(ParseError) -> String {
            let start = index
            index += 1  // "
            var utf8: [UInt8] = []
            while true {
                guard index < end else { throw fail("unterminated string", at: start) }
                let c = bytes[index]
                if c == UInt8(ascii: "\"") {
                    index += 1
                    break
                }
                if c < 0x20 { throw fail("control character in a string") }
                if c != UInt8(ascii: "\\") {
                    utf8.append(c)
                    index += 1
                    continue
                }
                let escape = index
                index += 1
                guard index < end else { throw fail("unterminated escape", at: escape) }
                let e = bytes[index]
                index += 1
                switch e {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): utf8.append(e)
                case UInt8(ascii: "b"): utf8.append(0x08)
                case UInt8(ascii: "f"): utf8.append(0x0C)
                case UInt8(ascii: "n"): utf8.append(0x0A)
                case UInt8(ascii: "r"): utf8.append(0x0D)
                case UInt8(ascii: "t"): utf8.append(0x09)
                case UInt8(ascii: "u"):
                    var code = try hex4(escape)
                    if (0xD800..<0xDC00).contains(code) {
                        guard end - index >= 2, bytes[index] == UInt8(ascii: "\\"), bytes[index + 1] == UInt8(ascii: "u")
                        else { throw fail("lone surrogate in \\u escape", at: escape) }
                        index += 2
                        let low = try hex4(escape)
                        guard (0xDC00..<0xE000).contains(low) else { throw fail("lone surrogate in \\u escape", at: escape) }
                        code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                    } else if (0xDC00..<0xE000).contains(code) {
                        throw fail("lone surrogate in \\u escape", at: escape)
                    }
                    guard let scalar = Unicode.Scalar(code) else { throw fail("invalid \\u escape", at: escape) }
                    utf8.append(contentsOf: String(Character(scalar)).utf8)
                default:
                    throw fail("invalid escape", at: escape)
                }
            }
            guard let text = String(validating: utf8, as: UTF8.self) else { throw fail("invalid UTF-8", at: start) }
            return text
        }
    }
}
