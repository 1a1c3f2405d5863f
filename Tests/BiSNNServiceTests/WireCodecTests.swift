import Foundation
import Testing
import EventStream
@testable import BiSNNService

@Suite struct WireCodecTests {
    typealias F = WireFixtures

    // MARK: native

    /// Real N-MNIST recordings, split into messages by the sender, come back identical through the intake.
    @Test func nativeRoundTripOfRealRecordings() throws {
        let geometry = SensorGeometry(width: 34, height: 34)
        var writer = EventPacketWriter(sensor: F.cam0)
        var intake = EventIntake(expectedGeometry: geometry)
        for file in ["1.bin", "2.bin", "3.bin", "10.bin"] {
            let recording = try EventFileReader.read(F.data("nmnist-small/train/" + file), format: .nmnist)
            #expect(recording.counters.timestampRegressions == 0)
            #expect(recording.events.count > 1000)
            let messages = try writer.nativeMessages(recording.events, geometry: geometry, maximumEvents: 300)
            #expect(messages.count == (recording.events.count + 299) / 300)
            var received = EventBuffer()
            for (i, frames) in messages.enumerated() {
                let accepted = try intake.accept(frames: frames, into: &received)
                #expect(accepted.packet.resetsStream == (i == 0))
                #expect(accepted.packet.endsSegment == (i == messages.count - 1))
                #expect(accepted.packet.payload.lateEvents == 0)
            }
            #expect(received.events == recording.events.events, "\(file)")
        }
        #expect(intake.sensors[F.cam0]?.lateEvents == 0)
        #expect(intake.sensors[F.cam0]?.sequence.gaps == 0)
    }

    /// Recordings longer than 2^32 µs get several time bases; backwards times start a new message.
    @Test func chunksKeepOffsetsInRange() throws {
        let max = NativeEventCodec.maximumOffset
        // Offsets past 2^32 - 1 and times before the message's time base start a new message; times that go
        // back but not below the time base stay (the service will count them as late).
        let times: [Int64] = [0, 5, max, max + 1, 3 * max, 3 * max + 2, 3 * max - 1, 3 * max + 1]
        let events = EventBuffer(times.map { Event(t: $0, x: 0, y: 0, polarity: 0) })
        let chunks = NativeEventCodec.chunks(of: events, maximumEvents: 100)
        #expect(chunks.map(\.range) == [0..<3, 3..<4, 4..<6, 6..<8])
        #expect(chunks.map(\.timeBase) == [0, max + 1, 3 * max, 3 * max - 1])
        let backwards = EventBuffer([5, 3, 9].map { Event(t: $0, x: 0, y: 0, polarity: 0) })
        #expect(NativeEventCodec.chunks(of: backwards, maximumEvents: 10).map(\.range) == [0..<1, 1..<3])
        #expect(NativeEventCodec.chunks(of: events, maximumEvents: 1).count == times.count)
        #expect(NativeEventCodec.chunks(of: EventBuffer(), maximumEvents: 10).isEmpty)

        // Encoding refuses offsets out of range and y past 15 bits, naming the event; appends nothing.
        var payload: [UInt8] = [1, 2, 3]
        do {
            try NativeEventCodec.encode(events, range: 0..<4, timeBase: 0, into: &payload)
            Issue.record("encoded an offset past 2^32 - 1")
        } catch {
            #expect(error.eventIndex == 3)
        }
        #expect(payload == [1, 2, 3])
        do {
            _ = try NativeEventCodec.encode([Event(t: 0, x: 0, y: 0x8000, polarity: 0)], timeBase: 0)
            Issue.record("encoded a 16-bit y")
        } catch {
            #expect(error.eventIndex == 0)
        }
        // Polarity goes to bit 15 of the third field.
        let one = try NativeEventCodec.encode([Event(t: 7, x: 0x1234, y: 0x7fff, polarity: 1)], timeBase: 2)
        #expect(one == [5, 0, 0, 0, 0x34, 0x12, 0xff, 0xff])
    }

