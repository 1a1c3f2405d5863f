import Foundation
import Testing
@testable import EventStream

/// Hostile input: every decoder, fed mutated real recordings, pure random bytes and empty input, must either
/// return events or throw ``EventDecodingError`` — never trap, hang or allocate beyond what the input
/// justifies — and must give the same answer whether the bytes come whole or in chunks split anywhere.
///
/// Each format's seed is the first ~64 KiB of a real file (for AEDAT 3.1, a small file built here), cut at a
/// record or packet boundary so that the unmutated seed decodes cleanly. Mutants are made with a seeded
/// generator (bit flips, bytes set to 0x00/0xFF/random, inserted, deleted and duplicated ranges, truncation,
/// huge 32/64-bit values at aligned or structural positions, a random tail), so every failure names a
/// mutant that can be rebuilt alone from (format, index).
///
/// Scale: `BISNN_MUTANTS=N` sets the mutants per format (default 200) and the random inputs per format
/// (default 100, scaled alike); `BISNN_FUZZ_SEED=S` changes the generator's base seed; `BISNN_FUZZ_ONLY=I`
/// runs mutant I alone; `BISNN_FUZZ_VERBOSE=1` prints a summary per format. A local hunt:
///
///     BISNN_MUTANTS=20000 BISNN_FUZZ_SEED=7 swift test --skip-build --scratch-path .build-fuzz \
///         --filter HostileInputTests
@Suite struct HostileInputTests {
    // MARK: - Scale and seeds

    static let environment = ProcessInfo.processInfo.environment
    /// Mutants per format.
    static let mutantCount = environment["BISNN_MUTANTS"].flatMap { Int($0) }.map { max(1, $0) } ?? 200
    /// Pure random inputs per format.
    static let randomCount = max(1, mutantCount / 2)
    /// Base seed of every generator in this suite.
    static let baseSeed = environment["BISNN_FUZZ_SEED"].flatMap { UInt64($0) } ?? 0x5EED_B155
    /// `BISNN_FUZZ_ONLY=I` runs mutant I alone (of each format), to rebuild a failing one.
    static let onlyMutant = environment["BISNN_FUZZ_ONLY"].flatMap { Int($0) }
    /// `BISNN_FUZZ_VERBOSE=1` prints what each test case reached (outcomes, error codes, time).
    static let verbose = environment["BISNN_FUZZ_VERBOSE"] != nil
    /// How much of a real file a seed keeps.
    static let seedLimit = 64 << 10
    /// Largest geometry whose per-pixel binner tables the suite builds.
    static let maxBinnedPixels = 1280 * 720

    /// One starting input: bytes that decode cleanly, the sensor they come from, and offsets of their
    /// structures (packet headers) where mutations are worth aiming.
    struct Seed: Sendable {
        var name: String
        var bytes: [UInt8]
        var sensor: SensorGeometry
        var structure: [Int] = []
    }

    static func file(_ name: String) -> [UInt8] {
        (try? EventFileReader.readBytes(TestData.path("formats/" + name))) ?? []
    }

    /// Bytes of the `%` header at the start of `bytes` (0 when there is none).
    static func propheseeHeaderSize(_ bytes: [UInt8]) -> Int {
        var parser = PropheseeHeaderParser()
        let used = (try? bytes.withUnsafeBytes { try parser.parse($0) }) ?? 0
        return parser.isComplete ? used : 0
    }

    /// The first `seedLimit` bytes of a Prophesee-style file, cut after a whole record.
    static func recordPrefix(_ name: String, recordSize: Int, extraHeader: Int = 0, sensor: SensorGeometry) -> Seed {
        let all = file(name)
        let header = propheseeHeaderSize(all) + extraHeader
        let records = (min(all.count, seedLimit) - header) / recordSize
        return Seed(name: name, bytes: Array(all[..<(header + records * recordSize)]), sensor: sensor, structure: [0, header])
    }

