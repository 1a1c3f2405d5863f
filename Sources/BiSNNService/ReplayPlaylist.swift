import EventStream
import Foundation

/// The recordings `bisnn replay` sends, in order: one file, or every recording of a folder.
///
/// A folder with a `labels.csv` (the dataset layout `bisnn train` and `bisnn eval` read) is replayed in that
/// file's order: its header names the file column (`file`, else `filename` or `path`, compared
/// case-insensitively), each row a recording relative to the folder; other columns are ignored. A folder
/// without one is replayed in ``NaturalOrder`` of its file names (`2.bin` before `10.bin`), taking the files
/// whose extension is a recording's (``recordingExtensions``) and skipping hidden files.
public struct ReplayPlaylist: Sendable, Equatable {
    /// The recordings' paths, in replay order.
    public var files: [String]

    /// Extensions (lowercased) of the files a folder without `labels.csv` contributes.
    public static let recordingExtensions: Set<String> = ["bin", "raw", "dat", "aedat4", "aedat"]

    /// A playlist of `files`, in this order.
    public init(files: [String]) {
        self.files = files
    }

    /// The playlist of `path`: the file itself, or the recordings of the folder (see the type's
    /// description). Throws, naming the path, when it does not exist, when a folder holds no recording,
    /// when its `labels.csv` is malformed or lists a file that is not there.
    public static func resolve(_ path: String) throws(ReplayError) -> ReplayPlaylist {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw ReplayError("no such file or folder", file: path)
        }
        guard isDirectory.boolValue else { return ReplayPlaylist(files: [path]) }
        let labels = join(path, "labels.csv")
        if FileManager.default.fileExists(atPath: labels) {
            return ReplayPlaylist(files: try listed(in: labels, folder: path))
        }
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: path)
        } catch {
            throw ReplayError("cannot list the folder: \(error.localizedDescription)", file: path)
        }
        let recordings = names.filter { name in
            guard !name.hasPrefix("."), let dot = name.lastIndex(of: ".") else { return false }
            guard recordingExtensions.contains(name[name.index(after: dot)...].lowercased()) else { return false }
            var isFolder: ObjCBool = false
            return FileManager.default.fileExists(atPath: join(path, name), isDirectory: &isFolder) && !isFolder.boolValue
        }
        guard !recordings.isEmpty else {
            let extensions = recordingExtensions.sorted().map { "." + $0 }.joined(separator: ", ")
            throw ReplayError("the folder has no labels.csv and no recording (\(extensions))", file: path)
        }
        return ReplayPlaylist(files: recordings.sorted(by: NaturalOrder.areInIncreasingOrder).map { join(path, $0) })
    }

    /// The recordings `labels` lists, joined to `folder`, checked to exist.
    static func listed(in labels: String, folder: String) throws(ReplayError) -> [String] {
        let bytes: [UInt8]
        do {
            bytes = try EventFileReader.readBytes(labels)
        } catch {
            throw ReplayError("cannot read: \(error)", file: labels)
        }
        let rows = CSVRows.parse(bytes)
        guard let header = rows.first else { throw ReplayError("labels.csv is empty", file: labels) }
        let names = header.fields.map { $0.lowercased() }
        guard let column = ["file", "filename", "path"].lazy.compactMap({ names.firstIndex(of: $0) }).first else {
            throw ReplayError(
                "line \(header.line): the header `\(header.fields.joined(separator: ","))` has no `file` column",
                file: labels)
        }
        var files: [String] = []
        for row in rows.dropFirst() {
            guard column < row.fields.count, !row.fields[column].isEmpty else {
                throw ReplayError("line \(row.line): no file name in column \(column + 1)", file: labels)
            }
            let file = join(folder, row.fields[column])
            var isFolder: ObjCBool = false
            guard FileManager.default.fileExists(atPath: file, isDirectory: &isFolder), !isFolder.boolValue else {
                throw ReplayError("line \(row.line): \(row.fields[column]) does not exist", file: labels)
            }
            files.append(file)
        }
        guard !files.isEmpty else { throw ReplayError("labels.csv lists no recording", file: labels) }
        return files
    }

    static func join(_ folder: String, _ name: String) -> String {
        folder.hasSuffix("/") ? folder + name : folder + "/" + name
    }
}

/// The records of a CSV file: comma-separated fields, optionally quoted (a quoted field may hold commas,
/// line breaks and `""` for a quote), records ending in LF or CRLF, unquoted fields trimmed of spaces and
/// tabs, blank lines and a UTF-8 byte-order mark skipped. An unclosed quote runs to the end of the file.
enum CSVRows {
    /// One record and the line it starts on (1-based).
    struct Row: Sendable, Equatable {
        var fields: [String]
        var line: Int
    }

    static func parse(_ bytes: [UInt8]) -> [Row] {
        let quote = UInt8(ascii: "\""), comma = UInt8(ascii: ","), lf = UInt8(ascii: "\n"), cr = UInt8(ascii: "\r")
        let isBlank: (UInt8) -> Bool = { $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\t") }
        var rows: [Row] = []
        var i = bytes.starts(with: [0xEF, 0xBB, 0xBF]) ? 3 : 0
        var line = 1
        var fields: [String] = []
        var field: [UInt8] = []
        var rowLine = 1
        var quoted = false
        func endField() {
            if !quoted {
                while let last = field.last, isBlank(last) { field.removeLast() }
                if let first = field.firstIndex(where: { !isBlank($0) }) { field.removeFirst(first) } else { field = [] }
            }
            fields.append(String(decoding: field, as: UTF8.self))
            field = []
            quoted = false
        }
        func endRecord() {
            endField()
            if !(fields.count == 1 && fields[0].isEmpty) { rows.append(Row(fields: fields, line: rowLine)) }
            fields = []
        }
        while i < bytes.count {
            let b = bytes[i]
            if fields.isEmpty, field.isEmpty, !quoted { rowLine = line }
            if b == quote, field.allSatisfy(isBlank) {
                quoted = true
                field = []
                i += 1
                while i < bytes.count {
                    if bytes[i] == quote {
                        if i + 1 < bytes.count, bytes[i + 1] == quote {
                            field.append(quote)
                            i += 2
                            continue
                        }
                        i += 1
                        break
                    }
                    if bytes[i] == lf { line += 1 }
                    field.append(bytes[i])
                    i += 1
                }
                continue
            }
            switch b {
            case comma:
                endField()
            case lf:
                endRecord()
                line += 1
            case cr where i + 1 < bytes.count && bytes[i + 1] == lf:
                break
            default:
                if !quoted { field.append(b) }
            }
            i += 1
        }
        if !fields.isEmpty || !field.isEmpty || quoted { endRecord() }
        return rows
    }
}
