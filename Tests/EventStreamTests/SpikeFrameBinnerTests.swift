import Testing
@testable import EventStream

/// The streaming ``SpikeFrameBinner`` against the plain ``ReferenceSpikeFrameBinner``, on real recordings and on
/// hand-made streams that exercise late events, backward jumps, gaps and bad configurations.
@Suite struct SpikeFrameBinnerTests {
    // MARK: - Test data and drivers

    static let nmnistSensor = SensorGeometry(width: 34, height: 34)
    static let gestureSensor = SensorGeometry(width: 128, height: 128)
    static let nmnistFiles = ["1.bin", "2.bin", "17.bin", "123.bin", "500.bin", "999.bin"]

    static func nmnist(_ file: String) throws -> [Event] {
        try EventFileReader.read(
            TestData.path("nmnist-small/train/" + file), format: .nmnist, geometry: nmnistSensor
        ).events.events
    }

    static func gesture(_ file: String) throws -> [Event] {
        try EventFileReader.read(
            TestData.path("dvs-gesture-10/" + file), format: .nmnist, geometry: gestureSensor
        ).events.events
    }

    /// One step of driving a binner.
    enum Step {
        case reset(origin: Int64?)
        case append([Event])
        case flush
    }

    /// A named configuration, for readable test arguments.
    struct Case: Sendable, CustomStringConvertible {
        let name: String
        let configuration: SpikeFrameConfiguration
        var description: String { name }
    }

    /// Runs `steps` through the streaming binner, each append fed in random-size pieces (empty ones too)
    /// through one reused buffer, and the output batch drained into the result (and emptied, keeping its
    /// storage or not) at random points.
    static func stream(
        _ steps: [Step], _ configuration: SpikeFrameConfiguration, maxPiece: Int, seed: UInt64
    ) throws -> (frames: SpikeFrameBatch, counters: SpikeFrameBinner.Counters) {
        var rng = TestData.Random(seed: seed)
        var binner = try SpikeFrameBinner(configuration: configuration)
        var batch = binner.makeBatch()
        var all = binner.makeBatch()
        var piece = EventBuffer()
        for step in steps {
            switch step {
            case .reset(let origin):
                binner.reset(origin: origin)
            case .flush:
                binner.flush(to: &batch)
            case .append(let events):
                var start = 0
                while start < events.count {
                    let n = min(events.count - start, Int.random(in: 0...maxPiece, using: &rng))
                    piece.removeAll()
                    for e in events[start..<(start + n)] { piece.append(e) }
                    binner.append(piece, to: &batch)
                    start += n
                    if Int.random(in: 0..<4, using: &rng) == 0 {
                        all.append(contentsOf: batch)
                        batch.removeAll(keepingCapacity: Bool.random(using: &rng))
                    }
                }
            }
        }
        all.append(contentsOf: batch)
        return (all, binner.counters)
    }

    /// Runs `steps` through the reference binner.
    static func reference(
        _ steps: [Step], _ configuration: SpikeFrameConfiguration
    ) throws -> ReferenceSpikeFrameBinner {
        var reference = try ReferenceSpikeFrameBinner(configuration: configuration)
        for step in steps {
            switch step {
            case .reset(let origin): reference.reset(origin: origin)
            case .append(let events): reference.append(events)
            case .flush: reference.flush()
            }
        }
        return reference
    }

    /// What the reference made, in the batch's layout, derived the plain way: input i is bit i % 64 of word
    /// i / 64; active inputs are those with a nonzero value.
    struct Expected {
        let reference: ReferenceSpikeFrameBinner
        let headers: [SpikeFrameHeader]
        let packedBits: [UInt64]
        let activeIndices: [UInt32]
        let activeCounts: [Int]
        let countValues: [UInt16]

