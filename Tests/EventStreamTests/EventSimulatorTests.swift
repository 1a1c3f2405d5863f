import Foundation
import Testing
@testable import EventStream

/// Image readers (IDX, PGM, PNG), the PNG encoder, the event-camera simulator and the renderer.
@Suite struct EventSimulatorTests {
    static let mnistImages = TestData.path("mnist-5k/images-idx3-ubyte")
    static let mnistLabels = TestData.path("mnist-5k/labels-idx1-ubyte")
    /// mnist-5k holds 500 images a class, sorted by class, in MNIST training order: image 2500 is the
    /// first "5" of the training set, the digit of nmnist-small/train/1.bin.
    static let five: GrayImage = try! IDXReader.readImages(mnistImages, range: 2500..<2501)[0]

    // MARK: IDX

    @Test func readsMNIST5k() throws {
        let images = try IDXReader.readImages(Self.mnistImages)
        let labels = try IDXReader.readLabels(Self.mnistLabels)
        #expect(images.count == 5000)
        #expect(labels.count == 5000)
        #expect(images.allSatisfy { $0.width == 28 && $0.height == 28 })
        #expect(labels.allSatisfy { $0 <= 9 })
        for digit in 0...9 { #expect(labels.filter { $0 == UInt8(digit) }.count == 500) }
        #expect(labels[2500] == 5)
        // Digits are white strokes on black, framed by empty borders.
        let mean = images[0].pixels.reduce(0) { $0 + Int($1) } / 784
        #expect(mean > 10 && mean < 120)
        #expect(images[0][0, 0] == 0)
        let some = try IDXReader.readImages(Self.mnistImages, range: 10..<13)
        #expect(some == Array(images[10..<13]))
    }

    @Test func rejectsBadIDX() throws {
        func idx(_ magic: [UInt8], _ dims: [UInt32], data: Int) -> [UInt8] {
            var b = magic
            for d in dims { b += [UInt8(d >> 24), UInt8(d >> 16 & 0xff), UInt8(d >> 8 & 0xff), UInt8(d & 0xff)] }
            return b + [UInt8](repeating: 7, count: data)
        }
        let good = idx([0, 0, 8, 3], [2, 3, 4], data: 24)
        #expect(try IDXReader.decodeImages(good, file: "g.idx").count == 2)

        func failure(_ bytes: [UInt8], labels: Bool = false) -> ImageDecodingError? {
            do {
                if labels { _ = try IDXReader.decodeLabels(bytes, file: "bad.idx") } else {
                    _ = try IDXReader.decodeImages(bytes, file: "bad.idx")
                }
                return nil
            } catch { return error as? ImageDecodingError }
        }
        // Data one byte short, one byte long, header cut, wrong magic, wrong element type, labels as images.
        let short = failure(idx([0, 0, 8, 3], [2, 3, 4], data: 23))
        #expect(short?.file == "bad.idx" && short?.offset == 16)
        #expect(short?.message.contains("24 bytes") == true)
        #expect(failure(idx([0, 0, 8, 3], [2, 3, 4], data: 25)) != nil)
        #expect(failure([0, 0, 8, 3, 0, 0])?.offset == 6)
        #expect(failure([1, 2, 3, 4] + [UInt8](repeating: 0, count: 20))?.message.contains("not an IDX") == true)
        #expect(failure(idx([0, 0, 0x0d, 3], [1, 1, 1], data: 4))?.message.contains("element type") == true)
        #expect(failure(idx([0, 0, 8, 1], [3], data: 3)) != nil)
        #expect(failure(idx([0, 0, 8, 3], [1, 3, 4], data: 12), labels: true) != nil)
        #expect(failure(idx([0, 0, 8, 3], [1, 0, 4], data: 0))?.message.contains("zero") == true)
        // A header claiming 2^32 - 1 huge images must fail on the length check, not allocate.
        #expect(failure(idx([0, 0, 8, 3], [0xffff_ffff, 0xffff_ffff, 0xffff_ffff], data: 8)) != nil)
        #expect(throws: ImageDecodingError.self) { try IDXReader.decodeImages(good, range: 1..<3) }
        #expect(throws: ImageDecodingError.self) { try IDXReader.readImages("/nonexistent/images.idx") }
    }

    // MARK: PGM

    @Test func readsPGM() throws {
        let p5 = Array("P5\n# a comment\n3 2\n255\n".utf8) + [0, 1, 2, 253, 254, 255]
        let a = try PGMReader.decode(p5)
        #expect(a.width == 3 && a.height == 2 && a.pixels == [0, 1, 2, 253, 254, 255])
        let p2 = Array("P2 3 2 15 # max\n0 15 5\n# row two\n10 1 15\n".utf8)
        let b = try PGMReader.decode(p2)
        #expect(b.pixels == [0, 255, 85, 170, 17, 255])
        let wide = Array("P5 2 1 65535\n".utf8) + [0xff, 0xff, 0x80, 0x00]
        #expect(try PGMReader.decode(wide).pixels == [255, 128])
    }

    @Test func rejectsBadPGM() throws {
        func message(_ text: [UInt8]) -> String? {
            do { _ = try PGMReader.decode(text, file: "x.pgm"); return nil } catch {
                guard let e = error as? ImageDecodingError, e.file == "x.pgm" else { return "wrong error type" }
                return e.message
            }
        }
        #expect(message(Array("P6 1 1 255\n".utf8) + [0, 0, 0])?.contains("not a PGM") == true)
        #expect(message(Array("P5 4 4 255\n".utf8) + [1, 2, 3])?.contains("truncated") == true)
        #expect(message(Array("P5 1 1 100\n".utf8) + [200])?.contains("exceeds maxval") == true)
        #expect(message(Array("P2 2 1 255\n1".utf8)) != nil)
        #expect(message(Array("P2 1 1 255\n1 2".utf8))?.contains("after the last") == true)
        #expect(message(Array("P5 99999999 1 255\n".utf8))?.contains("exceeds") == true)
        #expect(message(Array("P5 0 1 255\n".utf8)) != nil)
        #expect(message(Array("P5 2 x 255\n".utf8)) != nil)
    }

    // MARK: PNG

    @Test func pngRoundTrip() throws {
        var rng = TestData.Random(seed: 7)
        let gray = GrayImage(width: 37, height: 11, pixels: (0..<(37 * 11)).map { _ in UInt8.random(in: 0...255, using: &rng) })
        #expect(try PNGCodec.decode(PNGCodec.encode(gray)) == gray)
        // Smooth and noisy rows exercise every filter choice of the encoder.
        let rgb = (0..<(20 * 9)).flatMap { i -> [UInt8] in
            let x = i % 20, y = i / 20
            return y < 4 ? [UInt8(x * 12), UInt8(y * 30), UInt8((x + y) * 5)] : [UInt8.random(in: 0...255, using: &rng), 9, 200]
        }
        let png = PNGCodec.encodeRGB(width: 20, height: 9, pixels: rgb)
        let decoded = try PNGCodec.decode(png)
        #expect(decoded.width == 20 && decoded.height == 9)
        for i in 0..<(20 * 9) {
            let (r, g, b) = (Int(rgb[3 * i]), Int(rgb[3 * i + 1]), Int(rgb[3 * i + 2]))
            #expect(Int(decoded.pixels[i]) == (299 * r + 587 * g + 114 * b + 500) / 1000)
        }
    }

    /// PNGs built here byte by byte (stored deflate blocks, own CRC and Adler-32), one row per filter.
    @Test func decodesHandBuiltPNGs() throws {
        // 8-bit gray, 5x5, row y uses filter y.
        let gray: [[UInt8]] = (0..<5).map { y in (0..<5).map { x in UInt8((x * 50 + y * 37) % 256) } }
        let png = HandPNG.make(width: 5, height: 5, colorType: 0, bitDepth: 8, rows: gray, filters: [0, 1, 2, 3, 4])
        #expect(try PNGCodec.decode(png).pixels == gray.flatMap { $0 })

        // RGB and RGBA (alpha composited over black), gray+alpha, with varied filters.
        let rgbRows: [[UInt8]] = [[255, 0, 0, 0, 255, 0], [0, 0, 255, 100, 100, 100]]
        let rgb = HandPNG.make(width: 2, height: 2, colorType: 2, bitDepth: 8, rows: rgbRows, filters: [4, 3])
        #expect(try PNGCodec.decode(rgb).pixels == [76, 150, 29, 100])
        let rgbaRows: [[UInt8]] = [[255, 255, 255, 255, 255, 255, 255, 0], [200, 200, 200, 128, 0, 0, 0, 255]]
        let rgba = HandPNG.make(width: 2, height: 2, colorType: 6, bitDepth: 8, rows: rgbaRows, filters: [1, 2])
        #expect(try PNGCodec.decode(rgba).pixels == [255, 0, 100, 0])
        let ga = HandPNG.make(width: 2, height: 1, colorType: 4, bitDepth: 8, rows: [[90, 255, 90, 0]], filters: [1])
        #expect(try PNGCodec.decode(ga).pixels == [90, 0])

        // 16-bit gray.
        let g16 = HandPNG.make(width: 2, height: 1, colorType: 0, bitDepth: 16, rows: [[0xff, 0xff, 0x80, 0x00]], filters: [4])
        #expect(try PNGCodec.decode(g16).pixels == [255, 128])

        // Palette, 2 bits a pixel, with a transparent entry; 1-bit gray.
        let plte: [UInt8] = [0, 0, 0, 255, 255, 255, 255, 0, 0, 0, 0, 255]
        let pal = HandPNG.make(width: 4, height: 1, colorType: 3, bitDepth: 2, rows: [[0b00_01_10_11]], filters: [0],
                               chunks: [("PLTE", plte), ("tRNS", [255, 0])])
        #expect(try PNGCodec.decode(pal).pixels == [0, 0, 76, 29])
        let bits = HandPNG.make(width: 10, height: 1, colorType: 0, bitDepth: 1, rows: [[0b1010_0000, 0b1100_0000]], filters: [1])
        #expect(try PNGCodec.decode(bits).pixels == [255, 0, 255, 0, 0, 0, 0, 0, 255, 255])

        // Adam7: a 9x9 gray image split into its seven passes (each pass filtered on its own).
        let full: [[UInt8]] = (0..<9).map { y in (0..<9).map { x in UInt8(y * 20 + x) } }
        var passRows: [[UInt8]] = []
        var passFilters: [UInt8] = []
        var passStarts: Set<Int> = []
        for (x0, y0, dx, dy) in [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)] {
            passStarts.insert(passRows.count)
            for y in stride(from: y0, to: 9, by: dy) {
                let row = stride(from: x0, to: 9, by: dx).map { full[y][$0] }
                passRows.append(row)
                passFilters.append(UInt8(passRows.count % 5))
            }
        }
        let interlaced = HandPNG.make(width: 9, height: 9, colorType: 0, bitDepth: 8, rows: passRows,
                                      filters: passFilters, interlace: 1, passStarts: passStarts)
        #expect(try PNGCodec.decode(interlaced).pixels == full.flatMap { $0 })
    }

