import CZeroMQ
import Synchronization

/// A libzmq context: the I/O threads and the registry of `inproc://` endpoints that its sockets share.
///
/// Lifecycle, in this order:
/// 1. ``shutdown()`` makes every blocking call on the context's sockets, in any thread, fail with
///    ``ZMQError/Code/terminated`` and refuses new sockets. It does not block.
/// 2. Every socket is closed by the thread that owns it (``ZMQSocket/close(linger:)``, ``ZMQReaderThread/stop()``,
///    ``ZMQSenderThread/stop()``; a socket's `deinit` closes it too).
/// 3. ``close()`` terminates the context. It shuts the context down first if that was not done, then **blocks until
///    every socket of the context is closed** (sockets set their `ZMQ_LINGER` explicitly, 0 unless changed, so
///    closing never waits for unsent messages).
///
/// Each socket keeps its context alive, so dropping the last reference never terminates a context under an open
/// socket; `deinit` then does the same as ``close()``.
public final class ZMQContext: Sendable {
    // libzmq contexts are thread-safe (zmq_ctx_* and zmq_socket may be called from any thread). The handle itself is
    // immutable; `terminated` guards against using it after zmq_ctx_term has freed it.
    nonisolated(unsafe) private let handle: UnsafeMutableRawPointer
    private let state = Mutex(State())

    private struct State {
        var shutDown = false
        var terminated = false
    }

    /// Creates a context with `ioThreads` I/O threads (one is plenty below about a gigabyte per second).
    public init(ioThreads: Int = 1) throws(ZMQError) {
        guard let handle = zmq_ctx_new() else { throw ZMQError.last("zmq_ctx_new") }
        self.handle = handle
        if zmq_ctx_set(handle, ZMQ_IO_THREADS, Int32(clamping: ioThreads)) != 0 {
            let error = ZMQError.last("zmq_ctx_set ZMQ_IO_THREADS \(ioThreads)")
            zmq_ctx_term(handle)
            throw error
        }
    }

    deinit { close() }

    /// Makes blocking calls on this context's sockets fail with ``ZMQError/Code/terminated`` and refuses new sockets.
    /// Returns at once; idempotent.
    public func shutdown() {
        state.withLock { state in
            guard !state.shutDown else { return }
            state.shutDown = true
            zmq_ctx_shutdown(handle)
        }
    }

    /// Shuts the context down if needed and terminates it, blocking until all of its sockets are closed. Idempotent.
    public func close() {
        let mustTerminate = state.withLock { state in
            if !state.shutDown {
                state.shutDown = true
                zmq_ctx_shutdown(handle)
            }
            defer { state.terminated = true }
            return !state.terminated
        }
        guard mustTerminate else { return }
        while zmq_ctx_term(handle) != 0 && zmq_errno() == EINTR {}
    }

    /// Creates a socket with libzmq while the context is known not to be terminated.
    func makeSocket(_ kind: ZMQSocketKind) throws(ZMQError) -> UnsafeMutableRawPointer {
        let socket = state.withLock { state -> Result<UnsafeMutableRawPointer, ZMQError> in
            guard !state.shutDown else { return .failure(ZMQError(.terminated, operation: "zmq_socket \(kind)")) }
            guard let socket = zmq_socket(handle, kind.rawValue) else { return .failure(.last("zmq_socket \(kind)")) }
            return .success(socket)
        }
        return try socket.get()
    }
}
