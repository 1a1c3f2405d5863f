import CZeroMQ
import Synchronization

/// A ZAP handler (ZeroMQ RFC 27, ZAP 1.0) on a dedicated thread: libzmq asks it, for every connection a
/// CURVE server socket of the same context accepts, whether the client's public key may in; it answers yes
/// only for keys in an allow-list.
///
/// **What it answers.** The thread owns a REP socket bound at ``endpoint`` (`inproc://zeromq.zap.01`), where
/// libzmq sends its ZAP requests. Mechanism CURVE: status 200 when the client's 32-byte public key is in the
/// allow-list, else 400. Any other mechanism (NULL, PLAIN): 400, because where the authenticator is in use
/// everything must be CURVE. A malformed request: 500. libzmq closes refused connections itself.
///
/// **Order matters.** Without a ZAP handler, libzmq lets every CURVE client that knows the server's public key in.
/// So start the authenticator *before* binding the server sockets, and stop it only *after* closing them (and
/// before ``ZMQContext/close()``: its sockets belong to the context).
///
/// **Handshake failures.** A client that does not speak CURVE at all (a plaintext client), or uses the wrong
/// server key, fails the handshake before ZAP is asked. ``watch(_:)`` subscribes the authenticator to a
/// socket's handshake-failure monitor events, so those refusals are counted and reported too.
///
/// **Counting and reporting.** ``acceptedCount`` and ``refusedCount`` count every answer (atomics, readable from
/// any thread). Each refusal is also queued (at most `refusalCapacity`; more are counted as dropped) for the
/// owner to take with ``takeRefusals()`` and log at its own pace: the thread itself never logs or blocks on
/// anything but its sockets.
///
/// **Allow-list.** ``setAllowedKeys(_:)`` replaces it at any time (a configuration reload); requests answered
/// afterwards use the new list. Connections already accepted stay.
public final class ZMQAuthenticator: Sendable {
    /// Where libzmq sends ZAP requests; one handler per context.
    public static let endpoint = "inproc://zeromq.zap.01"

    /// The monitor events ``watch(_:)`` subscribes to: handshakes that failed before or without ZAP.
    public static let handshakeFailureEvents: ZMQMonitorEvents = [.handshakeFailedProtocol, .handshakeFailedNoDetail]

    /// One refused connection.
    public struct Refusal: Sendable, Hashable, CustomStringConvertible {
        /// Why it was refused.
        public enum Reason: Sendable, Hashable {
            /// A CURVE client whose public key is not in the allow-list (ZAP status 400).
            case unknownKey
            /// A client authenticating with another mechanism than CURVE (NULL, PLAIN; ZAP status 400).
            case mechanism
            /// A ZAP request that does not follow RFC 27 (status 500).
            case malformedRequest
            /// A handshake that failed before authentication, on a watched socket: a client without CURVE
            /// (``protocolError`` is `ZMQ_PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH`), the wrong server key, or a peer
            /// that is not ZeroMQ or hung up.
            case handshake
        }

        /// Why it was refused.
        public var reason: Reason
        /// For a ZAP refusal, the peer's address as libzmq gives it (the IP address for tcp, empty for ipc); for a
        /// handshake failure, the endpoint of the socket that refused.
        public var address: String
        /// The ZAP domain of the refusing socket (empty for a handshake failure).
        public var domain: String
        /// The mechanism the client asked for (`CURVE`, `NULL`, `PLAIN`; empty for a handshake failure).
        public var mechanism: String
        /// The client's CURVE public key, raw bytes, when it presented one.
        public var publicKey: [UInt8]?
        /// For ``Reason/handshake`` on a protocol error: the `ZMQ_PROTOCOL_ERROR_*` code.
        public var protocolError: UInt32?
        /// For ``Reason/handshake`` cut short (the peer hung up, a timeout): the `errno`.
        public var errorNumber: Int32?

        /// Creates a refusal record.
        public init(
            reason: Reason, address: String, domain: String = "", mechanism: String = "", publicKey: [UInt8]? = nil,
            protocolError: UInt32? = nil, errorNumber: Int32? = nil
        ) {
            self.reason = reason
            self.address = address
            self.domain = domain
            self.mechanism = mechanism
            self.publicKey = publicKey
            self.protocolError = protocolError
            self.errorNumber = errorNumber
        }

        /// The client's public key in Z85, when it presented one.
        public var publicKeyText: String? { publicKey.flatMap(ZMQCurve.z85Encode) }

        /// What a failed handshake's code means.
        private var handshakeDetail: String {
            guard let code = protocolError else {
                let why = errorNumber.map { " (\(ZMQError.Code(rawValue: $0)))" } ?? ""
                return "the peer broke off the handshake\(why): a client without CURVE or with the wrong server key?"
            }
            switch Int32(bitPattern: code) {
            case ZMQ_PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH:
                return "the client does not use CURVE (mechanism mismatch)"
            case ZMQ_PROTOCOL_ERROR_ZMTP_CRYPTOGRAPHIC:
                return "cryptographic error (a client with the wrong server key?)"
            default:
                return "handshake failed (code 0x\(String(code, radix: 16)))"
            }
        }

