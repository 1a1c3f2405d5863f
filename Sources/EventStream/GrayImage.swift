/// A small 8-bit grayscale image, row-major, 0 = black, 255 = white.
///
/// The input of ``EventSimulator``: MNIST digits read with ``IDXReader``, or PGM/PNG files read with
/// ``GrayImage/read(_:)``.
public struct GrayImage: Sendable, Hashable {
    /// Width in pixels.
    public let width: Int
    /// Height in pixels.
    public let height: Int
    /// `width * height` samples, row after row.
    public private(set) var pixels: [UInt8]

    /// An image holding `pixels` (row-major, exactly `width * height` of them).
    public init(width: Int, height: Int, pixels: [UInt8]) {
        precondition(width > 0 && height > 0, "image dimensions must be positive")
        precondition(pixels.count == width * height, "pixel count does not match \(width)x\(height)")
        self.width = width
        self.height = height
        self.pixels = pixels
    }

    /// A uniform image.
    public init(width: Int, height: Int, value: UInt8 = 0) {
        self.init(width: width, height: height, pixels: Array(repeating: value, count: width * height))
    }

    /// The sample at column `x`, row `y`.
    public subscript(x: Int, y: Int) -> UInt8 {
        get {
            precondition(x >= 0 && x < width && y >= 0 && y < height, "pixel (\(x), \(y)) outside the image")
            return pixels[y * width + x]
        }
        set {
            precondition(x >= 0 && x < width && y >= 0 && y < height, "pixel (\(x), \(y)) outside the image")
            pixels[y * width + x] = newValue
        }
    }

    /// The negative image (255 - value).
    public func inverted() -> GrayImage {
        GrayImage(width: width, height: height, pixels: pixels.map { 255 - $0 })
    }

    /// Reads a PGM (P2/P5) or PNG file, recognised by its first bytes.
    /// Errors are ``ImageDecodingError`` naming the file.
    public static func read(_ path: String) throws -> GrayImage {
        let bytes = try ImageDecodingError.readFile(path)
        if bytes.starts(with: PNGCodec.signature) {
            return try PNGCodec.decode(bytes, file: path)
        }
        if bytes.count >= 2, bytes[0] == UInt8(ascii: "P"), bytes[1] == UInt8(ascii: "5") || bytes[1] == UInt8(ascii: "2") {
            return try PGMReader.decode(bytes, file: path)
        }
        throw ImageDecodingError(file: path, offset: 0, "not a PNG or PGM (P2/P5) image")
    }
}

/// Why an image file (IDX, PGM, PNG) could not be read: the file, the byte offset, and what was wrong.
public struct ImageDecodingError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The file being read (`<memory>` for bytes decoded from memory).
    public var file: String
    /// Byte offset from the start of the file where the problem was found.
    public var offset: Int
    /// Human-readable detail.
    public var message: String

    public init(file: String, offset: Int, _ message: String) {
        self.file = file
        self.offset = offset
        self.message = message
    }

    public var description: String { "\(file): byte \(offset): \(message)" }

    /// Reads a whole file, turning I/O failures into an ``ImageDecodingError``.
    static func readFile(_ path: String) throws -> [UInt8] {
        do {
            return try EventFileReader.readBytes(path)
        } catch let error as EventDecodingError {
            throw ImageDecodingError(file: path, offset: 0, error.message)
        }
    }
}
