import Prometheus
import ServiceLifecycle
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A minimal HTTP/1.1 server for Prometheus: `GET /metrics` answers with a registry's metrics in the text
/// exposition format, on a dedicated thread with plain POSIX sockets.
///
/// - `GET /metrics` (a query string is ignored): `200 OK`, `Content-Type: text/plain; version=0.0.4;
///   charset=utf-8`, the output of `PrometheusCollectorRegistry.emit(into:)`. `HEAD /metrics` sends the same
///   head without the body.
/// - Any other path: `404 Not Found`; another method on `/metrics`: `405 Method Not Allowed` (`Allow: GET,
///   HEAD`); a malformed request line: `400 Bad Request`; not HTTP/1.x: `505`.
/// - A request head (request line and headers) longer than `maxRequestBytes`: `431 Request Header Fields
///   Too Large`. A head not complete within `timeout` of the connection being accepted: `408 Request
///   Timeout`. Every response carries `Connection: close`, and the connection is closed after it.
///
/// Connections are served one at a time, so the endpoint costs one thread and a few KiB whatever clients
/// do. A client too slow to send its request or to read the response holds the endpoint for at most
/// `timeout` for each (others wait in the listen backlog); Prometheus scrapes take milliseconds.
///
/// The endpoint binds and listens in ``init(listen:registry:timeout:maxRequestBytes:)``, so clients can connect
/// as soon as it returns, and serves until ``stop()``. It is off by default in the service
/// (`metrics.enabled`) and listens on loopback (`metrics.listen`, `127.0.0.1:9464`) unless told otherwise.
///
/// The metrics come from the registry, which the service's code feeds through swift-metrics once the global
/// system points at it (`MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))`, once per
/// process: ``ServiceDaemon/bootstrapPrometheusMetrics()``). In a swift-service-lifecycle `ServiceGroup` the
/// endpoint is a `Service` whose ``run()`` stops it on graceful shutdown or cancellation:
///
/// ```swift
/// let registry = ServiceDaemon.bootstrapPrometheusMetrics()
/// let endpoint = try MetricsEndpoint(listen: configuration.metrics.listen, registry: registry)
/// // either: ServiceDaemon.run(..., additionalServices: [endpoint])
/// // or:     defer { endpoint.stop() }
/// ```
public final class MetricsEndpoint: Service, Sendable {
    /// The media type of the text exposition format, sent with every `200` response.
    public static let contentType = "text/plain; version=0.0.4; charset=utf-8"
    /// The default bound on a request's head (request line and headers): 8 KiB.
    public static let defaultMaxRequestBytes = 8 * 1024
    /// The default time a client has to send its request, and then to read the response: 2 s.
    public static let defaultTimeout = Duration.seconds(2)

    /// The address the endpoint listens on: the host as given, and the port bound (the one the system chose
    /// when the given port was 0).
    public let address: ServiceConfiguration.ListenAddress
    /// The self-pipe that wakes the thread: ``stop()`` writes to `wakeWrite`, the thread polls `wakeRead`.
    private let wakeRead: Int32
    private let wakeWrite: Int32
    /// The serving thread until ``stop()`` has joined it.
    private let thread: Mutex<pthread_t?>