    static func i32(_ b: [UInt8], _ at: Int) -> Int {
        Int(Int32(littleEndian: b.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: at, as: Int32.self) }))
    }

    static func le<T: FixedWidthInteger>(_ v: T) -> [UInt8] {
        (0..<MemoryLayout<T>.size).map { UInt8(truncatingIfNeeded: v >> (8 * $0)) }
    }

    /// The header and the first packets of a real AEDAT 4.0 file that fit in `seedLimit` (packets larger
    /// than `seedLimit / 4`, such as frames, left out). The IOHeader's data table position is patched: to -1
    /// (no table) or, with `tableAtEnd`, to the end of the kept packets, followed by a few bytes standing for
    /// the table. With `uncompressed`, the packets are stored decompressed (the IOHeader says so), every
    /// other one without its size prefix, so mutations reach the FlatBuffers rather than the LZ4 frames.
    static func aedat4Prefix(_ name: String, sensor: SensorGeometry, tableAtEnd: Bool, uncompressed: Bool) -> Seed {
        let all = file(name)
        let magic = AEDAT4Decoder.magic.count
        let headerSize = i32(all, magic)
        let headerStart = magic + 4
        var bytes = Array(all[..<(headerStart + headerSize)])
        var structure = [0, magic, headerStart]
        let fields: (compression: Int?, table: Int?) = all.withUnsafeBytes { raw in
            let header = UnsafeRawBufferPointer(rebasing: raw[headerStart..<(headerStart + headerSize)])
            guard let table = try? FlatBufferTable(root: header) else { return (nil, nil) }
            return (table.fieldOffset(0).map { headerStart + table.position + $0 },
                    table.fieldOffset(1).map { headerStart + table.position + $0 })
        }
        if uncompressed, let field = fields.compression {
            bytes.replaceSubrange(field..<(field + 4), with: le(Int32(0)))
        }
        let decompressor = PacketDecompressor(maxOutput: 1 << 20)
        var at = bytes.count
        while at + 8 <= all.count {
            let stream = i32(all, at), size = i32(all, at + 4)
            guard size >= 0, at + 8 + size <= all.count else { break }
            var payload = Array(all[(at + 8)..<(at + 8 + size)])
            at += 8 + size
            if uncompressed {
                let plain = payload.withUnsafeBytes { p in (try? decompressor.decompress(p, .lz4) { Array($0) }) ?? [] }
                payload = structure.count % 2 == 0 ? plain : Array(plain.dropFirst(4))
            }
            if payload.count > seedLimit / 4 { continue }
            if bytes.count + 8 + payload.count > seedLimit { break }
            structure.append(bytes.count)
            bytes += le(Int32(stream)) + le(Int32(payload.count)) + payload
        }
        if let field = fields.table {
            bytes.replaceSubrange(field..<(field + 8), with: le(tableAtEnd ? Int64(bytes.count) : -1))
            structure.append(field)
        }
        if tableAtEnd { bytes += [UInt8](repeating: 0xAB, count: 24) }
        return Seed(name: name + (uncompressed ? " (decompressed)" : ""), bytes: bytes, sensor: sensor, structure: structure)
    }

    /// A small AEDAT 3.1 file: a DVS128 header, three polarity packets (the second after a time-counter
    /// overflow, some events marked invalid) and a special-event packet that is skipped.
    static func aedat3Seed() -> Seed {
        var bytes = Array("#!AER-DAT3.1\r\n#Format: RAW\r\n#Source 1: DVS128\r\n#!END-HEADER\r\n".utf8)
        var structure = [0, bytes.count]
        var rng = TestData.Random(seed: 31)
        func packet(type: Int16, eventSize: Int32, overflow: Int32, _ events: [[UInt8]]) {
            structure.append(bytes.count)
            let n = Int32(events.count)
            bytes += le(type) + le(Int16(1)) + le(eventSize) + le(Int32(4)) + le(overflow) + le(n) + le(n) + le(n)
            bytes += events.flatMap { $0 }
        }
        var t: UInt32 = 1000
        for overflow: Int32 in [0, 1, 1] {
            var events: [[UInt8]] = []
            for _ in 0..<40 {
                t &+= UInt32.random(in: 0..<300, using: &rng)
                let x = UInt32.random(in: 0..<128, using: &rng), y = UInt32.random(in: 0..<128, using: &rng)
                let valid: UInt32 = Int.random(in: 0..<10, using: &rng) == 0 ? 0 : 1
                let data = x << 17 | y << 2 | UInt32.random(in: 0...1, using: &rng) << 1 | valid
                events.append(le(data) + le(t & 0x7FFF_FFFF))
            }
            packet(type: 1, eventSize: 8, overflow: overflow, events)
            if overflow == 0 { packet(type: 0, eventSize: 8, overflow: 0, [le(UInt64(0x1234_5678_9ABC_DEF0))]) }
        }
        return Seed(name: "built.aedat", bytes: bytes, sensor: SensorGeometry(width: 128, height: 128), structure: structure)
    }

    static func seeds(_ format: EventFormat) -> [Seed] {
        switch format {
        case .nmnist:
            [recordPrefix("nmnist_sample.bin", recordSize: 5, sensor: SensorGeometry(width: 34, height: 34))]
        case .evt2:
            [recordPrefix("evt2_640x480.raw", recordSize: 4, sensor: SensorGeometry(width: 640, height: 480)),
             recordPrefix("genx320_headerless_evt2.raw", recordSize: 4, sensor: SensorGeometry(width: 320, height: 320))]
        case .evt3:
            [recordPrefix("evt3_1280x720.raw", recordSize: 2, sensor: SensorGeometry(width: 1280, height: 720))]
        case .dat:
            [recordPrefix("ncars_crop.dat", recordSize: 8, extraHeader: 2, sensor: SensorGeometry(width: 304, height: 240))]
        case .aedat4:
            [aedat4Prefix("dvxplorer_320x240.aedat4", sensor: SensorGeometry(width: 320, height: 240),
                          tableAtEnd: false, uncompressed: false),
             aedat4Prefix("davis346.aedat4", sensor: SensorGeometry(width: 346, height: 260),
                          tableAtEnd: true, uncompressed: false),
             aedat4Prefix("dvxplorer_320x240.aedat4", sensor: SensorGeometry(width: 320, height: 240),
                          tableAtEnd: true, uncompressed: true)]
        case .aedat3:
            [aedat3Seed()]
        }
    }

    // MARK: - Mutation

    /// Values written over 4- and 8-byte fields: sizes, counts, offsets and times that lie.
    static let huge32: [UInt32] = [
        0xFFFF_FFFF, 0x7FFF_FFFF, 0x8000_0000, 0x7FFF_FFF0, 0x4000_0000, 0x0400_0000, 0x0100_0000, 0x0001_0000,
        0xFFFF_0000, 0x0000_FFFF, 0xFFFF_FFF8, 0x0FFF_FFFF,
    ]
    static let huge64: [UInt64] = [
        .max, 0x7FFF_FFFF_FFFF_FFFF, 0x8000_0000_0000_0000, 0x0000_0001_0000_0000, 0xFFFF_FFFF_0000_0000,
    ]

    /// Mutant `index` of `seed`: one to four mutations, each described in the returned log.
    static func mutant(of seed: Seed, index: Int, format: EventFormat) -> (bytes: [UInt8], log: [String]) {
        var rng = TestData.Random(
            seed: baseSeed ^ (UInt64(index) &* 0x9E37_79B9) ^ (UInt64(format.rawValue.hashValueStable) << 40))
        var b = seed.bytes
        var log: [String] = []
        // Where to strike: a fifth near a structure, a third in the first KiB (headers), else anywhere.
        func position(_ rng: inout TestData.Random) -> Int {
            guard !b.isEmpty else { return 0 }
            let roll = Int.random(in: 0..<15, using: &rng)
            if roll < 3, let s = seed.structure.randomElement(using: &rng) {
                return min(b.count - 1, s + Int.random(in: 0..<32, using: &rng))
            }
            if roll < 8 { return Int.random(in: 0..<min(b.count, 1024), using: &rng) }
            return Int.random(in: 0..<b.count, using: &rng)
        }
        func length(_ rng: inout TestData.Random) -> Int {
            Int.random(in: 0..<8, using: &rng) == 0
                ? Int.random(in: 1...4096, using: &rng) : Int.random(in: 1...40, using: &rng)
        }
        for _ in 0..<Int.random(in: 1...4, using: &rng) {
            let at = position(&rng)
            var op = Int.random(in: 0..<11, using: &rng)
            if op == 7 { op = 6 }  // huge 32-bit values twice as often
            switch op {
            case 0 where !b.isEmpty:
                let bit = Int.random(in: 0..<8, using: &rng)
                b[at] ^= 1 << bit
                log.append("flip bit \(bit) at \(at)")
            case 1 where !b.isEmpty:
                let n = min(b.count - at, Int.random(in: 1...8, using: &rng))
                let kind = Int.random(in: 0..<3, using: &rng)
                for i in at..<(at + n) { b[i] = kind == 0 ? 0 : kind == 1 ? 0xFF : UInt8.random(in: 0...255, using: &rng) }
                log.append("overwrite \(n) at \(at) with \(["0x00", "0xFF", "random"][kind])")
            case 2:
                let n = length(&rng)
                b.insert(contentsOf: (0..<n).map { _ in UInt8.random(in: 0...255, using: &rng) }, at: min(at, b.count))
                log.append("insert \(n) random at \(at)")
            case 3 where !b.isEmpty:
                let n = min(b.count - at, length(&rng))
                b.removeSubrange(at..<(at + n))
                log.append("delete \(n) at \(at)")
            case 4:
                let cut = Int.random(in: 0...b.count, using: &rng)
                b.removeSubrange(cut...)
                log.append("truncate at \(cut)")
            case 5 where !b.isEmpty:
                let from = Int.random(in: 0..<b.count, using: &rng)
                let n = min(b.count - from, length(&rng))
                b.insert(contentsOf: Array(b[from..<(from + n)]), at: at)
                log.append("duplicate \(from)..<\(from + n) at \(at)")
            case 6 where b.count >= 4:
                let aligned = min(at & ~3, b.count - 4)
                let v = Int.random(in: 0..<4, using: &rng) == 0
                    ? UInt32.random(in: 0...UInt32.max, using: &rng) : huge32.randomElement(using: &rng)!
                b.replaceSubrange(aligned..<(aligned + 4), with: le(v))
                log.append("write 0x\(String(v, radix: 16)) at \(aligned)")
            case 8 where b.count >= 8:
                let start = min(at, b.count - 8)
                let v = huge64.randomElement(using: &rng)!
                b.replaceSubrange(start..<(start + 8), with: le(v))
                log.append("write 0x\(String(v, radix: 16)) (64-bit) at \(start)")
            case 9:
                let keep = Int.random(in: 0...b.count, using: &rng)
                let n = min(length(&rng) * 4, seedLimit)
                b = Array(b[..<keep]) + (0..<n).map { _ in UInt8.random(in: 0...255, using: &rng) }
                log.append("random tail of \(n) after \(keep)")
            default:
                b.append(UInt8.random(in: 0...255, using: &rng))
                log.append("append a byte")
            }
        }
        return (b, log)
    }

    // MARK: - Decoding and checks

    struct Outcome {
        var events = EventBuffer()
        var counters = DecoderCounters()
        var geometry: SensorGeometry?
        var compression: PacketCompression?
        var offset: Int64 = 0
        var error: EventDecodingError?
        var other: (any Error)?
    }

    /// Decodes `bytes` in one call (`maxChunk` nil) or in chunks of 0 to `maxChunk` bytes, then finishes.
    /// Checks after every call that the decoder's offset never passes the bytes fed nor goes back.
    static func decode(
        _ bytes: [UInt8], _ format: EventFormat, geometry: SensorGeometry?, maxChunk: Int?, seed: UInt64,
        comment: Comment
    ) -> Outcome {
        var decoder = format.makeDecoder(geometry: geometry)
        var outcome = Outcome()
        var rng = TestData.Random(seed: seed)
        var fed = 0
        var lastOffset: Int64 = 0
        do {
            try bytes.withUnsafeBytes { all in
                repeat {
                    var n = all.count - fed
                    if let maxChunk {
                        // A quarter of the chunks are tiny (empty ones included), so that records, headers and
                        // packets get cut everywhere without paying for a call per byte of a large input.
                        let tiny = Int.random(in: 0..<4, using: &rng) == 0
                        n = min(n, tiny ? Int.random(in: 0...5, using: &rng) : Int.random(in: 1...maxChunk, using: &rng))
                    }
                    try decoder.decode(UnsafeRawBufferPointer(rebasing: all[fed..<(fed + n)]), into: &outcome.events)
                    fed += n
                    let offset = decoder.offset
                    if offset < lastOffset || offset > Int64(fed) {
                        Issue.record("offset \(offset) after \(fed) bytes fed (was \(lastOffset)); \(comment)")
                    }
                    lastOffset = offset
                } while fed < all.count
            }
            try decoder.finish(into: &outcome.events)
        } catch let error as EventDecodingError {
            outcome.error = error
        } catch {
            outcome.other = error
        }
        outcome.counters = decoder.counters
        outcome.geometry = decoder.geometry
        outcome.offset = decoder.offset
        outcome.compression = (decoder as? AEDAT4Decoder)?.compression
        return outcome
    }

    /// Most events `count` bytes of `format` can hold.
    static func eventBound(_ format: EventFormat, bytes count: Int, compression: PacketCompression?) -> Int {
        switch format {
        case .nmnist: count / 5
        case .evt2: count / 4
        case .evt3: count / 2 * 12  // a VECT_12 word yields 12 events
        case .dat, .aedat3: count / 8
        case .aedat4:
            switch compression ?? .uncompressed {
            case .uncompressed: count / 16
            // An LZ4 frame expands at most 255-fold; a zstd frame can expand far more, so there the bound
            // is the decompression cap per packet (a packet takes at least its 8-byte header).
            case .lz4, .lz4High: count * 255 / 16 + 1
            case .zstd, .zstdHigh: (count / 8) * (AEDAT4Decoder.defaultMaxDecompressedSize / 16)
            }
        }
    }

    /// Checks one outcome on its own; returns false when it failed.
    @discardableResult
    static func checkOutcome(
        _ o: Outcome, bytes: [UInt8], format: EventFormat, bounds: SensorGeometry?, comment: Comment
    ) -> Bool {
        var ok = true
        func fail(_ what: String) {
            Issue.record("\(what); \(comment)")
            ok = false
        }
        if let other = o.other { fail("threw \(type(of: other)) instead of EventDecodingError: \(other)") }
        if let error = o.error, !(0...Int64(bytes.count)).contains(error.offset) {
            fail("error offset \(error.offset) outside 0...\(bytes.count): \(error)")
        }
        if o.error == nil && o.other == nil && o.offset != Int64(bytes.count) {
            fail("decoded cleanly but offset \(o.offset) != \(bytes.count)")
        }
        let bound = eventBound(format, bytes: bytes.count, compression: o.compression)
        if o.events.count > bound { fail("\(o.events.count) events from \(bytes.count) bytes (bound \(bound))") }
        // Room reserved beyond need is allocation the input did not justify (EVT 3.0 reserves 12 a word per
        // batch; the buffer doubles).
        let room = 2 * (bound + 12 * EVT3Decoder.batchWords) + 1024
        if o.events.capacity > room { fail("event buffer capacity \(o.events.capacity) for \(bytes.count) bytes") }
        if let bounds {
            let outside = o.events.withColumns { _, x, y, _ in
                var n = 0
                for i in 0..<x.count where Int(x[i]) >= bounds.width || Int(y[i]) >= bounds.height { n += 1 }
                return n
            }
            if outside > 0 { fail("\(outside) event(s) outside the \(bounds) geometry") }
        }
        return ok
    }

    static func sameEvents(_ a: EventBuffer, _ b: EventBuffer) -> Bool {
        a.count == b.count && a.t == b.t && a.x == b.x && a.y == b.y && a.polarity == b.polarity
    }

    /// Whole and chunked outcomes must agree: same events, counters and geometry, or the same error.
    @discardableResult
    static func checkAgreement(_ whole: Outcome, _ split: Outcome, comment: Comment) -> Bool {
        switch (whole.error, split.error) {
        case (nil, nil):
            guard whole.other == nil, split.other == nil else { return false }
            if !sameEvents(whole.events, split.events) || whole.counters != split.counters
                || whole.geometry != split.geometry {
                let counts = "\(whole.events.count) vs \(split.events.count) events"
                let counters = "\(whole.counters) vs \(split.counters)"
                Issue.record("whole and chunked decodes differ: \(counts), \(counters); \(comment)")
                return false
            }
        case let (w?, s?):
            if w.code != s.code || w.offset != s.offset {
                Issue.record("whole decode threw \(w), chunked threw \(s); \(comment)")
                return false
            }
            // Errors are found at the same byte either way, so what came before it decoded the same.
            if !sameEvents(whole.events, split.events) || whole.counters != split.counters {
                let counts = "\(whole.events.count) vs \(split.events.count) events"
                let counters = "\(whole.counters) vs \(split.counters)"
                Issue.record("before \(w), whole and chunked decodes differ: \(counts), \(counters); \(comment)")
                return false
            }
        case let (w, s):
            Issue.record("whole decode: \(w.map { "\($0)" } ?? "ok"), chunked: \(s.map { "\($0)" } ?? "ok"); \(comment)")
            return false
        }
        return true
    }

    /// Runs one input through a whole and a chunked decode and every check, then bins the events.
    static func exercise(
        _ bytes: [UInt8], _ format: EventFormat, geometry: SensorGeometry?, rng: inout TestData.Random,
        binners: inout BinnerCache, comment: Comment
    ) -> Outcome {
        let clock = ContinuousClock()
        let began = clock.now
        let ext = ["bin", "raw", "dat", "aedat4", "aedat"].randomElement(using: &rng)!
        _ = EventFormat.detect(prefix: bytes, fileName: "mutant." + ext)  // must not trap either
        let whole = decode(bytes, format, geometry: geometry, maxChunk: nil, seed: 0, comment: comment)
        let maxChunk = bytes.count <= 4096 && Int.random(in: 0..<3, using: &rng) == 0
            ? [1, 3].randomElement(using: &rng)! : [64, 700, 9000].randomElement(using: &rng)!
        let split = decode(bytes, format, geometry: geometry, maxChunk: maxChunk, seed: rng.next(), comment: comment)
        let chunkComment: Comment = "\(comment) (chunks up to \(maxChunk) bytes)"
        // Geometry-given decodes keep every event on the sensor; so do header-given ones of the formats
        // with a single geometry per stream (AEDAT packets may name other sources or streams).
        let bounds = geometry ?? ([.nmnist, .evt2, .evt3, .dat].contains(format) ? whole.geometry : nil)
        checkOutcome(whole, bytes: bytes, format: format, bounds: bounds, comment: comment)
        checkOutcome(split, bytes: bytes, format: format, bounds: bounds, comment: chunkComment)
        checkAgreement(whole, split, comment: chunkComment)
        if whole.other == nil {  // what decoded before an error is binned too
            binners.bin(whole.events, geometry: whole.geometry, variant: Int(rng.next() % 3), comment: comment)
        }
        let elapsed = clock.now - began
        if elapsed > .seconds(20) { Issue.record("took \(elapsed) for \(bytes.count) bytes; \(comment)") }
        return whole
    }

    // MARK: - Binning

    /// Binners by geometry and variant, built once (their per-pixel tables are the costly part); a few only.
    struct BinnerCache {
        var binners: [String: SpikeFrameBinner] = [:]

        /// Feeds `events` to a binner for `geometry` (2048x2048 when nil; skipped past 1280x720 pixels) in
        /// pieces, draining the frames as they come, and checks its counters add up.
        mutating func bin(_ events: EventBuffer, geometry: SensorGeometry?, variant: Int, comment: Comment) {
            let sensor = geometry ?? SensorGeometry(width: 2048, height: 2048)
            guard !events.isEmpty, sensor.width * sensor.height <= HostileInputTests.maxBinnedPixels else { return }
            // The filters reset per-pixel state at every new segment, and hostile times start one at almost
            // every event: on big sensors that is slow (not wrong), so there only the plain variant runs.
            let variant = sensor.width * sensor.height <= 400 * 300 ? variant : 0
            let key = "\(sensor) \(variant)"
            var binner: SpikeFrameBinner
            if let cached = binners[key] {
                binner = cached
                binner.reset()
                binner.counters = .init()
            } else {
                // Downsample big sensors so frames stay small, and let a gap emit few empty frames: hostile
                // times jump anywhere, and with the default `maxGapFrames` (10,000) every event ~10 s after
                // the previous one adds 10,000 dense empty frames to the batch within one `append`.
                let down = max(1, max(sensor.width, sensor.height) / 128)
                var config = SpikeFrameConfiguration(
                    sensor: sensor, binWidth: 1_000, downsample: down, maxGapFrames: 4)
                if variant == 1 {
                    config.kind = .countUInt8
                    config.refractoryPeriod = 50
                    config.backgroundActivityWindow = 5_000
                } else if variant == 2 {
                    config.polarity = .merged
                    config.kind = .countUInt16
                    config.crop = PixelRectangle(
                        x: sensor.width / 4, y: sensor.height / 4, width: max(1, sensor.width / 2),
                        height: max(1, sensor.height / 2))
                    config.backgroundActivityWindow = 1_000
                }
                guard let made = try? SpikeFrameBinner(configuration: config) else {
                    Issue.record("no binner for \(config); \(comment)")
                    return
                }
                binner = made
                if binners.count >= 8 { binners.removeAll() }  // random geometries would pile up
            }
            var frames = binner.makeBatch()
            var piece = EventBuffer(capacity: 512)
            var start = 0
            var badIndex = false
            func drain() {
                badIndex = badIndex || frames.activeIndices.contains { Int($0) >= frames.inputCount }
                frames.removeAll()
            }
            while start < events.count {
                let end = min(events.count, start + 512)
                piece.removeAll()
                events.withColumns { t, x, y, p in
                    piece.withWriter(reservingCapacity: end - start) { w in
                        w.t.update(from: t.baseAddress! + start, count: end - start)
                        w.x.update(from: x.baseAddress! + start, count: end - start)
                        w.y.update(from: y.baseAddress! + start, count: end - start)
                        w.p.update(from: p.baseAddress! + start, count: end - start)
                        w.written = end - start
                    }
                }
                binner.append(piece, to: &frames)
                drain()
                start = end
            }
            binner.flush(to: &frames)
            drain()
            let c = binner.counters
            #expect(c.eventsIn == events.count, "\(comment)")
            #expect(
                c.eventsIn == c.eventsBinned + c.outsideCrop + c.refractoryDropped + c.noiseDropped + c.lateEvents,
                "binner counters do not add up: \(c); \(comment)")
            #expect(!badIndex, "an active index past the frame's inputs; \(comment)")
            binners[key] = binner
        }
    }

    // MARK: - Tests

    @Test("seeds decode cleanly, whole and chunked", arguments: EventFormat.allCases)
    func seedsDecode(_ format: EventFormat) throws {
        var binners = BinnerCache()
        var rng = TestData.Random(seed: Self.baseSeed)
        for seed in Self.seeds(format) {
            try #require(!seed.bytes.isEmpty, "missing \(seed.name)")
            let outcome = Self.exercise(
                seed.bytes, format, geometry: nil, rng: &rng, binners: &binners, comment: "seed \(seed.name)")
            #expect(outcome.error == nil, "seed \(seed.name): \(String(describing: outcome.error))")
            #expect(outcome.events.count > 100, "seed \(seed.name): \(outcome.events.count) events")
        }
    }

    @Test("mutated recordings decode or fail cleanly", arguments: EventFormat.allCases)
    func mutants(_ format: EventFormat) throws {
        let seeds = Self.seeds(format)
        try #require(seeds.allSatisfy { !$0.bytes.isEmpty })
        var binners = BinnerCache()
        var failed = 0, clean = 0, events = 0
        var codes: [String: Int] = [:]
        let began = ContinuousClock.now
        for index in 0..<Self.mutantCount where Self.onlyMutant == nil || Self.onlyMutant == index {
            let seed = seeds[index % seeds.count]
            let (bytes, log) = Self.mutant(of: seed, index: index, format: format)
            var rng = TestData.Random(seed: Self.baseSeed &+ UInt64(index))
            // Even mutants use the header's geometry (if any); odd ones the sensor's or a small random one.
            let geometry: SensorGeometry? = index % 2 == 0 ? nil
                : index % 4 == 1 ? seed.sensor
                : SensorGeometry(width: Int.random(in: 1...400, using: &rng), height: Int.random(in: 1...300, using: &rng))
            let given = geometry.map { "\($0)" } ?? "from header"
            let what = "\(format) mutant \(index) of \(seed.name) (\(bytes.count) bytes, geometry \(given), "
                + "seed \(Self.baseSeed)): \(log.joined(separator: ", "))"
            let comment = Comment(rawValue: what)
            let outcome = Self.exercise(bytes, format, geometry: geometry, rng: &rng, binners: &binners, comment: comment)
            if let error = outcome.error {
                failed += 1
                codes[error.code.description, default: 0] += 1
            } else {
                clean += 1
            }
            events += outcome.events.count
        }
        if Self.verbose {
            let memory = (try? String(contentsOfFile: "/proc/self/status", encoding: .utf8))?
                .split(separator: "\n").filter { $0.hasPrefix("VmRSS") || $0.hasPrefix("VmHWM") }
                .map { $0.split(whereSeparator: \.isWhitespace).joined(separator: " ") } ?? []
            print("\(format): \(clean + failed) mutants, \(clean) clean, \(failed) failed \(codes), \(events) events, "
                  + "\(ContinuousClock.now - began), \(memory.joined(separator: ", "))")
        }
        // Both kinds of outcome must be reached, or the mutations test nothing.
        #expect(Self.onlyMutant != nil || (clean > 0 && failed > 0), "\(format): \(clean) clean, \(failed) failed")
    }

    @Test("random bytes decode or fail cleanly", arguments: EventFormat.allCases)
    func randomBytes(_ format: EventFormat) {
        // Pure noise, and noise after a valid opening line, so the data paths are reached too.
        let openings: [[UInt8]] = [
            [], Array("% evt 3.0\n% end\n".utf8), Array("% evt 2.0\n% geometry 64x48\n% end\n".utf8),
            Array("% Version 2\n".utf8) + [0x0c, 8], Array("#!AER-DAT3.1\r\n#!END-HEADER\r\n".utf8),
            AEDAT4Decoder.magic,
        ]
        var rng = TestData.Random(seed: Self.baseSeed ^ 0xBAD5_EED5 ^ UInt64(format.rawValue.hashValueStable))
        var binners = BinnerCache()
        for index in 0..<Self.randomCount {
            let opening = openings[index % openings.count]
            let n = Int.random(in: 0..<8, using: &rng) == 0
                ? Int.random(in: 0...65536, using: &rng) : Int.random(in: 0...2048, using: &rng)
            let bytes = opening + (0..<n).map { _ in UInt8.random(in: 0...255, using: &rng) }
            let geometry = index % 3 == 0 ? SensorGeometry(width: 100, height: 60) : nil
            let comment: Comment = "\(format) random input \(index) (\(bytes.count) bytes, seed \(Self.baseSeed))"
            _ = Self.exercise(bytes, format, geometry: geometry, rng: &rng, binners: &binners, comment: comment)
        }
    }

    @Test("empty input", arguments: EventFormat.allCases)
    func emptyInput(_ format: EventFormat) {
        var rng = TestData.Random(seed: 1)
        var binners = BinnerCache()
        let outcome = Self.exercise([], format, geometry: nil, rng: &rng, binners: &binners, comment: "\(format) empty")
        #expect(outcome.events.isEmpty)
        switch format {
        case .aedat3, .aedat4:
            #expect(outcome.error?.code == .truncated && outcome.error?.offset == 0, "\(String(describing: outcome.error))")
        case .nmnist, .evt2, .evt3, .dat:
            #expect(outcome.error == nil, "\(String(describing: outcome.error))")
        }
        // Empty chunks fed between nothing change nothing either.
        var decoder = format.makeDecoder()
        var events = EventBuffer()
        for _ in 0..<3 { try? decoder.decode([], into: &events) }
        #expect(decoder.offset == 0 && events.isEmpty)
    }
}

