import CZlib

/// PNG decoding to grayscale (simulator input) and RGB encoding (rendered event images).
///
/// Decoding accepts every standard PNG: gray, gray+alpha, RGB, RGBA and palette images, bit depths
/// 1/2/4/8/16, Adam7 interlacing, all five row filters, and `tRNS` transparency. Colour is converted to
/// gray with Rec. 601 luma weights and transparent pixels are composited over black (the MNIST
/// background). Chunk CRCs are verified; unknown critical chunks are rejected, ancillary ones skipped.
/// Sizes are bounded before allocation (``maxPixels``, and the image data may not claim more than
/// deflate can expand its compressed bytes to). Errors are ``ImageDecodingError`` with the file and the
/// byte offset of the offending chunk.
public enum PNGCodec {
    /// The eight bytes every PNG file starts with.
    public static let signature: [UInt8] = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]
    /// Largest image (width x height) decoded.
    public static let maxPixels = 1 << 24

    /// Reads a PNG file as a grayscale image.
    public static func read(_ path: String) throws -> GrayImage {
        try decode(ImageDecodingError.readFile(path), file: path)
    }

    /// Decodes a PNG held in memory to a grayscale image.
    public static func decode(_ bytes: [UInt8], file: String = "<memory>") throws -> GrayImage {
        var parser = PNGParser(bytes: bytes, file: file)
        return try parser.decode()
    }

    /// Encodes an 8-bit RGB image (`pixels` holds `width * height * 3` bytes, row-major, R G B) as PNG.
    public static func encodeRGB(width: Int, height: Int, pixels: [UInt8]) -> [UInt8] {
        precondition(width > 0 && height > 0 && pixels.count == width * height * 3, "RGB buffer does not match size")
        return encode(width: width, height: height, colorType: 2, channels: 3, pixels: pixels)
    }

    /// Encodes a grayscale image as an 8-bit gray PNG.
    public static func encode(_ image: GrayImage) -> [UInt8] {
        encode(width: image.width, height: image.height, colorType: 0, channels: 1, pixels: image.pixels)
    }

    private static func encode(width: Int, height: Int, colorType: UInt8, channels: Int, pixels: [UInt8]) -> [UInt8] {
        let stride = width * channels
        // Each row gets the filter whose output has the smallest sum of absolute (signed) bytes.
        var raw = [UInt8]()
        raw.reserveCapacity(height * (stride + 1))
        var candidate = [UInt8](repeating: 0, count: stride)
        var best = [UInt8](repeating: 0, count: stride)
        let zeroRow = [UInt8](repeating: 0, count: stride)
        for y in 0..<height {
            let row = Array(pixels[(y * stride)..<((y + 1) * stride)])
            let prior = y > 0 ? Array(pixels[((y - 1) * stride)..<(y * stride)]) : zeroRow
            var bestFilter: UInt8 = 0
            var bestCost = Int.max
            for filter: UInt8 in 0...4 {
                var cost = 0
                for i in 0..<stride {
                    let a = i >= channels ? row[i - channels] : 0
                    let b = prior[i]
                    let c = i >= channels ? prior[i - channels] : 0
                    let predicted: UInt8
                    switch filter {
                    case 0: predicted = 0
                    case 1: predicted = a
                    case 2: predicted = b
                    case 3: predicted = UInt8((Int(a) + Int(b)) / 2)
                    default: predicted = paeth(a, b, c)
                    }
                    let v = row[i] &- predicted
                    candidate[i] = v
                    cost += v < 128 ? Int(v) : 256 - Int(v)
                }
                if cost < bestCost {
                    bestCost = cost
                    bestFilter = filter
                    swap(&best, &candidate)
                }
            }
            raw.append(bestFilter)
            raw.append(contentsOf: best)
        }
        var out = signature
        var header = [UInt8]()
        appendUInt32(&header, UInt32(width))
        appendUInt32(&header, UInt32(height))
        header += [8, colorType, 0, 0, 0]
        appendChunk(&out, "IHDR", header)
        appendChunk(&out, "IDAT", deflate(raw))
        appendChunk(&out, "IEND", [])
        return out
    }

    /// The Paeth predictor of the PNG specification.
    @inline(__always)
    static func paeth(_ a: UInt8, _ b: UInt8, _ c: UInt8) -> UInt8 {
        let p = Int(a) + Int(b) - Int(c)
        let pa = abs(p - Int(a)), pb = abs(p - Int(b)), pc = abs(p - Int(c))
        if pa <= pb && pa <= pc { return a }
        return pb <= pc ? b : c
    }

    private static func deflate(_ data: [UInt8]) -> [UInt8] {
        var bound = compressBound(uLong(data.count))
        var out = [UInt8](repeating: 0, count: Int(bound))
        let status = out.withUnsafeMutableBufferPointer { o in
            data.withUnsafeBufferPointer { i in
                compress2(o.baseAddress, &bound, i.baseAddress, uLong(data.count), 9)
            }
        }
        precondition(status == Z_OK, "zlib compress2 failed (\(status))")
        return Array(out[..<Int(bound)])
    }

    private static func appendUInt32(_ out: inout [UInt8], _ v: UInt32) {
        out += [UInt8(v >> 24), UInt8(truncatingIfNeeded: v >> 16), UInt8(truncatingIfNeeded: v >> 8), UInt8(truncatingIfNeeded: v)]
    }

    private static func appendChunk(_ out: inout [UInt8], _ type: String, _ data: [UInt8]) {
        appendUInt32(&out, UInt32(data.count))
        let body = Array(type.utf8) + data
        out += body
        appendUInt32(&out, crc(body))
    }

    /// CRC-32 of the PNG specification (zlib's).
    static func crc(_ bytes: some Collection<UInt8>) -> UInt32 {
        let array = Array(bytes)
        return array.withUnsafeBufferPointer { UInt32(crc32(0, $0.baseAddress, uInt($0.count))) }
    }
}

