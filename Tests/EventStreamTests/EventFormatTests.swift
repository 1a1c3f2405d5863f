import Testing
@testable import EventStream

@Suite struct EventFormatTests {
    @Test("every shared recording is recognised from its header and name", arguments: TestData.references)
    func detectsSharedFiles(_ ref: TestData.Reference) throws {
        let bytes = try EventFileReader.readBytes(TestData.path("formats/" + ref.file))
        #expect(EventFormat.detect(prefix: bytes.prefix(8192), fileName: ref.file)?.rawValue == ref.format)
    }

    @Test func headersWinOverExtensions() {
        #expect(EventFormat.detect(prefix: Array("% evt 3.0\n".utf8), fileName: "x.dat") == .evt3)
        #expect(EventFormat.detect(prefix: Array("% format EVT3;height=720;width=1280\n".utf8), fileName: "x") == .evt3)
        #expect(EventFormat.detect(prefix: Array("% format EVT2;height=480;width=640\n".utf8), fileName: "x") == .evt2)
        #expect(EventFormat.detect(prefix: Array("#!AER-DAT3.1\r\n".utf8), fileName: "x.bin") == .aedat3)
        #expect(EventFormat.detect(prefix: Array("#!AER-DAT4.0\r\n".utf8), fileName: "x.raw") == .aedat4)
        #expect(EventFormat.detect(prefix: [0x00, 0x01, 0x02], fileName: "x.raw") == .evt2)
        #expect(EventFormat.detect(prefix: [0x00, 0x01, 0x02], fileName: "x.bin") == .nmnist)
        #expect(EventFormat.detect(prefix: [0x00, 0x01, 0x02], fileName: "x.unknown") == nil)
        #expect(EventFormat.detect(prefix: Array("% format EVT21;height=720\n".utf8), fileName: "x.raw") == nil)
    }

    @Test func unknownFormatIsAnErrorNamingTheFile() throws {
        let error = #expect(throws: EventDecodingError.self) {
            try EventFileReader.read(TestData.path("formats/reference.json"))
        }
        #expect(error?.code == .unknownFormat)
        #expect(error?.file?.hasSuffix("reference.json") == true)
    }

    @Test func missingFileIsAnIOError() {
        let error = #expect(throws: EventDecodingError.self) { try EventFileReader.read("/nonexistent/x.bin") }
        #expect(error?.code == .io)
    }

    @Test func summaryMatchesAHandComputedOne() {
        let buffer = EventBuffer([Event(t: 10, x: 1, y: 5, polarity: 1), Event(t: 5, x: 3, y: 2, polarity: 0),
                                  Event(t: 20, x: 2, y: 9, polarity: 1)])
        let s = EventSummary(buffer)
        #expect(s.events == 3 && s.on == 2 && s.off == 1)
        #expect(s.tFirst == 10 && s.tLast == 20 && s.tMin == 5 && s.tMax == 20)
        #expect(s.sumX == 6 && s.sumY == 16 && s.sumT == 35)
        #expect(s.xMin == 1 && s.xMax == 3 && s.yMin == 2 && s.yMax == 9)
        #expect(s.durationMicroseconds == 15)
    }

    @Test func bufferGrowsAndAppends() {
        var a = EventBuffer()
        for i in 0..<3000 { a.append(Event(t: Int64(i), x: UInt16(i % 7), y: 1, polarity: UInt8(i & 1))) }
        var b = EventBuffer([Event(t: -1, x: 0, y: 0, polarity: 0)])
        b.append(contentsOf: a)
        #expect(b.count == 3001)
        #expect(b[3000] == Event(t: 2999, x: UInt16(2999 % 7), y: 1, polarity: 1))
        b.truncate(to: 1)
        #expect(b.events == [Event(t: -1, x: 0, y: 0, polarity: 0)])
    }
}

@Suite struct EventBufferTests {
    @Test func copiesAreIndependent() {
        var a = EventBuffer([Event(t: 1, x: 1, y: 1, polarity: 1)])
        let b = a
        a.append(Event(t: 2, x: 2, y: 2, polarity: 0))
        var c = a
        c.withWriter(reservingCapacity: 1) { $0.append(t: 3, x: 3, y: 3, polarity: 1) }
        #expect(b.count == 1 && b[0] == Event(t: 1, x: 1, y: 1, polarity: 1))
        #expect(a.t == [1, 2])
        #expect(c.t == [1, 2, 3])
    }

    @Test func writerKeepsOnlyWhatWasWritten() {
        var a = EventBuffer(capacity: 4)
        let written = a.withWriter(reservingCapacity: 100) { w -> Int in
            for i in 0..<10 { w.append(t: Int64(i), x: 0, y: 0, polarity: 0) }
            return w.count
        }
        #expect(written == 10 && a.count == 10 && a.capacity >= 100)
        a.removeAll()
        #expect(a.isEmpty && a.capacity >= 100)
    }
}