    @Test func rejectsBadPNG() throws {
        let good = HandPNG.make(width: 2, height: 2, colorType: 0, bitDepth: 8, rows: [[1, 2], [3, 4]], filters: [0, 0])
        #expect(try PNGCodec.decode(good).pixels == [1, 2, 3, 4])
        func message(_ bytes: [UInt8]) -> String? {
            do { _ = try PNGCodec.decode(bytes, file: "x.png"); return nil } catch {
                guard let e = error as? ImageDecodingError, e.file == "x.png" else { return "wrong error type" }
                return e.message
            }
        }
        var badCRC = good
        badCRC[30] ^= 1
        #expect(message(badCRC)?.contains("CRC") == true)
        #expect(message(Array(good[0..<40]))?.contains("chunk") == true)
        #expect(message([0x89, 0x50, 0x4e, 0x47, 0, 0, 0, 0])?.contains("signature") == true)
        let badFilter = HandPNG.make(width: 2, height: 2, colorType: 0, bitDepth: 8, rows: [[1, 2], [3, 4]], filters: [0, 9])
        #expect(message(badFilter)?.contains("filter type 9") == true)
        let badDepth = HandPNG.make(width: 1, height: 1, colorType: 2, bitDepth: 4, rows: [[0]], filters: [0])
        #expect(message(badDepth)?.contains("bit depth") == true)
        let short = HandPNG.make(width: 3, height: 3, colorType: 0, bitDepth: 8, rows: [[1, 2, 3]], filters: [0])
        #expect(message(short) != nil)
        let noPalette = HandPNG.make(width: 1, height: 1, colorType: 3, bitDepth: 8, rows: [[0]], filters: [0])
        #expect(message(noPalette)?.contains("PLTE") == true)
        let outOfPalette = HandPNG.make(width: 1, height: 1, colorType: 3, bitDepth: 8, rows: [[5]], filters: [0],
                                        chunks: [("PLTE", [1, 2, 3])])
        #expect(message(outOfPalette)?.contains("palette index") == true)
        // A tiny file claiming a 4096x4096 image cannot hold its data.
        let huge = HandPNG.make(width: 4096, height: 4096, colorType: 0, bitDepth: 8, rows: [[0]], filters: [0])
        #expect(message(huge)?.contains("too short") == true)
        let unknownCritical = HandPNG.make(width: 1, height: 1, colorType: 0, bitDepth: 8, rows: [[0]], filters: [0],
                                           chunks: [("ABCD", [1])])
        #expect(message(unknownCritical)?.contains("critical") == true)
        #expect(throws: ImageDecodingError.self) { try GrayImage.read("/nonexistent.png") }
    }

