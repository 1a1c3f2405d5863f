import CZeroMQ

/// A libzmq socket: bytes in, bytes out, multipart, any message size.
///
/// **Ownership.** libzmq sockets are not thread-safe, so this class is deliberately not `Sendable`: a socket is
/// created, configured and used by one thread. To give sockets to a dedicated thread, hand them to
/// ``ZMQReaderThread`` or ``ZMQSenderThread``: their initialisers take the sockets as `sending`, so the compiler checks
/// that the caller keeps no reference.
///
/// **Blocking.** ``receive(dontWait:)`` and ``send(_:dontWait:)`` block by default; never call them so on a Swift
/// concurrency thread. Use `dontWait: true`, or a dedicated thread.
///
/// **Closing.** The socket's `ZMQ_LINGER` is set to 0 when it is created (libzmq's default would wait forever for
/// unsent messages when the context terminates); change it with ``setLinger(_:)``. ``close(linger:)`` is idempotent and
/// `deinit` calls it. The socket keeps its ``context`` alive.
public final class ZMQSocket {
    /// The socket's pattern.
    public let kind: ZMQSocketKind
    /// The context the socket belongs to.
    public let context: ZMQContext
    /// The libzmq handle; nil once closed.
    private(set) var handle: UnsafeMutableRawPointer?
    /// One `zmq_msg_t`, pointer-aligned and at a stable address, reused by every send and receive.
    private let message: UnsafeMutablePointer<zmq_msg_t>

    /// Creates a socket of `kind` in `context`, with `ZMQ_LINGER` 0.
    public init(_ kind: ZMQSocketKind, context: ZMQContext) throws(ZMQError) {
        self.kind = kind
        self.context = context
        self.handle = try context.makeSocket(kind)
        self.message = .allocate(capacity: 1)
        do { try setLinger(.zero) } catch {
            close()
            throw error
        }
    }

    deinit {
        close()
        message.deallocate()
    }

    /// Whether ``close(linger:)`` has been called.
    public var isClosed: Bool { handle == nil }

    /// Closes the socket; idempotent. With `linger`, sets `ZMQ_LINGER` first; without, the socket's current value
    /// applies (0 unless ``setLinger(_:)`` changed it): how long libzmq keeps trying to deliver unsent messages.
    public func close(linger: Duration? = nil) {
        guard let handle else { return }
        if let linger { try? setLinger(linger) }
        zmq_close(handle)
        self.handle = nil
    }

    /// The open handle, or ``ZMQError/Code/notASocket`` once closed.
    func openHandle(_ operation: @autoclosure () -> String) throws(ZMQError) -> UnsafeMutableRawPointer {
        guard let handle else { throw ZMQError(.notASocket, operation: "\(operation()) on closed \(kind) socket") }
        return handle
    }

    // MARK: Endpoints

    /// Binds to `endpoint`: `tcp://127.0.0.1:5555`, `tcp://*:5555`, `tcp://127.0.0.1:*` (any free port: read it back
    /// from ``lastEndpoint``), `ipc:///run/bisnn/out.sock`, `inproc://name`.
    public func bind(_ endpoint: String) throws(ZMQError) {
        try check(zmq_bind(try openHandle("bind \(endpoint)"), endpoint), "bind \(endpoint)")
    }

    /// Connects to `endpoint`. libzmq connects in the background and reconnects after failures, so this succeeds for
    /// a peer that is not up yet.
    public func connect(_ endpoint: String) throws(ZMQError) {
        try check(zmq_connect(try openHandle("connect \(endpoint)"), endpoint), "connect \(endpoint)")
    }

    /// Stops listening on `endpoint`, as given to ``bind(_:)`` (for a wildcard, as ``lastEndpoint`` reports it).
    public func unbind(_ endpoint: String) throws(ZMQError) {
        try check(zmq_unbind(try openHandle("unbind \(endpoint)"), endpoint), "unbind \(endpoint)")
    }

