import EventStream
import Foundation
import Synchronization

/// One recording of a dataset with its class: the decoded events and the sensor they came from.
public struct LabelledRecording: Sendable {
    /// The file's name as `labels.csv` spells it (relative to the dataset folder).
    public var file: String
    /// The file's path (the dataset folder joined with ``file``).
    public var path: String
    /// The class index, in `0 ..< classNames.count` of the dataset.
    public var label: Int
    /// The decoded events, in file order.
    public var events: EventBuffer
    /// The sensor the events came from (from the file, the loader's width and height, or 34x34 for N-MNIST).
    public var geometry: SensorGeometry

    /// A recording; see the properties.
    public init(file: String, path: String, label: Int, events: EventBuffer, geometry: SensorGeometry) {
        self.file = file
        self.path = path
        self.label = label
        self.events = events
        self.geometry = geometry
    }
}

/// Labelled recordings for training and evaluation, with the class names their labels index.
///
/// On disk a dataset is a folder holding `labels.csv` and the recordings, in any format
/// ``EventFileReader`` reads (see ``load(folder:classNames:width:height:jobs:)``). Recordings keep the order of
/// `labels.csv`, so everything derived from a dataset (splits, epochs with a seeded shuffle) is reproducible.
public struct LabelledDataset: Sendable {
    /// One name per class, in the model's output order; labels index it.
    public var classNames: [String]
    /// The recordings, in `labels.csv` order.
    public var recordings: [LabelledRecording]

    /// A dataset of `recordings`, whose labels must lie in `0 ..< classNames.count`.
    public init(classNames: [String], recordings: [LabelledRecording]) {
        precondition(
            recordings.allSatisfy { $0.label >= 0 && $0.label < classNames.count },
            "a recording's label is outside 0..<\(classNames.count)")
        self.classNames = classNames
        self.recordings = recordings
    }

    /// Number of recordings.
    public var count: Int { recordings.count }

    /// How many recordings each class has, indexed by class (`classNames.count` entries).
    public var countsPerClass: [Int] {
        var counts = [Int](repeating: 0, count: classNames.count)
        for r in recordings { counts[r.label] += 1 }
        return counts
    }

    /// This dataset's recordings followed by `other`'s. Both must have the same class names (a precondition:
    /// labels of different class lists cannot be mixed).
    public func merged(with other: LabelledDataset) -> LabelledDataset {
        precondition(
            classNames == other.classNames,
            "merging datasets with different class names: \(classNames) and \(other.classNames)")
        return LabelledDataset(classNames: classNames, recordings: recordings + other.recordings)
    }

    /// The recordings whose label is in `classes`, in the same order. Class names and labels are unchanged
    /// (a class left out keeps its index, with no recording).
    public func filtered(classes: Set<Int>) -> LabelledDataset {
        LabelledDataset(classNames: classNames, recordings: recordings.filter { classes.contains($0.label) })
    }

    // MARK: - Loading