    @Test func readsImageFilesByContent() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("bisnn-sim-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let png = dir.appendingPathComponent("five.png"), pgm = dir.appendingPathComponent("five.pgm")
        let junk = dir.appendingPathComponent("junk.png")
        try Data(PNGCodec.encode(Self.five)).write(to: png)
        try Data(Array("P5 28 28 255\n".utf8) + Self.five.pixels).write(to: pgm)
        try Data("hello".utf8).write(to: junk)
        #expect(try GrayImage.read(png.path) == Self.five)
        #expect(try GrayImage.read(pgm.path) == Self.five)
        #expect(throws: ImageDecodingError.self) { try GrayImage.read(junk.path) }
    }

    // MARK: Simulator

    @Test func simulatorIsDeterministic() throws {
        let simulator = try EventSimulator()
        let a = simulator.simulate(Self.five, seed: 42)
        let b = simulator.simulate(Self.five, seed: 42)
        let c = simulator.simulate(Self.five, seed: 43)
        #expect(a.events == b.events)
        #expect(a.events != c.events)
        #expect(EventSimulator.seed(base: 1, index: 0) != EventSimulator.seed(base: 1, index: 1))
        #expect(EventSimulator.seed(base: 1, index: 5) != EventSimulator.seed(base: 2, index: 5))
        #expect(EventSimulator.seed(base: 9, index: 3) == EventSimulator.seed(base: 9, index: 3))
    }