    /// Drops the connection to `endpoint`, as given to ``connect(_:)``.
    public func disconnect(_ endpoint: String) throws(ZMQError) {
        try check(zmq_disconnect(try openHandle("disconnect \(endpoint)"), endpoint), "disconnect \(endpoint)")
    }

    /// The endpoint last bound or connected, with wildcards resolved (e.g. `tcp://127.0.0.1:41234`).
    public var lastEndpoint: String {
        get throws(ZMQError) {
            var buffer = [CChar](repeating: 0, count: 1024)
            var size = buffer.count
            let handle = try openHandle("get ZMQ_LAST_ENDPOINT")
            try check(zmq_getsockopt(handle, ZMQ_LAST_ENDPOINT, &buffer, &size), "get ZMQ_LAST_ENDPOINT")
            return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        }
    }

    // MARK: Sending

    /// Sends one message made of `parts` (at least one; empty parts are fine). Multipart messages are atomic: the
    /// peer gets all parts or none.
    ///
    /// Returns false when the message could not be queued without blocking: with `dontWait`, or after the send
    /// timeout. A PUB socket never blocks and never returns false: past a subscriber's high-water mark it drops.
    @discardableResult
    public func send(_ parts: [[UInt8]], dontWait: Bool = false) throws(ZMQError) -> Bool {
        guard !parts.isEmpty else { throw ZMQError(.invalidArgument, operation: "send of a message with no parts") }
        for (index, part) in parts.enumerated() {
            let more = index < parts.count - 1
            let sent = try part.withUnsafeBytes { bytes in
                Result { () throws(ZMQError) in try send(part: bytes, more: more, dontWait: dontWait) }
            }.get()
            // Only the first part can be refused: once it is queued, libzmq accepts the rest of the message.
            if !sent { return false }
        }
        return true
    }

    /// Sends one part of a message, copying `part`; `more` says that further parts of the same message follow.
    /// Returns false when the part could not be queued without blocking (see ``send(_:dontWait:)``).
    @discardableResult
    public func send(part: UnsafeRawBufferPointer, more: Bool, dontWait: Bool = false) throws(ZMQError) -> Bool {
        let handle = try openHandle("send")
        try check(zmq_msg_init_size(message, part.count), "zmq_msg_init_size \(part.count)")
        if let source = part.baseAddress, part.count > 0 {
            zmq_msg_data(message).copyMemory(from: source, byteCount: part.count)
        }
        let flags = (more ? ZMQ_SNDMORE : 0) | (dontWait ? ZMQ_DONTWAIT : 0)
        if zmq_msg_send(message, handle, flags) == -1 {
            let error = ZMQError.last("send on \(kind) socket")
            zmq_msg_close(message)
            if error.code == .again { return false }
            throw error
        }
        return true
    }

    // MARK: Receiving

    /// Receives all parts of the next message.
    ///
    /// Returns nil when nothing is available: at once with `dontWait`, otherwise after the receive timeout
    /// (``setReceiveTimeout(_:)``; without one, blocks until a message arrives or the context is shut down, which
    /// throws ``ZMQError/Code/terminated``).
    public func receive(dontWait: Bool = false) throws(ZMQError) -> [[UInt8]]? {
        let handle = try openHandle("receive")
        var parts: [[UInt8]] = []
        while true {
            zmq_msg_init(message)
            // Later parts of a message are already here: libzmq delivers a message whole.
            if zmq_msg_recv(message, handle, parts.isEmpty && dontWait ? ZMQ_DONTWAIT : 0) == -1 {
                let error = ZMQError.last("receive on \(kind) socket")
                zmq_msg_close(message)
                if parts.isEmpty && error.code == .again { return nil }
                throw error
            }
            parts.append([UInt8](UnsafeRawBufferPointer(start: zmq_msg_data(message), count: zmq_msg_size(message))))
            let more = zmq_msg_more(message) != 0
            zmq_msg_close(message)
            if !more { return parts }
        }
    }
}
