import BiSNN
import EventStream
import Foundation
import Testing

@testable import BiSNNTraining

/// Datasets: loading the shared N-MNIST and DVS128 Gesture folders, every way a dataset folder can be wrong,
/// `labels.csv` parsing, stratified splits, augmentation and the mapping of recordings onto a model's frames.
@Suite struct DatasetTests {
    // MARK: - Fixtures

    /// `../shared/data` beside the repository.
    static let dataRoot: String = {
        let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        return repo.deletingLastPathComponent().appendingPathComponent("shared/data").path
    }()

    static let nmnistFolder = dataRoot + "/nmnist-small/train"
    static let gestureFolder = dataRoot + "/dvs-gesture-10"
    static let digits = (0..<10).map(String.init)
    /// The 11 DVS128 Gesture classes (ids 1...11 in the original dataset, indices 0...10 here).
    static let gestures = [
        "hand_clap", "right_hand_wave", "left_hand_wave", "right_arm_clockwise", "right_arm_counter_clockwise",
        "left_arm_clockwise", "left_arm_counter_clockwise", "arm_roll", "air_drums", "air_guitar", "other",
    ]

    /// nmnist-small/train, loaded once per test process (2 jobs).
    static let nmnist: LabelledDataset = {
        do {
            return try LabelledDataset.load(folder: nmnistFolder, classNames: digits, jobs: 2)
        } catch {
            fatalError("\(error)")
        }
    }()

    /// `labels.csv` of nmnist-small/train as (file, label), read independently of the loader.
    static let nmnistLabels: [(file: String, label: Int)] = {
        let text = try! String(contentsOfFile: nmnistFolder + "/labels.csv", encoding: .utf8)
        return text.split(whereSeparator: \.isNewline).dropFirst().map { line in
            let parts = line.split(separator: ",")
            return (String(parts[0]), Int(parts[1])!)
        }
    }()

    static func bytes(_ path: String) -> [UInt8] { try! EventFileReader.readBytes(path) }

    /// A fresh temporary folder holding `files` (name to contents), removed after `body`.
    static func withFolder(_ files: [String: [UInt8]], _ body: (String) throws -> Void) rethrows {
        let folder = FileManager.default.temporaryDirectory
            .appendingPathComponent("bisnn-dataset-tests-\(UUID().uuidString)").path
        try! FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        for (name, contents) in files {
            _ = FileManager.default.createFile(atPath: folder + "/" + name, contents: Data(contents))
        }
        try body(folder)
    }

    /// Three real N-MNIST recordings (labels 5, 0, 4 in nmnist-small) under the given names.
    static func recordings(_ names: [String] = ["a.bin", "b.bin", "c.bin"]) -> [String: [UInt8]] {
        Dictionary(uniqueKeysWithValues: zip(names, (1...3).map { bytes(nmnistFolder + "/\($0).bin") }))
    }

    /// What loading `folder` throws, nil if it loads.
    static func loadError(
        _ folder: String, classNames: [String] = digits, width: Int? = nil, height: Int? = nil, jobs: Int = 2
    ) -> DatasetError? {
        do throws(DatasetError) {
            _ = try LabelledDataset.load(folder: folder, classNames: classNames, width: width, height: height, jobs: jobs)
            return nil
        } catch {
            return error
        }
    }

    static func csv(_ text: String) -> [UInt8] { Array(text.utf8) }

    static func sameEvents(_ a: EventBuffer, _ b: EventBuffer) -> Bool {
        a.t == b.t && a.x == b.x && a.y == b.y && a.polarity == b.polarity
    }

    static func network(_ input: InputGeometry, binWidth: Int = 1_000) -> NetworkDescription {
        .mlp(input: input, hiddenSizes: [8], classNames: digits, binWidthMicroseconds: binWidth, weightKind: .real)
    }

    // MARK: - Loading the shared datasets