    @Test func simulatedRecordingLooksLikeNMNIST() throws {
        let events = try EventSimulator().simulate(Self.five, seed: 1)
        // nmnist-small/train/1.bin, the real recording of this digit, holds 4,681 events.
        #expect(events.count >= 1000 && events.count <= 7000, "\(events.count) events")
        let t = Array(events.t)
        #expect(zip(t, t.dropFirst()).allSatisfy { $0 <= $1 }, "time-ordered")
        #expect(t.first! >= 0)
        #expect(t.last! > 280_000 && t.last! <= 310_000, "duration \(t.last!) µs")
        #expect(events.x.allSatisfy { $0 < 34 } && events.y.allSatisfy { $0 < 34 })
        let on = events.polarity.filter { $0 == 1 }.count
        #expect(Double(on) / Double(events.count) > 0.4 && Double(on) / Double(events.count) < 0.6)
        // Three saccades: each third of the recording holds a good share of the events.
        for third in 0..<3 {
            let lo = Int64(third) * 100_000, hi = lo + 100_000
            let n = t.filter { $0 >= lo && (third == 2 || $0 < hi) }.count
            #expect(n > events.count / 6, "saccade \(third + 1): \(n) of \(events.count)")
        }
        // Between saccades the sensor is almost still.
        let pause = t.filter { $0 >= 85_000 && $0 < 95_000 }.count
        #expect(pause < events.count / 20)
    }

    @Test func simulatedRecordingSurvivesNMNISTFormat() throws {
        let events = try EventSimulator().simulate(Self.five, seed: 3)
        var encoder = NMNISTEncoder()
        var bytes: [UInt8] = []
        try encoder.encode(events, into: &bytes)
        try encoder.finish(into: &bytes)
        #expect(bytes.count == events.count * 5)
        var decoded = EventBuffer()
        _ = try bytes.withUnsafeBytes {
            try EventFileReader.decode($0, format: .nmnist, geometry: SensorGeometry(width: 34, height: 34), into: &decoded)
        }
        #expect(decoded.events == events.events)
    }

