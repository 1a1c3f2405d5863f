/// Why a network description, a model or a model file was rejected.
///
/// A struct with an opaque ``Code`` so new cases can be added without breaking callers. The message names
/// the offending key or tensor; for files, ``file`` and ``offset`` say where.
public struct ModelError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The kind of problem.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        let name: String
        /// The network description is inconsistent or out of the supported range.
        public static let invalidDescription = Code(name: "invalid description")
        /// Parameters do not match the description (count, shape) or hold non-finite values.
        public static let invalidParameters = Code(name: "invalid parameters")
        /// The file is shorter than its own header says.
        public static let truncated = Code(name: "truncated")
        /// The file's header is not a valid safetensors header.
        public static let badHeader = Code(name: "bad header")
        /// A tensor has the wrong dtype, shape or byte range.
        public static let badTensor = Code(name: "bad tensor")
        /// The file's metadata is missing or is not a bisnn model description.
        public static let badMetadata = Code(name: "bad metadata")
        /// The file could not be opened, read or written.
        public static let io = Code(name: "i/o")
        /// The file or a declared size is larger than the loader accepts.
        public static let tooLarge = Code(name: "too large")
        public var description: String { name }
    }

    /// The kind of problem.
    public var code: Code
    /// What exactly is wrong, naming the key or tensor.
    public var message: String
    /// The file, when the problem is in a file.
    public var file: String?
    /// Byte offset in the file where the problem was found, when known.
    public var offset: Int?

    /// An error of kind `code`.
    public init(_ code: Code, _ message: String, file: String? = nil, offset: Int? = nil) {
        self.code = code
        self.message = message
        self.file = file
        self.offset = offset
    }

    public var description: String {
        var text = ""
        if let file { text += "\(file): " }
        if let offset { text += "at byte \(offset): " }
        return text + "\(code): \(message)"
    }
}
