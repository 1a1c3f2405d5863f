import Foundation
import Synchronization
import Testing
import ZeroMQ

/// A socket whose blocking sends and receives give up after 30 s, so that a broken test fails instead of hanging.
func makeSocket(_ kind: ZMQSocketKind, _ context: ZMQContext) throws(ZMQError) -> ZMQSocket {
    let socket = try ZMQSocket(kind, context: context)
    // Generous: in the whole suite on two cores, the service tests' real processes can keep the cooperative
    // threads (where a test's consuming task runs) busy for seconds, and a sender that gave up after 5 s failed
    // a reader test that had lost nothing. The suites' time limits still bound a real hang.
    try socket.setReceiveTimeout(.seconds(30))
    try socket.setSendTimeout(.seconds(30))
    return socket
}

/// An `inproc://` endpoint no other test uses.
func uniqueInprocEndpoint(_ name: String) -> String { "inproc://\(name)-\(UUID().uuidString)" }

/// A fresh directory under the system's temporary directory, removed with `remove()`.
struct TemporaryDirectory {
    let path: String

    init() throws {
        path = NSTemporaryDirectory() + "zmq-tests-" + UUID().uuidString.prefix(8)
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: false)
    }

    func remove() { try? FileManager.default.removeItem(atPath: path) }
}

/// Work run on its own OS thread, for blocking calls that must not run on Swift concurrency's threads, with a hang
/// detector: `finished(within:)` is a generous timeout, not a performance assertion.
final class BackgroundThread: Sendable {
    private let done = Atomic(false)

    private init() {}

    static func run(_ body: @escaping @Sendable () -> Void) -> BackgroundThread {
        let thread = BackgroundThread()
        Thread.detachNewThread {
            body()
            thread.done.store(true, ordering: .releasing)
        }
        return thread
    }

    func finished(within limit: Duration) async -> Bool {
        let deadline = ContinuousClock.now + limit
        while !done.load(ordering: .acquiring) {
            guard ContinuousClock.now < deadline else { return false }
            try? await Task.sleep(for: .milliseconds(2))
        }
        return true
    }
}

/// A value shared with background threads.
final class Locked<Value: Sendable>: Sendable {
    private let mutex: Mutex<Value>
    init(_ value: Value) { mutex = Mutex(value) }
    var value: Value {
        get { mutex.withLock { $0 } }
        set { mutex.withLock { $0 = newValue } }
    }
}

/// The four little-endian bytes of `value`: a message body that says which message it is.
func sequenceBytes(_ value: Int) -> [UInt8] { withUnsafeBytes(of: UInt32(value).littleEndian, Array.init) }

extension ZMQSocket {
    /// Receives monitor events until one in `events` arrives; nil if none does before the receive timeout.
    func awaitMonitorEvent(_ events: ZMQMonitorEvents) throws -> ZMQMonitorEvent? {
        while let message = try receive() {
            if let event = ZMQMonitorEvent(message: message), !event.event.isDisjoint(with: events) { return event }
        }
        return nil
    }
}