    @Test func simulatorAcceptsOtherImageSizesAndSettings() throws {
        // A 56x40 bar image is scaled to fit 28x28; a blank image gives only background activity.
        var bar = GrayImage(width: 56, height: 40, value: 0)
        for y in 10..<30 { for x in 20..<30 { bar[x, y] = 255 } }
        let events = try EventSimulator().simulate(bar, seed: 5)
        #expect(events.count > 100)
        #expect(events.x.allSatisfy { $0 < 34 } && events.y.allSatisfy { $0 < 34 })
        let blank = try EventSimulator().simulate(GrayImage(width: 28, height: 28), seed: 5)
        // 0.37 Hz x 1156 pixels x 0.308 s ≈ 132 noise events.
        #expect(blank.count > 60 && blank.count < 250, "\(blank.count)")

        var quiet = EventSimulatorConfiguration.nmnist
        quiet.noiseRate = 0
        quiet.tremorAmplitude = 0
        quiet.thresholdSigma = 0
        #expect(try EventSimulator(configuration: quiet).simulate(GrayImage(width: 28, height: 28)).count == 0)

        var larger = EventSimulatorConfiguration.nmnist
        larger.sensor = SensorGeometry(width: 64, height: 48)
        larger.imageSize = 40
        let big = try EventSimulator(configuration: larger).simulate(Self.five, seed: 2)
        #expect(big.x.allSatisfy { $0 < 64 } && big.y.allSatisfy { $0 < 48 } && big.count > 1000)

        var bad = EventSimulatorConfiguration.nmnist
        bad.saccades[1].start = 10_000
        #expect(throws: EventSimulatorError.self) { try EventSimulator(configuration: bad) }
        bad = .nmnist
        bad.onThreshold = 0
        #expect(throws: EventSimulatorError.self) { try EventSimulator(configuration: bad) }
    }

