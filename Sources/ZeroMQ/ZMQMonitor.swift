import CZeroMQ

/// Connection events that ``ZMQSocket/startMonitor(_:events:)`` reports (`ZMQ_EVENT_*`).
public struct ZMQMonitorEvents: OptionSet, Sendable, Hashable, CustomStringConvertible {
    /// The libzmq bits.
    public let rawValue: UInt16
    /// Wraps libzmq bits.
    public init(rawValue: UInt16) { self.rawValue = rawValue }

    private init(_ value: Int32) { rawValue = UInt16(value) }

    /// Connected to a peer (the value is the file descriptor).
    public static let connected = ZMQMonitorEvents(ZMQ_EVENT_CONNECTED)
    /// A connect attempt is in progress.
    public static let connectDelayed = ZMQMonitorEvents(ZMQ_EVENT_CONNECT_DELAYED)
    /// A reconnect is scheduled (the value is the interval in milliseconds).
    public static let connectRetried = ZMQMonitorEvents(ZMQ_EVENT_CONNECT_RETRIED)
    /// Bound and listening (the value is the file descriptor).
    public static let listening = ZMQMonitorEvents(ZMQ_EVENT_LISTENING)
    /// A bind failed (the value is the errno).
    public static let bindFailed = ZMQMonitorEvents(ZMQ_EVENT_BIND_FAILED)
    /// Accepted a connection (the value is the file descriptor).
    public static let accepted = ZMQMonitorEvents(ZMQ_EVENT_ACCEPTED)
    /// Accepting a connection failed (the value is the errno).
    public static let acceptFailed = ZMQMonitorEvents(ZMQ_EVENT_ACCEPT_FAILED)
    /// A connection's file descriptor was closed.
    public static let closed = ZMQMonitorEvents(ZMQ_EVENT_CLOSED)
    /// Closing a file descriptor failed (the value is the errno).
    public static let closeFailed = ZMQMonitorEvents(ZMQ_EVENT_CLOSE_FAILED)
    /// A connection was lost or dropped, e.g. for a message over `ZMQ_MAXMSGSIZE` (the value is the descriptor).
    public static let disconnected = ZMQMonitorEvents(ZMQ_EVENT_DISCONNECTED)
    /// The monitor was stopped; the last event.
    public static let monitorStopped = ZMQMonitorEvents(ZMQ_EVENT_MONITOR_STOPPED)
    /// A handshake failed for a reason other than protocol or authentication.
    public static let handshakeFailedNoDetail = ZMQMonitorEvents(ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL)
    /// A handshake (including CURVE authentication) succeeded.
    public static let handshakeSucceeded = ZMQMonitorEvents(ZMQ_EVENT_HANDSHAKE_SUCCEEDED)
    /// A handshake failed on a protocol error (the value is a `ZMQ_PROTOCOL_ERROR_*` code).
    public static let handshakeFailedProtocol = ZMQMonitorEvents(ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL)
    /// A handshake failed authentication (the value is the ZAP status code).
    public static let handshakeFailedAuthentication = ZMQMonitorEvents(ZMQ_EVENT_HANDSHAKE_FAILED_AUTH)
    /// Every event.
    public static let all = ZMQMonitorEvents(ZMQ_EVENT_ALL)

    /// The hexadecimal `ZMQ_EVENT_*` bits.
    public var description: String { "0x" + String(rawValue, radix: 16) }
}

/// One event read from a monitor socket.
public struct ZMQMonitorEvent: Sendable, Hashable {
    /// The event (a single bit).
    public var event: ZMQMonitorEvents
    /// The event's value: a file descriptor, an errno, an interval, see ``ZMQMonitorEvents``.
    public var value: UInt32
    /// The endpoint concerned.
    public var endpoint: String

    /// Parses a monitor message (`[event u16 + value u32, endpoint]`, native byte order); nil for anything else.
    public init?(message parts: [[UInt8]]) {
        guard parts.count == 2, parts[0].count == 6 else { return nil }
        let header = parts[0]
        event = ZMQMonitorEvents(rawValue: header.withUnsafeBytes { $0.loadUnaligned(as: UInt16.self) })
        value = header.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: 2, as: UInt32.self) }
        endpoint = String(decoding: parts[1], as: UTF8.self)
    }
}

extension ZMQSocket {
    /// Publishes this socket's connection `events` on a PAIR socket bound at `endpoint` (an `inproc://` name):
    /// connect a ``ZMQSocketKind/pair`` socket of the same context there, receive, and parse each message with
    /// ``ZMQMonitorEvent/init(message:)``. Useful to log peers coming and going.
    public func startMonitor(_ endpoint: String, events: ZMQMonitorEvents = .all) throws(ZMQError) {
        let handle = try openHandle("monitor \(endpoint)")
        try check(zmq_socket_monitor(handle, endpoint, Int32(events.rawValue)), "monitor \(endpoint)")
    }

    /// Stops the monitor; it sends ``ZMQMonitorEvents/monitorStopped`` last.
    public func stopMonitor() throws(ZMQError) {
        try check(zmq_socket_monitor(try openHandle("stop monitor"), nil, 0), "stop monitor")
    }
}
