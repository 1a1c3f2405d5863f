import CZeroMQ

/// What to wait for on a socket, and what was found ready.
public struct ZMQPollEvents: OptionSet, Sendable, Hashable {
    /// The libzmq bits.
    public let rawValue: Int16
    /// Wraps libzmq bits.
    public init(rawValue: Int16) { self.rawValue = rawValue }

    /// A message can be received without blocking.
    public static let readable = ZMQPollEvents(rawValue: Int16(ZMQ_POLLIN))
    /// A message can be sent without blocking.
    public static let writable = ZMQPollEvents(rawValue: Int16(ZMQ_POLLOUT))
}

/// Waits for any of several sockets, owned by the calling thread, to become ready (`zmq_poll`).
///
/// Holds references to its sockets, so it is as thread-bound as they are.
public struct ZMQPoller {
    /// The polled sockets, in the order given.
    public let sockets: [ZMQSocket]
    private var items: [zmq_pollitem_t]

    /// Polls each of `sockets` for `events`.
    public init(_ sockets: [ZMQSocket], events: ZMQPollEvents = .readable) {
        self.sockets = sockets
        items = sockets.map { zmq_pollitem_t(socket: $0.handle, fd: 0, events: events.rawValue, revents: 0) }
    }

    /// Changes what to wait for on the socket at `index`; an empty set ignores that socket.
    public mutating func setEvents(_ events: ZMQPollEvents, at index: Int) {
        items[index].events = events.rawValue
    }

    /// What was ready on the socket at `index` after the last ``poll(timeout:)``.
    public func readyEvents(at index: Int) -> ZMQPollEvents {
        ZMQPollEvents(rawValue: items[index].revents)
    }

    /// Waits until a socket is ready or `timeout` elapses (nil waits forever; `.zero` checks and returns), and
    /// returns how many sockets are ready. Throws ``ZMQError/Code/terminated`` once the context is shut down, and
    /// ``ZMQError/Code/interrupted`` if a signal arrived.
    @discardableResult
    public mutating func poll(timeout: Duration?) throws(ZMQError) -> Int {
        for (index, socket) in sockets.enumerated() {
            guard let handle = socket.handle else {
                throw ZMQError(.notASocket, operation: "poll of closed \(socket.kind) socket \(index)")
            }
            items[index].socket = handle
        }
        let milliseconds = timeout.map { Int($0.zmqMilliseconds) } ?? -1
        let count = items.withUnsafeMutableBufferPointer { zmq_poll($0.baseAddress, Int32($0.count), milliseconds) }
        return Int(try check(count, "zmq_poll of \(sockets.count) sockets"))
    }
}