    @Test func configurationCodable() throws {
        var c = EventSimulatorConfiguration.nmnist
        c.onThreshold = 0.3
        c.sensor = SensorGeometry(width: 40, height: 36)
        let json = try JSONEncoder().encode(c)
        #expect(try JSONDecoder().decode(EventSimulatorConfiguration.self, from: json) == c)
        let partial = try JSONDecoder().decode(EventSimulatorConfiguration.self, from: Data(#"{"noiseRate": 2}"#.utf8))
        var expected = EventSimulatorConfiguration.nmnist
        expected.noiseRate = 2
        #expect(partial == expected)
    }

    @Test func deterministicMathMatchesLibm() {
        for x in [1e-300, 1e-9, 0.001, 0.1, 0.5, 0.7071, 1, 1.5, 2, 3.14159, 10, 1e6, 1e300] {
            #expect(abs(DeterministicMath.log(x) - Foundation.log(x)) <= 1e-15 * max(1, abs(Foundation.log(x))))
        }
        for x in [-700.0, -20, -1, -0.3, 0, 1e-8, 0.5, 1, 2.5, 30, 700] {
            #expect(abs(DeterministicMath.exp(x) - Foundation.exp(x)) <= 1e-15 * Foundation.exp(x))
        }
        var rng = Xoshiro256StarStar(seed: 11)
        let samples = (0..<20_000).map { _ in rng.nextGaussian() }
        let mean = samples.reduce(0, +) / Double(samples.count)
        let variance = samples.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(samples.count)
        #expect(abs(mean) < 0.03 && abs(variance - 1) < 0.04)
    }

    // MARK: Renderer

    @Test func rendersSlices() throws {
        let events = EventBuffer([
            Event(t: 0, x: 0, y: 0, polarity: 1), Event(t: 10, x: 0, y: 0, polarity: 1),
            Event(t: 20, x: 0, y: 0, polarity: 1), Event(t: 150, x: 1, y: 1, polarity: 0),
            Event(t: 299, x: 2, y: 0, polarity: 0), Event(t: 299, x: 9, y: 9, polarity: 1),
        ])
        let renderer = EventImageRenderer(geometry: SensorGeometry(width: 3, height: 2), scale: 2, slices: 3,
                                          window: 0..<300)
        let picture = renderer.render(events)
        #expect(picture.width == 3 * 3 * 2 + 2 * 2 && picture.height == 4)
        #expect(picture[0, 0] == renderer.onColor)      // three ON events: full colour
        #expect(picture[1, 1] == renderer.onColor)      // scale 2
        #expect(picture[6, 0] == renderer.separator)
        let slice2 = 8, slice3 = 16
        #expect(picture[slice2 + 2, 2] != renderer.background)   // the OFF event at t = 150, dimmed
        #expect(picture[slice2 + 2, 2] != renderer.offColor)
        #expect(picture[slice3 + 4, 0] != renderer.background)   // t = 299, pixel (2, 0)
        #expect(picture[slice2, 0] == renderer.background)
        let png = picture.png()
        #expect(png.starts(with: PNGCodec.signature))
        let gray = try PNGCodec.decode(png)
        #expect(gray.width == picture.width && gray.height == picture.height)
    }
}

/// A PNG writer with no zlib: stored deflate blocks, hand-computed CRC-32 and Adler-32, and the five
/// filters applied as the specification defines them.
private enum HandPNG {
    /// `rows` are unfiltered scanlines (packed samples); `filters[i]` is applied to `rows[i]`. For
    /// interlaced images, `rows` lists the passes' rows in order and `passStarts` the first row of each.
    static func make(width: Int, height: Int, colorType: UInt8, bitDepth: UInt8, rows: [[UInt8]], filters: [UInt8],
                     interlace: UInt8 = 0, passStarts: Set<Int> = [], chunks: [(String, [UInt8])] = []) -> [UInt8] {
        let channels = [0: 1, 2: 3, 3: 1, 4: 2, 6: 4][Int(colorType)] ?? 1
        let bpp = max(1, channels * Int(bitDepth) / 8)
        var raw: [UInt8] = []
        var prior: [UInt8] = []
        for (i, row) in rows.enumerated() {
            if passStarts.contains(i) { prior = [] }  // each pass starts with an all-zero prior row
            let up = prior.count == row.count ? prior : [UInt8](repeating: 0, count: row.count)
            raw.append(filters[i])
            for j in 0..<row.count {
                let a = j >= bpp ? Int(row[j - bpp]) : 0
                let b = Int(up[j])
                let c = j >= bpp ? Int(up[j - bpp]) : 0
                let predicted: Int
                switch filters[i] {
                case 0: predicted = 0
                case 1: predicted = a
                case 2: predicted = b
                case 3: predicted = (a + b) / 2
                case 4:
                    let p = a + b - c
                    let pa = abs(p - a), pb = abs(p - b), pc = abs(p - c)
                    predicted = pa <= pb && pa <= pc ? a : (pb <= pc ? b : c)
                default: predicted = 0
                }
                raw.append(UInt8(truncatingIfNeeded: Int(row[j]) - predicted))
            }
            prior = row
        }
        var out: [UInt8] = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]
        chunk(&out, "IHDR", be32(UInt32(width)) + be32(UInt32(height)) + [bitDepth, colorType, 0, 0, interlace])
        for (type, data) in chunks { chunk(&out, type, data) }
        chunk(&out, "IDAT", zlibStored(raw))
        chunk(&out, "IEND", [])
        return out
    }

    static func be32(_ v: UInt32) -> [UInt8] { [UInt8(v >> 24), UInt8(v >> 16 & 0xff), UInt8(v >> 8 & 0xff), UInt8(v & 0xff)] }

    static func chunk(_ out: inout [UInt8], _ type: String, _ data: [UInt8]) {
        out += be32(UInt32(data.count))
        let body = Array(type.utf8) + data
        out += body + be32(crc32(body))
    }

    static func crc32(_ bytes: [UInt8]) -> UInt32 {
        var c: UInt32 = 0xffff_ffff
        for b in bytes {
            c ^= UInt32(b)
            for _ in 0..<8 { c = c & 1 != 0 ? 0xedb8_8320 ^ (c >> 1) : c >> 1 }
        }
        return c ^ 0xffff_ffff
    }

    static func zlibStored(_ data: [UInt8]) -> [UInt8] {
        var out: [UInt8] = [0x78, 0x01]
        var start = 0
        repeat {
            let n = min(65535, data.count - start)
            let final: UInt8 = start + n == data.count ? 1 : 0
            out += [final, UInt8(n & 0xff), UInt8(n >> 8), UInt8(~n & 0xff), UInt8((~n >> 8) & 0xff)]
            out += data[start..<(start + n)]
            start += n
        } while start < data.count
        var a: UInt32 = 1, b: UInt32 = 0
        for byte in data {
            a = (a + UInt32(byte)) % 65521
            b = (b + a) % 65521
        }
        return out + be32(b << 16 | a)
    }
}
