import Testing
@testable import EventStream

/// Every file in ../shared/data/formats decodes to exactly what the independent reference decoder found.
@Suite struct ReferenceDecodeTests {
    static let files = TestData.references.map(\.file)

    static func check(_ recording: EventRecording, against ref: TestData.Reference) {
        let s = EventSummary(recording.events)
        #expect(recording.format.rawValue == ref.format)
        #expect(s.events == ref.events)
        #expect([s.xMin, s.xMax, s.yMin, s.yMax] == [ref.x_min, ref.x_max, ref.y_min, ref.y_max])
        #expect([s.on, s.off] == [ref.on, ref.off])
        #expect([s.tFirst, s.tLast, s.tMin, s.tMax] == [ref.t_first, ref.t_last, ref.t_min, ref.t_max])
        #expect([s.sumX, s.sumY, s.sumT] == [ref.sum_x, ref.sum_y, ref.sum_t])
        let n = recording.events.count
        guard n >= ref.first.count + ref.last.count else { return }
        func row(_ i: Int) -> [Int64] {
            let e = recording.events[i]
            return [e.t, Int64(e.x), Int64(e.y), Int64(e.polarity)]
        }
        #expect((0..<ref.first.count).map(row) == ref.first)
        #expect(((n - ref.last.count)..<n).map(row) == ref.last)
    }

    @Test("whole-file decode matches reference.json", arguments: files)
    func wholeFile(_ file: String) throws {
        let recording = try EventFileReader.read(TestData.path("formats/" + file))
        Self.check(recording, against: TestData.reference(file))
        #expect(recording.counters.outOfBounds == 0)
    }

    @Test("decode fed in random chunks equals the whole-file decode", arguments: files)
    func chunked(_ file: String) throws {
        let path = TestData.path("formats/" + file)
        let whole = try EventFileReader.read(path)
        let bytes = try EventFileReader.readBytes(path)
        // 1-byte-granular splitting everywhere on small files; coarser on the multi-megabyte ones.
        let smallest = bytes.count < 1 << 20 ? 7 : 997
        for (maxChunk, seed) in [(smallest, UInt64(1)), (4096, 2), (100_000, 3)] {
            let split = try TestData.decodeInChunks(bytes, format: whole.format, maxChunk: maxChunk, seed: seed)
            #expect(split.events.count == whole.events.count)
            #expect(split.events.t == whole.events.t)
            #expect(split.events.x == whole.events.x)
            #expect(split.events.y == whole.events.y)
            #expect(split.events.polarity == whole.events.polarity)
            #expect(split.counters == whole.counters)
            #expect(split.geometry == whole.geometry)
        }
    }
}