    @Test func loadsNMNISTSmall() throws {
        let data = Self.nmnist
        #expect(data.classNames == Self.digits)
        #expect(data.count == 1000)
        let counts = data.countsPerClass
        #expect(counts.count == 10)
        #expect(counts.reduce(0, +) == 1000)
        #expect(counts.allSatisfy { (87...117).contains($0) }, "\(counts)")
        // Every row of labels.csv, in order.
        #expect(data.recordings.map(\.file) == Self.nmnistLabels.map(\.file))
        #expect(data.recordings.map(\.label) == Self.nmnistLabels.map(\.label))
        #expect(data.recordings[0].file == "1.bin" && data.recordings[0].label == 5)
        #expect(data.recordings[1].file == "2.bin" && data.recordings[1].label == 0)
        #expect(data.recordings[999].file == "1000.bin")
        #expect(data.recordings.allSatisfy { $0.geometry == SensorGeometry(width: 34, height: 34) })
        #expect(data.recordings.allSatisfy { (1_000...7_500).contains($0.events.count) })
        #expect(data.recordings[3].path == Self.nmnistFolder + "/4.bin")
        let direct = try EventFileReader.read(Self.nmnistFolder + "/4.bin")
        #expect(Self.sameEvents(direct.events, data.recordings[3].events))
    }

    @Test func jobsDoNotChangeTheResult() throws {
        let serial = try LabelledDataset.load(folder: Self.nmnistFolder, classNames: Self.digits, jobs: 1)
        let parallel = Self.nmnist  // jobs: 2
        #expect(serial.count == parallel.count)
        for (a, b) in zip(serial.recordings, parallel.recordings) {
            #expect(a.file == b.file && a.label == b.label && a.path == b.path && a.geometry == b.geometry)
            #expect(Self.sameEvents(a.events, b.events), "\(a.file)")
        }
        let many = try LabelledDataset.load(
            folder: Self.gestureFolder, classNames: Self.gestures, width: 128, height: 128, jobs: 16)
        let one = try LabelledDataset.load(
            folder: Self.gestureFolder, classNames: Self.gestures, width: 128, height: 128, jobs: 1)
        #expect(many.recordings.map(\.file) == one.recordings.map(\.file))
        #expect(zip(many.recordings, one.recordings).allSatisfy { Self.sameEvents($0.events, $1.events) })
    }

    @Test func loadsDVSGestureByClassName() throws {
        let data = try LabelledDataset.load(
            folder: Self.gestureFolder, classNames: Self.gestures, width: 128, height: 128)
        #expect(data.count == 10)
        // The class_name column wins over class_id (which counts from 1).
        #expect(data.recordings.map(\.file) == (1...10).map { "\($0).bin" })
        #expect(data.recordings.map(\.label) == Array(0..<10))
        #expect(data.countsPerClass == [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0])
        #expect(data.recordings.allSatisfy { $0.geometry == SensorGeometry(width: 128, height: 128) })
        #expect(data.recordings.allSatisfy { $0.events.count > 10_000 })
        let maxX = data.recordings.map { $0.events.x.max()! }.max()!
        #expect(maxX > 34 && maxX < 128)

        // Without a size, the .bin files cannot be taken as 34x34 N-MNIST.
        let error = try #require(Self.loadError(Self.gestureFolder, classNames: Self.gestures, jobs: 3))
        #expect(error.code == .unknownGeometry)
        #expect(error.file == Self.gestureFolder + "/1.bin", "the first file in labels.csv order")
        #expect(error.message.contains("1.bin") && error.message.contains("width"), "\(error)")
    }

    @Test func mergedFilteredAndCounts() {
        let data = Self.nmnist
        let evens = data.filtered(classes: [0, 2, 4, 6, 8])
        let odds = data.filtered(classes: [1, 3, 5, 7, 9])
        #expect(evens.classNames == data.classNames)
        #expect(evens.recordings.allSatisfy { $0.label % 2 == 0 })
        #expect(evens.count + odds.count == 1000)
        #expect(zip(evens.countsPerClass, odds.countsPerClass).map(+) == data.countsPerClass)
        #expect(evens.countsPerClass[1] == 0 && odds.countsPerClass[0] == 0)
        let merged = evens.merged(with: odds)
        #expect(merged.count == 1000)
        #expect(merged.countsPerClass == data.countsPerClass)
        #expect(merged.recordings.map(\.file) == evens.recordings.map(\.file) + odds.recordings.map(\.file))
        #expect(data.filtered(classes: []).count == 0)
    }

