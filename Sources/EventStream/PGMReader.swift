/// Reader of Netpbm graymaps: binary `P5` and ASCII `P2`, with `#` comments in the header.
///
/// Maxval may be 1...65535; 16-bit samples (big-endian in `P5`) and any maxval other than 255 are
/// scaled to 0...255 with rounding. Sizes are checked against the file's length before anything is
/// allocated; samples above maxval, missing samples and trailing garbage in `P2` are errors. Errors are
/// ``ImageDecodingError`` with the file and byte offset. Only the first image of a multi-image `P5`
/// file is read.
public enum PGMReader {
    /// Largest width or height accepted.
    public static let maxDimension = 1 << 15

    /// Reads a PGM file.
    public static func read(_ path: String) throws -> GrayImage {
        try decode(ImageDecodingError.readFile(path), file: path)
    }

    /// Decodes a PGM file held in memory.
    public static func decode(_ bytes: [UInt8], file: String = "<memory>") throws -> GrayImage {
        var scanner = Scanner(bytes: bytes, file: file)
        guard bytes.count >= 2, bytes[0] == UInt8(ascii: "P"),
              bytes[1] == UInt8(ascii: "5") || bytes[1] == UInt8(ascii: "2") else {
            throw ImageDecodingError(file: file, offset: 0, "not a PGM file (expected P5 or P2)")
        }
        let binary = bytes[1] == UInt8(ascii: "5")
        scanner.position = 2
        let width = try scanner.headerNumber("width", max: maxDimension)
        let height = try scanner.headerNumber("height", max: maxDimension)
        let maxval = try scanner.headerNumber("maxval", max: 65535)
        guard width > 0, height > 0 else {
            throw ImageDecodingError(file: file, offset: scanner.position, "image size \(width)x\(height) is empty")
        }
        guard maxval > 0 else {
            throw ImageDecodingError(file: file, offset: scanner.position, "maxval is zero")
        }
        let count = width * height
        var pixels: [UInt8]
        if binary {
            // Exactly one whitespace byte separates maxval from the raster.
            guard scanner.position < bytes.count, Scanner.isSpace(bytes[scanner.position]) else {
                throw ImageDecodingError(file: file, offset: scanner.position, "missing whitespace after maxval")
            }
            let start = scanner.position + 1
            let sampleSize = maxval > 255 ? 2 : 1
            let needed = count * sampleSize
            guard bytes.count - start >= needed else {
                throw ImageDecodingError(
                    file: file, offset: bytes.count,
                    "raster truncated: \(width)x\(height) needs \(needed) bytes, \(bytes.count - start) present")
            }
            pixels = [UInt8](repeating: 0, count: count)
            for i in 0..<count {
                let at = start + i * sampleSize
                let v = sampleSize == 2 ? Int(bytes[at]) << 8 | Int(bytes[at + 1]) : Int(bytes[at])
                guard v <= maxval else {
                    throw ImageDecodingError(file: file, offset: at, "sample \(v) exceeds maxval \(maxval)")
                }
                pixels[i] = scale(v, maxval: maxval)
            }
        } else {
            // Every ASCII sample takes at least two bytes (digit and separator), bar the last.
            guard (bytes.count - scanner.position + 1) / 2 >= count else {
                throw ImageDecodingError(
                    file: file, offset: bytes.count,
                    "file too short for \(width)x\(height) ASCII samples")
            }
            pixels = [UInt8](repeating: 0, count: count)
            for i in 0..<count {
                let at = scanner.position
                let v = try scanner.headerNumber("sample \(i)", max: 65535)
                guard v <= maxval else {
                    throw ImageDecodingError(file: file, offset: at, "sample \(v) exceeds maxval \(maxval)")
                }
                pixels[i] = scale(v, maxval: maxval)
            }
            scanner.skipSpaceAndComments()
            guard scanner.position == bytes.count else {
                throw ImageDecodingError(file: file, offset: scanner.position, "unexpected data after the last sample")
            }
        }
        return GrayImage(width: width, height: height, pixels: pixels)
    }

    private static func scale(_ v: Int, maxval: Int) -> UInt8 {
        maxval == 255 ? UInt8(v) : UInt8((v * 255 + maxval / 2) / maxval)
    }

    /// Header tokenizer: decimal numbers separated by whitespace and `#` comments.
    private struct Scanner {
        let bytes: [UInt8]
        let file: String
        var position = 0

        static func isSpace(_ b: UInt8) -> Bool { b == 0x20 || b == 0x09 || b == 0x0a || b == 0x0d || b == 0x0b || b == 0x0c }

        mutating func skipSpaceAndComments() {
            while position < bytes.count {
                let b = bytes[position]
                if Self.isSpace(b) {
                    position += 1
                } else if b == UInt8(ascii: "#") {
                    while position < bytes.count, bytes[position] != 0x0a, bytes[position] != 0x0d { position += 1 }
                } else {
                    return
                }
            }
        }

        mutating func headerNumber(_ what: String, max: Int) throws -> Int {
            skipSpaceAndComments()
            let start = position
            var value = 0
            while position < bytes.count, bytes[position] >= 0x30, bytes[position] <= 0x39 {
                value = value * 10 + Int(bytes[position] - 0x30)
                guard value <= max else {
                    throw ImageDecodingError(file: file, offset: start, "\(what) exceeds \(max)")
                }
                position += 1
            }
            guard position > start else {
                let found = position < bytes.count ? "byte 0x\(String(bytes[position], radix: 16))" : "end of file"
                throw ImageDecodingError(file: file, offset: position, "expected \(what), found \(found)")
            }
            if position < bytes.count, !Self.isSpace(bytes[position]), bytes[position] != UInt8(ascii: "#") {
                throw ImageDecodingError(file: file, offset: position, "malformed \(what)")
            }
            return value
        }
    }
}
