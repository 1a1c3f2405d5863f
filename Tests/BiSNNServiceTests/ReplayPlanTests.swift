import EventStream
import Foundation
import Testing

@testable import BiSNNService

/// The library side of `bisnn replay`: playlists, natural order, and how ``RecordingReplayer`` turns
/// recordings into messages (without sockets).
struct ReplayPlanTests {
    static let sensor = SensorName("cam0")!
    static let nmnist = SensorGeometry(width: 34, height: 34)

    static func recording(_ events: [Event], geometry: SensorGeometry = nmnist, path: String = "r.bin") -> ReplayRecording {
        ReplayRecording(path: path, format: .nmnist, events: EventBuffer(events), geometry: geometry)
    }

    static func packets(_ messages: RecordingMessages) throws -> [EventPacket] {
        try messages.messages.map { try EventPacket.parse(frames: $0.frames) }
    }

    @Test func naturalOrderCountsDigitRunsAsNumbers() {
        let names = ["10.bin", "2.bin", "1.bin", "a10b2", "a10b10", "a9", "007.bin", "7.bin", "B.bin", "a.bin"]
        #expect(names.sorted(by: NaturalOrder.areInIncreasingOrder) == [
            "1.bin", "2.bin", "7.bin", "007.bin", "10.bin", "B.bin", "a.bin", "a9", "a10b2", "a10b10",
        ])
        #expect(!NaturalOrder.areInIncreasingOrder("x", "x"))
        #expect(NaturalOrder.areInIncreasingOrder("x", "x1"))
    }

    @Test func aFolderIsReplayedInLabelsOrderElseInNaturalOrder() throws {
        let folder = try PipelineTools.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: folder) }
        for name in ["10.bin", "2.bin", "1.raw", ".hidden.bin", "notes.txt"] {
            try Data().write(to: folder.appendingPathComponent(name))
        }
        try FileManager.default.createDirectory(at: folder.appendingPathComponent("sub.bin"), withIntermediateDirectories: true)
        #expect(try ReplayPlaylist.resolve(folder.path).files == ["1.raw", "2.bin", "10.bin"].map { folder.path + "/" + $0 })
        #expect(try ReplayPlaylist.resolve(folder.path + "/2.bin").files == [folder.path + "/2.bin"])

        try Data("\u{FEFF}label,\"file\"\r\n3,10.bin\r\n\r\n4, \"2.bin\" \r\n".utf8)
            .write(to: folder.appendingPathComponent("labels.csv"))
        #expect(try ReplayPlaylist.resolve(folder.path).files == ["10.bin", "2.bin"].map { folder.path + "/" + $0 })

        try Data("file,label\n10.bin,1\nmissing.bin,2\n".utf8).write(to: folder.appendingPathComponent("labels.csv"))
        #expect(throws: ReplayError("line 3: missing.bin does not exist", file: folder.path + "/labels.csv")) {
            try ReplayPlaylist.resolve(folder.path)
        }
        try Data("name,label\n".utf8).write(to: folder.appendingPathComponent("labels.csv"))
        #expect(throws: ReplayError.self) { try ReplayPlaylist.resolve(folder.path) }
    }

    @Test func csvRowsHandleQuotesAndLineBreaks() {
        let rows = CSVRows.parse(Array("a, \"b,\"\"c\"\"\" ,d\n\n\"x\ny\",z".utf8))
        #expect(rows == [
            CSVRows.Row(fields: ["a", "b,\"c\"", "d"], line: 1), CSVRows.Row(fields: ["x\ny", "z"], line: 3),
        ])
    }

    @Test func messagesSplitByCountAndSpan() throws {
        // 10 events 300 µs apart: at most 4 events and 1000 µs a message.
        let events = (0..<10).map { Event(t: 5_000 + Int64($0) * 300, x: 1, y: 2, polarity: 1) }
        var replayer = RecordingReplayer(
            settings: .init(sensor: Self.sensor, segments: true, maximumEvents: 4, maximumSpan: 1_000), recordingCount: 1)
        let messages = try replayer.messages(for: Self.recording(events))
        let packets = try Self.packets(messages)
        #expect(packets.map(\.header.count) == [4, 4, 2])
        #expect(packets.map(\.header.flags) == [[.start], [], [.end]])
        #expect(packets.allSatisfy { $0.header.timeBase == 0 })
        #expect(messages.messages.map(\.sensorTime) == [5_900, 7_100, 7_700])
        #expect(messages.startTime == 5_000)

        var unpaced = RecordingReplayer(
            settings: .init(sensor: Self.sensor, segments: true, maximumEvents: 3, maximumSpan: 300), recordingCount: 1)
        #expect(try Self.packets(unpaced.messages(for: Self.recording(events))).map(\.header.count) == [2, 2, 2, 2, 2])
    }

    @Test func nativeTimeBasesAreZeroBelowTwoToThe32() throws {
        let late = Int64(1) << 32
        let events = [
            Event(t: late - 2, x: 0, y: 0, polarity: 0), Event(t: late - 1, x: 1, y: 0, polarity: 0),
            Event(t: late, x: 2, y: 0, polarity: 0), Event(t: late + 5, x: 3, y: 0, polarity: 1),
        ]
        var replayer = RecordingReplayer(settings: .init(sensor: Self.sensor, maximumSpan: nil), recordingCount: 1)
        let packets = try Self.packets(replayer.messages(for: Self.recording(events)))
        #expect(packets.map(\.header.timeBase) == [0, late])
        #expect(packets.map(\.header.count) == [2, 2])
        var decoder = SensorEventDecoder()
        var decoded = EventBuffer()
        for packet in packets { _ = try decoder.decode(packet, into: &decoded) }
        #expect(decoded.events == events)
    }

    @Test func aContinuousStreamShiftsLaterRecordingsAndKeepsOneStart() throws {
        var replayer = RecordingReplayer(
            settings: .init(sensor: Self.sensor, segments: false, maximumSpan: nil), recordingCount: 3,
            firstSequence: 7)
        let first = try replayer.messages(for: Self.recording([
            Event(t: 100, x: 0, y: 0, polarity: 0), Event(t: 900, x: 1, y: 1, polarity: 1),
        ]))
        let empty = try replayer.messages(for: Self.recording([]))
        let second = try replayer.messages(for: Self.recording([
            Event(t: 50, x: 2, y: 2, polarity: 0), Event(t: 40, x: 3, y: 3, polarity: 1),
        ]))
        #expect(empty.messages.isEmpty)
        let packets = try Self.packets(first) + Self.packets(second)
        #expect(packets.map(\.header.flags) == [[.start], []])
        #expect(packets.map(\.header.sequence) == [7, 8])
        var decoder = SensorEventDecoder()
        var decoded = EventBuffer()
        for packet in packets { _ = try decoder.decode(packet, into: &decoded) }
        // The earliest event of the second recording (40) lands 1 µs after the first's last (900); the
        // recording's own step back in time stays, and the service drops that event as late.
        #expect(second.messages.flatMap { try! EventPacket.parse(frames: $0.frames).payload }.count == 16)
        #expect(decoded.t == [100, 900, 911])
        #expect(decoder.lateEvents == 1)
        #expect(second.startTime == 911)

        #expect(throws: ReplayError.self) {
            try replayer.messages(for: Self.recording([Event(t: 0, x: 0, y: 0, polarity: 0)],
                                                      geometry: SensorGeometry(width: 128, height: 128)))
        }
        #expect(replayer.writer.nextSequence == 9, "a refused recording numbers nothing")
    }

    @Test func anEmptyRecordingIsOneEmptySegment() throws {
        for encoding in EventEncoding.allCases {
            var replayer = RecordingReplayer(
                settings: .init(sensor: Self.sensor, encoding: encoding, segments: true), recordingCount: 1)
            let packets = try Self.packets(replayer.messages(for: Self.recording([])))
            #expect(packets.count == 1)
            #expect(packets.first?.header.flags == [.start, .end])
            #expect(packets.first?.header.count == 0)
            #expect(packets.first?.header.encoding == encoding)
        }
    }

    @Test func evtEncodingShiftsTimesItCannotCarryAndRefusesDisorder() throws {
        var replayer = RecordingReplayer(
            settings: .init(sensor: Self.sensor, encoding: .evt2, segments: true), recordingCount: 1)
        let unix = Int64(1_700_000_000_000_000)  // AEDAT4's Unix-time microseconds: past EVT's range
        let packets = try Self.packets(replayer.messages(for: Self.recording([
            Event(t: unix, x: 0, y: 0, polarity: 0), Event(t: unix + 70, x: 1, y: 1, polarity: 1),
        ])))
        var decoder = SensorEventDecoder()
        var decoded = EventBuffer()
        for packet in packets { _ = try decoder.decode(packet, into: &decoded) }
        #expect(decoded.t == [0, 70])

        let backwards = Self.recording([Event(t: 10, x: 0, y: 0, polarity: 0), Event(t: 5, x: 0, y: 0, polarity: 0)])
        #expect(throws: ReplayError.self) { try replayer.messages(for: backwards) }
        var native = RecordingReplayer(settings: .init(sensor: Self.sensor), recordingCount: 1)
        #expect(try native.messages(for: backwards).events == 2, "native messages carry any order")
    }

    @Test func forwardedWordsAreSplitAtWordBoundaries() throws {
        let file = PipelineTools.data("formats/evt2_640x480.raw")
        let recording = try ReplayRecording.load(file, keepingWords: .evt2)
        let words = try #require(recording.words)
        var replayer = RecordingReplayer(
            settings: .init(sensor: Self.sensor, encoding: .evt2, segments: false, maximumEvents: 1000, maximumSpan: 2_000),
            recordingCount: 1)
        let messages = try replayer.messages(for: recording)
        #expect(messages.forwardedWords)
        let packets = try Self.packets(messages)
        #expect(packets.flatMap(\.payload) == words)
        #expect(packets.allSatisfy { $0.header.count <= 1000 && $0.header.encoding == .evt2 })
        #expect(packets.first?.header.flags == [.start])
        #expect(packets.dropFirst().allSatisfy { $0.header.flags.isEmpty })
        #expect(messages.events == recording.events.count)
        #expect(messages.startTime == recording.events[0].t)
        let times = messages.messages.map(\.sensorTime)
        #expect(times == times.sorted())
        #expect(times.last == recording.events.t.max())

        // Two recordings in one continuous stream cannot both keep their own words: they are encoded.
        var two = RecordingReplayer(
            settings: .init(sensor: Self.sensor, encoding: .evt2, segments: false), recordingCount: 2)
        #expect(try !two.messages(for: recording).forwardedWords)
    }

    @Test func speedsParse() {
        #expect(ReplaySpeed("max") == .asFastAsPossible)
        #expect(ReplaySpeed("2.5") == .times(2.5))
        #expect(ReplaySpeed("0") == nil)
        #expect(ReplaySpeed("-1") == nil)
        #expect(ReplaySpeed("fast") == nil)
        #expect(ReplaySpeed.times(10).sensorMicroseconds(inWallMicroseconds: 1_000) == 10_000)
        #expect(ReplaySpeed.asFastAsPossible.sensorMicroseconds(inWallMicroseconds: 1_000) == nil)
    }
}
