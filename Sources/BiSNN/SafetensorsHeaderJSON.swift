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
