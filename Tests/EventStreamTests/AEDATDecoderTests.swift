import Testing
@testable import EventStream

// MARK: - Test-side writers

/// Small writers of AEDAT 3.1 and AEDAT 4.0 files, for tests only (the library reads these formats).
enum AEDATWriter {
    // MARK: AEDAT 3.1

    /// One AEDAT 3.1 packet: header fields and raw payload.
    struct Packet3 {
        var type: Int16
        var source: Int16 = 1
        var eventSize: Int32
        var tsOffset: Int32 = 4
        var tsOverflow: Int32 = 0
        var number: Int32
        var valid: Int32
        var payload: [UInt8]

        /// A polarity packet (type 1); every event's time must share the packet's overflow (t >> 31).
        static func polarity(overflow: Int32, _ events: [(t: Int64, x: Int, y: Int, p: Int, valid: Bool)]) -> Packet3 {
            var payload: [UInt8] = []
            for e in events {
                precondition(e.t >> 31 == Int64(overflow))
                let data = UInt32(e.x) << 17 | UInt32(e.y) << 2 | UInt32(e.p) << 1 | (e.valid ? 1 : 0)
                payload += le(data) + le(UInt32(e.t & 0x7FFF_FFFF))
            }
            return Packet3(type: 1, eventSize: 8, tsOverflow: overflow, number: Int32(events.count),
                           valid: Int32(events.filter(\.valid).count), payload: payload)
        }

        var bytes: [UInt8] {
            le(type) + le(source) + le(eventSize) + le(tsOffset) + le(tsOverflow) + le(number) + le(number) + le(valid)
                + payload
        }
    }

    static func aedat3Header(source: String = "DVS128", format: String = "RAW") -> [UInt8] {
        Array(("#!AER-DAT3.1\r\n#Format: \(format)\r\n#Source 1: \(source)\r\n"
               + "#Start-Time: 2024-05-01 12:00:00 (TZ+0000)\r\n#!END-HEADER\r\n").utf8)
    }

    /// A whole file and the byte offset of each packet.
    static func aedat3(source: String = "DVS128", _ packets: [Packet3]) -> (bytes: [UInt8], offsets: [Int]) {
        var bytes = aedat3Header(source: source)
        var offsets: [Int] = []
        for p in packets {
            offsets.append(bytes.count)
            bytes += p.bytes
        }
        return (bytes, offsets)
    }

    // MARK: AEDAT 4.0

    /// The infoNode XML dv writes, for the given streams.
    static func infoNode(_ streams: [(id: Int, type: String, size: (Int, Int)?)]) -> String {
        var xml = "<dv version=\"2.0\">\n    <node name=\"outInfo\" path=\"/mainloop/Recorder/outInfo/\">\n"
        for s in streams {
            xml += "        <node name=\"\(s.id)\" path=\"/mainloop/Recorder/outInfo/\(s.id)/\">\n"
            xml += "            <attr key=\"compression\" type=\"string\">LZ4</attr>\n"
            xml += "            <attr key=\"typeIdentifier\" type=\"string\">\(s.type)</attr>\n"
            if let (w, h) = s.size {
                xml += "            <node name=\"info\" path=\"/mainloop/Recorder/outInfo/\(s.id)/info/\">\n"
                xml += "                <attr key=\"sizeX\" type=\"int\">\(w)</attr>\n"
                xml += "                <attr key=\"sizeY\" type=\"int\">\(h)</attr>\n"
                xml += "            </node>\n"
            }
            xml += "        </node>\n"
        }
        return xml + "    </node>\n</dv>\n"
    }

    /// An IOHeader FlatBuffer (identifier IOHE): compression, dataTablePosition, infoNode.
    static func ioHeader(compression: Int32, dataTable: Int64, info: String) -> [UInt8] {
        var b: [UInt8] = le(UInt32(20)) + Array("IOHE".utf8)           // root table at 20
        b += le(UInt16(10)) + le(UInt16(20)) + le(UInt16(4)) + le(UInt16(12)) + le(UInt16(8)) + [0, 0]  // vtable at 8
        b += le(Int32(12))                                              // table at 20: vtable at 20 - 12
        b += le(compression)                                            // +4
        b += le(UInt32(12))                                             // +8: string at 28 + 12 = 40
        b += le(dataTable)                                              // +12
        let text = Array(info.utf8)
        b += le(UInt32(text.count)) + text + [0]
        return b
    }

    /// A size-prefixed FlatBuffer event packet (a vector of 16-byte events).
    static func eventPacket(_ events: [Event], identifier: String = "EVTS") -> [UInt8] {
        var b: [UInt8] = le(UInt32(16)) + Array(identifier.utf8)        // root table at 16
        b += le(UInt16(6)) + le(UInt16(8)) + le(UInt16(4)) + [0, 0]     // vtable at 8
        b += le(Int32(8)) + le(UInt32(8))                               // table at 16; field 0 -> vector at 28
        b += [0, 0, 0, 0]
        b += le(UInt32(events.count))
        for e in events {
            b += le(e.t) + le(Int16(e.x)) + le(Int16(e.y)) + [e.polarity, 0, 0, 0]
        }
        return le(UInt32(b.count)) + b
    }

