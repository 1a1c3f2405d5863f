import ZeroMQ

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The service's ZeroMQ side, opened from the configuration: input sockets on a ``ZMQReaderThread`` and the
/// PUB socket on a ``ZMQSenderThread``, each socket created, configured, bound or connected here and then owned
/// by its thread.
///
/// - Inputs: a PULL socket bound on each `input.pull_bind` endpoint and a SUB socket connected to each
///   `input.sub_connect` endpoint, subscribed to `events/`; each with `ZMQ_RCVHWM` = `input.receive_hwm`,
///   `ZMQ_MAXMSGSIZE` = `input.max_message_bytes`, linger 0 (unread input is dropped at stop).
/// - Output: one PUB socket bound on `output.pub_bind`, `ZMQ_SNDHWM` = `output.send_hwm`, with a linger of
///   ``outputLinger`` so the last predictions leave at a stop.
/// - ipc endpoints: the socket's directory must exist (under systemd, `/run/bisnnd` is the unit's
///   RuntimeDirectory). libzmq's bind removes any file at the path, which would silently steal the address from
///   a running instance; so before binding, the service connects to an existing socket file: if something
///   answers, the bind fails with "address in use"; if nothing does, the file is a stale one left by a killed
///   instance and libzmq's bind replaces it.
/// - CURVE (`security.curve.enabled`): a ``ZMQAuthenticator`` (ZAP handler) starts before anything binds, and every
///   bound socket (PULL and PUB) becomes a CURVE server with the server's secret key and the ZAP domain
///   `service.name`, its failed handshakes watched, so that only allowed client keys get in and every refusal is
///   counted. The authenticator stops after the sockets close: without it libzmq would let any CURVE client in.
struct ServiceSockets {
    /// How long the PUB socket may keep trying to deliver queued messages once the service closes it.
    static let outputLinger = Duration.milliseconds(500)
    /// Messages per batch handed from the reader thread to the pipelines, and batches that may wait.
    static let maxBatchSize = 64
    static let bufferedBatches = 2
    /// Messages the output queue holds before dropping.
    static let outputQueueCapacity = 4096

    /// The reader thread, owning every input socket.
    let reader: ZMQReaderThread
    /// The sender thread, owning the PUB socket.
    let sender: ZMQSenderThread
    /// The endpoints as bound (with resolved wildcard ports), for the log.
    let boundInputs: [String]
    let boundOutput: String
    /// The ZAP handler, with CURVE on.
    let authenticator: ZMQAuthenticator?

    /// Opens every socket of `configuration` in `context`, as CURVE servers with `curve`'s keys when given;
    /// throws naming the key and endpoint that failed, having closed whatever it had opened.
    static func open(
        _ configuration: ServiceConfiguration, curve: ServiceCurveKeys? = nil, context: ZMQContext
    ) throws(ServiceStartError) -> ServiceSockets {
        var authenticator: ZMQAuthenticator?
        if let curve {
            do {
                authenticator = try ZMQAuthenticator(
                    context: context, allowedKeys: curve.allowedClients,
                    watchedSockets: configuration.input.pullBind.count + 1, name: "bisnnd-zap")
            } catch {
                throw ServiceStartError(
                    .socket, key: "security.curve.enabled", endpoint: ZMQAuthenticator.endpoint,
                    "cannot start the ZAP handler: \(error)")
            }
        }
        do throws(ServiceStartError) {
            return try openSockets(configuration, curve: curve, authenticator: authenticator, context: context)
        } catch {
            authenticator?.stop()
            throw error
        }
    }

    /// Makes `socket` a CURVE server whose clients `authenticator` checks, before it binds; nothing without CURVE.
    private static func secure(
        _ socket: ZMQSocket, curve: ServiceCurveKeys?, authenticator: ZMQAuthenticator?, domain: String
    ) throws(ZMQError) {
        guard let curve, let authenticator else { return }
        try socket.setCurveServer(true)
        try socket.setCurveSecretKey(curve.serverSecretKey)
        try socket.setZAPDomain(domain)
        try authenticator.watch(socket)
    }