        init(_ reference: ReferenceSpikeFrameBinner) {
            self.reference = reference
            let frames = reference.frames
            headers = frames.map {
                SpikeFrameHeader(
                    start: $0.start, segmentID: $0.segmentID, startsSegment: $0.startsSegment, activeEnd: 0, slot: 0)
            }
            let inputs = reference.configuration.inputCount
            var bits = [UInt64](repeating: 0, count: frames.count * ((inputs + 63) / 64))
            var active: [UInt32] = [], activeCounts: [Int] = []
            for (f, frame) in frames.enumerated() {
                let base = f * ((inputs + 63) / 64)
                let frameActive = frame.activeIndices
                for i in frameActive {
                    bits[base + i / 64] |= UInt64(1) << UInt64(i % 64)
                    active.append(UInt32(i))
                }
                activeCounts.append(frameActive.count)
            }
            packedBits = bits
            activeIndices = active
            self.activeCounts = activeCounts
            countValues = reference.configuration.kind == .binary ? [] : frames.flatMap(\.values)
        }
    }

    /// The batch's three views of each frame agree with one another.
    static func expectConsistent(_ batch: SpikeFrameBatch) {
        #expect(batch.packedBits.count == batch.frameCount * batch.wordsPerFrame)
        #expect((0..<batch.frameCount).reduce(0) { $0 + batch.active(of: $1).count } == batch.activeIndices.count)
        #expect(batch.countValues.count == (batch.hasCounts ? batch.frameCount * batch.inputCount : 0))
        for f in 0..<batch.frameCount {
            let bits = Array(batch.bits(of: f))
            let active = Array(batch.active(of: f))
            #expect(bits.reduce(0) { $0 + $1.nonzeroBitCount } == active.count)
            #expect(zip(active, active.dropFirst()).allSatisfy { $0 < $1 }, "sparse list not ascending")
            #expect(active.allSatisfy { Int($0) < batch.inputCount && bits[Int($0) / 64] >> UInt64($0 % 64) & 1 == 1 })
            if batch.hasCounts {
                let counts = Array(batch.counts(of: f))
                #expect(counts.indices.filter { counts[$0] != 0 }.map { UInt32($0) } == active)
            }
        }
    }

    /// The streaming result equals the reference's: headers, bits, sparse lists, counts and counters; with
    /// `thoroughly`, also each frame's views agree and the dense float frames equal the reference's.
    static func expectEqual(
        _ streamed: (frames: SpikeFrameBatch, counters: SpikeFrameBinner.Counters),
        _ expected: Expected, _ label: String, thoroughly: Bool
    ) {
        let batch = streamed.frames
        #expect(streamed.counters == expected.reference.counters, "\(label)")
        let c = streamed.counters
        #expect(c.eventsIn == c.eventsBinned + c.outsideCrop + c.refractoryDropped + c.noiseDropped + c.lateEvents)
        #expect(c.framesEmitted == batch.frameCount)
        #expect(batch.frameCount == expected.headers.count, "\(label): frame count")
        guard batch.frameCount == expected.headers.count else { return }
        #expect(batch.headers == expected.headers, "\(label): start times, segment ids and segment starts")
        #expect(Array(batch.packedBits) == expected.packedBits, "\(label): bits")
        #expect(Array(batch.activeIndices) == expected.activeIndices, "\(label): sparse lists")
        #expect((0..<batch.frameCount).map { batch.active(of: $0).count } == expected.activeCounts, "\(label)")
        #expect(Array(batch.countValues) == expected.countValues, "\(label): counts")
        guard thoroughly else { return }
        expectConsistent(batch)
        var dense: [Float] = []
        for (f, frame) in expected.reference.frames.enumerated() where f % 3 == 0 {
            batch.writeDenseFrame(of: f, into: &dense)
            if dense != frame.floats {
                Issue.record("\(label): dense frame \(f) (start \(frame.start)) differs from the reference")
                break
            }
        }
    }