    // MARK: - labels.csv

    @Test func labelsAsNamesIndicesQuotedAndCRLF() throws {
        let names = ["zero", "one", "two", "three", "four", "five"]
        let text = "\u{FEFF}\"File\" , Label ,note\r\n\r\n\"a.bin\",five,\"x, \"\"y\"\"\"\r\n  b.bin , 0 ,\n\n"
            + "c.bin,\"four\",\"two\nlines\"\n"
        var files = Self.recordings()
        files["labels.csv"] = Self.csv(text)
        try Self.withFolder(files) { folder in
            let data = try LabelledDataset.load(folder: folder, classNames: names)
            #expect(data.recordings.map(\.file) == ["a.bin", "b.bin", "c.bin"])
            #expect(data.recordings.map(\.label) == [5, 0, 4])
            #expect(data.recordings[0].path == folder + "/a.bin")
        }
        // `label` wins over `class_name`, which wins over `class_id`.
        files["labels.csv"] = Self.csv("file,class_id,class_name,label\na.bin,1,three,2\n")
        try Self.withFolder(files) { folder in
            let data = try LabelledDataset.load(folder: folder, classNames: names)
            #expect(data.recordings[0].label == 2)
        }
        files["labels.csv"] = Self.csv("class_id,file,class_name\n1,a.bin,three\n")
        try Self.withFolder(files) { folder in
            let data = try LabelledDataset.load(folder: folder, classNames: names)
            #expect(data.recordings[0].label == 3)
        }
        files["labels.csv"] = Self.csv("file,class_id\na.bin,1\n")
        try Self.withFolder(files) { folder in
            let data = try LabelledDataset.load(folder: folder, classNames: names)
            #expect(data.recordings[0].label == 1)
        }
    }

