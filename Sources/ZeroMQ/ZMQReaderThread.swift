import Synchronization

/// A dedicated thread that owns input sockets (SUB, PULL, ...), waits on all of them with `zmq_poll`, and hands what
/// arrives to Swift concurrency in batches through ``messages``.
///
/// **Batches.** Each wakeup drains the sockets round-robin, one message per socket per round, until they are empty or
/// the batch holds `maxBatchSize` messages. Messages from one socket keep their order.
///
/// **Backpressure, no silent drops.** At most `bufferedBatches` batches, holding at most `maxBufferedBytes` bytes of
/// message parts (plus one message: a batch always takes at least one), wait for the consumer. While that many do,
/// the thread stops reading its sockets, so messages queue inside libzmq up to each socket's receive high-water mark,
/// and past it libzmq's own policy for the peer applies: PUSH peers block, publishers drop for that SUB socket. The
/// reader itself never drops a message it has read. Memory stays bounded: besides the batch the consumer is working
/// on and libzmq's queues, at most `bufferedBatches × maxBatchSize` messages and `maxBufferedBytes` bytes (plus one
/// message) wait in the stream.
///
/// **Ending.** ``stop()`` wakes the thread through an `inproc://` PAIR socket, which closes its sockets with linger 0,
/// finishes ``messages`` and is joined. The thread also ends when the context is shut down, when a socket fails
/// (see ``error``), or when the consuming task is cancelled (the stream then terminates). Call ``stop()`` before
/// ``ZMQContext/close()``: the wakeup socket belongs to the context too. `deinit` stops the thread.
public final class ZMQReaderThread: Sendable {
    /// One message and the index, in the `sockets` given to ``init(sockets:maxBatchSize:bufferedBatches:name:)``, of
    /// the socket it came from.
    public struct Message: Sendable, Hashable {
        /// Index of the receiving socket.
        public var socketIndex: Int
        /// The message's parts, in order.
        public var parts: [[UInt8]]
        /// When the reader thread took the message from its socket (for latencies measured from receipt, not
        /// from when a consumer got to the batch).
        public var receivedAt: ContinuousClock.Instant

        /// Bytes of the message's parts.
        public var byteCount: Int { parts.reduce(0) { $0 + $1.count } }

        /// Creates a message received at `receivedAt` (by default now).
        public init(socketIndex: Int, parts: [[UInt8]], receivedAt: ContinuousClock.Instant = .now) {
            self.socketIndex = socketIndex
            self.parts = parts
            self.receivedAt = receivedAt
        }
    }

    /// The batches the thread reads, in order, for a single consumer. Taking a batch frees room for the thread to read
    /// more. The sequence finishes when the thread ends; ending the iteration (`break`, task cancellation) stops the
    /// thread.
    public let messages: Batches
    private let shared: Shared
    private let thread: Mutex<JoinableThread?>

    /// Starts a thread named `name` that owns `sockets`, already bound or connected and subscribed. Throws if the
    /// wakeup socket or the thread cannot be made; the sockets are then closed.
    public init(
        sockets: sending [ZMQSocket], maxBatchSize: Int = 256, bufferedBatches: Int = 4, maxBufferedBytes: Int = .max,
        name: String = "zmq-reader"
    ) throws(ZMQError) {
        precondition(!sockets.isEmpty, "a reader thread needs sockets to read")
        precondition(
            maxBatchSize > 0 && bufferedBatches > 0 && maxBufferedBytes > 0,
            "batch size, buffered batches and buffered bytes must be positive")
        let (channel, wakeups) = try WakeupChannel.make(context: sockets[0].context, name: name)
        let (stream, continuation) = AsyncStream.makeStream(of: [Message].self)
        let shared = Shared(
            continuation: continuation, waker: channel, capacity: bufferedBatches, byteCapacity: maxBufferedBytes)
        continuation.onTermination = { [weak shared] _ in shared?.requestStop() }
        self.shared = shared
        messages = Batches(stream: stream, shared: shared)
        thread = Mutex(
            try JoinableThread(name: name) {
                Self.run(sockets: sockets, wakeups: wakeups, shared: shared, maxBatchSize: maxBatchSize)
            })
    }

    deinit { stop() }

    /// Stops the thread and returns once it has closed its sockets and ended; ``messages`` then finishes after the
    /// batches already handed over. Returns promptly; idempotent.
    public func stop() {
        shared.requestStop()
        thread.withLock { thread in
            if let running = thread.take() { running.join() }
        }
        shared.waker.close()
    }

    /// The error that ended the thread, if a socket failed; nil while running, after ``stop()``, and after a context
    /// shutdown.
    public var error: ZMQError? { shared.failure.withLock { $0 } }