    /// Binds `listen`, listens, and starts serving `registry` on a new thread.
    ///
    /// - Parameters:
    ///   - listen: Where to listen; a host name is resolved and its first address that binds is used, port 0
    ///     takes any free port (read it back from ``address``).
    ///   - timeout: How long a client has to send its request head, and then to read the response (> 0).
    ///   - maxRequestBytes: The longest request head accepted (at least 256 bytes).
    /// - Throws: ``MetricsEndpointError`` naming `listen` when the host does not resolve, no address of it can
    ///   be bound (in use, not this machine's), or the system is out of file descriptors or threads.
    public init(
        listen: ServiceConfiguration.ListenAddress, registry: PrometheusCollectorRegistry,
        timeout: Duration = MetricsEndpoint.defaultTimeout,
        maxRequestBytes: Int = MetricsEndpoint.defaultMaxRequestBytes
    ) throws(MetricsEndpointError) {
        precondition(timeout > .zero, "the metrics endpoint's timeout must be positive")
        precondition(maxRequestBytes >= 256, "the metrics endpoint must accept requests of 256 bytes")
        let listener = try Self.makeListener(on: listen)
        var pipeFDs: [Int32] = [-1, -1]
        guard pipe(&pipeFDs) == 0 else {
            let message = Self.systemMessage("pipe")
            close(listener.fd)
            throw MetricsEndpointError(.systemError, address: listen.description, message)
        }
        for fd in pipeFDs { Self.setFlags(fd, closeOnExec: true, nonBlocking: true) }
        let server = MetricsServer(
            listener: listener.fd, wake: pipeFDs[0], registry: registry, timeout: timeout,
            maxRequestBytes: maxRequestBytes)
        let thread: pthread_t
        do {
            thread = try Self.startThread { server.run() }
        } catch {
            close(listener.fd)
            close(pipeFDs[0])
            close(pipeFDs[1])
            throw MetricsEndpointError(.systemError, address: listen.description, "pthread_create: \(error)")
        }
        address = ServiceConfiguration.ListenAddress(host: listen.host, port: listener.port)
        (wakeRead, wakeWrite) = (pipeFDs[0], pipeFDs[1])
        self.thread = Mutex(thread)
    }

    deinit { stop() }

    /// Stops serving: wakes the thread (idle or in the middle of a connection), waits for it to end, and
    /// closes the sockets; a client being served is disconnected. Returns promptly whatever clients do;
    /// idempotent, and concurrent calls return once the thread has ended.
    public func stop() {
        thread.withLock { thread in
            guard let running = thread else { return }
            thread = nil
            var byte: UInt8 = 1
            _ = write(wakeWrite, &byte, 1)  // the pipe is empty: never blocks; the byte is never drained
            pthread_join(running, nil)
            close(wakeRead)
            close(wakeWrite)
        }
    }

    /// Serves until the task is cancelled or (in a `ServiceGroup`) graceful shutdown begins, then
    /// ``stop()``s; serving itself began in ``init(listen:registry:timeout:maxRequestBytes:)``.
    public func run() async {
        try? await gracefulShutdown()
        stop()
    }

    // MARK: - Set-up

    /// A listening socket on the first address of `address` that binds, and the port it has.
    private static func makeListener(
        on address: ServiceConfiguration.ListenAddress
    ) throws(MetricsEndpointError) -> (fd: Int32, port: Int) {
        func fail(_ code: MetricsEndpointError.Code, _ message: String) -> MetricsEndpointError {
            MetricsEndpointError(code, address: address.description, message)
        }
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = streamSocketType
        hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV
        var list: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(address.host, String(address.port), &hints, &list)
        guard status == 0, let first = list else {
            throw fail(.unresolvable, String(cString: gai_strerror(status)))
        }
        defer { freeaddrinfo(first) }
        var lastError = "no address"
        var next: UnsafeMutablePointer<addrinfo>? = first
        while let info = next?.pointee {
            next = info.ai_next
            let fd = socket(info.ai_family, info.ai_socktype, info.ai_protocol)
            guard fd >= 0 else {
                lastError = systemMessage("socket")
                continue
            }
            setFlags(fd, closeOnExec: true, nonBlocking: true)
            var one: Int32 = 1
            _ = setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
            guard bind(fd, info.ai_addr, info.ai_addrlen) == 0, listen(fd, 16) == 0 else {
                lastError = String(cString: strerror(errno))
                close(fd)
                continue
            }
            guard let port = boundPort(fd) else {
                lastError = systemMessage("getsockname")
                close(fd)
                continue
            }
            return (fd, port)
        }
        throw fail(.bindFailed, lastError)
    }