    /// An LZ4 frame of stored (uncompressed) blocks.
    static func lz4Stored(_ data: [UInt8]) -> [UInt8] {
        let descriptor: [UInt8] = [0x60, 0x40]  // version 1, independent blocks; 64 KiB blocks
        var b: [UInt8] = le(UInt32(0x184D_2204)) + descriptor + [UInt8(xxh32(descriptor) >> 8 & 0xFF)]
        var i = 0
        while i < data.count {
            let n = min(65536, data.count - i)
            b += le(UInt32(n) | 0x8000_0000) + data[i..<(i + n)]
            i += n
        }
        return b + le(UInt32(0))
    }

    /// A zstd frame of raw blocks, or of RLE blocks repeating `rle` (`rleBlocks` blocks of 128 KiB).
    static func zstdFrame(_ data: [UInt8], rle: UInt8? = nil, rleBlocks: Int = 0) -> [UInt8] {
        var b: [UInt8] = le(UInt32(0xFD2F_B528)) + [0x00, 0x38]  // no single segment; window 2^17
        func header(_ size: Int, type: Int, last: Bool) -> [UInt8] {
            let v = UInt32(size) << 3 | UInt32(type) << 1 | (last ? 1 : 0)
            return [UInt8(v & 0xFF), UInt8(v >> 8 & 0xFF), UInt8(v >> 16 & 0xFF)]
        }
        if let rle {
            for k in 0..<rleBlocks { b += header(1 << 17, type: 1, last: k == rleBlocks - 1) + [rle] }
            return b
        }
        var i = 0
        repeat {
            let n = min(1 << 17, data.count - i)
            b += header(n, type: 0, last: i + n == data.count) + data[i..<(i + n)]
            i += n
        } while i < data.count
        return b
    }

    /// XXH32 with seed 0, for the LZ4 frame header checksum.
    static func xxh32(_ input: [UInt8]) -> UInt32 {
        let p1: UInt32 = 2_654_435_761, p2: UInt32 = 2_246_822_519, p3: UInt32 = 3_266_489_917
        let p4: UInt32 = 668_265_263, p5: UInt32 = 374_761_393
        precondition(input.count < 16)
        func rotl(_ v: UInt32, _ r: UInt32) -> UInt32 { v << r | v >> (32 - r) }
        var h = p5 &+ UInt32(input.count)
        var i = 0
        while i + 4 <= input.count {
            let v = UInt32(input[i]) | UInt32(input[i + 1]) << 8 | UInt32(input[i + 2]) << 16 | UInt32(input[i + 3]) << 24
            h = rotl(h &+ v &* p3, 17) &* p4
            i += 4
        }
        while i < input.count {
            h = rotl(h &+ UInt32(input[i]) &* p5, 11) &* p1
            i += 1
        }
        h ^= h >> 15
        h = h &* p2
        h ^= h >> 13
        h = h &* p3
        h ^= h >> 16
        return h
    }

    /// A whole AEDAT 4.0 file: packets are (stream id, FlatBuffer body), compressed as `compression` says
    /// (or given as is when `raw`). Returns the bytes, the packet offsets and the data table position.
    static func aedat4(
        compression: Int32, info: String, packets: [(stream: Int32, body: [UInt8])], raw: Bool = false,
        dataTable: Bool = true
    ) -> (bytes: [UInt8], offsets: [Int], dataTable: Int64) {
        let payloads = packets.map { p -> (Int32, [UInt8]) in
            if raw { return (p.stream, p.body) }
            switch compression {
            case 1, 2: return (p.stream, lz4Stored(p.body))
            case 3, 4: return (p.stream, zstdFrame(p.body))
            default: return (p.stream, p.body)
            }
        }
        let headerLength = 14 + 4 + ioHeader(compression: compression, dataTable: 0, info: info).count
        var offsets: [Int] = []
        var position = headerLength
        for (_, payload) in payloads {
            offsets.append(position)
            position += 8 + payload.count
        }
        let table = dataTable ? Int64(position) : -1
        let header = ioHeader(compression: compression, dataTable: table, info: info)
        var bytes = Array("#!AER-DAT4.0\r\n".utf8) + le(Int32(header.count)) + header
        for (stream, payload) in payloads { bytes += le(stream) + le(Int32(payload.count)) + payload }
        if dataTable { bytes += [UInt8](repeating: 0xEE, count: 48) }  // stands for the FileDataTable
        return (bytes, offsets, table)
    }

    static func le<T: FixedWidthInteger>(_ v: T) -> [UInt8] {
        withUnsafeBytes(of: v.littleEndian) { Array($0) }
    }
}

// MARK: - Tests