    /// Opens the sockets for ``open(_:curve:context:)``, once the authenticator (if any) runs.
    private static func openSockets(
        _ configuration: ServiceConfiguration, curve: ServiceCurveKeys?, authenticator: ZMQAuthenticator?,
        context: ZMQContext
    ) throws(ServiceStartError) -> ServiceSockets {
        let domain = configuration.service.name
        let input = configuration.input
        let output = configuration.output
        let publisher: ZMQSocket
        do {
            publisher = try ZMQSocket(.pub, context: context)
            try publisher.setSendHighWaterMark(output.sendHighWaterMark)
            try publisher.setLinger(outputLinger)
            try secure(publisher, curve: curve, authenticator: authenticator, domain: domain)
        } catch {
            throw ServiceStartError(.socket, key: "output.pub_bind", endpoint: output.pubBind.description, "\(error)")
        }
        let boundOutput = try bind(publisher, output.pubBind, key: "output.pub_bind")

        var inputs: [ZMQSocket] = []
        var boundInputs: [String] = []
        func configure(_ socket: ZMQSocket, key: String, endpoint: String) throws(ServiceStartError) {
            do {
                try socket.setReceiveHighWaterMark(input.receiveHighWaterMark)
                try socket.setMaxMessageSize(Int64(input.maxMessageBytes))
            } catch {
                throw ServiceStartError(.socket, key: key, endpoint: endpoint, "\(error)")
            }
        }
        do throws(ServiceStartError) {
            for endpoint in input.pullBind {
                let socket = try makeSocket(.pull, context: context, key: "input.pull_bind", endpoint: endpoint)
                inputs.append(socket)
                try configure(socket, key: "input.pull_bind", endpoint: endpoint.description)
                do {
                    try secure(socket, curve: curve, authenticator: authenticator, domain: domain)
                } catch {
                    throw ServiceStartError(.socket, key: "input.pull_bind", endpoint: endpoint.description, "\(error)")
                }
                boundInputs.append(try bind(socket, endpoint, key: "input.pull_bind"))
            }
            for endpoint in input.subConnect {
                let socket = try makeSocket(.sub, context: context, key: "input.sub_connect", endpoint: endpoint)
                inputs.append(socket)
                try configure(socket, key: "input.sub_connect", endpoint: endpoint.description)
                do {
                    try socket.subscribe(EventPacket.topicPrefix)
                    try socket.connect(endpoint.description)
                } catch {
                    throw ServiceStartError(.connect, key: "input.sub_connect", endpoint: endpoint.description, "\(error)")
                }
                boundInputs.append(endpoint.description)
            }
        } catch {
            for socket in inputs { socket.close(linger: .zero) }
            publisher.close(linger: .zero)
            throw error
        }
        let reader: ZMQReaderThread
        do {
            reader = try ZMQReaderThread(
                sockets: inputs, maxBatchSize: maxBatchSize, bufferedBatches: bufferedBatches,
                maxBufferedBytes: input.queueBytes, name: "bisnnd-input")
        } catch {
            publisher.close(linger: .zero)
            throw ServiceStartError(.socket, key: "input.pull_bind", endpoint: "", "cannot start the input thread: \(error)")
        }
        let sender: ZMQSenderThread
        do {
            sender = try ZMQSenderThread(socket: publisher, capacity: outputQueueCapacity, name: "bisnnd-output")
        } catch {
            reader.stop()
            throw ServiceStartError(
                .socket, key: "output.pub_bind", endpoint: boundOutput, "cannot start the output thread: \(error)")
        }
        return ServiceSockets(
            reader: reader, sender: sender, boundInputs: boundInputs, boundOutput: boundOutput,
            authenticator: authenticator)
    }

    /// Stops both threads: input first (unread input is dropped), then output (queued messages are sent); then
    /// the ZAP handler, once no socket it guards is left.
    func stop() {
        reader.stop()
        sender.stop()
        authenticator?.stop()
    }

    private static func makeSocket(
        _ kind: ZMQSocketKind, context: ZMQContext, key: String, endpoint: ServiceConfiguration.Endpoint
    ) throws(ServiceStartError) -> ZMQSocket {
        do {
            return try ZMQSocket(kind, context: context)
        } catch {
            throw ServiceStartError(.socket, key: key, endpoint: endpoint.description, "\(error)")
        }
    }

    /// Binds `socket` to `endpoint` (refusing an ipc path a live process listens on); returns the endpoint as
    /// bound.
    private static func bind(
        _ socket: ZMQSocket, _ endpoint: ServiceConfiguration.Endpoint, key: String
    ) throws(ServiceStartError) -> String {
        let text = endpoint.description
        if endpoint.transport == .ipc, IPCSocketProbe.isListening(path: endpoint.address) {
            throw ServiceStartError(
                .bind, key: key, endpoint: text,
                "another process is listening on \(endpoint.address) (is another bisnnd running?)")
        }
        do {
            try socket.bind(text)
            return (try? socket.lastEndpoint) ?? text
        } catch {
            throw ServiceStartError(.bind, key: key, endpoint: text, "\(error)")
        }
    }
}

/// Whether a Unix socket file has a live listener: a stream connection to it succeeds.
enum IPCSocketProbe {
    /// True when `path` (not an abstract `@name`) is a socket something accepts connections on.
    static func isListening(path: String) -> Bool {
        guard !path.hasPrefix("@") else { return false }
        var status = stat()
        guard lstat(path, &status) == 0, (status.st_mode & S_IFMT) == S_IFSOCK else { return false }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else { return false }
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: bytes) }
        #if os(Linux)
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        #else
        let fd = socket(AF_UNIX, SOCK_STREAM, 0)
        #endif
        guard fd >= 0 else { return false }
        defer { close(fd) }
        let length = socklen_t(MemoryLayout<sockaddr_un>.offset(of: \sockaddr_un.sun_path)! + bytes.count + 1)
        let result = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, length) }
        }
        return result == 0
    }
}

/// Why the service could not start serving: a socket could not be made, bound or connected. Not a
/// configuration error (an address in use, a missing runtime directory, a port another process holds can
/// clear up), so the daemon exits with ``exitCode`` (69, `EX_UNAVAILABLE`) and systemd's `Restart=on-failure`
/// tries again.
public struct ServiceStartError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What failed.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        let name: String
        /// Binding an endpoint failed (address in use, no such directory, permission).
        public static let bind = Code(name: "bind")
        /// Connecting a SUB socket failed.
        public static let connect = Code(name: "connect")
        /// Making or configuring a socket or its thread failed.
        public static let socket = Code(name: "socket")
        public var description: String { name }
    }

    /// The exit status of a daemon that cannot open its sockets: `EX_UNAVAILABLE` (69).
    public static let exitCode: Int32 = 69

    /// What failed.
    public var code: Code
    /// The configuration key of the endpoint.
    public var key: String
    /// The endpoint.
    public var endpoint: String
    /// What went wrong.
    public var message: String

    /// An error of kind `code` about `endpoint`, set by `key`.
    public init(_ code: Code, key: String, endpoint: String, _ message: String) {
        self.code = code
        self.key = key
        self.endpoint = endpoint
        self.message = message
    }

    public var description: String {
        "cannot \(code) \(endpoint) (\(key)): \(message)"
    }
}