    /// The local port of the socket `fd`.
    private static func boundPort(_ fd: Int32) -> Int? {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        return withUnsafeMutablePointer(to: &storage) { pointer -> Int? in
            let result = pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
            guard result == 0 else { return nil }
            switch Int32(pointer.pointee.ss_family) {
            case AF_INET:
                return pointer.withMemoryRebound(to: sockaddr_in.self, capacity: 1) {
                    Int(UInt16(bigEndian: $0.pointee.sin_port))
                }
            case AF_INET6:
                return pointer.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) {
                    Int(UInt16(bigEndian: $0.pointee.sin6_port))
                }
            default:
                return nil
            }
        }
    }

    /// Sets `FD_CLOEXEC` and `O_NONBLOCK` on `fd` (and, where there is no `MSG_NOSIGNAL`, `SO_NOSIGPIPE`).
    static func setFlags(_ fd: Int32, closeOnExec: Bool, nonBlocking: Bool) {
        if closeOnExec { _ = fcntl(fd, F_SETFD, fcntl(fd, F_GETFD) | FD_CLOEXEC) }
        if nonBlocking { _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) }
        #if canImport(Darwin)
        var one: Int32 = 1
        _ = setsockopt(fd, SOL_SOCKET, SO_NOSIGPIPE, &one, socklen_t(MemoryLayout<Int32>.size))
        #endif
    }

    /// `call: reason` for the current `errno`.
    static func systemMessage(_ call: String) -> String {
        "\(call): \(String(cString: strerror(errno)))"
    }

    /// Starts `body` on a new joinable thread.
    private static func startThread(_ body: @escaping @Sendable () -> Void) throws(ThreadStartError) -> pthread_t {
        final class Start: Sendable {
            let body: @Sendable () -> Void
            init(_ body: @escaping @Sendable () -> Void) { self.body = body }
        }
        let start = Unmanaged.passRetained(Start(body)).toOpaque()
        #if canImport(Darwin)
        var thread: pthread_t?
        #else
        var thread = pthread_t()
        #endif
        let result = pthread_create(&thread, nil, { argument in
            #if canImport(Darwin)
            Unmanaged<Start>.fromOpaque(argument).takeRetainedValue().body()
            #else
            Unmanaged<Start>.fromOpaque(argument!).takeRetainedValue().body()
            #endif
            return nil
        }, start)
        guard result == 0 else {
            Unmanaged<Start>.fromOpaque(start).release()
            throw ThreadStartError(reason: String(cString: strerror(result)))
        }
        #if canImport(Darwin)
        return thread!
        #else
        return thread
        #endif
    }

    /// `pthread_create` failed.
    private struct ThreadStartError: Error, CustomStringConvertible {
        var reason: String
        var description: String { reason }
    }
}

#if canImport(Glibc)
/// `SOCK_STREAM` as `addrinfo.ai_socktype` takes it.
private let streamSocketType = Int32(SOCK_STREAM.rawValue)
/// Flags for `send`: no `SIGPIPE` when the client has gone.
private let sendFlags = Int32(MSG_NOSIGNAL)
#else
private let streamSocketType = SOCK_STREAM
private let sendFlags: Int32 = 0
#endif

/// The serving thread's loop: accepts one connection at a time, reads its request head, answers, closes.
/// Owns the listening socket (closed when the loop ends); only reads the wake pipe, whose write end belongs to
/// ``MetricsEndpoint``.
private struct MetricsServer: Sendable {
    let listener: Int32
    let wake: Int32
    let registry: PrometheusCollectorRegistry
    let timeout: Duration
    let maxRequestBytes: Int

    /// What waiting for a socket gave.
    enum Wait { case ready, timedOut, stopped }

    func run() {
        defer { close(listener) }
        var body: [UInt8] = []
        while true {
            switch wait(listener, for: POLLIN, until: nil) {
            case .stopped: return
            case .timedOut, .ready: break
            }
            let connection = accept(listener, nil, nil)
            guard connection >= 0 else {
                switch errno {
                case EINTR, EAGAIN, EWOULDBLOCK, ECONNABORTED: continue
                default:
                    // Out of descriptors or memory: back off rather than spin on a readable listener.
                    if wait(-1, for: 0, until: ContinuousClock.now + .milliseconds(100)) == .stopped { return }
                    continue
                }
            }
            MetricsEndpoint.setFlags(connection, closeOnExec: true, nonBlocking: true)
            let stopped = !serve(connection, body: &body)
            close(connection)
            if stopped { return }
        }
    }