    /// The unsafe-pointer decoder gives what the plain reference decoder gives, on random payloads with
    /// late events, random watermarks, and now and then an event off the sensor.
    @Test func fastDecoderMatchesReference() throws {
        var rng = SplitMix64(state: 2024)
        for trial in 0..<300 {
            let width = Int.random(in: 1...400, using: &rng), height = Int.random(in: 1...300, using: &rng)
            let geometry = SensorGeometry(width: width, height: height)
            let n = Int.random(in: 0...2000, using: &rng)
            let outside = trial % 5 == 0 && n > 0 ? Int.random(in: 0..<n, using: &rng) : -1
            var payload: [UInt8] = []
            var offset = UInt32.random(in: 0...1000, using: &rng)
            for i in 0..<n {
                // Mostly forward, sometimes back (late), sometimes far.
                switch UInt8.random(in: 0..<20, using: &rng) {
                case 0: offset = offset &- UInt32.random(in: 0...50, using: &rng)
                case 1: offset = UInt32.random(in: 0...UInt32.max, using: &rng)
                default: offset = offset &+ UInt32.random(in: 0...20, using: &rng)
                }
                var x = UInt16.random(in: 0..<UInt16(width), using: &rng)
                var y = UInt16.random(in: 0..<UInt16(height), using: &rng)
                if i == outside {
                    if Bool.random(using: &rng) { x = UInt16.random(in: UInt16(width)...UInt16.max, using: &rng) } else {
                        y = UInt16.random(in: UInt16(height)...0x7fff, using: &rng)
                    }
                }
                let third = y | (Bool.random(using: &rng) ? 0x8000 : 0)
                withUnsafeBytes(of: offset.littleEndian) { payload += $0 }
                withUnsafeBytes(of: x.littleEndian) { payload += $0 }
                withUnsafeBytes(of: third.littleEndian) { payload += $0 }
            }
            let timeBase = Int64.random(in: 0..<(1 << 40), using: &rng)
            let start: Int64 = Bool.random(using: &rng) ? .min : timeBase + Int64.random(in: 0...3000, using: &rng)

            var referenceMark = start
            let reference = Result { () throws(WireRejection) in
                try NativeEventCodec.referenceDecode(
                    payload, timeBase: timeBase, geometry: geometry, watermark: &referenceMark)
            }
            var fastMark = start
            var buffer = EventBuffer([Event(t: -1, x: 9, y: 9, polarity: 1)])  // something already there
            let fast = Result { () throws(WireRejection) in
                try payload.withUnsafeBytes { raw in
                    Result { () throws(WireRejection) in
                        try NativeEventCodec.decode(
                            raw, timeBase: timeBase, geometry: geometry, watermark: &fastMark, into: &buffer)
                    }
                }.get()
            }
            switch (reference, fast) {
            case (.success(let r), .success(let late)):
                #expect(late == r.late, "trial \(trial)")
                #expect(Array(buffer.events.dropFirst()) == r.events, "trial \(trial)")
                #expect(fastMark == referenceMark)
            case (.failure(let r), .failure(let f)):
                #expect(r == f, "trial \(trial)")
                #expect(buffer.count == 1)
                #expect(fastMark == start)
            default:
                Issue.record("trial \(trial): reference \(reference), fast \(fast)")
            }
        }
    }

    @Test func lateEventsAreDroppedAndCounted() throws {
        var decoder = SensorEventDecoder()
        var events = EventBuffer()
        let first = try F.packet(F.nativeFrames(
            [Event(t: 100, x: 0, y: 0, polarity: 1), Event(t: 90, x: 1, y: 0, polarity: 1),
             Event(t: 100, x: 2, y: 0, polarity: 1), Event(t: 150, x: 3, y: 0, polarity: 1)],
            timeBase: 0))
        #expect(try decoder.decode(first, into: &events).lateEvents == 1)
        // The next message starts before the last accepted event: those are late too.
        let second = try F.packet(F.nativeFrames(
            [Event(t: 140, x: 4, y: 0, polarity: 0), Event(t: 150, x: 5, y: 0, polarity: 0)], sequence: 1, timeBase: 120))
        #expect(try decoder.decode(second, into: &events).lateEvents == 1)
        #expect(events.events.map(\.x) == [0, 2, 3, 5])
        #expect(decoder.lateEvents == 2)
        // START resets the order: earlier times are fine again.
        let restart = try F.packet(F.nativeFrames([Event(t: 5, x: 6, y: 0, polarity: 0)], flags: .start, sequence: 2))
        #expect(try decoder.decode(restart, into: &events).lateEvents == 0)
        #expect(decoder.latestTimestamp == 5)
    }

    // MARK: EVT 2.0 / 3.0