    private static func run(sockets: [ZMQSocket], wakeups: ZMQSocket, shared: Shared, maxBatchSize: Int) {
        var poller = ZMQPoller([wakeups] + sockets)
        do throws(ZMQError) {
            while !shared.stopRequested.load(ordering: .acquiring) {
                let reading = shared.mayRead()
                for index in sockets.indices { poller.setEvents(reading ? .readable : [], at: index + 1) }
                do { try poller.poll(timeout: nil) } catch {
                    if error.code == .interrupted { continue }
                    throw error
                }
                if poller.readyEvents(at: 0).contains(.readable) { try WakeupChannel.drain(wakeups) }
                guard reading, !shared.stopRequested.load(ordering: .acquiring) else { continue }
                var batch: [Message] = []
                var batchBytes = 0
                let byteRoom = shared.byteRoom()
                var progress = true
                while progress && batch.count < maxBatchSize && batchBytes < byteRoom {
                    progress = false
                    for (index, socket) in sockets.enumerated()
                    where batch.count < maxBatchSize && batchBytes < byteRoom {
                        guard let parts = try socket.receive(dontWait: true) else { continue }
                        let message = Message(socketIndex: index, parts: parts)
                        batchBytes += message.byteCount
                        batch.append(message)
                        progress = true
                    }
                }
                if !batch.isEmpty { shared.deliver(batch, bytes: batchBytes) }
            }
        } catch {
            if error.code != .terminated { shared.failure.withLock { $0 = error } }
        }
        for socket in sockets { socket.close(linger: .zero) }
        wakeups.close(linger: .zero)
        shared.continuation.finish()
    }
}

extension ZMQReaderThread {
    /// The async sequence of batches read by the thread; see ``ZMQReaderThread/messages``.
    public struct Batches: AsyncSequence, Sendable {
        /// One batch: at least one message, at most `maxBatchSize`.
        public typealias Element = [Message]
        /// Iteration does not fail; a thread that ended on an error finishes the sequence and reports ``error``.
        public typealias Failure = Never

        fileprivate let stream: AsyncStream<[Message]>
        fileprivate let shared: Shared

        /// Starts the single iteration of the batches.
        public func makeAsyncIterator() -> Iterator {
            Iterator(base: stream.makeAsyncIterator(), shared: shared)
        }

        /// Iterates the batches, telling the thread about each one taken.
        public struct Iterator: AsyncIteratorProtocol {
            fileprivate var base: AsyncStream<[Message]>.Iterator
            fileprivate let shared: Shared

            /// The next batch, or nil once the thread has ended and every batch was taken.
            public mutating func next() async -> [Message]? {
                guard let batch = await base.next() else { return nil }
                shared.consumed(bytes: batch.reduce(0) { $0 + $1.byteCount })
                return batch
            }

            /// The next batch, or nil once the thread has ended and every batch was taken.
            public mutating func next(isolation actor: isolated (any Actor)?) async -> [Message]? {
                guard let batch = await base.next(isolation: actor) else { return nil }
                shared.consumed(bytes: batch.reduce(0) { $0 + $1.byteCount })
                return batch
            }
        }
    }

    /// State shared by the thread, its controller and the consumer.
    fileprivate final class Shared: Sendable {
        let continuation: AsyncStream<[Message]>.Continuation
        let waker: WakeupChannel
        let stopRequested = Atomic(false)
        let failure = Mutex<ZMQError?>(nil)
        private let capacity: Int
        private let byteCapacity: Int
        private let flow = Mutex(Flow())

        private struct Flow {
            /// Batches handed to the stream and not yet taken by the consumer.
            var outstanding = 0
            /// Bytes of message parts in those batches.
            var outstandingBytes = 0
            /// The thread saw `outstanding == capacity` and waits to be woken by the consumer.
            var paused = false
        }

        init(continuation: AsyncStream<[Message]>.Continuation, waker: WakeupChannel, capacity: Int, byteCapacity: Int) {
            self.continuation = continuation
            self.waker = waker
            self.capacity = capacity
            self.byteCapacity = byteCapacity
        }

        func requestStop() {
            stopRequested.store(true, ordering: .releasing)
            waker.wake()
        }

        /// Whether the thread may read more; if not, the consumer wakes it when it takes a batch.
        func mayRead() -> Bool {
            flow.withLock { flow in
                flow.paused = flow.outstanding >= capacity || flow.outstandingBytes >= byteCapacity
                return !flow.paused
            }
        }

        /// Bytes the next batch may hold before it is handed over (it takes at least one message regardless).
        func byteRoom() -> Int {
            flow.withLock { byteCapacity - $0.outstandingBytes }
        }

        func deliver(_ batch: [Message], bytes: Int) {
            flow.withLock {
                $0.outstanding += 1
                $0.outstandingBytes += bytes
            }
            continuation.yield(batch)
        }

        func consumed(bytes: Int) {
            let wake = flow.withLock { flow in
                flow.outstanding -= 1
                flow.outstandingBytes -= bytes
                guard flow.paused && flow.outstanding < capacity && flow.outstandingBytes < byteCapacity else {
                    return false
                }
                flow.paused = false
                return true
            }
            if wake { waker.wake() }
        }
    }
}
