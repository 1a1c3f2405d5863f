import EventStream
import Foundation
import Testing

@testable import BiSNNService

/// Real Prophesee word streams with input lost on the way (docs/protocol.md 4.4): a lost message, a message
/// cut mid-word, a message that would decode to too many events. Each is counted; the stream is
/// resynchronised, so every event decoded afterwards is one the file decoder finds too, at the same time and
/// place, and only the events before the next time word are given up.
@Suite struct StreamLossTests {
    typealias W = WireCodecTests

    /// `words` as messages of `size` words (START on the first) from `writer`, with the byte offset each
    /// message starts at.
    static func messages(
        _ words: [UInt8], encoding: EventEncoding, geometry: SensorGeometry, size: Int, writer: inout EventPacketWriter
    ) -> (messages: [[[UInt8]]], offsets: [Int]) {
        let step = size * encoding.unitSize
        let offsets = Array(stride(from: 0, to: words.count, by: step))
        let messages = offsets.enumerated().map { i, offset in
            writer.message(
                encoding: encoding, geometry: geometry, flags: i == 0 ? .start : [],
                payload: Array(words[offset..<min(words.count, offset + step)]))
        }
        return (messages, offsets)
    }

    /// How many of the file's events the words before `offset` hold (decoded as the service does).
    static func eventsBefore(_ offset: Int, of words: [UInt8], encoding: EventEncoding, geometry: SensorGeometry) throws -> Int {
        var decoder = SensorEventDecoder()
        var writer = EventPacketWriter(sensor: SensorName("ref")!)
        return try W.replay(
            Array(words[..<offset]), encoding: encoding, geometry: geometry, cuts: [], decoder: &decoder,
            writer: &writer
        ).count
    }

    /// Feeds `messages` to an intake; returns the events of the messages from index `from` on, and the
    /// sensor's counters.
    static func feed(
        _ messages: [[[UInt8]]], from: Int
    ) -> (events: [Event], sensor: SensorIntake?, rejections: [WireRejection.Reason]) {
        var intake = EventIntake()
        var after: [Event] = []
        var rejections: [WireRejection.Reason] = []
        for (i, message) in messages.enumerated() {
            var events = EventBuffer()
            do {
                _ = try intake.accept(frames: message, into: &events)
            } catch {
                rejections.append(error.reason)
            }
            if i >= from { after += events.events }
        }
        return (after, intake.sensors[SensorName("cam0")!], rejections)
    }