    /// Checks the streaming binner against the reference for `steps`, at a few piece sizes.
    static func check(_ steps: [Step], _ configuration: SpikeFrameConfiguration, _ label: String) throws {
        let expected = Expected(try reference(steps, configuration))
        for (maxPiece, seed) in [(7, UInt64(11)), (500, 12), (20_000, 13)] {
            let streamed = try stream(steps, configuration, maxPiece: maxPiece, seed: seed)
            expectEqual(streamed, expected, "\(label), pieces up to \(maxPiece)", thoroughly: maxPiece == 500)
        }
    }

    // MARK: - Against the reference on real recordings

    static let nmnistCases: [Case] = {
        let s = nmnistSensor
        typealias C = SpikeFrameConfiguration
        return [
            Case(name: "1 ms split binary", configuration: C(sensor: s)),
            Case(name: "5 ms split binary", configuration: C(sensor: s, binWidth: 5_000)),
            Case(name: "1 ms merged binary", configuration: C(sensor: s, polarity: .merged)),
            Case(name: "1 ms split count8", configuration: C(sensor: s, kind: .countUInt8)),
            Case(name: "5 ms merged count16", configuration: C(sensor: s, binWidth: 5_000, polarity: .merged,
                                                               kind: .countUInt16)),
            Case(name: "1 ms split binary refractory 2 ms",
                 configuration: C(sensor: s, refractoryPeriod: 2_000)),
            Case(name: "1 ms split binary noise 2 ms",
                 configuration: C(sensor: s, backgroundActivityWindow: 2_000)),
            Case(name: "5 ms split count16 refractory 1 ms noise 5 ms",
                 configuration: C(sensor: s, binWidth: 5_000, kind: .countUInt16, refractoryPeriod: 1_000,
                                  backgroundActivityWindow: 5_000)),
            Case(name: "1 ms merged count8 noise 1 ms",
                 configuration: C(sensor: s, polarity: .merged, kind: .countUInt8, backgroundActivityWindow: 1_000)),
            Case(name: "2 ms split binary crop downsample 2 refractory 0.5 ms",
                 configuration: C(sensor: s, binWidth: 2_000, crop: PixelRectangle(x: 3, y: 5, width: 28, height: 25),
                                  downsample: 2, refractoryPeriod: 500)),
            Case(name: "1 ms split binary downsample 3",
                 configuration: C(sensor: s, downsample: 3)),
            Case(name: "1 ms split binary crop 30x28",
                 configuration: C(sensor: s, crop: PixelRectangle(x: 2, y: 3, width: 30, height: 28))),
            Case(name: "5 ms merged count8 crop downsample 4 noise 3 ms refractory 3 ms",
                 configuration: C(sensor: s, binWidth: 5_000, crop: PixelRectangle(x: 0, y: 2, width: 31, height: 30),
                                  downsample: 4, polarity: .merged, kind: .countUInt8, refractoryPeriod: 3_000,
                                  backgroundActivityWindow: 3_000)),
        ]
    }()

    @Test("N-MNIST samples, one segment each from origin 0, equal the reference", arguments: nmnistCases)
    func nmnistSamples(_ c: Case) throws {
        var steps: [Step] = []
        for file in Self.nmnistFiles {
            steps += [.reset(origin: 0), .append(try Self.nmnist(file)), .flush]
        }
        try Self.check(steps, c.configuration, c.name)
        let frames = try Self.reference(steps, c.configuration).frames
        #expect(frames.filter(\.startsSegment).count == Self.nmnistFiles.count)
        #expect(frames.filter(\.startsSegment).allSatisfy { $0.start == 0 })
    }

    @Test("N-MNIST samples back to back, no resets: each time base reset starts a segment", arguments: [
        nmnistCases[0], nmnistCases[7], nmnistCases[9],
    ])
    func nmnistBackToBack(_ c: Case) throws {
        let recordings = try Self.nmnistFiles.prefix(4).map(Self.nmnist)
        let steps: [Step] = [.append(recordings.flatMap { $0 }), .flush]
        try Self.check(steps, c.configuration, c.name)
        let streamed = try Self.stream(steps, c.configuration, maxPiece: 1000, seed: 5)
        #expect(streamed.counters.segmentResets == recordings.count - 1)
        let starts = streamed.frames.headers.filter(\.startsSegment)
        #expect(starts.map(\.start) == recordings.map { $0[0].t })
        #expect(starts.map(\.segmentID) == Array(0..<recordings.count))
    }