    /// Reads one request from `connection` and answers it; false when woken by ``MetricsEndpoint/stop()``.
    /// `body` is the exposition buffer, kept between requests for its capacity.
    func serve(_ connection: Int32, body: inout [UInt8]) -> Bool {
        var request: [UInt8] = []
        request.reserveCapacity(1024)
        var chunk = [UInt8](repeating: 0, count: 4096)
        let readDeadline = ContinuousClock.now + timeout
        var headEnd: Int?
        while headEnd == nil {
            if request.count >= maxRequestBytes {
                return respond(connection, MetricsHTTP.error(431, "Request Header Fields Too Large"))
            }
            switch wait(connection, for: POLLIN, until: readDeadline) {
            case .stopped: return false
            case .timedOut: return respond(connection, MetricsHTTP.error(408, "Request Timeout"))
            case .ready: break
            }
            let limit = min(chunk.count, maxRequestBytes - request.count)
            let count = chunk.withUnsafeMutableBytes { recv(connection, $0.baseAddress, limit, 0) }
            if count == 0 { return true }  // the client went away
            if count < 0 {
                if errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK { continue }
                return true
            }
            let searchFrom = max(0, request.count - 2)
            request.append(contentsOf: chunk[..<count])
            headEnd = MetricsHTTP.headEnd(in: request, searchingFrom: searchFrom)
        }
        switch MetricsHTTP.route(request[..<headEnd!]) {
        case .metrics(let withBody):
            body.removeAll(keepingCapacity: true)
            registry.emit(into: &body)
            return respond(
                connection,
                MetricsHTTP.response(200, "OK", contentType: MetricsEndpoint.contentType, body: body, sendBody: withBody))
        case .error(let status, let reason, let headers):
            return respond(connection, MetricsHTTP.error(status, reason, headers: headers))
        }
    }

    /// Sends `bytes`, then half-closes and drains what the client still sends until it closes (so unread
    /// request bytes do not turn the close into a reset that loses the response); all within `timeout`.
    /// False when woken by ``MetricsEndpoint/stop()``.
    func respond(_ connection: Int32, _ bytes: [UInt8]) -> Bool {
        let deadline = ContinuousClock.now + timeout
        var sent = 0
        while sent < bytes.count {
            switch wait(connection, for: POLLOUT, until: deadline) {
            case .stopped: return false
            case .timedOut: return true
            case .ready: break
            }
            let count = bytes.withUnsafeBytes { send(connection, $0.baseAddress! + sent, $0.count - sent, sendFlags) }
            if count < 0 {
                if errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK { continue }
                return true
            }
            sent += count
        }
        _ = shutdown(connection, Int32(SHUT_WR))
        var chunk = [UInt8](repeating: 0, count: 4096)
        var drained = 0
        while drained < 1 << 20 {
            switch wait(connection, for: POLLIN, until: deadline) {
            case .stopped: return false
            case .timedOut: return true
            case .ready: break
            }
            let count = chunk.withUnsafeMutableBytes { recv(connection, $0.baseAddress, $0.count, 0) }
            if count == 0 { return true }
            if count < 0 {
                if errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK { continue }
                return true
            }
            drained += count
        }
        return true
    }

    /// Waits until `fd` is ready for `events` (a negative `fd`: only the deadline and the wake pipe count),
    /// `deadline` passes (nil: never), or the wake pipe is readable.
    func wait(_ fd: Int32, for events: Int32, until deadline: ContinuousClock.Instant?) -> Wait {
        while true {
            var milliseconds: Int32 = -1
            if let deadline {
                let remaining = deadline - .now
                guard remaining > .zero else { return .timedOut }
                let (seconds, attoseconds) = remaining.components
                let total = seconds * 1_000 + (attoseconds + 999_999_999_999_999) / 1_000_000_000_000_000
                milliseconds = Int32(clamping: total)
            }
            var fds = [
                pollfd(fd: wake, events: Int16(POLLIN), revents: 0),
                pollfd(fd: fd, events: Int16(events), revents: 0),
            ]
            let result = poll(&fds, nfds_t(fds.count), milliseconds)
            if result < 0 {
                if errno == EINTR { continue }
                return .stopped  // EFAULT, EINVAL, ENOMEM: nothing sensible left to do
            }
            if fds[0].revents != 0 { return .stopped }
            if fds[1].revents != 0 { return .ready }  // including POLLERR and POLLHUP: the call shows what
        }
    }
}

