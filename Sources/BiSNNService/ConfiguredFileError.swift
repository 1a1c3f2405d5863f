/// Why a file a setting or an option names (a CURVE key, an allow-list, the model) was not read: the path, and
/// what is wrong with it.
///
/// ``description`` reads `/etc/bisnnd/curve/server.key: readable by group or others (mode 0644); ...`. The
/// service wraps it in a ``ConfigurationError`` naming the setting (exit status 78).
public struct ConfiguredFileError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The kind of problem.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        let name: String
        /// The file cannot be opened, examined or read (no such file, permission denied, an I/O error).
        public static let unreadable = Code(name: "unreadable")
        /// The path names a directory, a FIFO, a socket or a device, not a regular file.
        public static let notRegularFile = Code(name: "not a regular file")
        /// The path names a symbolic link, which key files may not be.
        public static let symbolicLink = Code(name: "symbolic link")
        /// The file is larger than such a file can be.
        public static let tooLarge = Code(name: "too large")
        /// Someone other than the service may read a secret, or change a trusted file: its owner or mode.
        public static let permissions = Code(name: "permissions")
        /// The contents are not what the file should hold (not Z85 keys, not one key).
        public static let malformed = Code(name: "malformed")
        /// A file to be created exists already (key files are never overwritten).
        public static let exists = Code(name: "exists")
        public var description: String { name }
    }

    /// The kind of problem.
    public var code: Code
    /// The file, as named.
    public var path: String
    /// What is wrong, and how to fix it where that is not obvious.
    public var message: String

    /// An error of kind `code` about the file at `path`.
    public init(_ code: Code, path: String, _ message: String) {
        self.code = code
        self.path = path
        self.message = message
    }

    public var description: String { "\(path): \(message)" }
}
