import Synchronization

/// Wakes a socket thread blocked in `zmq_poll`: an `inproc://` PAIR whose receiving end the thread polls next to its
/// own sockets, and whose sending end any thread may use through ``wake()``.
final class WakeupChannel: Sendable {
    private static let nextID = Atomic<Int>(0)
    private let sender: Mutex<ZMQSocket?>

    /// Creates the channel and returns the receiving end, which belongs to the woken thread. Its messages carry no
    /// meaning: the thread drains them with ``drain(_:)`` and then looks at its shared state.
    static func make(context: ZMQContext, name: String) throws(ZMQError) -> (WakeupChannel, receiver: ZMQSocket) {
        let id = nextID.add(1, ordering: .relaxed).newValue
        let endpoint = "inproc://bisnn-zeromq-wakeup-\(id)-\(name)"
        let receiver = try ZMQSocket(.pair, context: context)
        try receiver.bind(endpoint)
        let sender = try ZMQSocket(.pair, context: context)
        try sender.connect(endpoint)
        return (WakeupChannel(sender: sender), receiver)
    }

    private init(sender: sending ZMQSocket) {
        self.sender = Mutex(sender)
    }

    deinit { close() }

    /// Wakes the thread; never blocks. If a wakeup is already pending (the pipe is at its high-water mark), or the
    /// channel or context is closed, there is nothing to do.
    func wake() {
        sender.withLock { sender in _ = try? sender?.send([[]], dontWait: true) }
    }

    /// Closes the sending end; later ``wake()`` calls do nothing. Idempotent.
    func close() {
        sender.withLock { sender in
            sender?.close()
            sender = nil
        }
    }

    /// Receives every pending wakeup message on the thread's `receiver`.
    static func drain(_ receiver: ZMQSocket) throws(ZMQError) {
        while try receiver.receive(dontWait: true) != nil {}
    }
}