/// One PNG decode: chunk walk, inflate, unfilter, de-interlace, convert to gray.
private struct PNGParser {
    let bytes: [UInt8]
    let file: String
    var width = 0, height = 0, bitDepth = 0, colorType = 0, interlaced = false
    var palette: [(r: UInt8, g: UInt8, b: UInt8, a: UInt8)] = []
    /// Colour key from `tRNS` for gray (r only) or RGB images, in sample units.
    var transparentKey: (Int, Int, Int)?
    var firstIDAT = 0

    init(bytes: [UInt8], file: String) {
        self.bytes = bytes
        self.file = file
    }

    func fail(_ offset: Int, _ message: String) -> ImageDecodingError {
        ImageDecodingError(file: file, offset: offset, message)
    }

    func uint32(_ i: Int) -> Int {
        Int(bytes[i]) << 24 | Int(bytes[i + 1]) << 16 | Int(bytes[i + 2]) << 8 | Int(bytes[i + 3])
    }

    var channels: Int { [0: 1, 2: 3, 3: 1, 4: 2, 6: 4][colorType]! }

    mutating func decode() throws -> GrayImage {
        guard bytes.starts(with: PNGCodec.signature) else { throw fail(0, "not a PNG file (bad signature)") }
        var pos = 8
        var idat: [UInt8] = []
        var seenHeader = false, seenEnd = false
        while pos < bytes.count {
            guard bytes.count - pos >= 12 else { throw fail(pos, "truncated chunk header") }
            let length = uint32(pos)
            guard length <= 0x7fff_ffff else { throw fail(pos, "chunk length \(length) too large") }
            let typeBytes = Array(bytes[(pos + 4)..<(pos + 8)])
            let type = String(decoding: typeBytes, as: UTF8.self)
            guard typeBytes.allSatisfy({ (65...90).contains($0) || (97...122).contains($0) }) else {
                throw fail(pos + 4, "invalid chunk type")
            }
            guard bytes.count - pos - 12 >= length else {
                throw fail(pos, "chunk \(type) declares \(length) bytes, only \(bytes.count - pos - 12) remain")
            }
            let dataStart = pos + 8
            let data = bytes[dataStart..<(dataStart + length)]
            let storedCRC = UInt32(uint32(dataStart + length))
            guard PNGCodec.crc(bytes[(pos + 4)..<(dataStart + length)]) == storedCRC else {
                throw fail(pos, "CRC mismatch in chunk \(type)")
            }
            if !seenHeader && type != "IHDR" { throw fail(pos, "first chunk is \(type), expected IHDR") }
            switch type {
            case "IHDR":
                guard !seenHeader else { throw fail(pos, "second IHDR") }
                try parseHeader(Array(data), at: pos)
                seenHeader = true
            case "PLTE":
                guard length % 3 == 0, length > 0, length <= 768 else {
                    throw fail(pos, "PLTE length \(length) is not 3 x 1...256")
                }
                palette = stride(from: dataStart, to: dataStart + length, by: 3).map {
                    (bytes[$0], bytes[$0 + 1], bytes[$0 + 2], 255)
                }
            case "tRNS":
                try parseTransparency(Array(data), at: pos)
            case "IDAT":
                if idat.isEmpty { firstIDAT = pos }
                idat.append(contentsOf: data)
            case "IEND":
                seenEnd = true
            default:
                if typeBytes[0] & 0x20 == 0 { throw fail(pos, "unsupported critical chunk \(type)") }
            }
            pos = dataStart + length + 4
            if seenEnd { break }
        }
        guard seenHeader else { throw fail(8, "no IHDR chunk") }
        guard seenEnd else { throw fail(bytes.count, "file ends before the IEND chunk") }
        guard !idat.isEmpty else { throw fail(pos, "no image data (IDAT)") }
        if colorType == 3 && palette.isEmpty { throw fail(firstIDAT, "palette image without PLTE chunk") }
        return try decodeImage(idat)
    }