    static let gestureCases: [Case] = {
        let s = gestureSensor
        typealias C = SpikeFrameConfiguration
        return [
            Case(name: "1 ms split binary downsample 4 (2x32x32)", configuration: C(sensor: s, downsample: 4)),
            Case(name: "5 ms split count16 downsample 4 noise 2 ms",
                 configuration: C(sensor: s, binWidth: 5_000, downsample: 4, kind: .countUInt16,
                                  backgroundActivityWindow: 2_000)),
            Case(name: "1 ms merged binary crop 96x128 downsample 4",
                 configuration: C(sensor: s, crop: PixelRectangle(x: 16, y: 0, width: 96, height: 128), downsample: 4,
                                  polarity: .merged)),
            Case(name: "5 ms split count8 crop 100x90 downsample 3 refractory 1 ms noise 5 ms",
                 configuration: C(sensor: s, binWidth: 5_000,
                                  crop: PixelRectangle(x: 10, y: 20, width: 100, height: 90),
                                  downsample: 3, kind: .countUInt8, refractoryPeriod: 1_000,
                                  backgroundActivityWindow: 5_000)),
            Case(name: "5 ms split binary full 2x128x128 refractory 2 ms",
                 configuration: C(sensor: s, binWidth: 5_000, refractoryPeriod: 2_000)),
        ]
    }()

