import EventStream
import Foundation
import Testing

/// EventStream's ``EVT3Encoder`` (written for `bisnn replay --encoding evt3`), held to ``EVT3Decoder``: what it
/// writes decodes back to exactly the events encoded.
struct ReplayEVT3EncoderTests {
    /// Decodes EVT 3.0 `bytes` (header included) fed in pieces of `piece` bytes.
    static func decode(_ bytes: [UInt8], piece: Int = 1 << 20) throws -> (events: [Event], decoder: EVT3Decoder) {
        var decoder = EVT3Decoder()
        var events = EventBuffer()
        var start = 0
        while start < bytes.count {
            let end = min(bytes.count, start + piece)
            try decoder.decode(Array(bytes[start..<end]), into: &events)
            start = end
        }
        try decoder.finish(into: &events)
        return (events.events, decoder)
    }

    /// Random events in time order: bursts at one time, rows repeating, pauses up to `maximumGap` µs.
    static func randomEvents(count: Int, maximumGap: Int64, seed: UInt64) -> [Event] {
        var rng = SplitMix64(state: seed)
        var t = Int64.random(in: 0..<5_000_000, using: &rng)
        var y = UInt16.random(in: 0..<720, using: &rng)
        var events: [Event] = []
        for _ in 0..<count {
            switch Int.random(in: 0..<10, using: &rng) {
            case 0: t += Int64.random(in: 0...maximumGap, using: &rng)
            case 1...4: t += Int64.random(in: 0...50, using: &rng)
            default: break
            }
            if Int.random(in: 0..<3, using: &rng) == 0 { y = UInt16.random(in: 0..<720, using: &rng) }
            events.append(Event(
                t: t, x: UInt16.random(in: 0..<1280, using: &rng), y: y, polarity: UInt8.random(in: 0...1, using: &rng)))
        }
        return events
    }

    /// Pauses up to 100 µs, 3 s (TIME_HIGH steps past half its range), 60 s (24-bit wrap-arounds).
    @Test(arguments: [Int64(100), 3_000_000, 60_000_000])
    func roundTrip(maximumGap: Int64) throws {
        let events = Self.randomEvents(count: 20_000, maximumGap: maximumGap, seed: UInt64(maximumGap))
        var encoder = EVT3Encoder(geometry: SensorGeometry(width: 1280, height: 720))
        var bytes: [UInt8] = []
        // In batches, as a stream is written.
        for start in stride(from: 0, to: events.count, by: 777) {
            try encoder.encode(EventBuffer(events[start..<min(events.count, start + 777)]), into: &bytes)
        }
        try encoder.finish(into: &bytes)
        let (decoded, decoder) = try Self.decode(bytes, piece: 4097)
        #expect(decoded == events)
        #expect(decoder.geometry == SensorGeometry(width: 1280, height: 720))
        #expect(decoder.counters.eventsBeforeTimeBase == 0)
        #expect(decoder.counters.timeBaseResets == 0)
        #expect(decoder.counters.unknownWords == 0)
        if maximumGap > 1 << 24 { #expect(decoder.counters.timeWraps > 0) }
    }

    @Test func longJumpsAndLateStartsDecodeExactly() throws {
        // A first event past the 24-bit range, a jump of hours, equal times, the largest timestamp.
        let events = [
            Event(t: 40_000_000, x: 3, y: 4, polarity: 1), Event(t: 40_000_000, x: 5, y: 4, polarity: 0),
            Event(t: 40_004_096, x: 2047, y: 2047, polarity: 1), Event(t: 7_200_000_000, x: 0, y: 0, polarity: 0),
            Event(t: EVT3Encoder.maximumTimestamp, x: 1, y: 1, polarity: 1),
        ]
        var encoder = EVT3Encoder(geometry: nil)
        var bytes: [UInt8] = []
        try encoder.encode(EventBuffer(events), into: &bytes)
        #expect(try Self.decode(bytes).events == events)
    }

    @Test func headerDeclaresEVT3AndGeometry() throws {
        let encoder = EVT3Encoder(geometry: SensorGeometry(width: 640, height: 480))
        #expect(encoder.headerText == "% evt 3.0\n% format EVT3;height=480;width=640\n% geometry 640x480\n% end\n")
        var empty = EVT3Encoder(geometry: SensorGeometry(width: 640, height: 480))
        var bytes: [UInt8] = []
        try empty.finish(into: &bytes)
        #expect(bytes == Array(encoder.headerText.utf8))
        #expect(EventFormat.detect(prefix: bytes, fileName: "x.raw") == .evt3)
    }

    @Test func refusesWhatEVT3CannotCarryAndWritesNothing() throws {
        let geometry = SensorGeometry(width: 34, height: 34)
        let cases: [([Event], Int, String)] = [
            ([Event(t: 1, x: 0, y: 0, polarity: 0), Event(t: 0, x: 0, y: 0, polarity: 0)], 1, "backwards"),
            ([Event(t: 1, x: 34, y: 0, polarity: 0)], 0, "outside"),
            ([Event(t: -1, x: 0, y: 0, polarity: 0)], 0, "outside 0"),
            ([Event(t: EVT3Encoder.maximumTimestamp + 1, x: 0, y: 0, polarity: 0)], 0, "outside 0"),
        ]
        for (events, index, text) in cases {
            var encoder = EVT3Encoder(geometry: geometry)
            var bytes: [UInt8] = []
            do {
                try encoder.encode(EventBuffer(events), into: &bytes)
                Issue.record("\(events) encoded")
            } catch let error as EventEncodingError {
                #expect(error.eventIndex == index)
                #expect(error.message.contains(text), "\(error)")
            }
            #expect(bytes.isEmpty)
        }
    }
}