    mutating func parseHeader(_ h: [UInt8], at pos: Int) throws {
        guard h.count == 13 else { throw fail(pos, "IHDR length \(h.count), expected 13") }
        width = Int(h[0]) << 24 | Int(h[1]) << 16 | Int(h[2]) << 8 | Int(h[3])
        height = Int(h[4]) << 24 | Int(h[5]) << 16 | Int(h[6]) << 8 | Int(h[7])
        bitDepth = Int(h[8])
        colorType = Int(h[9])
        guard width > 0, height > 0, width <= 0x7fff_ffff, height <= 0x7fff_ffff else {
            throw fail(pos + 8, "invalid image size \(width)x\(height)")
        }
        guard width.multipliedReportingOverflow(by: height).partialValue <= PNGCodec.maxPixels,
              width <= PNGCodec.maxPixels, height <= PNGCodec.maxPixels else {
            throw fail(pos + 8, "image \(width)x\(height) exceeds the \(PNGCodec.maxPixels)-pixel limit")
        }
        let allowed: [Int: [Int]] = [0: [1, 2, 4, 8, 16], 2: [8, 16], 3: [1, 2, 4, 8], 4: [8, 16], 6: [8, 16]]
        guard let depths = allowed[colorType] else { throw fail(pos + 17, "invalid colour type \(colorType)") }
        guard depths.contains(bitDepth) else {
            throw fail(pos + 16, "bit depth \(bitDepth) is invalid for colour type \(colorType)")
        }
        guard h[10] == 0 else { throw fail(pos + 18, "unknown compression method \(h[10])") }
        guard h[11] == 0 else { throw fail(pos + 19, "unknown filter method \(h[11])") }
        guard h[12] <= 1 else { throw fail(pos + 20, "unknown interlace method \(h[12])") }
        interlaced = h[12] == 1
    }

    mutating func parseTransparency(_ d: [UInt8], at pos: Int) throws {
        switch colorType {
        case 3:
            guard d.count <= palette.count else { throw fail(pos, "tRNS has more entries than the palette") }
            for (i, a) in d.enumerated() { palette[i].a = a }
        case 0:
            guard d.count == 2 else { throw fail(pos, "tRNS length \(d.count), expected 2 for gray") }
            let v = Int(d[0]) << 8 | Int(d[1])
            transparentKey = (v, v, v)
        case 2:
            guard d.count == 6 else { throw fail(pos, "tRNS length \(d.count), expected 6 for RGB") }
            transparentKey = (Int(d[0]) << 8 | Int(d[1]), Int(d[2]) << 8 | Int(d[3]), Int(d[4]) << 8 | Int(d[5]))
        default:
            throw fail(pos, "tRNS not allowed for colour type \(colorType)")
        }
    }

