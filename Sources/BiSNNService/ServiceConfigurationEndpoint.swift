extension ServiceConfiguration {
    /// A ZeroMQ endpoint from the configuration: `tcp://host:port`, `ipc://path` or `inproc://name`.
    ///
    /// ``description`` is the string handed to `zmq_bind`/`zmq_connect`.
    public struct Endpoint: Sendable, Hashable, CustomStringConvertible {
        /// The ZeroMQ transport.
        public enum Transport: String, Sendable, Hashable, CaseIterable {
            /// TCP: `host:port`.
            case tcp
            /// A Unix domain socket: a path, or `@name` in the abstract namespace.
            case ipc
            /// Within the process: a name.
            case inproc
        }

        /// The transport.
        public var transport: Transport
        /// What follows `://`: `host:port`, a path or a name.
        public var address: String

        /// An endpoint, unchecked; ``init(parsing:forBinding:)`` checks.
        public init(transport: Transport, address: String) {
            self.transport = transport
            self.address = address
        }

        /// The longest ipc path: `sun_path` holds 108 bytes with the terminating NUL.
        public static let maxIPCPathBytes = 107

        /// Parses and checks `text`. A bind may use `*` as a TCP host (every interface); a connect may not.
        /// The error has no key; the caller adds it.
        public init(parsing text: String, forBinding: Bool) throws(ConfigurationError) {
            func fail(_ why: String) -> ConfigurationError {
                ConfigurationError(.invalidValue, key: nil, why)
            }
            guard let separator = text.range(of: "://") else {
                throw fail("\"\(text)\" is not an endpoint (tcp://host:port, ipc://path or inproc://name)")
            }
            let scheme = String(text[..<separator.lowerBound])
            let rest = String(text[separator.upperBound...])
            guard let transport = Transport(rawValue: scheme) else {
                throw fail("\"\(text)\": transport \"\(scheme)\" is not one of tcp, ipc, inproc")
            }
            guard !rest.isEmpty else { throw fail("\"\(text)\" has nothing after \(scheme)://") }
            guard !rest.contains(where: { $0.isWhitespace || $0.asciiValue.map { $0 < 0x20 } == true }) else {
                throw fail("\"\(text)\" contains white space or control characters")
            }
            switch transport {
            case .tcp:
                guard !rest.contains(";") else {
                    throw fail("\"\(text)\": source addresses (source;host:port) are not supported")
                }
                let (host, port) = try Host.parse(hostPort: rest, allowWildcard: forBinding)
                self.init(transport: .tcp, address: "\(host.text):\(port)")
            case .ipc:
                guard rest != "*" else { throw fail("\"\(text)\": give the socket's path, not *") }
                guard rest.utf8.count <= Self.maxIPCPathBytes else {
                    throw fail("\"\(text)\": the path has \(rest.utf8.count) bytes, more than the "
                               + "\(Self.maxIPCPathBytes) a Unix socket address holds")
                }
                self.init(transport: .ipc, address: rest)
            case .inproc:
                self.init(transport: .inproc, address: rest)
            }
        }

        public var description: String { "\(transport.rawValue)://\(address)" }

        /// Whether traffic on this endpoint stays on this machine: ipc, inproc, and tcp on a loopback host.
        public var isLocal: Bool {
            guard transport == .tcp, let parsed = try? Host.parse(hostPort: address, allowWildcard: true) else {
                return true
            }
            return parsed.0.isLoopback
        }

        /// The TCP port, nil for ipc and inproc.
        public var port: Int? {
            guard transport == .tcp, let parsed = try? Host.parse(hostPort: address, allowWildcard: true) else {
                return nil
            }
            return parsed.1
        }
    }
}
