import Synchronization

/// A dedicated thread that owns one output socket (meant for the service's PUB socket) and sends the messages given
/// to ``send(_:)`` from any thread or task, without ever blocking the caller.
///
/// **Drop policy.** ``send(_:)`` queues up to `capacity` messages; past that, and after ``stop()``, it drops the
/// message and returns false. The thread sends with `ZMQ_DONTWAIT`, so a socket at its high-water mark also drops
/// (a PUB socket does so by itself, per subscriber, without telling). Every drop the thread sees is counted in
/// ``droppedCount``.
///
/// **Ending.** ``stop()`` lets the thread send what is already queued, then close the socket with the socket's own
/// `ZMQ_LINGER` (0 unless set with ``ZMQSocket/setLinger(_:)`` before handing it over: set a short linger to give the
/// last messages a chance to leave), and joins it. The thread also ends on a context shutdown or a socket error
/// (see ``error``). Call ``stop()`` before ``ZMQContext/close()``. `deinit` stops the thread.
public final class ZMQSenderThread: Sendable {
    private let shared: Shared
    private let thread: Mutex<JoinableThread?>

    /// Starts a thread named `name` that owns `socket`, already bound or connected.
    public init(socket: sending ZMQSocket, capacity: Int = 1024, name: String = "zmq-sender") throws(ZMQError) {
        precondition(capacity > 0, "the queue needs room for a message")
        let (channel, wakeups) = try WakeupChannel.make(context: socket.context, name: name)
        let shared = Shared(waker: channel, capacity: capacity)
        self.shared = shared
        thread = Mutex(try JoinableThread(name: name) { Self.run(socket: socket, wakeups: wakeups, shared: shared) })
    }

    deinit { stop() }

    /// Queues one message (its parts, sent as one multipart message); false if it was dropped because the queue is
    /// full or the thread has stopped. Never blocks.
    @discardableResult
    public func send(_ parts: [[UInt8]]) -> Bool {
        precondition(!parts.isEmpty, "a message has at least one part")
        let (queued, wake) = shared.queue.withLock { queue -> (Bool, Bool) in
            guard !queue.closed, queue.messages.count < shared.capacity else { return (false, false) }
            queue.messages.append(parts)
            defer { queue.sleeping = false }
            return (true, queue.sleeping)
        }
        if !queued { shared.dropped.add(1, ordering: .relaxed) }
        if wake { shared.waker.wake() }
        return queued
    }

    /// Messages handed to the socket so far.
    public var sentCount: Int { shared.sent.load(ordering: .relaxed) }

    /// Messages dropped so far: queue full, thread stopped, or socket at its high-water mark.
    public var droppedCount: Int { shared.dropped.load(ordering: .relaxed) }

    /// The error that ended the thread, if the socket failed; nil while running, after ``stop()``, and after a
    /// context shutdown.
    public var error: ZMQError? { shared.failure.withLock { $0 } }

    /// Refuses further messages, lets the thread send those already queued, close its socket and end, and waits for
    /// that. Idempotent.
    public func stop() {
        shared.queue.withLock { $0.closed = true }
        shared.waker.wake()
        thread.withLock { thread in
            if let running = thread.take() { running.join() }
        }
        shared.waker.close()
    }

    private static func run(socket: ZMQSocket, wakeups: ZMQSocket, shared: Shared) {
        var poller = ZMQPoller([wakeups])
        var unsent = 0
        do throws(ZMQError) {
            while true {
                let (work, closed) = shared.take()
                unsent = work.count
                for parts in work {
                    if try socket.send(parts, dontWait: true) {
                        shared.sent.add(1, ordering: .relaxed)
                    } else {
                        shared.dropped.add(1, ordering: .relaxed)
                    }
                    unsent -= 1
                }
                if closed { break }
                if work.isEmpty {
                    do { try poller.poll(timeout: nil) } catch {
                        if error.code == .interrupted { continue }
                        throw error
                    }
                    try WakeupChannel.drain(wakeups)
                }
            }
        } catch {
            if error.code != .terminated { shared.failure.withLock { $0 = error } }
        }
        let abandoned = shared.queue.withLock { queue in
            queue.closed = true
            defer { queue.messages = [] }
            return queue.messages.count
        }
        shared.dropped.add(unsent + abandoned, ordering: .relaxed)
        socket.close()
        wakeups.close(linger: .zero)
    }

    /// State shared by the thread, its controller and the producers.
    private final class Shared: Sendable {
        let waker: WakeupChannel
        let capacity: Int
        let queue = Mutex(Queue())
        let sent = Atomic(0)
        let dropped = Atomic(0)
        let failure = Mutex<ZMQError?>(nil)

        struct Queue {
            var messages: [[[UInt8]]] = []
            /// The thread found nothing to send and waits to be woken.
            var sleeping = false
            /// No more messages are accepted; the thread ends once the queue is sent.
            var closed = false
        }

        init(waker: WakeupChannel, capacity: Int) {
            self.waker = waker
            self.capacity = capacity
        }

        /// Takes every queued message; with none queued and the queue open, marks the thread as sleeping.
        func take() -> (messages: [[[UInt8]]], closed: Bool) {
            queue.withLock { queue in
                if queue.messages.isEmpty && !queue.closed { queue.sleeping = true }
                defer { queue.messages.removeAll(keepingCapacity: true) }
                return (queue.messages, queue.closed)
            }
        }
    }
}
