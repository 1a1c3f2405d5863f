/// Why the metrics endpoint could not start: the address it was given and what went wrong.
///
/// A struct with an opaque ``Code`` so new kinds can be added without breaking callers. ``description`` reads
/// `metrics endpoint 127.0.0.1:9464: cannot bind: Address already in use`.
public struct MetricsEndpointError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The kind of problem.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        let name: String
        /// The host does not resolve to an address (`getaddrinfo` failed).
        public static let unresolvable = Code(name: "cannot resolve")
        /// No address of the host could be bound and listened on (in use, not this machine's, no permission).
        public static let bindFailed = Code(name: "cannot bind")
        /// Another system call failed (no file descriptors, no thread).
        public static let systemError = Code(name: "system error")
        public var description: String { name }
    }

    /// The kind of problem.
    public var code: Code
    /// The address the endpoint was to listen on, as `host:port` (IPv6 hosts in brackets).
    public var address: String
    /// What the system said (`Address already in use`), with the call that failed for ``Code/systemError``.
    public var message: String

    /// An error of kind `code` about `address`.
    public init(_ code: Code, address: String, _ message: String) {
        self.code = code
        self.address = address
        self.message = message
    }

    public var description: String { "metrics endpoint \(address): \(code): \(message)" }
}