    /// Loads the dataset in `folder`: reads `labels.csv`, then decodes every recording it lists.
    ///
    /// `labels.csv` is comma-separated with a header row. The file column is `file` (else `filename` or
    /// `path`), the path of a recording relative to the folder; the label column is `label`, else
    /// `class_name`, else `class_id` (header names compared case-insensitively; other columns are ignored). A
    /// label is a name in `classNames` or, failing that, a class index in `0 ..< classNames.count` (so with
    /// names "0"..."9" both readings agree). Fields may be quoted (`"a, b"`, `""` for a quote), lines may end
    /// in CRLF, unquoted fields are trimmed of spaces and tabs, blank lines and a UTF-8 byte-order mark are
    /// skipped. A file listed twice is an error.
    ///
    /// Each recording's format is detected from its header and extension
    /// (``EventFormat/detect(prefix:fileName:)``). Its sensor is `width` x `height` when given (events off it are dropped by the decoder), else what the
    /// file declares; formats without geometry (N-MNIST `.bin`) are taken as N-MNIST's 34x34 sensor when every
    /// event fits on it, and are an ``DatasetError/Code/unknownGeometry`` error otherwise (for example the
    /// 128x128 DVS128 Gesture crops: pass `width: 128, height: 128`).
    ///
    /// Recordings are decoded on `jobs` threads (at least 1; worker `w` takes recordings `w`, `w + jobs`, ...),
    /// events and all held in memory (nmnist-small/train: 1000 recordings, some 70 MB); the result
    /// and, on failure, the error reported (the first failing recording in `labels.csv` order) do not depend on
    /// `jobs` or on thread timing.
    ///
    /// - Throws: ``DatasetError``: a missing folder or `labels.csv`, a malformed `labels.csv` or unknown label
    ///   (naming the line), a listed recording that is missing or cannot be decoded (naming it, with the
    ///   decoder's byte offset), no recording listed.
    public static func load(
        folder: String, classNames: [String], width: Int? = nil, height: Int? = nil, jobs: Int = 2
    ) throws(DatasetError) -> LabelledDataset {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: folder, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw DatasetError(.missingFolder, "no such folder", file: folder)
        }
        let override = try geometry(width: width, height: height)
        let labelsPath = join(folder, "labels.csv")
        let entries = try LabelsFile.read(labelsPath, classNames: classNames)
        let results = decode(entries, folder: folder, geometry: override, jobs: jobs)
        var recordings: [LabelledRecording] = []
        recordings.reserveCapacity(results.count)
        for result in results {
            switch result {
            case .success(let recording): recordings.append(recording)
            case .failure(let error): throw error
            }
        }
        return LabelledDataset(classNames: classNames, recordings: recordings)
    }

    /// The sensor override from optional width and height: both or neither, each in 1...65536.
    static func geometry(width: Int?, height: Int?) throws(DatasetError) -> SensorGeometry? {
        switch (width, height) {
        case (nil, nil):
            return nil
        case let (w?, h?) where (1...65536).contains(w) && (1...65536).contains(h):
            return SensorGeometry(width: w, height: h)
        case (_?, _?):
            throw DatasetError(.badGeometry, "width and height must be in 1...65536, got \(width!)x\(height!)")
        default:
            throw DatasetError(.badGeometry, "give both width and height, or neither")
        }
    }

    static func join(_ folder: String, _ file: String) -> String {
        folder.hasSuffix("/") ? folder + file : folder + "/" + file
    }

    /// Decodes the listed recordings on `jobs` threads; results in `entries` order. Once a recording fails,
    /// workers skip recordings after it (those before it are still decoded, so the first failure in list
    /// order is always found).
    static func decode(
        _ entries: [LabelsFile.Entry], folder: String, geometry: SensorGeometry?, jobs: Int
    ) -> [Result<LabelledRecording, DatasetError>] {
        let n = entries.count
        let results = Mutex([Result<LabelledRecording, DatasetError>?](repeating: nil, count: n))
        let firstFailure = Mutex(Int.max)
        let workers = max(1, min(jobs, n))
        let work: @Sendable (Int) -> Void = { worker in
            var i = worker
            while i < n, i < firstFailure.withLock({ $0 }) {
                let entry = entries[i]
                let result = decodeOne(entry, path: join(folder, entry.file), geometry: geometry)
                if case .failure = result { firstFailure.withLock { $0 = min($0, i) } }
                results.withLock { $0[i] = result }
                i += workers
            }
        }
        runParallel(workers: workers, work)
        let all = results.withLock { $0 }
        let stop = firstFailure.withLock { $0 }
        return stop == .max ? all.map { $0! } : [all[stop]!]
    }

    /// Decodes one listed recording; failures are returned, not thrown, across threads.
    static func decodeOne(
        _ entry: LabelsFile.Entry, path: String, geometry override: SensorGeometry?
    ) -> Result<LabelledRecording, DatasetError> {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue else {
            return .failure(DatasetError(
                .missingRecording, "\(entry.file), listed on line \(entry.line) of labels.csv, does not exist",
                file: path))
        }
        let recording: EventRecording
        do {
            recording = try EventFileReader.read(path, geometry: override)
        } catch {
            let decoding = error as? EventDecodingError
            return .failure(DatasetError(
                .unreadableRecording, "cannot decode \(entry.file): \(error)", file: path, decodingError: decoding))
        }
        let geometry: SensorGeometry
        if let known = override ?? recording.geometry {
            geometry = known
        } else {
            let nmnist = SensorGeometry(width: 34, height: 34)
            let (maxX, maxY) = recording.events.withColumns { _, xs, ys, _ in (xs.max() ?? 0, ys.max() ?? 0) }
            guard recording.format == .nmnist, nmnist.contains(x: maxX, y: maxY) else {
                return .failure(DatasetError(
                    .unknownGeometry,
                    "\(entry.file) (\(recording.format)) does not say its sensor size and its events reach "
                        + "x = \(maxX), y = \(maxY); give the dataset's width and height",
                    file: path))
            }
            geometry = nmnist
        }
        return .success(LabelledRecording(
            file: entry.file, path: path, label: entry.label, events: recording.events, geometry: geometry))
    }
}