    @Test func csvRowsAndLines() throws {
        let text = "h1,h2\n\"a\nb\",\"c\"\"d\"\r\n\n , \ne,f,"
        let rows = try LabelsFile.parse(Self.csv(text), file: "labels.csv")
        #expect(rows == [
            LabelsFile.Row(fields: ["h1", "h2"], line: 1),
            LabelsFile.Row(fields: ["a\nb", "c\"d"], line: 2),
            LabelsFile.Row(fields: ["", ""], line: 5),
            LabelsFile.Row(fields: ["e", "f", ""], line: 6),
        ])
        #expect(try LabelsFile.parse([], file: "labels.csv").isEmpty)
        #expect(throws: DatasetError.self) { try LabelsFile.parse(Self.csv("file,label\n\"a.bin,1\n"), file: "l") }
        #expect(throws: DatasetError.self) { try LabelsFile.parse(Self.csv("file,label\n\"a\"x,1\n"), file: "l") }
    }

    // MARK: - Errors

    @Test func missingFolderAndLabels() {
        let nowhere = "/nonexistent/bisnn-dataset"
        let missing = Self.loadError(nowhere)
        #expect(missing?.code == .missingFolder)
        #expect(missing?.file == nowhere)
        #expect(missing.map { "\($0)".contains(nowhere) } == true)
        Self.withFolder(Self.recordings()) { folder in
            let error = Self.loadError(folder)
            #expect(error?.code == .missingLabels)
            #expect(error?.file == folder + "/labels.csv")
            #expect(error.map { "\($0)".contains("labels.csv") } == true)
        }
        // A file given as the folder.
        #expect(Self.loadError(Self.nmnistFolder + "/1.bin")?.code == .missingFolder)
    }

    @Test func listedRecordingMissing() throws {
        var files = Self.recordings()
        files["labels.csv"] = Self.csv("file,label\na.bin,5\nghost.bin,1\nb.bin,0\n")
        try Self.withFolder(files) { folder in
            for jobs in [1, 3] {
                let error = try #require(Self.loadError(folder, jobs: jobs))
                #expect(error.code == .missingRecording)
                #expect(error.file == folder + "/ghost.bin")
                #expect(error.message.contains("ghost.bin") && error.message.contains("line 3"), "\(error)")
            }
        }
    }

    @Test func corruptRecordings() throws {
        // A .bin whose length is not a whole number of 5-byte events.
        var files = Self.recordings()
        files["garbage.bin"] = [0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77]
        files["labels.csv"] = Self.csv("file,label\na.bin,5\ngarbage.bin,3\n")
        try Self.withFolder(files) { folder in
            let error = try #require(Self.loadError(folder))
            #expect(error.code == .unreadableRecording)
            #expect(error.file == folder + "/garbage.bin")
            #expect(error.decodingError?.code == .truncated)
            #expect(error.decodingError?.offset == 5)
            #expect(error.message.contains("garbage.bin") && error.message.contains("byte 5"), "\(error)")
        }
        // A real EVT 2.0 recording cut in the middle of a word: 164 header bytes, 1000 words, 3 bytes.
        let evt2 = Self.bytes(Self.dataRoot + "/formats/evt2_640x480.raw")
        files = ["cut.raw": Array(evt2.prefix(164 + 4 * 1000 + 3)), "labels.csv": Self.csv("file,label\ncut.raw,1\n")]
        try Self.withFolder(files) { folder in
            let error = try #require(Self.loadError(folder))
            #expect(error.code == .unreadableRecording)
            #expect(error.decodingError?.code == .truncated)
            #expect(error.decodingError?.offset == Int64(164 + 4 * 1000))
            #expect(error.message.contains("cut.raw") && error.message.contains("byte 4164"), "\(error)")
        }
        // A file of no known format.
        files = ["notes.txt": Self.csv("hello"), "labels.csv": Self.csv("file,label\nnotes.txt,1\n")]
        try Self.withFolder(files) { folder in
            let error = try #require(Self.loadError(folder))
            #expect(error.code == .unreadableRecording)
            #expect(error.decodingError?.code == .unknownFormat)
        }
        // The first failure in labels.csv order is reported, whatever the number of jobs.
        files = Self.recordings()
        files["bad1.bin"] = [1, 2, 3]
        files["bad2.bin"] = [1, 2, 3, 4]
        files["labels.csv"] = Self.csv("file,label\na.bin,5\nb.bin,0\nbad1.bin,1\nc.bin,4\nbad2.bin,1\nghost.bin,2\n")
        try Self.withFolder(files) { folder in
            for jobs in [1, 2, 3, 8] {
                let error = try #require(Self.loadError(folder, jobs: jobs))
                #expect(error.file == folder + "/bad1.bin", "jobs \(jobs)")
            }
        }
    }

    @Test func unknownLabels() throws {
        var files = Self.recordings()
        files["labels.csv"] = Self.csv("file,label\na.bin,5\nb.bin,12\n")
        try Self.withFolder(files) { folder in
            let error = try #require(Self.loadError(folder))
            #expect(error.code == .unknownLabel)
            #expect(error.file == folder + "/labels.csv")
            #expect(error.line == 3)
            #expect(error.message.contains("b.bin") && error.message.contains("\"12\""), "\(error)")
            #expect(error.message.contains("0..<10") && error.message.contains("9 9"), "lists the classes: \(error)")
            #expect("\(error)".hasPrefix(folder + "/labels.csv:3: unknown label: "))
        }
        files["labels.csv"] = Self.csv("file,class_name\na.bin,hand_clap\nb.bin,moonwalk\n")
        try Self.withFolder(files) { folder in
            let error = try #require(Self.loadError(folder, classNames: Self.gestures))
            #expect(error.code == .unknownLabel)
            #expect(error.line == 3)
            #expect(error.message.contains("moonwalk") && error.message.contains("0 hand_clap"), "\(error)")
        }
        files["labels.csv"] = Self.csv("file,label\na.bin,-1\n")
        Self.withFolder(files) { folder in
            #expect(Self.loadError(folder)?.code == .unknownLabel)
        }
    }

    @Test func emptyAndMalformedLabels() throws {
        let cases: [(csv: String, code: DatasetError.Code, line: Int?)] = [
            ("", .emptyDataset, nil),
            ("\n\r\n\n", .emptyDataset, nil),
            ("file,label\n", .emptyDataset, nil),
            ("file,label\n\n\n", .emptyDataset, nil),
            ("a.bin,5\nb.bin,0\n", .badLabels, 1),  // no header row
            ("file,digit\na.bin,5\n", .badLabels, 1),
            ("file,label\na.bin\n", .badLabels, 2),
            ("label,file\n5\n", .badLabels, 2),
            ("file,label\n,5\n", .badLabels, 2),
            ("file,label\na.bin,5\nb.bin,0\na.bin,5\n", .badLabels, 4),
            ("file,label\n\"a.bin,5\n", .badLabels, 2),
        ]
        for c in cases {
            var files = Self.recordings()
            files["labels.csv"] = Self.csv(c.csv)
            try Self.withFolder(files) { folder in
                let error = try #require(Self.loadError(folder), "\(c.csv.debugDescription)")
                #expect(error.code == c.code, "\(c.csv.debugDescription): \(error)")
                #expect(error.line == c.line, "\(c.csv.debugDescription): \(error)")
                #expect(error.file == folder + "/labels.csv")
            }
        }
    }

    @Test func badGeometryArguments() {
        #expect(Self.loadError(Self.nmnistFolder, width: 34)?.code == .badGeometry)
        #expect(Self.loadError(Self.nmnistFolder, height: 34)?.code == .badGeometry)
        #expect(Self.loadError(Self.nmnistFolder, width: 0, height: 34)?.code == .badGeometry)
        #expect(Self.loadError(Self.nmnistFolder, width: 34, height: 70_000)?.code == .badGeometry)
    }

    @Test func givenGeometryOverridesAndDrops() throws {
        var files = Self.recordings()
        files["labels.csv"] = Self.csv("file,label\na.bin,5\n")
        try Self.withFolder(files) { folder in
            let full = try LabelledDataset.load(folder: folder, classNames: Self.digits)
            let small = try LabelledDataset.load(folder: folder, classNames: Self.digits, width: 20, height: 20)
            #expect(full.recordings[0].geometry == SensorGeometry(width: 34, height: 34))
            #expect(small.recordings[0].geometry == SensorGeometry(width: 20, height: 20))
            let inside = full.recordings[0].events.events.filter { $0.x < 20 && $0.y < 20 }
            #expect(small.recordings[0].events.events == inside)
        }
    }

    // MARK: - Split

    @Test func stratifiedSplit() {
        let data = Self.nmnist
        let (train, validation) = data.stratifiedSplit(validationFraction: 0.1, seed: 42)
        let expected = data.countsPerClass.map { Int((0.1 * Double($0)).rounded()) }
        #expect(validation.countsPerClass == expected)
        #expect(train.countsPerClass == zip(data.countsPerClass, expected).map(-))
        #expect(validation.count == expected.reduce(0, +))
        #expect(train.classNames == data.classNames && validation.classNames == data.classNames)
        // Disjoint, covering, each part in labels.csv order.
        let position = Dictionary(uniqueKeysWithValues: data.recordings.enumerated().map { ($1.file, $0) })
        let trainPositions = train.recordings.map { position[$0.file]! }
        let validationPositions = validation.recordings.map { position[$0.file]! }
        #expect(Set(trainPositions).isDisjoint(with: validationPositions))
        #expect(Set(trainPositions + validationPositions) == Set(0..<1000))
        #expect(trainPositions == trainPositions.sorted() && validationPositions == validationPositions.sorted())
        // Deterministic for a seed, different for another.
        let again = data.stratifiedSplit(validationFraction: 0.1, seed: 42)
        #expect(again.validation.recordings.map(\.file) == validation.recordings.map(\.file))
        #expect(again.train.recordings.map(\.file) == train.recordings.map(\.file))
        let other = data.stratifiedSplit(validationFraction: 0.1, seed: 43)
        #expect(other.validation.recordings.map(\.file) != validation.recordings.map(\.file))
        #expect(other.validation.countsPerClass == expected)
        // A class's choice depends only on the seed and that class.
        let evens = data.filtered(classes: [0, 2, 4, 6, 8]).stratifiedSplit(validationFraction: 0.1, seed: 42)
        #expect(evens.validation.recordings.map(\.file)
            == validation.recordings.filter { $0.label % 2 == 0 }.map(\.file))
    }

    @Test func splitOfSmallClasses() {
        func dataset(_ counts: [Int]) -> LabelledDataset {
            var recordings: [LabelledRecording] = []
            for (label, n) in counts.enumerated() {
                for k in 0..<n {
                    recordings.append(LabelledRecording(
                        file: "\(label)-\(k).bin", path: "", label: label, events: EventBuffer(),
                        geometry: SensorGeometry(width: 34, height: 34)))
                }
            }
            return LabelledDataset(classNames: counts.indices.map { "c\($0)" }, recordings: recordings)
        }
        let data = dataset([0, 1, 2, 3, 10])
        #expect(data.stratifiedSplit(validationFraction: 0.1, seed: 1).validation.countsPerClass == [0, 0, 1, 1, 1])
        #expect(data.stratifiedSplit(validationFraction: 0.9, seed: 1).validation.countsPerClass == [0, 1, 1, 2, 9])
        #expect(data.stratifiedSplit(validationFraction: 0.25, seed: 1).validation.countsPerClass == [0, 0, 1, 1, 3])
        #expect(data.stratifiedSplit(validationFraction: 0, seed: 1).validation.count == 0)
        #expect(data.stratifiedSplit(validationFraction: 1, seed: 1).train.count == 0)
    }

    // MARK: - Augmentation

    @Test func noAugmentationIsIdentity() {
        let recording = Self.nmnist.recordings[0]
        var rng = Xoshiro256StarStar(seed: 9)
        let out = EventAugmentation.none.apply(to: recording.events, geometry: recording.geometry, rng: &rng)
        #expect(Self.sameEvents(out, recording.events))
        var fresh = Xoshiro256StarStar(seed: 9)
        #expect(rng.next() == fresh.next(), "none draws nothing")
        #expect(EventAugmentation.none == EventAugmentation(maxShift: 0, dropout: 0, timeJitter: 0))
    }

    @Test func shiftMovesEveryEventByOneOffset() throws {
        let recording = Self.nmnist.recordings[1]
        let events = recording.events.events
        let geometry = recording.geometry
        let augmentation = EventAugmentation(maxShift: 3)
        var rng = Xoshiro256StarStar(seed: 5)
        var offsets = Set<[Int]>()
        var dropped = false
        for _ in 0..<20 {
            let out = augmentation.apply(to: recording.events, geometry: geometry, rng: &rng).events
            var matches: [[Int]] = []
            for dx in -3...3 {
                for dy in -3...3 {
                    let expected = events.compactMap { e -> Event? in
                        let x = Int(e.x) + dx, y = Int(e.y) + dy
                        guard x >= 0, y >= 0, x < geometry.width, y < geometry.height else { return nil }
                        return Event(t: e.t, x: UInt16(x), y: UInt16(y), polarity: e.polarity)
                    }
                    if expected == out { matches.append([dx, dy]) }
                }
            }
            let offset = try #require(matches.first, "the output is the input shifted by one (dx, dy)")
            offsets.insert(offset)
            if out.count < events.count { dropped = true }
        }
        #expect(offsets.count > 5, "offsets vary between calls: \(offsets)")
        #expect(dropped, "some shift pushed events off the 34x34 sensor")
        // Same generator state, same result.
        var a = Xoshiro256StarStar(seed: 77), b = Xoshiro256StarStar(seed: 77)
        #expect(Self.sameEvents(
            augmentation.apply(to: recording.events, geometry: geometry, rng: &a),
            augmentation.apply(to: recording.events, geometry: geometry, rng: &b)))
    }

    @Test func dropoutKeepsAboutTheRestUnchanged() {
        let recording = Self.nmnist.recordings[2]
        let events = recording.events.events
        let p = 0.3
        var rng = Xoshiro256StarStar(seed: 11)
        for _ in 0..<5 {
            let out = EventAugmentation(dropout: p).apply(to: recording.events, geometry: recording.geometry, rng: &rng)
                .events
            // Binomial(n, 1 - p): within 5 standard deviations.
            let n = Double(events.count)
            let sd = (n * p * (1 - p)).squareRoot()
            #expect(abs(Double(out.count) - n * (1 - p)) <= 5 * sd, "kept \(out.count) of \(events.count)")
            // The kept events are a subsequence of the input, each unchanged (polarity included).
            var j = 0
            for e in out {
                while j < events.count && events[j] != e { j += 1 }
                #expect(j < events.count, "kept event \(e) is not an unchanged input event")
                j += 1
            }
        }
        #expect(EventAugmentation(dropout: 1).apply(to: recording.events, geometry: recording.geometry, rng: &rng)
            .isEmpty)
    }

    @Test func jitterKeepsEventsAndTimeOrder() {
        let recording = Self.nmnist.recordings[3]
        let events = recording.events.events
        var rng = Xoshiro256StarStar(seed: 13)
        let out = EventAugmentation(timeJitter: 500).apply(to: recording.events, geometry: recording.geometry, rng: &rng)
            .events
        struct Key: Hashable { var x, y: UInt16; var p: UInt8 }
        func multiset(_ list: [Event]) -> [Key: Int] {
            list.reduce(into: [:]) { $0[Key(x: $1.x, y: $1.y, p: $1.polarity), default: 0] += 1 }
        }
        #expect(out.count == events.count)
        #expect(multiset(out) == multiset(events))
        #expect(zip(out, out.dropFirst()).allSatisfy { $0.t <= $1.t })
        #expect(out.map(\.t) != events.map(\.t), "times moved")
        #expect(out.allSatisfy { $0.t >= 0 })
        let shift = zip(out.map(\.t).sorted(), events.map(\.t).sorted()).map { abs($0 - $1) }.max()!
        #expect(shift <= 500)

        // Sorting is stable: equal times keep their order.
        let tied = EventBuffer([
            Event(t: 5, x: 1, y: 0, polarity: 0), Event(t: 3, x: 2, y: 0, polarity: 0),
            Event(t: 5, x: 3, y: 0, polarity: 1), Event(t: 3, x: 4, y: 0, polarity: 1),
        ])
        #expect(EventAugmentation.sortedByTime(tied).x == [2, 4, 1, 3])
    }

    // MARK: - Frames

    @Test func frameConfigurations() throws {
        let nmnist = try LabelledDataset.frameConfiguration(
            for: Self.network(.nmnist), sensor: SensorGeometry(width: 34, height: 34))
        #expect(nmnist == SpikeFrameConfiguration.nmnist(binWidth: 1_000))
        #expect(nmnist.inputCount == InputGeometry.nmnist.count)

        let gesture = try LabelledDataset.frameConfiguration(
            for: Self.network(InputGeometry(channels: 2, height: 32, width: 32), binWidth: 5_000),
            sensor: SensorGeometry(width: 128, height: 128))
        #expect(gesture.downsample == 4 && gesture.crop == nil && gesture.polarity == .split)
        #expect(gesture.outputWidth == 32 && gesture.outputHeight == 32 && gesture.binWidth == 5_000)

        let merged = try LabelledDataset.frameConfiguration(
            for: Self.network(InputGeometry(channels: 1, height: 64, width: 64)),
            sensor: SensorGeometry(width: 128, height: 128))
        #expect(merged.downsample == 2 && merged.crop == nil && merged.polarity == .merged)
        #expect(merged.inputCount == 64 * 64)

        // Larger than a multiple: downsample, then the centred part.
        let davis = try LabelledDataset.frameConfiguration(
            for: Self.network(InputGeometry(channels: 2, height: 64, width: 64)),
            sensor: SensorGeometry(width: 346, height: 260))
        #expect(davis.downsample == 4)
        #expect(davis.crop == PixelRectangle(x: 45, y: 2, width: 256, height: 256))
        #expect(davis.inputCount == 2 * 64 * 64)
        let gestureToNMNIST = try LabelledDataset.frameConfiguration(
            for: Self.network(.nmnist), sensor: SensorGeometry(width: 128, height: 128))
        #expect(gestureToNMNIST.downsample == 3 && gestureToNMNIST.crop == PixelRectangle(x: 13, y: 13, width: 102, height: 102))
        #expect(gestureToNMNIST.outputWidth == 34 && gestureToNMNIST.outputHeight == 34)

        for (input, sensor) in [
            (InputGeometry.nmnist, SensorGeometry(width: 32, height: 32)),
            (InputGeometry.nmnist, SensorGeometry(width: 128, height: 20)),
            (InputGeometry(channels: 3, height: 34, width: 34), SensorGeometry(width: 34, height: 34)),
        ] {
            #expect {
                try LabelledDataset.frameConfiguration(for: Self.network(input), sensor: sensor)
            } throws: { error in
                (error as? DatasetError)?.code == .incompatibleInput && "\(error)".contains("\(sensor)")
            }
        }
    }

    @Test func framesOfRealRecordings() throws {
        let recording = Self.nmnist.recordings[0]
        let configuration = try LabelledDataset.frameConfiguration(for: Self.network(.nmnist), sensor: recording.geometry)
        let frames = LabelledDataset.frames(of: recording.events, configuration: configuration)
        let last = recording.events.t.last!
        #expect(frames.frameCount == Int(last / 1_000) + 1)
        #expect(frames.inputCount == 2 * 34 * 34)
        #expect(frames.startTime(of: 0) == 0 && frames.startsSegment(0))
        #expect((1..<frames.frameCount).allSatisfy { !frames.startsSegment($0) })
        #expect(frames.activeIndices.count > 1_000)
        #expect(frames.active(of: frames.frameCount - 1).count > 0, "the last, partial bin is flushed")

        let gestures = try LabelledDataset.load(
            folder: Self.gestureFolder, classNames: Self.gestures, width: 128, height: 128, jobs: 4)
        let gesture = gestures.recordings[0]
        let config = try LabelledDataset.frameConfiguration(
            for: Self.network(InputGeometry(channels: 2, height: 32, width: 32), binWidth: 10_000),
            sensor: gesture.geometry)
        let gestureFrames = LabelledDataset.frames(of: gesture.events, configuration: config)
        let span = gesture.events.t.last!
        #expect(abs(gestureFrames.frameCount - Int((span + 9_999) / 10_000)) <= 1)
        #expect(gestureFrames.activeIndices.count > 0)
        #expect(gestureFrames.activeIndices.allSatisfy { $0 < 2 * 32 * 32 })

        // On a running clock the first frame starts at the first event; no events, no frames.
        var late = EventBuffer()
        for k in 0..<50 { late.append(Event(t: 10_000_000 + Int64(k) * 100, x: 1, y: 2, polarity: 1)) }
        let lateFrames = LabelledDataset.frames(of: late, configuration: configuration)
        #expect(lateFrames.startTime(of: 0) == 10_000_000 && lateFrames.frameCount == 5)
        #expect(LabelledDataset.frames(of: EventBuffer(), configuration: configuration).isEmpty)
    }
}