    /// The events decoded after lost input must be the file's own events from the loss on, less a prefix
    /// that ends at the next time word: `maximumSkip` µs of sensor time at most.
    static func expectResynchronised(
        _ decoded: [Event], expected: [Event], from first: Int, unsynced: Int, maximumSkip: Int64,
        sourceLocation: SourceLocation = #_sourceLocation
    ) {
        let tail = Array(expected[first...])
        #expect(decoded.count > tail.count / 2, sourceLocation: sourceLocation)
        #expect(decoded.count + unsynced == tail.count, "every event after the loss is decoded or counted",
                sourceLocation: sourceLocation)
        #expect(decoded == Array(tail.suffix(decoded.count)), "no stale row, column or time after the loss",
                sourceLocation: sourceLocation)
        if unsynced > 0, let skippedFirst = tail.first {
            #expect(tail[unsynced - 1].t - skippedFirst.t <= maximumSkip, sourceLocation: sourceLocation)
        }
    }

    @Test(arguments: [
        ("evt3_1280x720.raw", EventEncoding.evt3, Int64(4096)),
        ("evt2_640x480.raw", EventEncoding.evt2, Int64(64)),
    ])
    func aLostMessageIsCountedAndTheStreamResynchronises(file: String, encoding: EventEncoding, skip: Int64) throws {
        let (words, expected, geometry) = try W.prophesee(file)
        var writer = EventPacketWriter(sensor: SensorName("cam0")!)
        let (all, offsets) = Self.messages(words, encoding: encoding, geometry: geometry, size: 1500, writer: &writer)
        try #require(all.count > 6)
        let lost = all.count / 2
        var messages = all
        messages.remove(at: lost)
        let (decoded, sensor, rejections) = Self.feed(messages, from: lost)
        #expect(rejections.isEmpty)
        let state = try #require(sensor)
        #expect(state.sequence.gaps == 1 && state.sequence.lostMessages == 1)
        let first = try Self.eventsBefore(offsets[lost + 1], of: words, encoding: encoding, geometry: geometry)
        Self.expectResynchronised(
            decoded, expected: expected, from: first, unsynced: state.unsyncedEvents, maximumSkip: skip)
    }

    @Test func anEVT3MessageCutMidWordIsRejectedAndTheNextOneResynchronises() throws {
        let (words, expected, geometry) = try W.prophesee("evt3_1280x720.raw")
        var writer = EventPacketWriter(sensor: SensorName("cam0")!)
        let (all, offsets) = Self.messages(words, encoding: .evt3, geometry: geometry, size: 1500, writer: &writer)
        let cut = all.count / 3
        var messages = all
        // The sender cut its buffer one byte into the next word: the payload is not whole words.
        var payload = messages[cut][2]
        payload.append(words[offsets[cut + 1]])
        messages[cut][2] = payload
        let (decoded, sensor, rejections) = Self.feed(messages, from: cut + 1)
        #expect(rejections == [.countMismatch])
        let state = try #require(sensor)
        #expect(state.rejections == [.countMismatch: 1])
        #expect(state.sequence.gaps == 1, "the rejected message's number was never read: it shows as a gap")
        let first = try Self.eventsBefore(offsets[cut + 1], of: words, encoding: .evt3, geometry: geometry)
        Self.expectResynchronised(
            decoded, expected: expected, from: first, unsynced: state.unsyncedEvents, maximumSkip: 4096)
    }

    @Test func aMessageOfTooManyEventsIsRefusedBeforeDecoding() throws {
        let geometry = SensorGeometry(width: 1280, height: 64)
        var intake = EventIntake(maximumEvents: 1024)
        var writer = EventPacketWriter(sensor: SensorName("cam0")!)
        var events = EventBuffer()
        func accept(_ frames: [[UInt8]]) -> WireRejection.Reason? {
            do {
                _ = try intake.accept(frames: frames, into: &events)
                return nil
            } catch {
                return error.reason
            }
        }
        // EVT 3.0: TIME_HIGH, ADDR_Y, VECT_BASE_X, then 86 VECT_12 words of 12 events: 1032 events in 178 bytes.
        let vectors: [UInt16] = [0x8001, 0x0003, 0x3000] + Array(repeating: 0x4fff, count: 86)
        let dense = vectors.flatMap { withUnsafeBytes(of: $0.littleEndian, Array.init) }
        #expect(PayloadEventCount.upperBound(dense, encoding: .evt3, count: UInt32(vectors.count)) == 1032)
        #expect(accept(writer.message(encoding: .evt3, geometry: geometry, flags: .start, payload: dense)) == .tooManyEvents)
        #expect(events.count == 0)
        // 85 vectors (1020 events) are fine, and decode to that many.
        let fewer = Array(dense.dropLast(2))
        #expect(accept(writer.message(encoding: .evt3, geometry: geometry, flags: .start, payload: fewer)) == nil)
        #expect(events.count == 1020)

        // Native: the count decides.
        events.removeAll()
        let native = EventBuffer((0..<1025).map { Event(t: Int64($0), x: 1, y: 1, polarity: 1) })
        var payload: [UInt8] = []
        try NativeEventCodec.encode(native, timeBase: 0, into: &payload)
        #expect(accept(writer.message(encoding: .native, geometry: geometry, flags: .start, payload: payload)) == .tooManyEvents)
        let sensor = try #require(intake.sensors[SensorName("cam0")!])
        #expect(sensor.rejections == [.tooManyEvents: 2])
        #expect(sensor.droppedMessages == 2)

        // A real EVT 2.0 stream's bound is at least what it decodes to.
        let (words, expected, _) = try W.prophesee("evt2_640x480.raw")
        #expect(PayloadEventCount.upperBound(words, encoding: .evt2, count: UInt32(words.count / 4)) >= expected.count)
    }
}