@Suite struct AEDATDecoderTests {
    typealias W = AEDATWriter

    struct Outcome<D: EventDecoder> {
        var events: EventBuffer
        var decoder: D
        var error: EventDecodingError?
    }

    /// Decodes `bytes` whole (chunk nil) or in chunks of `chunk` bytes, then finishes; keeps the error.
    static func run<D: EventDecoder>(_ decoder: D, _ bytes: [UInt8], chunk: Int? = nil) -> Outcome<D> {
        var d = decoder
        var events = EventBuffer()
        do {
            let step = max(1, chunk ?? bytes.count)
            var i = 0
            while i < bytes.count {
                try d.decode(Array(bytes[i..<min(bytes.count, i + step)]), into: &events)
                i += step
            }
            try d.finish(into: &events)
            return Outcome(events: events, decoder: d, error: nil)
        } catch let error as EventDecodingError {
            return Outcome(events: events, decoder: d, error: error)
        } catch {
            Issue.record("unexpected error \(error)")
            return Outcome(events: events, decoder: d, error: nil)
        }
    }

    /// Expects the same error code and offset whole and in small and odd chunks.
    static func expectError<D: EventDecoder>(
        _ decoder: D, _ bytes: [UInt8], _ code: EventDecodingError.Code, at offset: Int,
        sourceLocation: SourceLocation = #_sourceLocation
    ) {
        for chunk in [nil, 1, 7, 4096] as [Int?] {
            if chunk == 1 && bytes.count > 100_000 { continue }
            let error = run(decoder, bytes, chunk: chunk).error
            #expect(error?.code == code, "chunk \(String(describing: chunk)): \(String(describing: error))",
                    sourceLocation: sourceLocation)
            #expect(error?.offset == Int64(offset), "chunk \(String(describing: chunk)): \(String(describing: error))",
                    sourceLocation: sourceLocation)
        }
    }

    // MARK: AEDAT 3.1

    static let packetA = W.Packet3.polarity(overflow: 0, [
        (100, 5, 6, 1, true), (105, 127, 127, 0, true), (107, 9, 9, 1, false), (110, 0, 0, 0, true),
        (90, 64, 1, 1, true), (120, 3, 4, 1, false),
    ])
    static let special = W.Packet3(type: 0, eventSize: 8, number: 2, valid: 2, payload: [UInt8](repeating: 7, count: 16))
    static let imu = W.Packet3(type: 3, eventSize: 36, number: 1, valid: 1, payload: [UInt8](repeating: 1, count: 36))
    static let packetB = W.Packet3.polarity(overflow: 1, [
        (1 << 31 | 5, 10, 20, 1, true), (1 << 31 | 0x7FFF_FFFF, 11, 21, 0, true),
    ])
    static let packetC = W.Packet3.polarity(overflow: 3, [(3 << 31 | 42, 1, 2, 1, true)])
    static let file3 = W.aedat3([packetA, special, packetB, imu, packetC])
    static let expected3 = [
        Event(t: 100, x: 5, y: 6, polarity: 1), Event(t: 105, x: 127, y: 127, polarity: 0),
        Event(t: 110, x: 0, y: 0, polarity: 0), Event(t: 90, x: 64, y: 1, polarity: 1),
        Event(t: 1 << 31 | 5, x: 10, y: 20, polarity: 1), Event(t: 1 << 31 | 0x7FFF_FFFF, x: 11, y: 21, polarity: 0),
        Event(t: 3 << 31 | 42, x: 1, y: 2, polarity: 1),
    ]

    @Test func aedat3RoundTrip() throws {
        let out = Self.run(AEDAT3Decoder(), Self.file3.bytes)
        #expect(out.error == nil)
        #expect(out.events.events == Self.expected3)
        #expect(out.decoder.geometry == SensorGeometry(width: 128, height: 128))
        #expect(out.decoder.version == "3.1")
        #expect(out.decoder.sources == [1: "DVS128"])
        var counters = DecoderCounters()
        counters.invalidEvents = 2
        counters.skippedPackets = 2
        counters.timeWraps = 3
        counters.timestampRegressions = 1
        #expect(out.decoder.counters == counters)
        #expect(out.decoder.offset == Int64(Self.file3.bytes.count))
    }

    @Test func aedat3ChunkedEqualsWhole() throws {
        let bytes = Self.file3.bytes
        let whole = Self.run(AEDAT3Decoder(), bytes)
        // One split at every byte position.
        for split in 0...bytes.count {
            var d = AEDAT3Decoder()
            var events = EventBuffer()
            try d.decode(Array(bytes[..<split]), into: &events)
            try d.decode(Array(bytes[split...]), into: &events)
            try d.finish(into: &events)
            #expect(events.events == whole.events.events, "split at \(split)")
            #expect(d.counters == whole.decoder.counters, "split at \(split)")
            #expect(d.offset == whole.decoder.offset)
        }
        // Random chunk sizes.
        var rng = TestData.Random(seed: 7)
        for maxChunk in [1, 3, 9, 31] {
            let split = try TestData.decodeInChunks(bytes, format: .aedat3, maxChunk: maxChunk, seed: rng.next())
            #expect(split.events.events == whole.events.events)
            #expect(split.counters == whole.decoder.counters)
            #expect(split.geometry == whole.decoder.geometry)
        }
    }

    @Test func aedat3GeometryFromSourceAndOverride() throws {
        let davis = W.aedat3(source: "DAVIS346B", [Self.packetA]).bytes
        #expect(Self.run(AEDAT3Decoder(), davis).decoder.geometry == SensorGeometry(width: 346, height: 260))
        for (name, w, h) in [("DAVIS240C", 240, 180), ("DVXplorer", 640, 480), ("DVXplorer_Lite", 320, 240)] {
            #expect(AEDAT3Decoder.geometry(forSensor: name) == SensorGeometry(width: w, height: h))
        }
        #expect(AEDAT3Decoder.geometry(forSensor: "File") == nil)
        let unknown = Self.run(AEDAT3Decoder(), W.aedat3(source: "Custom", [Self.packetA]).bytes)
        #expect(unknown.decoder.geometry == nil)
        #expect(unknown.events.count == 4)

        let small = SensorGeometry(width: 64, height: 64)
        let out = Self.run(AEDAT3Decoder(geometry: small), Self.file3.bytes)
        #expect(out.error == nil)
        #expect(out.decoder.geometry == small)
        #expect(out.events.events == Self.expected3.filter { $0.x < 64 && $0.y < 64 })
        #expect(out.decoder.counters.outOfBounds == 2)  // (127,127) and (64,1)
    }

    @Test func aedat3CompressedPacketsAreSkipped() throws {
        // A compressed packet (eventType high bit) carries its payload size in eventCapacity (bytes 16..<20).
        var compressed = W.Packet3(type: Int16(bitPattern: 0x8001), eventSize: 8, number: 3, valid: 3,
                                   payload: [1, 2, 3, 4, 5]).bytes
        compressed.replaceSubrange(16..<20, with: W.le(Int32(5)))
        let out = Self.run(AEDAT3Decoder(), W.aedat3([Self.packetC]).bytes + compressed)
        #expect(out.error == nil)
        #expect(out.events.count == 1)
        #expect(out.decoder.counters.skippedPackets == 1)
    }

    @Test func aedat3BadHeader() throws {
        Self.expectError(AEDAT3Decoder(), Array("hello, world\r\n".utf8), .badHeader, at: 0)
        Self.expectError(AEDAT3Decoder(), Array("#!AER-DAT2.0\r\n#!END-HEADER\r\n".utf8), .badHeader, at: 0)
        Self.expectError(AEDAT3Decoder(), W.aedat3Header(format: "SerializedTS"), .badHeader, at: 14)
        let noHash = Array("#!AER-DAT3.1\r\nFormat: RAW\r\n#!END-HEADER\r\n".utf8)
        Self.expectError(AEDAT3Decoder(), noHash, .badHeader, at: 14)
        // A header that never ends is refused at the cap, not buffered without bound.
        let endless = Array("#!AER-DAT3.1\r\n".utf8) + [UInt8](repeating: UInt8(ascii: "#"), count: AEDAT3Decoder.maxHeaderSize)
        for chunk in [nil, 65536] as [Int?] {
            let error = Self.run(AEDAT3Decoder(), endless, chunk: chunk).error
            #expect(error?.code == .badHeader)
            #expect(error?.offset == 14)
        }
    }

    @Test func aedat3Truncated() throws {
        let (bytes, offsets) = Self.file3
        Self.expectError(AEDAT3Decoder(), [], .truncated, at: 0)
        Self.expectError(AEDAT3Decoder(), Array(bytes[..<20]), .truncated, at: 14)  // inside the header
        Self.expectError(AEDAT3Decoder(), Array(bytes[..<(offsets[2] + 10)]), .truncated, at: offsets[2])
        Self.expectError(AEDAT3Decoder(), Array(bytes[..<(offsets[2] + 28 + 11)]), .truncated, at: offsets[2])
        Self.expectError(AEDAT3Decoder(), Array(bytes[..<(offsets[3] + 30)]), .truncated, at: offsets[3])
        // Odd trailing bytes after the last packet.
        Self.expectError(AEDAT3Decoder(), bytes + [1, 2, 3], .truncated, at: bytes.count)
        // The events before the cut are kept.
        let cut = Self.run(AEDAT3Decoder(), Array(bytes[..<(offsets[2] + 28 + 11)]))
        #expect(cut.events.events == Array(Self.expected3.prefix(5)))
    }

    @Test func aedat3SizesThatLie() throws {
        let (bytes, offsets) = Self.file3
        func patched(_ field: Int, _ value: Int32) -> [UInt8] {
            var b = bytes
            b.replaceSubrange((offsets[2] + field)..<(offsets[2] + field + 4), with: W.le(value))
            return b
        }
        Self.expectError(AEDAT3Decoder(), patched(20, -1), .badSize, at: offsets[2])          // eventNumber < 0
        Self.expectError(AEDAT3Decoder(), patched(20, .max), .badSize, at: offsets[2])        // 16 GiB of events
        Self.expectError(AEDAT3Decoder(), patched(4, -8), .badSize, at: offsets[2])           // eventSize < 0
        Self.expectError(AEDAT3Decoder(), patched(4, 0), .badSize, at: offsets[2])            // events of 0 bytes
        Self.expectError(AEDAT3Decoder(), patched(4, 16), .badPacket, at: offsets[2])         // not a polarity layout
        Self.expectError(AEDAT3Decoder(), patched(12, -1), .badPacket, at: offsets[2])        // negative overflow
        Self.expectError(AEDAT3Decoder(), patched(20, 1000), .truncated, at: offsets[2])      // runs past the end
        Self.expectError(AEDAT3Decoder(maxPacketSize: 8), bytes, .badSize, at: offsets[0])
        // An error is final.
        var d = AEDAT3Decoder()
        var events = EventBuffer()
        #expect(throws: EventDecodingError.self) { try d.decode(patched(20, -1), into: &events) }
        let again = #expect(throws: EventDecodingError.self) { try d.decode([0], into: &events) }
        #expect(again?.offset == Int64(offsets[2]))
    }

    @Test func aedat3DetectedAndReadThroughTheFileReader() throws {
        #expect(EventFormat.detect(prefix: Self.file3.bytes, fileName: "x.aedat") == .aedat3)
        var events = EventBuffer()
        let result = try Self.file3.bytes.withUnsafeBytes {
            try EventFileReader.decode($0, format: .aedat3, into: &events)
        }
        #expect(events.events == Self.expected3)
        #expect(result.geometry == SensorGeometry(width: 128, height: 128))
    }

    // MARK: AEDAT 4.0, real files

    /// Offsets and stream ids of the packets of an AEDAT 4.0 file, and the position of its data table.
    static func walk(_ b: [UInt8]) -> (offsets: [Int], streams: [Int32], dataTable: Int, dataTableField: Int) {
        func i32(_ at: Int) -> Int { Int(Int32(littleEndian: b.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: at, as: Int32.self) })) }
        func u16(_ at: Int) -> Int { Int(b[at]) | Int(b[at + 1]) << 8 }
        let headerSize = i32(14)
        let table = 18 + i32(18)
        let vtable = table - i32(table)
        let dataTableField = table + u16(vtable + 6)
        let dataTable = Int(b.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: dataTableField, as: Int64.self) })
        var offsets: [Int] = [], streams: [Int32] = []
        var p = 18 + headerSize
        while p < dataTable {
            offsets.append(p)
            streams.append(Int32(i32(p)))
            p += 8 + i32(p + 4)
        }
        return (offsets, streams, dataTable, dataTableField)
    }

    static let dvx = "formats/dvxplorer_320x240.aedat4"
    static let davis = "formats/davis346.aedat4"

    @Test func aedat4RealFilesGeometryAndSkippedPackets() throws {
        for (file, w, h, skipped) in [(Self.dvx, 320, 240, 59), (Self.davis, 346, 260, 236 + 177 + 59)] {
            let bytes = try EventFileReader.readBytes(TestData.path(file))
            let out = Self.run(AEDAT4Decoder(), bytes)
            #expect(out.error == nil)
            #expect(out.decoder.geometry == SensorGeometry(width: w, height: h))
            #expect(out.decoder.counters.skippedPackets == skipped)
            #expect(out.decoder.counters.outOfBounds == 0)
            #expect(out.decoder.compression == .lz4)
            #expect(out.decoder.dataTablePosition == Int64(Self.walk(bytes).dataTable))
            #expect(out.decoder.streams[0]?.typeIdentifier == "EVTS")
            #expect(out.decoder.offset == Int64(bytes.count))
            let name = String(file.dropFirst("formats/".count))
            #expect(out.events.count == TestData.reference(name).events)
        }
        let davis = Self.run(AEDAT4Decoder(), try EventFileReader.readBytes(TestData.path(Self.davis))).decoder
        #expect(davis.streams.mapValues(\.typeIdentifier) == [0: "EVTS", 1: "FRME", 2: "IMUS", 3: "TRIG"])
        #expect(davis.streams[1]?.geometry == SensorGeometry(width: 346, height: 260))
    }

    @Test func aedat4GeometryOverrideWins() throws {
        let bytes = try EventFileReader.readBytes(TestData.path(Self.dvx))
        let small = SensorGeometry(width: 100, height: 100)
        let out = Self.run(AEDAT4Decoder(geometry: small), bytes)
        let whole = Self.run(AEDAT4Decoder(), bytes)
        #expect(out.error == nil)
        #expect(out.decoder.geometry == small)
        #expect(out.events.count + out.decoder.counters.outOfBounds == whole.events.count)
        #expect(out.decoder.counters.outOfBounds > 0)
        #expect(out.events.x.allSatisfy { $0 < 100 } && out.events.y.allSatisfy { $0 < 100 })
    }

    @Test func aedat4Truncated() throws {
        let bytes = try EventFileReader.readBytes(TestData.path(Self.dvx))
        let (offsets, _, _, _) = Self.walk(bytes)
        Self.expectError(AEDAT4Decoder(), [], .truncated, at: 0)
        Self.expectError(AEDAT4Decoder(), Array(bytes[..<10]), .truncated, at: 0)
        Self.expectError(AEDAT4Decoder(), Array(bytes[..<16]), .truncated, at: 14)
        Self.expectError(AEDAT4Decoder(), Array(bytes[..<100]), .truncated, at: 18)
        Self.expectError(AEDAT4Decoder(), Array(bytes[..<(offsets[5] + 100)]), .truncated, at: offsets[5])
        Self.expectError(AEDAT4Decoder(), Array(bytes[..<(offsets[5] + 3)]), .truncated, at: offsets[5])
        // Ending cleanly between packets but before the declared data table is a truncation too.
        Self.expectError(AEDAT4Decoder(), Array(bytes[..<offsets[5]]), .truncated, at: offsets[5])
    }

    @Test func aedat4WithoutDataTableAndOddTrailingBytes() throws {
        let bytes = try EventFileReader.readBytes(TestData.path(Self.dvx))
        let (_, _, table, field) = Self.walk(bytes)
        var noTable = Array(bytes[..<table])
        noTable.replaceSubrange(field..<(field + 8), with: W.le(Int64(-1)))
        let out = Self.run(AEDAT4Decoder(), noTable)
        let whole = Self.run(AEDAT4Decoder(), bytes)
        #expect(out.error == nil)
        #expect(out.decoder.dataTablePosition == nil)
        #expect(out.events.events == whole.events.events)
        #expect(out.decoder.counters == whole.decoder.counters)
        Self.expectError(AEDAT4Decoder(), noTable + [1, 2, 3], .truncated, at: table)
        // Without a data table, a size running past the end shows as a truncation at that packet.
        var past = noTable
        let last = Self.walk(bytes).offsets.last!
        past.replaceSubrange((last + 4)..<(last + 8), with: W.le(Int32(table - last)))
        Self.expectError(AEDAT4Decoder(), past, .truncated, at: last)
    }

    @Test func aedat4PacketSizesThatLie() throws {
        let bytes = try EventFileReader.readBytes(TestData.path(Self.dvx))
        let (offsets, _, table, _) = Self.walk(bytes)
        let p = offsets[3]
        func withSize(_ size: Int32) -> [UInt8] {
            var b = bytes
            b.replaceSubrange((p + 4)..<(p + 8), with: W.le(size))
            return b
        }
        Self.expectError(AEDAT4Decoder(), withSize(.max), .badSize, at: p)                       // huge
        Self.expectError(AEDAT4Decoder(), withSize(-5), .badSize, at: p)                         // negative
        Self.expectError(AEDAT4Decoder(), withSize(Int32(table - p)), .badSize, at: p)           // past the data table
        Self.expectError(AEDAT4Decoder(), withSize(Int32(bytes.count)), .badSize, at: p)         // past the end
        // Smaller caps: on the stored size, and on the decompressed size (a decompression bomb).
        let big = zip(offsets, offsets.dropFirst()).first { $1 - $0 > 1008 }!.0
        Self.expectError(AEDAT4Decoder(maxPacketSize: 1000), bytes, .badSize, at: big)
        let events = zip(Self.walk(bytes).streams, offsets).first { $0.0 == 0 }!.1
        Self.expectError(AEDAT4Decoder(maxDecompressedSize: 1000), bytes, .badSize, at: events)
    }

    @Test func aedat4GarbageHeader() throws {
        let bytes = Array(try EventFileReader.readBytes(TestData.path(Self.dvx)).prefix(200_000))
        func patched(_ at: Int, _ new: [UInt8]) -> [UInt8] {
            var b = bytes
            b.replaceSubrange(at..<(at + new.count), with: new)
            return b
        }
        Self.expectError(AEDAT4Decoder(), patched(0, [0x58]), .badHeader, at: 0)
        Self.expectError(AEDAT4Decoder(), patched(9, Array("3.1".utf8)), .badHeader, at: 0)
        Self.expectError(AEDAT4Decoder(), patched(14, W.le(Int32(-1))), .badSize, at: 14)
        Self.expectError(AEDAT4Decoder(), patched(14, W.le(Int32.max)), .badSize, at: 14)
        Self.expectError(AEDAT4Decoder(), patched(22, Array("XXXX".utf8)), .badHeader, at: 18)  // identifier
        Self.expectError(AEDAT4Decoder(), patched(18, W.le(UInt32(0xFFFF_FF00))), .badHeader, at: 18)  // root offset
        let table = 18 + 24
        Self.expectError(AEDAT4Decoder(), patched(table, W.le(Int32(-100_000))), .badHeader, at: 18)  // vtable offset
        Self.expectError(AEDAT4Decoder(), patched(table + 4, W.le(Int32(9))), .badHeader, at: 18)  // compression
        Self.expectError(AEDAT4Decoder(), patched(table + 8, W.le(UInt32(1 << 30))), .badHeader, at: 18)  // infoNode
    }

    @Test func aedat4CorruptLZ4Payload() throws {
        let bytes = try EventFileReader.readBytes(TestData.path(Self.dvx))
        let (offsets, streams, _, _) = Self.walk(bytes)
        let p = zip(streams, offsets).first { $0.0 == 0 }!.1
        var badMagic = bytes
        badMagic[p + 8] ^= 0xFF
        Self.expectError(AEDAT4Decoder(), badMagic, .badPacket, at: p)
        var badChecksum = bytes
        badChecksum[p + 8 + 6] ^= 0x55  // frame header checksum
        Self.expectError(AEDAT4Decoder(), badChecksum, .badPacket, at: p)
        var badBlock = bytes
        badBlock.replaceSubrange((p + 8 + 7)..<(p + 8 + 11), with: W.le(UInt32(0x7FFF_FFFF)))  // block size
        Self.expectError(AEDAT4Decoder(), badBlock, .badPacket, at: p)
        // An IMU packet's payload is never decompressed: corrupting it changes nothing.
        let imu = zip(streams, offsets).first { $0.0 == 2 }!.1
        var corruptIMU = bytes
        corruptIMU[imu + 8] ^= 0xFF
        let out = Self.run(AEDAT4Decoder(), corruptIMU)
        #expect(out.error == nil)
        #expect(out.events.count == TestData.reference("dvxplorer_320x240.aedat4").events)
    }

    @Test func aedat4UnknownStreamIsSkipped() throws {
        let bytes = try EventFileReader.readBytes(TestData.path(Self.dvx))
        let (offsets, streams, _, _) = Self.walk(bytes)
        let whole = Self.run(AEDAT4Decoder(), bytes)
        let p = zip(streams, offsets).first { $0.0 == 0 }!.1
        var moved = bytes
        moved.replaceSubrange(p..<(p + 4), with: W.le(Int32(7)))
        let out = Self.run(AEDAT4Decoder(), moved)
        #expect(out.error == nil)
        #expect(out.decoder.counters.skippedPackets == whole.decoder.counters.skippedPackets + 1)
        #expect(out.events.count < whole.events.count)
        #expect(Array(out.events.t) == Array(whole.events.t.suffix(out.events.count)))
    }

    // MARK: AEDAT 4.0, written by the tests

    static let events4a = [
        Event(t: 1_000, x: 1, y: 2, polarity: 1), Event(t: 1_001, x: 31, y: 23, polarity: 0),
        Event(t: 1_000, x: 0, y: 0, polarity: 1),
    ]
    static let events4b: [Event] = (0..<5000).map { (i: Int) -> Event in
        let t: Int64 = 2_000 + Int64(i)
        return Event(t: t, x: UInt16(i % 32), y: UInt16(i % 24), polarity: UInt8(i & 1))
    }
    static let info4 = W.infoNode([(0, "EVTS", (32, 24)), (1, "FRME", (32, 24)), (2, "IMUS", nil)])

    static func synthetic(compression: Int32) -> (bytes: [UInt8], offsets: [Int], dataTable: Int64) {
        W.aedat4(compression: compression, info: info4, packets: [
            (0, W.eventPacket(events4a)),
            (1, [0xDE, 0xAD, 0xBE, 0xEF]),  // a "frame" that is not even valid: never decompressed
            (0, W.eventPacket(events4b)),
            (9, [1, 2, 3]),                // a stream the header does not declare
            (2, []),
            (0, W.eventPacket([Event(t: 9_999, x: 40, y: 1, polarity: 1), Event(t: 10_000, x: 3, y: 3, polarity: 1)])),
        ])
    }

    @Test(arguments: [Int32(0), 1, 2, 3, 4])
    func aedat4SyntheticRoundTrip(compression: Int32) throws {
        let file = Self.synthetic(compression: compression)
        let out = Self.run(AEDAT4Decoder(), file.bytes)
        #expect(out.error == nil)
        #expect(out.events.events == Self.events4a + Self.events4b + [Event(t: 10_000, x: 3, y: 3, polarity: 1)])
        #expect(out.decoder.geometry == SensorGeometry(width: 32, height: 24))
        #expect(out.decoder.compression?.rawValue == compression)
        #expect(out.decoder.counters.skippedPackets == 3)
        #expect(out.decoder.counters.outOfBounds == 1)
        #expect(out.decoder.counters.timestampRegressions == 1)
        for chunk in [1, 2, 5, 8, 13, 1000] {
            let split = Self.run(AEDAT4Decoder(), file.bytes, chunk: chunk)
            #expect(split.error == nil)
            #expect(split.events.events == out.events.events, "chunk \(chunk)")
            #expect(split.decoder.counters == out.decoder.counters, "chunk \(chunk)")
        }
        let split = try TestData.decodeInChunks(file.bytes, format: .aedat4, maxChunk: 17, seed: 3)
        #expect(split.events.events == out.events.events)
    }

    @Test func aedat4WithoutStreamInfoDecodesByIdentifier() throws {
        let file = W.aedat4(compression: 0, info: "", packets: [
            (0, W.eventPacket(Self.events4a)),
            (1, W.eventPacket([Event(t: 5, x: 5, y: 5, polarity: 1)], identifier: "IMUS")),
        ])
        let out = Self.run(AEDAT4Decoder(), file.bytes)
        #expect(out.error == nil)
        #expect(out.decoder.geometry == nil)
        #expect(out.events.events == Self.events4a)
        #expect(out.decoder.counters.skippedPackets == 1)
    }

    @Test func aedat4FlatBufferOffsetsOutside() throws {
        let body = W.eventPacket(Self.events4a)
        func file(_ at: Int, _ new: [UInt8]) -> (bytes: [UInt8], offsets: [Int], dataTable: Int64) {
            var b = body
            b.replaceSubrange(at..<(at + new.count), with: new)
            return W.aedat4(compression: 0, info: Self.info4, packets: [(0, W.eventPacket([])), (0, b)])
        }
        for (at, value) in [(4, UInt32(0x7FFF_FFF0)), (20, UInt32(0x8000_0000)), (24, UInt32(0x4000)), (32, UInt32(0x1000_0000))] {
            let f = file(at, W.le(value))  // root offset, vtable soffset, vector offset, vector length
            Self.expectError(AEDAT4Decoder(), f.bytes, .badPacket, at: f.offsets[1])
        }
        let empty = W.aedat4(compression: 0, info: Self.info4, packets: [(0, [])])
        Self.expectError(AEDAT4Decoder(), empty.bytes, .badPacket, at: empty.offsets[0])
        let short = W.aedat4(compression: 3, info: Self.info4, packets: [(0, [1, 2])], raw: true)
        Self.expectError(AEDAT4Decoder(), short.bytes, .badPacket, at: short.offsets[0])
    }

    @Test func aedat4DecompressionBombIsCapped() throws {
        let bomb = W.zstdFrame([], rle: 0, rleBlocks: 64)  // 8 MiB of zeros from ~200 bytes
        let file = W.aedat4(compression: 3, info: Self.info4, packets: [(0, bomb)], raw: true)
        Self.expectError(AEDAT4Decoder(maxDecompressedSize: 1 << 20), file.bytes, .badSize, at: file.offsets[0])
        // Under the cap it decompresses, and the zeros are not an event packet.
        Self.expectError(AEDAT4Decoder(), file.bytes, .badPacket, at: file.offsets[0])
        // A truncated zstd frame is a bad packet.
        let cut = W.aedat4(compression: 3, info: Self.info4, packets: [(0, Array(W.zstdFrame(W.eventPacket(Self.events4a)).dropLast(9)))], raw: true)
        Self.expectError(AEDAT4Decoder(), cut.bytes, .badPacket, at: cut.offsets[0])
        let cutLZ4 = W.aedat4(compression: 1, info: Self.info4, packets: [(0, Array(W.lz4Stored(W.eventPacket(Self.events4a)).dropLast(6)))], raw: true)
        Self.expectError(AEDAT4Decoder(), cutLZ4.bytes, .badPacket, at: cutLZ4.offsets[0])
    }

    @Test func aedat4DeepOrOddInfoNodeIsHarmless() throws {
        // Deep nesting, stray brackets and comments: parsed in linear time, streams still found.
        let deep = String(repeating: "<node name=\"n\">", count: 20_000) + String(repeating: "</node>", count: 20_000)
        let info = "<?xml version=\"1.0\"?><dv><!-- < x --> <<< " + deep
            + W.infoNode([(3, "EVTS", (32, 24))]) + "<attr key=\"sizeX\">1</attr><node"
        let file = W.aedat4(compression: 0, info: info, packets: [(3, W.eventPacket(Self.events4a))])
        let out = Self.run(AEDAT4Decoder(), file.bytes)
        #expect(out.error == nil)
        #expect(out.decoder.geometry == SensorGeometry(width: 32, height: 24))
        #expect(out.events.events == Self.events4a)
    }

    @Test func aedat4BadGeometryInHeader() throws {
        let info = W.infoNode([(0, "EVTS", (0, 24))])
        let file = W.aedat4(compression: 0, info: info, packets: [])
        Self.expectError(AEDAT4Decoder(), file.bytes, .badHeader, at: 18)
    }
}