/// The HTTP/1.1 the endpoint speaks: where a request head ends, what it asks for, and the bytes of a
/// response (always `Connection: close`).
private enum MetricsHTTP {
    /// What a request gets.
    enum Route: Equatable {
        /// The metrics, with or without the body (`GET` or `HEAD`).
        case metrics(withBody: Bool)
        /// An error status, its reason phrase and extra header lines.
        case error(Int, String, headers: [String])
    }

    /// The index just past the blank line that ends a request head in `bytes` (CRLF CRLF, or bare LF LF as
    /// RFC 9112 lets servers accept), searching from `start`; nil while the head is incomplete.
    static func headEnd(in bytes: [UInt8], searchingFrom start: Int) -> Int? {
        let cr: UInt8 = 13, lf: UInt8 = 10
        var index = max(start, 0)
        while index < bytes.count {
            defer { index += 1 }
            guard bytes[index] == lf else { continue }
            if index + 1 < bytes.count, bytes[index + 1] == lf { return index + 2 }
            if index + 2 < bytes.count, bytes[index + 1] == cr, bytes[index + 2] == lf { return index + 3 }
        }
        return nil
    }

    /// The route of a complete request head: its request line `METHOD SP target SP HTTP/1.x`.
    static func route(_ head: ArraySlice<UInt8>) -> Route {
        let lineEnd = head.firstIndex(of: 10) ?? head.endIndex
        var line = head[..<lineEnd]
        if line.last == 13 { line = line.dropLast() }
        let parts = line.split(separator: 32, omittingEmptySubsequences: false)
        guard parts.count == 3, !parts[0].isEmpty, parts[0].allSatisfy(isTokenCharacter), parts[1].first == 47
        else { return .error(400, "Bad Request", headers: []) }
        let version = String(decoding: parts[2], as: UTF8.self)
        guard version == "HTTP/1.1" || version == "HTTP/1.0" else {
            return version.hasPrefix("HTTP/")
                ? .error(505, "HTTP Version Not Supported", headers: [])
                : .error(400, "Bad Request", headers: [])
        }
        let target = parts[1]
        let path = target[..<(target.firstIndex(of: 63) ?? target.endIndex)]  // up to "?"
        guard path.elementsEqual("/metrics".utf8) else { return .error(404, "Not Found", headers: []) }
        switch String(decoding: parts[0], as: UTF8.self) {
        case "GET": return .metrics(withBody: true)
        case "HEAD": return .metrics(withBody: false)
        default: return .error(405, "Method Not Allowed", headers: ["Allow: GET, HEAD"])
        }
    }

    /// A response: status line, `Content-Type`, `Content-Length` (of `body`, sent or not), `Connection:
    /// close`, `headers`, and `body` when `sendBody`.
    static func response(
        _ status: Int, _ reason: String, contentType: String, headers: [String] = [], body: [UInt8],
        sendBody: Bool = true
    ) -> [UInt8] {
        var head = "HTTP/1.1 \(status) \(reason)\r\nContent-Type: \(contentType)\r\n"
            + "Content-Length: \(body.count)\r\nConnection: close\r\n"
        for header in headers { head += header + "\r\n" }
        head += "\r\n"
        var bytes = Array(head.utf8)
        if sendBody { bytes += body }
        return bytes
    }

    /// An error response whose body is the status line's text.
    static func error(_ status: Int, _ reason: String, headers: [String] = []) -> [UInt8] {
        response(
            status, reason, contentType: "text/plain; charset=utf-8", headers: headers,
            body: Array("\(status) \(reason)\n".utf8))
    }

    /// Whether `byte` may appear in an HTTP token (a method): RFC 9110's `tchar`.
    static func isTokenCharacter(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
             UInt8(ascii: "a")...UInt8(ascii: "z"):
            true
        default:
            "!#$%&'*+-.^_`|~".utf8.contains(byte)
        }
    }
}
