extension ServiceConfiguration {
    /// Where an HTTP endpoint listens: `host:port`, the host an IPv4 address, a bracketed IPv6 address or a
    /// host name (`0.0.0.0` or `[::]` for every interface, which must be written out: there is no `*`).
    public struct ListenAddress: Sendable, Hashable, CustomStringConvertible {
        /// The host, IPv6 addresses without brackets.
        public var host: String
        /// The port, 1...65535.
        public var port: Int

        /// An address, unchecked; ``init(parsing:)`` checks.
        public init(host: String, port: Int) {
            self.host = host
            self.port = port
        }

        /// Parses and checks `text` (`127.0.0.1:9464`, `[::1]:9464`, `localhost:9464`). The error has no key;
        /// the caller adds it.
        public init(parsing text: String) throws(ConfigurationError) {
            let (host, port) = try Host.parse(hostPort: text, allowWildcard: false)
            self.init(host: host.name, port: port)
        }

        /// Whether only this machine can reach the address.
        public var isLoopback: Bool {
            Host(name: host, isIPv6: host.contains(":")).isLoopback
        }

        public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
    }
}