        /// One line: who, and why (`from 127.0.0.1: CURVE key rq:rM>... is not allowed`).
        public var description: String {
            let peer = address.isEmpty ? "a local peer" : address
            switch reason {
            case .unknownKey:
                return "from \(peer): CURVE client key \(publicKeyText ?? "?") is not in the allow-list"
            case .mechanism:
                return "from \(peer): mechanism \(mechanism.isEmpty ? "?" : mechanism) is not allowed (only CURVE)"
            case .malformedRequest:
                return "from \(peer): malformed ZAP request"
            case .handshake:
                return "on \(peer): \(handshakeDetail)"
            }
        }
    }

    private let shared: Shared
    private let thread: Mutex<JoinableThread?>
    /// Monitor endpoints the thread listens on, and how many ``watch(_:)`` has handed out.
    private let monitorEndpoints: [String]
    private let watched = Atomic(0)

    /// Starts the handler in `context`, allowing the CURVE public keys `allowedKeys` (32 raw bytes each).
    ///
    /// `watchedSockets` is how many sockets ``watch(_:)`` may subscribe to later; `refusalCapacity` bounds the queue
    /// of refusals ``takeRefusals()`` returns. Throws ``ZMQError/Code/invalidArgument`` for a key of the wrong
    /// length, ``ZMQError/Code/addressInUse`` when the context already has a ZAP handler.
    public init(
        context: ZMQContext, allowedKeys: some Sequence<[UInt8]>, watchedSockets: Int = 0, refusalCapacity: Int = 64,
        name: String = "zmq-zap"
    ) throws(ZMQError) {
        precondition(
            watchedSockets >= 0 && refusalCapacity > 0, "watchedSockets must be 0 or more, refusalCapacity 1 or more")
        let keys = try Self.keySet(allowedKeys)
        let handler = try ZMQSocket(.rep, context: context)
        try handler.bind(Self.endpoint)
        let id = Self.nextID.add(1, ordering: .relaxed).newValue
        let endpoints = (0..<watchedSockets).map { "inproc://bisnn-zeromq-zap-monitor-\(id)-\($0)" }
        var monitors: [ZMQSocket] = []
        for endpoint in endpoints {
            // inproc allows connecting before the monitored socket binds the endpoint (in watch(_:)).
            let monitor = try ZMQSocket(.pair, context: context)
            try monitor.connect(endpoint)
            monitors.append(monitor)
        }
        let monitorSockets = monitors
        let (channel, wakeups) = try WakeupChannel.make(context: context, name: name)
        let shared = Shared(waker: channel, allowed: keys, capacity: refusalCapacity)
        self.shared = shared
        monitorEndpoints = endpoints
        thread = Mutex(
            try JoinableThread(name: name) {
                Self.run(handler: handler, monitors: monitorSockets, wakeups: wakeups, shared: shared)
            })
    }

    deinit { stop() }

    private static let nextID = Atomic<Int>(0)

    /// Replaces the allow-list (32-byte keys); throws ``ZMQError/Code/invalidArgument`` for a key of the wrong length,
    /// leaving the list as it was.
    public func setAllowedKeys(_ keys: some Sequence<[UInt8]>) throws(ZMQError) {
        let set = try Self.keySet(keys)
        shared.allowed.withLock { $0 = set }
    }

    /// How many keys the allow-list holds.
    public var allowedKeyCount: Int { shared.allowed.withLock { $0.count } }

    /// Connections let in so far (ZAP status 200).
    public var acceptedCount: Int { shared.accepted.load(ordering: .relaxed) }

    /// Connections refused so far: ZAP refusals and, on watched sockets, failed handshakes.
    public var refusedCount: Int { shared.refused.load(ordering: .relaxed) }

    /// Takes the refusals queued since the last call, oldest first, and how many did not fit in the queue.
    public func takeRefusals() -> (refusals: [Refusal], dropped: Int) {
        shared.queue.withLock { queue in
            defer { queue = RefusalQueue() }
            return (queue.refusals, queue.dropped)
        }
    }

    /// Subscribes the authenticator to `socket`'s failed handshakes (``handshakeFailureEvents``), so they are counted
    /// as refusals. Call it on the thread that owns `socket`, before binding; at most `watchedSockets` times.
    public func watch(_ socket: ZMQSocket) throws(ZMQError) {
        let index = watched.add(1, ordering: .relaxed).oldValue
        guard index < monitorEndpoints.count else {
            throw ZMQError(
                .invalidArgument, operation: "watch: the authenticator was made for \(monitorEndpoints.count) sockets")
        }
        try socket.startMonitor(monitorEndpoints[index], events: Self.handshakeFailureEvents)
    }

    /// Stops the thread and returns once it has closed its sockets; idempotent. From then on libzmq finds no ZAP
    /// handler, so close the CURVE server sockets first.
    public func stop() {
        shared.stopRequested.store(true, ordering: .releasing)
        shared.waker.wake()
        thread.withLock { thread in
            if let running = thread.take() { running.join() }
        }
        shared.waker.close()
    }

