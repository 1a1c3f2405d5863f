/// Why a recording or an event stream could not be decoded: what was wrong, where (byte offset in the
/// stream, and the file when there is one).
///
/// The ``Code`` is an opaque, extensible set of reasons, compared with `==`.
public struct EventDecodingError: Error, Sendable, Equatable, CustomStringConvertible {
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        let name: String
        private init(_ name: String) { self.name = name }
        public var description: String { name }

        /// The stream ended in the middle of a record, word, header or packet.
        public static let truncated = Code("truncated")
        /// A header (text or binary) is malformed or names something unsupported.
        public static let badHeader = Code("bad header")
        /// A packet or record declares a size that cannot be right.
        public static let badSize = Code("bad size")
        /// A packet's payload could not be decompressed or parsed.
        public static let badPacket = Code("bad packet")
        /// The format could not be recognised or is not supported.
        public static let unknownFormat = Code("unknown format")
        /// The file could not be opened or read.
        public static let io = Code("i/o error")
    }

    public var code: Code
    /// Byte offset from the start of the stream where the problem was found.
    public var offset: Int64
    /// Human-readable detail.
    public var message: String
    /// The file being read, when there is one.
    public var file: String?

    public init(_ code: Code, offset: Int64, _ message: String, file: String? = nil) {
        self.code = code
        self.offset = offset
        self.message = message
        self.file = file
    }

    public var description: String {
        "\(file ?? "<stream>"): byte \(offset): \(code): \(message)"
    }
}
