import CZeroMQ

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A dedicated OS thread that can be joined: where sockets live, outside Swift concurrency's thread pool.
struct JoinableThread: ~Copyable {
    private let thread: pthread_t

    /// Starts `body` on a new thread named `name` (Linux shows the first 15 bytes). `body` is `sending`, so it may
    /// carry non-Sendable state, such as sockets, that nothing else references.
    init(name: String, _ body: sending @escaping () -> Void) throws(ZMQError) {
        final class Start {
            let name: String
            let body: () -> Void
            init(name: String, body: @escaping () -> Void) { (self.name, self.body) = (name, body) }
        }
        let start = Unmanaged.passRetained(Start(name: name, body: body)).toOpaque()
        #if canImport(Darwin)
        var thread: pthread_t?
        #else
        var thread = pthread_t()
        #endif
        let result = pthread_create(&thread, nil, { argument in
            #if canImport(Darwin)
            let start = Unmanaged<Start>.fromOpaque(argument).takeRetainedValue()
            pthread_setname_np(start.name)
            #else
            let start = Unmanaged<Start>.fromOpaque(argument!).takeRetainedValue()
            bisnn_zmq_set_thread_name(String(decoding: start.name.utf8.prefix(15), as: UTF8.self))
            #endif
            start.body()
            return nil
        }, start)
        guard result == 0 else {
            Unmanaged<Start>.fromOpaque(start).release()
            throw ZMQError(.init(rawValue: result), operation: "pthread_create \(name)")
        }
        #if canImport(Darwin)
        self.thread = thread!
        #else
        self.thread = thread
        #endif
    }

    /// Waits for the thread to finish. Consumes the handle, so a thread is joined at most once.
    consuming func join() {
        let thread = self.thread
        discard self
        pthread_join(thread, nil)
    }

    deinit {
        // Dropped without join(): let the thread clean up after itself.
        pthread_detach(thread)
    }
}