/// `labels.csv`: parsing and label resolution.
enum LabelsFile {
    /// One listed recording.
    struct Entry: Sendable {
        var file: String
        var label: Int
        /// Line of `labels.csv` where the row starts (1-based).
        var line: Int
    }

    /// Reads and checks `path` against the model's classes.
    static func read(_ path: String, classNames: [String]) throws(DatasetError) -> [Entry] {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue else {
            throw DatasetError(.missingLabels, "the dataset folder has no labels.csv", file: path)
        }
        let bytes: [UInt8]
        do {
            bytes = try EventFileReader.readBytes(path)
        } catch {
            throw DatasetError(.missingLabels, "cannot read: \(error)", file: path)
        }
        return try entries(of: parse(bytes, file: path), classNames: classNames, file: path)
    }

    /// The rows of a `labels.csv` already split into fields, header first, resolved against `classNames`.
    static func entries(of rows: [Row], classNames: [String], file: String) throws(DatasetError) -> [Entry] {
        guard let header = rows.first else {
            throw DatasetError(
                .emptyDataset, "labels.csv is empty (expected a header such as `file,label` and one row a recording)",
                file: file)
        }
        let names = header.fields.map { $0.lowercased() }
        let headerText = header.fields.joined(separator: ",")
        guard let fileColumn = ["file", "filename", "path"].lazy.compactMap({ names.firstIndex(of: $0) }).first else {
            throw DatasetError(
                .badLabels, "the header `\(headerText)` has no `file` column (a header row is required)",
                file: file, line: header.line)
        }
        guard let labelColumn = ["label", "class_name", "class_id"].lazy.compactMap({ names.firstIndex(of: $0) })
            .first
        else {
            throw DatasetError(
                .badLabels, "the header `\(headerText)` has no `label`, `class_name` or `class_id` column",
                file: file, line: header.line)
        }
        var index: [String: Int] = [:]
        for (c, name) in classNames.enumerated() where index[name] == nil { index[name] = c }
        var seen: [String: Int] = [:]
        var entries: [Entry] = []
        entries.reserveCapacity(rows.count - 1)
        for row in rows.dropFirst() {
            guard row.fields.count > max(fileColumn, labelColumn) else {
                throw DatasetError(
                    .badLabels,
                    "the row has \(row.fields.count) field(s); the file and label are columns \(fileColumn + 1) "
                        + "and \(labelColumn + 1) of the header `\(headerText)`",
                    file: file, line: row.line)
            }
            let name = row.fields[fileColumn], text = row.fields[labelColumn]
            guard !name.isEmpty else {
                throw DatasetError(.badLabels, "the file name is empty", file: file, line: row.line)
            }
            if let earlier = seen[name] {
                throw DatasetError(
                    .badLabels, "\(name) is listed twice (lines \(earlier) and \(row.line))", file: file, line: row.line)
            }
            seen[name] = row.line
            let label: Int
            if let c = index[text] {
                label = c
            } else if let c = Int(text), c >= 0, c < classNames.count {
                label = c
            } else {
                throw DatasetError(
                    .unknownLabel,
                    "\(name): label \"\(text)\" is neither a class name nor a class index in 0..<\(classNames.count); "
                        + "the model's classes are \(describe(classNames))",
                    file: file, line: row.line)
            }
            entries.append(Entry(file: name, label: label, line: row.line))
        }
        guard !entries.isEmpty else {
            throw DatasetError(.emptyDataset, "labels.csv lists no recording (header only)", file: file)
        }
        return entries
    }