// MARK: - Regressions

extension HostileInputTests {
    /// EVT 3.0 vectors advance base x by 12 (VECT_12) or 8 (VECT_8) with nothing but VECT_BASE_X to reset it.
    /// A stream of TIME_HIGH, VECT_BASE_X 0, then 357,913,941 empty VECT_12 words (0x4000, 716 MB) brings
    /// base x to 2^32 - 4, where `base x + 12` wrapped to 8 and passed the "whole vector on the sensor"
    /// test: the next VECT_12 0x4FFF wrote 12 events at x = 65532...65535, 0...7, outside any geometry.
    /// The decoder is started here from that state instead of being fed the 716 MB.
    @Test func evt3VectorBaseXCannotWrapOntoTheSensor() throws {
        let geometry = SensorGeometry(width: 1280, height: 720)
        var decoder = EVT3Decoder(geometry: geometry)
        var events = EventBuffer()
        try decoder.decode([0x00, 0x80, 0x05, 0x00], into: &events)  // TIME_HIGH 0, ADDR_Y 5
        decoder.state.baseX = 12 * 357_913_941
        try decoder.decode([0xFF, 0x4F, 0xFF, 0x5F], into: &events)  // VECT_12 and VECT_8, all bits set
        try decoder.finish(into: &events)
        #expect(events.isEmpty, "\(events.events)")
        #expect(decoder.counters.outOfBounds == 20)
        // Without a geometry the 11-bit address range bounds x the same way.
        var plain = EVT3Decoder()
        try plain.decode([0x00, 0x80, 0x05, 0x00], into: &events)
        plain.state.baseX = UInt32.max - 7
        try plain.decode([0xFF, 0x5F], into: &events)
        #expect(events.isEmpty, "\(events.events)")
        #expect(plain.counters.outOfBounds == 8)
    }
}

extension String {
    /// A hash that is the same in every run (Swift's `hashValue` is seeded per process).
    fileprivate var hashValueStable: UInt32 {
        utf8.reduce(2_166_136_261) { ($0 ^ UInt32($1)) &* 16_777_619 }
    }
}
