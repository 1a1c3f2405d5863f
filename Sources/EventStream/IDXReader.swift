/// Reader of the IDX files MNIST ships in: images (magic `0x00000803`, unsigned bytes, N x H x W) and
/// labels (magic `0x00000801`, unsigned bytes, N).
///
/// Dimensions are 32-bit big-endian. Validation is strict: the magic, the element type, non-zero image
/// sizes, and the data length implied by the header must match the file's length exactly; nothing is
/// allocated before those checks pass. Errors are ``ImageDecodingError`` with the file and byte offset.
public enum IDXReader {
    /// Magic number of an image file: unsigned bytes, three dimensions.
    public static let imageMagic: UInt32 = 0x0000_0803
    /// Magic number of a label file: unsigned bytes, one dimension.
    public static let labelMagic: UInt32 = 0x0000_0801

    /// Reads the images of an IDX image file; `range`, when given, selects image indexes (0-based).
    public static func readImages(_ path: String, range: Range<Int>? = nil) throws -> [GrayImage] {
        try decodeImages(ImageDecodingError.readFile(path), file: path, range: range)
    }

    /// Reads the labels of an IDX label file.
    public static func readLabels(_ path: String) throws -> [UInt8] {
        try decodeLabels(ImageDecodingError.readFile(path), file: path)
    }

    /// Number of images, height and width declared by an IDX image file's header (validated against
    /// the length of `bytes`).
    public static func imageHeader(
        _ bytes: [UInt8], file: String = "<memory>"
    ) throws -> (count: Int, height: Int, width: Int) {
        let dims = try dimensions(bytes, magic: imageMagic, file: file)
        return (dims[0], dims[1], dims[2])
    }

    /// Decodes an IDX image file held in memory; `range` selects image indexes (0-based).
    public static func decodeImages(
        _ bytes: [UInt8], file: String = "<memory>", range: Range<Int>? = nil
    ) throws -> [GrayImage] {
        let (count, height, width) = try imageHeader(bytes, file: file)
        let selected = range ?? 0..<count
        guard selected.lowerBound >= 0, selected.upperBound <= count else {
            throw ImageDecodingError(
                file: file, offset: 0,
                "images \(selected.lowerBound)..<\(selected.upperBound) requested, the file holds \(count)")
        }
        let size = width * height
        let start = 16
        return selected.map { i in
            let from = start + i * size
            return GrayImage(width: width, height: height, pixels: Array(bytes[from..<(from + size)]))
        }
    }

    /// Decodes an IDX label file held in memory.
    public static func decodeLabels(_ bytes: [UInt8], file: String = "<memory>") throws -> [UInt8] {
        let dims = try dimensions(bytes, magic: labelMagic, file: file)
        return Array(bytes[8..<(8 + dims[0])])
    }

    /// Checks magic, element type and sizes; returns the dimensions.
    private static func dimensions(_ bytes: [UInt8], magic: UInt32, file: String) throws -> [Int] {
        let kind = magic == imageMagic ? "image" : "label"
        guard bytes.count >= 4 else {
            throw ImageDecodingError(file: file, offset: bytes.count, "file too short for an IDX magic number")
        }
        let found = readUInt32(bytes, at: 0)
        guard found == magic else {
            let detail: String
            if bytes[0] != 0 || bytes[1] != 0 {
                detail = "not an IDX file"
            } else if bytes[2] != 0x08 {
                detail = "element type 0x\(hex(UInt32(bytes[2]), digits: 2)) is not unsigned byte (0x08)"
            } else {
                detail = "\(bytes[3]) dimension(s), an IDX \(kind) file has \(magic & 0xff)"
            }
            throw ImageDecodingError(
                file: file, offset: 0,
                "magic 0x\(hex(found, digits: 8)), expected 0x\(hex(magic, digits: 8)) (\(kind)s): \(detail)")
        }
        let rank = Int(magic & 0xff)
        let headerSize = 4 + 4 * rank
        guard bytes.count >= headerSize else {
            throw ImageDecodingError(
                file: file, offset: bytes.count,
                "file ends inside the header (\(bytes.count) of \(headerSize) bytes)")
        }
        var dims: [Int] = []
        var total = 1
        for d in 0..<rank {
            let value = Int(readUInt32(bytes, at: 4 + 4 * d))
            if d > 0, value == 0 {
                throw ImageDecodingError(file: file, offset: 4 + 4 * d, "dimension \(d) is zero")
            }
            let (product, overflow) = total.multipliedReportingOverflow(by: value)
            guard !overflow else {
                throw ImageDecodingError(file: file, offset: 4 + 4 * d, "dimensions overflow")
            }
            total = product
            dims.append(value)
        }
        let available = bytes.count - headerSize
        guard total == available else {
            let shape = dims.map(String.init).joined(separator: " x ")
            throw ImageDecodingError(
                file: file, offset: headerSize,
                "header declares \(shape) = \(total) bytes of data, the file holds \(available)")
        }
        return dims
    }

    private static func readUInt32(_ bytes: [UInt8], at i: Int) -> UInt32 {
        UInt32(bytes[i]) << 24 | UInt32(bytes[i + 1]) << 16 | UInt32(bytes[i + 2]) << 8 | UInt32(bytes[i + 3])
    }

    private static func hex(_ v: UInt32, digits: Int) -> String {
        let s = String(v, radix: 16)
        return String(repeating: "0", count: max(0, digits - s.count)) + s
    }
}