    @Test("DVS128 Gesture recording equals the reference", arguments: gestureCases)
    func gestureRecording(_ c: Case) throws {
        let events = try Self.gesture("1.bin")
        try Self.check([.reset(origin: nil), .append(events), .flush], c.configuration, c.name)
        let streamed = try Self.stream([.append(events), .flush], c.configuration, maxPiece: 4096, seed: 9)
        #expect(streamed.frames.headers.first?.start == events[0].t)
        #expect(streamed.counters.segmentResets == 0 && streamed.counters.gapResets == 0)
        if c.configuration.crop != nil { #expect(streamed.counters.outsideCrop > 0) }
    }

    @Test("the 2x34x34 N-MNIST layout")
    func nmnistLayout() throws {
        let c = SpikeFrameConfiguration.nmnist()
        #expect(c.inputCount == 2 * 34 * 34)
        #expect(c.wordsPerFrame == 37)
        #expect(c.inputIndex(sensorX: 5, sensorY: 7, polarity: 1) == (1 * 34 + 7) * 34 + 5)
        #expect(c.inputIndex(sensorX: 5, sensorY: 7, polarity: 0) == 7 * 34 + 5)
        let cropped = SpikeFrameConfiguration(
            sensor: Self.gestureSensor, crop: PixelRectangle(x: 10, y: 20, width: 100, height: 90), downsample: 3)
        #expect([cropped.outputWidth, cropped.outputHeight] == [34, 30])
        #expect(cropped.inputIndex(sensorX: 9, sensorY: 50, polarity: 0) == nil)
        #expect(cropped.inputIndex(sensorX: 109, sensorY: 109, polarity: 1) == (30 + 29) * 34 + 33)
        #expect(cropped.inputIndex(sensorX: 110, sensorY: 50, polarity: 1) == nil)
    }

    // MARK: - The time line

    static func event(_ t: Int64, _ x: UInt16 = 1, _ y: UInt16 = 1, _ p: UInt8 = 1) -> Event {
        Event(t: t, x: x, y: y, polarity: p)
    }

    @Test("late events are counted and dropped")
    func lateEvents() throws {
        let c = SpikeFrameConfiguration(sensor: Self.nmnistSensor)
        let events = [
            Self.event(0), Self.event(1_500, 2), Self.event(900, 3), Self.event(1_600, 4), Self.event(1_999, 5),
        ]
        let steps: [Step] = [.append(events), .flush]
        try Self.check(steps, c, "late")
        let streamed = try Self.stream(steps, c, maxPiece: 2, seed: 1)
        #expect(streamed.counters.lateEvents == 1)
        #expect(streamed.counters.eventsBinned == 4)
        #expect(streamed.frames.headers.map(\.start) == [0, 1_000])
        let late = c.inputIndex(sensorX: 3, sensorY: 1, polarity: 1)!
        #expect(!(0..<2).contains { streamed.frames.active(of: $0).contains(UInt32(late)) })
    }

    @Test("a big backward jump starts a new segment with fresh filter state")
    func backwardJump() throws {
        let c = SpikeFrameConfiguration(sensor: Self.nmnistSensor, refractoryPeriod: 1_000, maxGapFrames: 10_000)
        // The same pixel before and after a jump from 250 ms back to 10 µs: after the jump the old
        // refractory time (250 ms, "in the future") must not suppress the event.
        let events = [Self.event(0), Self.event(250_000), Self.event(10), Self.event(500, 2), Self.event(1_200)]
        let steps: [Step] = [.append(events), .flush]
        try Self.check(steps, c, "jump")
        let streamed = try Self.stream(steps, c, maxPiece: 3, seed: 2)
        let frames = streamed.frames
        #expect(streamed.counters.segmentResets == 1)
        #expect(streamed.counters.lateEvents == 0 && streamed.counters.refractoryDropped == 0)
        let jump = try #require(frames.headers.firstIndex { $0.start == 10 })
        #expect(frames.startsSegment(jump) && frames.segmentID(of: jump) == 1)
        #expect(frames.headers[(jump - 1)...].map(\.start) == [250_000, 10, 1_010])
        #expect(frames.active(of: jump).count == 2)
        #expect(frames.active(of: jump + 1).count == 1)
    }

    @Test("a time base reset mid-recording does not corrupt what follows")
    func timeBaseResetMidRecording() throws {
        let c = SpikeFrameConfiguration(
            sensor: Self.nmnistSensor, kind: .countUInt16, refractoryPeriod: 1_000, backgroundActivityWindow: 3_000)
        let first = try Self.nmnist("1.bin"), second = try Self.nmnist("2.bin")
        let spliced = try Self.stream([.append(first + second), .flush], c, maxPiece: 300, seed: 3)
        let alone = try Self.stream([.append(second), .flush], c, maxPiece: 300, seed: 4)
        let jump = try #require(spliced.frames.headers.firstIndex { $0.segmentID == 1 })
        let n = alone.frames.frameCount
        #expect(spliced.frames.frameCount == jump + n)
        #expect(spliced.frames.headers[jump...].map(\.start) == alone.frames.headers.map(\.start))
        #expect(Array(spliced.frames.packedBits.dropFirst(jump * c.wordsPerFrame)) == Array(alone.frames.packedBits))
        #expect(Array(spliced.frames.countValues.dropFirst(jump * c.inputCount)) == Array(alone.frames.countValues))
        #expect(Array(spliced.frames.active(of: jump)) == Array(alone.frames.active(of: 0)))
    }

    @Test("huge gaps end the segment instead of emitting millions of empty frames")
    func hugeGap() throws {
        let c = SpikeFrameConfiguration(sensor: Self.nmnistSensor)
        let far: Int64 = 1_000_000_000_000
        let steps: [Step] = [
            .append([Self.event(0), Self.event(5_000), Self.event(far + 123), Self.event(far + 1_500)]), .flush,
        ]
        try Self.check(steps, c, "gap")
        let streamed = try Self.stream(steps, c, maxPiece: 4, seed: 6)
        #expect(streamed.counters.gapResets == 1)
        #expect(streamed.frames.headers.map(\.start) == [0, 1_000, 2_000, 3_000, 4_000, 5_000, far, far + 1_000])
        #expect(streamed.frames.headers.map(\.segmentID) == [0, 0, 0, 0, 0, 0, 1, 1])
        #expect(streamed.frames.headers.map(\.startsSegment) == [true, false, false, false, false, false, true, false])
    }

    @Test("a gap of exactly maxGapFrames empty frames is filled; one more ends the segment")
    func gapBoundary() throws {
        let c = SpikeFrameConfiguration(sensor: Self.nmnistSensor, maxGapFrames: 50)
        let filled = try Self.stream([.append([Self.event(0), Self.event(51_000)]), .flush], c, maxPiece: 2, seed: 7)
        #expect(filled.counters.gapResets == 0 && filled.frames.frameCount == 52)
        #expect(filled.frames.active(of: 1).isEmpty && filled.frames.bits(of: 1).allSatisfy { $0 == 0 })
        let ended = try Self.stream([.append([Self.event(0), Self.event(52_000)]), .flush], c, maxPiece: 2, seed: 7)
        #expect(ended.counters.gapResets == 1 && ended.frames.frameCount == 2)
        #expect(ended.frames.headers.map(\.start) == [0, 52_000])
        try Self.check([.append([Self.event(0), Self.event(51_000), Self.event(103_999)]), .flush], c, "gap edge")
    }

    @Test("reset discards the partial frame; flush ends the segment; origin aligns the bins")
    func resetAndFlush() throws {
        let c = SpikeFrameConfiguration(sensor: Self.nmnistSensor, binWidth: 1_000)
        let steps: [Step] = [
            .append([Self.event(100), Self.event(1_200)]), .reset(origin: 0),
            .append([Self.event(2_500), Self.event(2_600)]), .flush,
            .append([Self.event(7_777)]), .flush, .flush,
            .reset(origin: 5_000), .flush, .append([Self.event(4_950), Self.event(5_001)]), .flush,
        ]
        try Self.check(steps, c, "reset/flush")
        let streamed = try Self.stream(steps, c, maxPiece: 3, seed: 8)
        #expect(streamed.frames.headers.map(\.start) == [100, 0, 1_000, 2_000, 7_777, 5_000])
        #expect(streamed.frames.headers.map(\.segmentID) == [0, 1, 1, 1, 2, 3])
        #expect(streamed.counters.lateEvents == 1)
    }

    @Test("counts saturate at 255 and 65535")
    func countSaturation() throws {
        let burst = (0..<70_000).map { Self.event(Int64($0 / 100)) }
        for kind in [SpikeFrameConfiguration.FrameKind.countUInt8, .countUInt16] {
            let c = SpikeFrameConfiguration(sensor: Self.nmnistSensor, kind: kind)
            try Self.check([.append(burst), .flush], c, "\(kind)")
            let streamed = try Self.stream([.append(burst), .flush], c, maxPiece: 5_000, seed: 9)
            let input = c.inputIndex(sensorX: 1, sensorY: 1, polarity: 1)!
            #expect(Array(streamed.frames.counts(of: 0))[input] == c.countLimit)
        }
    }

    @Test("the background-activity filter passes events with a recent neighbour only")
    func backgroundActivity() throws {
        let c = SpikeFrameConfiguration(sensor: Self.nmnistSensor, backgroundActivityWindow: 100)
        // (0, 0) alone: dropped; (1, 1) next to it 50 µs later: kept; (33, 33) corner, neighbour (32, 32) 150 µs
        // before: dropped; (5, 5) right after a dropped (5, 6): kept (dropped events update their pixel too).
        let events = [Self.event(0, 0, 0), Self.event(50, 1, 1), Self.event(100, 32, 32), Self.event(250, 33, 33),
                      Self.event(300, 5, 6), Self.event(310, 5, 5)]
        try Self.check([.append(events), .flush], c, "noise")
        let streamed = try Self.stream([.append(events), .flush], c, maxPiece: 2, seed: 10)
        #expect(streamed.counters.noiseDropped == 4 && streamed.counters.eventsBinned == 2)
    }

    @Test("events off the sensor are counted, not binned")
    func offSensor() throws {
        let c = SpikeFrameConfiguration(sensor: Self.nmnistSensor, refractoryPeriod: 10)
        let events = [Self.event(0, 34, 0), Self.event(1, 0, 34), Self.event(2, 65535, 65535), Self.event(3, 33, 33)]
        try Self.check([.append(events), .flush], c, "off sensor")
        let fast = try Self.stream([.append(events), .flush], SpikeFrameConfiguration(sensor: Self.nmnistSensor),
                                   maxPiece: 4, seed: 1)
        #expect(fast.counters.outsideCrop == 3 && fast.counters.eventsBinned == 1)
    }

    // MARK: - Configuration

    static let badConfigurations: [(SpikeFrameConfiguration, String)] = {
        let s = nmnistSensor
        typealias C = SpikeFrameConfiguration
        return [
            (C(sensor: s, binWidth: 0), "binWidth"),
            (C(sensor: s, binWidth: -1_000), "binWidth"),
            (C(sensor: SensorGeometry(width: 0, height: 34)), "sensor"),
            (C(sensor: SensorGeometry(width: 100_000, height: 1)), "sensor"),
            (C(sensor: s, crop: PixelRectangle(x: 30, y: 0, width: 10, height: 10)), "crop"),
            (C(sensor: s, crop: PixelRectangle(x: -1, y: 0, width: 10, height: 10)), "crop"),
            (C(sensor: s, crop: PixelRectangle(x: 0, y: 0, width: 0, height: 10)), "crop"),
            (C(sensor: s, downsample: 0), "downsample"),
            (C(sensor: s, refractoryPeriod: 0), "refractoryPeriod"),
            (C(sensor: s, backgroundActivityWindow: -5), "backgroundActivityWindow"),
            (C(sensor: s, maxBackwardJump: -1), "maxBackwardJump"),
            (C(sensor: s, maxGapFrames: -1), "maxGapFrames"),
        ]
    }()

    @Test("bad configurations are rejected, naming the parameter")
    func badConfigurations() {
        for (configuration, parameter) in Self.badConfigurations {
            let error = #expect(throws: SpikeFrameConfigurationError.self) {
                try SpikeFrameBinner(configuration: configuration)
            }
            #expect(error?.parameter == parameter)
            #expect(error?.description.contains(parameter) == true)
            #expect(throws: SpikeFrameConfigurationError.self) { try configuration.validate() }
        }
        #expect(throws: Never.self) { try SpikeFrameConfiguration.nmnist().validate() }
    }

    @Test("sparse events far apart cannot blow up the batch")
    func gapsCostHeadersNotFrames() throws {
        // Hostile timing on a DAVIS346-sized sensor: a gap longer than maxGapFrames ends the segment, a shorter
        // one is filled with empty frames that share one block of bits.
        let c = SpikeFrameConfiguration(sensor: SensorGeometry(width: 346, height: 260))
        for (spacing, expectedFrames, resets) in [(Int64(9_900_000), 20, 19), (99_000, 20 + 19 * 98, 0)] {
            var binner = try SpikeFrameBinner(configuration: c)
            var frames = binner.makeBatch()
            let events = EventBuffer((0..<20).map { Event(t: Int64($0) * spacing, x: 5, y: 5, polarity: 1) })
            binner.append(events, to: &frames)
            binner.flush(to: &frames)
            #expect(frames.frameCount == expectedFrames)
            #expect(binner.counters.gapResets == resets)
            #expect(frames.slotCount == 21)  // the shared empty frame and one per event
            #expect((0..<frames.frameCount).filter { !frames.active(of: $0).isEmpty }.count == 20)
            #expect(frames.bits(of: 1).allSatisfy { $0 == 0 } == (spacing < 100_000))
        }
    }
}