    /// The class names, numbered, the first 20 at most.
    static func describe(_ classNames: [String]) -> String {
        if classNames.isEmpty { return "none" }
        let shown = classNames.prefix(20).enumerated().map { "\($0.offset) \($0.element)" }.joined(separator: ", ")
        return classNames.count > 20 ? shown + ", ... (\(classNames.count) in all)" : shown
    }

    /// One CSV record: its fields and the line it starts on.
    struct Row: Sendable, Equatable {
        var fields: [String]
        var line: Int
    }

    /// Splits CSV text into records (RFC 4180 with tolerance): fields separated by commas, optionally quoted
    /// (a quoted field may hold commas, newlines and `""` for a quote), records ending in LF or CRLF, unquoted
    /// fields trimmed of spaces and tabs; blank lines and a leading UTF-8 byte-order mark skipped.
    static func parse(_ bytes: [UInt8], file: String) throws(DatasetError) -> [Row] {
        let quote = UInt8(ascii: "\""), comma = UInt8(ascii: ","), lf = UInt8(ascii: "\n"), cr = UInt8(ascii: "\r")
        func isBlank(_ c: UInt8) -> Bool { c == UInt8(ascii: " ") || c == UInt8(ascii: "\t") }
        let n = bytes.count
        var i = bytes.starts(with: [0xEF, 0xBB, 0xBF]) ? 3 : 0
        var line = 1
        var rows: [Row] = []
        while i < n {
            let rowLine = line
            var fields: [String] = []
            var quotedAny = false
            var endOfRecord = false
            while !endOfRecord {
                while i < n, isBlank(bytes[i]) { i += 1 }
                var field: [UInt8] = []
                if i < n, bytes[i] == quote {
                    quotedAny = true
                    let fieldLine = line
                    i += 1
                    while true {
                        guard i < n else {
                            throw DatasetError(
                                .badLabels, "a quoted field is not closed before the end of the file", file: file,
                                line: fieldLine)
                        }
                        let c = bytes[i]
                        if c == quote {
                            if i + 1 < n, bytes[i + 1] == quote {
                                field.append(quote)
                                i += 2
                                continue
                            }
                            i += 1
                            break
                        }
                        if c == lf { line += 1 }
                        field.append(c)
                        i += 1
                    }
                    while i < n, isBlank(bytes[i]) || (bytes[i] == cr && i + 1 < n && bytes[i + 1] == lf) { i += 1 }
                    guard i == n || bytes[i] == comma || bytes[i] == lf else {
                        throw DatasetError(
                            .badLabels, "unexpected character after a closing quote", file: file, line: line)
                    }
                } else {
                    let start = i
                    while i < n, bytes[i] != comma, bytes[i] != lf { i += 1 }
                    var end = i
                    while end > start, isBlank(bytes[end - 1]) || bytes[end - 1] == cr { end -= 1 }
                    field = Array(bytes[start..<end])
                }
                fields.append(String(decoding: field, as: UTF8.self))
                if i < n, bytes[i] == comma {
                    i += 1
                } else {
                    if i < n { i += 1 }  // the LF
                    line += 1
                    endOfRecord = true
                }
            }
            if fields.count == 1, fields[0].isEmpty, !quotedAny { continue }  // blank line
            rows.append(Row(fields: fields, line: rowLine))
        }
        return rows
    }
}