    /// Adam7 passes: x start, y start, x step, y step.
    static let adam7 = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]

    func decodeImage(_ idat: [UInt8]) throws -> GrayImage {
        let bitsPerPixel = bitDepth * channels
        let passes = interlaced ? Self.adam7 : [(0, 0, 1, 1)]
        // Sub-image sizes of each pass and the raw (filtered) byte count they need.
        var layout: [(w: Int, h: Int)] = []
        var expected = 0
        for (x0, y0, dx, dy) in passes {
            let w = width > x0 ? (width - x0 + dx - 1) / dx : 0
            let h = height > y0 ? (height - y0 + dy - 1) / dy : 0
            layout.append((w, h))
            if w > 0 && h > 0 { expected += h * (1 + (w * bitsPerPixel + 7) / 8) }
        }
        // Deflate expands at most about 1032:1; a header claiming more than that cannot be honest.
        guard expected <= idat.count * 1032 + 1024 else {
            throw fail(firstIDAT, "image data (\(idat.count) bytes compressed) is too short for \(width)x\(height)")
        }
        var raw = [UInt8](repeating: 0, count: expected + 1)
        var produced = uLongf(raw.count)
        let status = raw.withUnsafeMutableBufferPointer { out in
            idat.withUnsafeBufferPointer { inp in
                uncompress(out.baseAddress, &produced, inp.baseAddress, uLong(inp.count))
            }
        }
        switch status {
        case Z_OK:
            guard Int(produced) == expected else {
                if Int(produced) > expected {
                    throw fail(firstIDAT, "image data holds more than \(width)x\(height) needs")
                }
                throw fail(firstIDAT, "image data ends after \(produced) of \(expected) bytes")
            }
        case Z_BUF_ERROR:
            throw fail(firstIDAT, "image data holds more than \(width)x\(height) needs, or is truncated")
        default:
            throw fail(firstIDAT, "corrupt zlib image data (zlib error \(status))")
        }

        var gray = [UInt8](repeating: 0, count: width * height)
        var offset = 0
        for (p, (x0, y0, dx, dy)) in passes.enumerated() {
            let (w, h) = layout[p]
            guard w > 0 && h > 0 else { continue }
            let stride = (w * bitsPerPixel + 7) / 8
            let bpp = max(1, bitsPerPixel / 8)
            var prior = [UInt8](repeating: 0, count: stride)
            var row = [UInt8](repeating: 0, count: stride)
            for r in 0..<h {
                let filter = raw[offset]
                for i in 0..<stride { row[i] = raw[offset + 1 + i] }
                offset += 1 + stride
                try unfilter(&row, prior: prior, filter: filter, bpp: bpp, row: r)
                let y = y0 + r * dy
                for c in 0..<w {
                    gray[y * width + x0 + c * dx] = try grayValue(row, column: c)
                }
                swap(&prior, &row)
            }
        }
        return GrayImage(width: width, height: height, pixels: gray)
    }

    func unfilter(_ row: inout [UInt8], prior: [UInt8], filter: UInt8, bpp: Int, row r: Int) throws {
        let n = row.count
        switch filter {
        case 0: break
        case 1: for i in bpp..<max(bpp, n) { row[i] = row[i] &+ row[i - bpp] }
        case 2: for i in 0..<n { row[i] = row[i] &+ prior[i] }
        case 3:
            for i in 0..<n {
                let a = i >= bpp ? Int(row[i - bpp]) : 0
                row[i] = row[i] &+ UInt8((a + Int(prior[i])) / 2)
            }
        case 4:
            for i in 0..<n {
                let a = i >= bpp ? row[i - bpp] : 0
                let c = i >= bpp ? prior[i - bpp] : 0
                row[i] = row[i] &+ PNGCodec.paeth(a, prior[i], c)
            }
        default:
            throw fail(firstIDAT, "row \(r): unknown filter type \(filter)")
        }
    }

    /// Sample `k` of the unfiltered row (any bit depth), in sample units.
    @inline(__always)
    func sample(_ row: [UInt8], _ k: Int) -> Int {
        switch bitDepth {
        case 8: return Int(row[k])
        case 16: return Int(row[2 * k]) << 8 | Int(row[2 * k + 1])
        default:
            let bit = k * bitDepth
            let shift = 8 - bitDepth - bit % 8
            return Int(row[bit / 8] >> UInt8(shift)) & ((1 << bitDepth) - 1)
        }
    }

    /// Pixel `c` of an unfiltered row as 8-bit gray, composited over black.
    func grayValue(_ row: [UInt8], column c: Int) throws -> UInt8 {
        let maxSample = (1 << bitDepth) - 1
        func to8(_ v: Int) -> Int { (v * 255 + maxSample / 2) / maxSample }
        var r: Int, g: Int, b: Int, a = 255
        switch colorType {
        case 0:
            let v = sample(row, c)
            r = to8(v); g = r; b = r
            if let key = transparentKey, key.0 == v { a = 0 }
        case 2:
            let (sr, sg, sb) = (sample(row, 3 * c), sample(row, 3 * c + 1), sample(row, 3 * c + 2))
            r = to8(sr); g = to8(sg); b = to8(sb)
            if let key = transparentKey, key == (sr, sg, sb) { a = 0 }
        case 3:
            let index = sample(row, c)
            guard index < palette.count else {
                throw fail(firstIDAT, "palette index \(index) outside the \(palette.count)-entry palette")
            }
            let e = palette[index]
            r = Int(e.r); g = Int(e.g); b = Int(e.b); a = Int(e.a)
        case 4:
            r = to8(sample(row, 2 * c)); g = r; b = r
            a = to8(sample(row, 2 * c + 1))
        default:
            r = to8(sample(row, 4 * c)); g = to8(sample(row, 4 * c + 1)); b = to8(sample(row, 4 * c + 2))
            a = to8(sample(row, 4 * c + 3))
        }
        let luma = (299 * r + 587 * g + 114 * b + 500) / 1000
        return UInt8((luma * a + 127) / 255)
    }
}
