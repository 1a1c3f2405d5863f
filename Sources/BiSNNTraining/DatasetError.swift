import EventStream

/// Why a dataset folder could not be loaded, or a recording's sensor cannot feed a model's input.
///
/// A struct with an opaque ``Code`` so new cases can be added without breaking callers. The message says what
/// is wrong; ``file`` names the folder, `labels.csv` or the recording concerned, and ``line`` the line of
/// `labels.csv` (1-based, the header being line 1) for problems found there. A recording that could not be
/// decoded keeps the decoder's error (file, byte offset, reason) in ``decodingError``.
public struct DatasetError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The kind of problem.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        let name: String
        private init(_ name: String) { self.name = name }
        public var description: String { name }

        /// The dataset folder does not exist or is not a folder.
        public static let missingFolder = Code("missing folder")
        /// The folder has no `labels.csv`, or it cannot be read.
        public static let missingLabels = Code("missing labels")
        /// `labels.csv` is malformed: no header, no file or label column, a row without those fields, an
        /// unterminated quote, an empty file name, a file listed twice.
        public static let badLabels = Code("bad labels")
        /// A label is neither a class name nor a class index of the model.
        public static let unknownLabel = Code("unknown label")
        /// A file listed in `labels.csv` does not exist.
        public static let missingRecording = Code("missing recording")
        /// A listed recording could not be decoded (see ``DatasetError/decodingError``).
        public static let unreadableRecording = Code("unreadable recording")
        /// A recording's sensor size is neither in the file nor given, and cannot be assumed.
        public static let unknownGeometry = Code("unknown geometry")
        /// A width or height argument is missing or out of range.
        public static let badGeometry = Code("bad geometry")
        /// `labels.csv` lists no recording.
        public static let emptyDataset = Code("empty dataset")
        /// A sensor cannot be mapped onto a model's input (smaller than the input, unsupported channels).
        public static let incompatibleInput = Code("incompatible input")
    }

    /// The kind of problem.
    public var code: Code
    /// What exactly is wrong.
    public var message: String
    /// The folder, `labels.csv` or recording concerned, when there is one.
    public var file: String?
    /// The line of `labels.csv` (1-based, header = 1), for problems found there.
    public var line: Int?
    /// The decoder's error, for ``Code/unreadableRecording``.
    public var decodingError: EventDecodingError?

    /// An error of kind `code`.
    public init(
        _ code: Code, _ message: String, file: String? = nil, line: Int? = nil,
        decodingError: EventDecodingError? = nil
    ) {
        self.code = code
        self.message = message
        self.file = file
        self.line = line
        self.decodingError = decodingError
    }

    /// `file:line: code: message`, with the parts that are known.
    public var description: String {
        var text = ""
        if let file { text += file + (line.map { ":\($0)" } ?? "") + ": " }
        return text + "\(code): \(message)"
    }
}