    /// The error that ended the thread, if a socket failed; nil while running, after ``stop()``, and after a
    /// context shutdown.
    public var error: ZMQError? { shared.failure.withLock { $0 } }

    private static func keySet(_ keys: some Sequence<[UInt8]>) throws(ZMQError) -> Set<[UInt8]> {
        var set: Set<[UInt8]> = []
        for key in keys {
            guard key.count == ZMQCurve.keyLength else {
                throw ZMQError(.invalidArgument, operation: "allow-list: a CURVE public key is 32 bytes, not \(key.count)")
            }
            set.insert(key)
        }
        return set
    }

    // MARK: - The thread

    private static func run(handler: ZMQSocket, monitors: [ZMQSocket], wakeups: ZMQSocket, shared: Shared) {
        var poller = ZMQPoller([wakeups, handler] + monitors)
        do throws(ZMQError) {
            while !shared.stopRequested.load(ordering: .acquiring) {
                do { try poller.poll(timeout: nil) } catch {
                    if error.code == .interrupted { continue }
                    throw error
                }
                if poller.readyEvents(at: 0).contains(.readable) { try WakeupChannel.drain(wakeups) }
                if shared.stopRequested.load(ordering: .acquiring) { break }
                // REP: every request is answered before the next is taken.
                while let request = try handler.receive(dontWait: true) {
                    try handler.send(answer(request, shared: shared))
                }
                for monitor in monitors {
                    while let message = try monitor.receive(dontWait: true) {
                        guard let event = ZMQMonitorEvent(message: message) else { continue }
                        if event.event.contains(.handshakeFailedProtocol) {
                            shared.refuse(Refusal(reason: .handshake, address: event.endpoint, protocolError: event.value))
                        } else if event.event.contains(.handshakeFailedNoDetail) {
                            let errorNumber = Int32(truncatingIfNeeded: event.value)
                            shared.refuse(Refusal(reason: .handshake, address: event.endpoint, errorNumber: errorNumber))
                        }
                    }
                }
            }
        } catch {
            if error.code != .terminated { shared.failure.withLock { $0 = error } }
        }
        for monitor in monitors { monitor.close(linger: .zero) }
        handler.close(linger: .zero)
        wakeups.close(linger: .zero)
    }

    /// The reply to one ZAP request (RFC 27): version, request id, status code, status text, user id, metadata.
    static func answer(_ request: [[UInt8]], shared: Shared) -> [[UInt8]] {
        func reply(_ requestID: [UInt8], _ code: String, _ text: String, userID: String = "") -> [[UInt8]] {
            [Array("1.0".utf8), requestID, Array(code.utf8), Array(text.utf8), Array(userID.utf8), []]
        }
        // version, request id, domain, address, identity, mechanism, credentials...
        guard request.count >= 6, request[0] == Array("1.0".utf8) else {
            shared.refuse(Refusal(reason: .malformedRequest, address: ""))
            return reply(request.count > 1 ? request[1] : [], "500", "malformed ZAP request")
        }
        let text = { (frame: [UInt8]) in String(decoding: frame, as: UTF8.self) }
        let requestID = request[1], domain = text(request[2]), address = text(request[3])
        let mechanism = text(request[5])
        guard mechanism == "CURVE" else {
            shared.refuse(Refusal(reason: .mechanism, address: address, domain: domain, mechanism: mechanism))
            return reply(requestID, "400", "only CURVE is allowed")
        }
        guard request.count == 7, request[6].count == ZMQCurve.keyLength else {
            shared.refuse(Refusal(reason: .malformedRequest, address: address, domain: domain, mechanism: mechanism))
            return reply(requestID, "500", "malformed CURVE credentials")
        }
        let key = request[6]
        guard shared.allowed.withLock({ $0.contains(key) }) else {
            shared.refuse(
                Refusal(reason: .unknownKey, address: address, domain: domain, mechanism: mechanism, publicKey: key))
            return reply(requestID, "400", "unknown public key")
        }
        shared.accepted.add(1, ordering: .relaxed)
        return reply(requestID, "200", "OK", userID: ZMQCurve.z85Encode(key) ?? "")
    }

    /// Refusals waiting for ``takeRefusals()``.
    struct RefusalQueue {
        var refusals: [Refusal] = []
        var dropped = 0
    }

    /// State shared by the thread, its owner and readers of the counters.
    final class Shared: Sendable {
        let waker: WakeupChannel
        let allowed: Mutex<Set<[UInt8]>>
        let accepted = Atomic(0)
        let refused = Atomic(0)
        let queue = Mutex(RefusalQueue())
        let stopRequested = Atomic(false)
        let failure = Mutex<ZMQError?>(nil)
        private let capacity: Int

        init(waker: WakeupChannel, allowed: Set<[UInt8]>, capacity: Int) {
            self.waker = waker
            self.allowed = Mutex(allowed)
            self.capacity = capacity
        }

        func refuse(_ refusal: Refusal) {
            refused.add(1, ordering: .relaxed)
            queue.withLock { queue in
                if queue.refusals.count < capacity {
                    queue.refusals.append(refusal)
                } else {
                    queue.dropped += 1
                }
            }
        }
    }
}