    /// The words of a Prophesee recording (after its `%` text header) and the events EventStream's file
    /// decoder finds in it.
    static func prophesee(_ file: String) throws -> (words: [UInt8], events: [Event], geometry: SensorGeometry) {
        let path = F.data("formats/" + file)
        let bytes = try EventFileReader.readBytes(path)
        var parser = PropheseeHeaderParser()
        let used = try bytes.withUnsafeBytes { try parser.parse($0) }
        #expect(parser.isComplete)
        let words = parser.dataPrefix + bytes[used...]
        let recording = try EventFileReader.read(path)
        #expect(recording.counters.timestampRegressions == 0)
        #expect(recording.counters.outOfBounds == 0)
        return (words, recording.events.events, try #require(recording.geometry))
    }

    /// Sends `words` as messages cut at the given word counts (the rest in one last message), START on the
    /// first; returns the events the service decodes.
    static func replay(
        _ words: [UInt8], encoding: EventEncoding, geometry: SensorGeometry, cuts: [Int],
        decoder: inout SensorEventDecoder, writer: inout EventPacketWriter, start: Bool = true
    ) throws -> EventBuffer {
        var events = EventBuffer()
        var offset = 0
        var pieces = cuts.map { $0 * encoding.unitSize }
        pieces.append(words.count - pieces.reduce(0, +))
        for (i, size) in pieces.enumerated() {
            let payload = Array(words[offset..<(offset + size)])
            offset += size
            let frames = writer.message(
                encoding: encoding, geometry: geometry, flags: start && i == 0 ? .start : [], payload: payload)
            let decoded = try decoder.decode(try F.packet(frames), into: &events)
            #expect(decoded.lateEvents == 0)
        }
        return events
    }

    /// Random message sizes in words: `ones` one-word messages first (every multi-word sequence of the
    /// stream's start is cut), then 1 to `maximum` words each.
    static func cuts(words: Int, ones: Int, maximum: Int, seed: UInt64) -> [Int] {
        var rng = SplitMix64(state: seed)
        var cuts = [Int](repeating: 1, count: min(ones, words))
        var used = cuts.count
        while true {
            let n = Int.random(in: 1...maximum, using: &rng)
            guard used + n < words else { break }
            cuts.append(n)
            used += n
        }
        return cuts
    }

    @Test(arguments: [
        ("evt3_1280x720.raw", EventEncoding.evt3),
        ("evt2_640x480.raw", EventEncoding.evt2),
    ])
    func evtStreamSplitAnywhereDecodesLikeTheFile(file: String, encoding: EventEncoding) throws {
        let (words, expected, geometry) = try Self.prophesee(file)
        #expect(words.count % encoding.unitSize == 0)
        let wordCount = words.count / encoding.unitSize
        var writer = EventPacketWriter(sensor: F.cam0)

        // Whole stream in one message, then cut at random word boundaries, many cuts of one word.
        for (seed, ones) in [(1 as UInt64, 0), (2, 6000), (3, 0)] {
            let cuts = seed == 1 ? [] : Self.cuts(words: wordCount, ones: ones, maximum: seed == 2 ? 3000 : 17, seed: seed)
            var decoder = SensorEventDecoder()
            let events = try Self.replay(
                words, encoding: encoding, geometry: geometry, cuts: cuts, decoder: &decoder, writer: &writer)
            #expect(events.count == expected.count, "\(file) seed \(seed)")
            #expect(events.events == expected, "\(file) seed \(seed)")
            #expect(decoder.encoding == encoding && decoder.geometry == geometry)
        }

        // START resets the decoding state: half the stream, then the whole stream again from START, gives
        // the whole stream's events after the half.
        var decoder = SensorEventDecoder()
        let half = try Self.replay(
            Array(words.prefix(wordCount / 2 * encoding.unitSize)), encoding: encoding, geometry: geometry,
            cuts: [], decoder: &decoder, writer: &writer)
        #expect(half.count > 0 && half.count < expected.count)
        let again = try Self.replay(
            words, encoding: encoding, geometry: geometry, cuts: [wordCount / 3], decoder: &decoder, writer: &writer)
        #expect(again.events == expected)

        // Without START, the replayed stream goes back in time: its events are late and dropped.
        var events = EventBuffer()
        let frames = writer.message(encoding: encoding, geometry: geometry, payload: words)
        let decoded = try decoder.decode(try F.packet(frames), into: &events)
        #expect(decoded.lateEvents > 0)
        #expect(decoded.events + decoded.lateEvents == expected.count)
    }

    /// A raw word stream whose first bytes read `% ` is data, not a text header.
    @Test func evtWordsThatLookLikeAHeaderAreData() throws {
        // EVT 3.0: TIME_HIGH, then EVT_ADDR_X words 0x2025 (bytes 25 20: "% "), x = 0x25, y = 0.
        let words: [UInt16] = [0x2025, 0x8001, 0x0003, 0x2025, 0x200a]
        let payload = words.flatMap { withUnsafeBytes(of: $0.littleEndian, Array.init) }
        #expect(payload.prefix(2) == [0x25, 0x20])
        var decoder = SensorEventDecoder()
        var events = EventBuffer()
        let header = F.header(.evt3, flags: .start, width: 64, height: 64, count: UInt32(words.count))
        let decoded = try decoder.decode(
            EventPacket(sensor: F.cam0, header: header, payload: payload), into: &events)
        // The first ADDR_X comes before any time word: dropped (not late).
        #expect(decoded.eventsBeforeTimeBase == 1)
        #expect(events.events == [Event(t: 4096, x: 0x25, y: 3, polarity: 0), Event(t: 4096, x: 10, y: 3, polarity: 0)])
    }
}
