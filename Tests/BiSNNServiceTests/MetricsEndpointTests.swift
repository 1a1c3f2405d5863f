import Foundation
import Metrics
import Prometheus
import Testing

@testable import BiSNNService

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The Prometheus endpoint (`MetricsEndpoint`), fetched with a real TCP client on loopback.
///
/// The global `MetricsSystem` is never bootstrapped here (that can happen once per process): metrics come
/// from a `PrometheusMetricsFactory` on each test's own registry.
struct MetricsEndpointTests {
    static let anyLoopbackPort = ServiceConfiguration.ListenAddress(host: "127.0.0.1", port: 0)

    struct ClientError: Error, CustomStringConvertible {
        var description: String
    }

    /// A response as the client saw it.
    struct Response {
        var status: Int
        var head: String
        var body: String

        /// The value of the header `name` (case-insensitive), if present.
        func header(_ name: String) -> String? {
            for line in head.split(separator: "\r\n").dropFirst() {
                guard let colon = line.firstIndex(of: ":") else { continue }
                if line[..<colon].lowercased() == name.lowercased() {
                    return line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
                }
            }
            return nil
        }
    }

    /// A TCP socket connected to 127.0.0.1:`port`, whose reads give up after 5 s.
    static func openConnection(port: Int) throws -> Int32 {
        #if canImport(Glibc)
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        #else
        let fd = socket(AF_INET, SOCK_STREAM, 0)
        #endif
        guard fd >= 0 else { throw ClientError(description: "socket: \(errno)") }
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        _ = setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(port).bigEndian
        address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard result == 0 else {
            let code = errno
            close(fd)
            throw ClientError(description: "connect: \(String(cString: strerror(code)))")
        }
        return fd
    }

    static func sendAll(_ fd: Int32, _ bytes: [UInt8]) throws {
        var sent = 0
        while sent < bytes.count {
            #if canImport(Glibc)
            let flags = Int32(MSG_NOSIGNAL)
            #else
            let flags: Int32 = 0
            #endif
            let count = bytes.withUnsafeBytes { send(fd, $0.baseAddress! + sent, $0.count - sent, flags) }
            guard count > 0 else { throw ClientError(description: "send: \(String(cString: strerror(errno)))") }
            sent += count
        }
    }

    /// Everything the server sends until it closes, as a response.
    static func receive(_ fd: Int32) throws -> Response {
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if count == 0 { break }
            guard count > 0 else { throw ClientError(description: "recv: \(String(cString: strerror(errno)))") }
            bytes += chunk[..<count]
        }
        let text = String(decoding: bytes, as: UTF8.self)
        guard let split = text.range(of: "\r\n\r\n") else { throw ClientError(description: "no head in \(text)") }
        let head = String(text[..<split.lowerBound])
        let statusText = head.split(separator: " ").dropFirst().first.map(String.init) ?? ""
        guard head.hasPrefix("HTTP/1.1 "), let status = Int(statusText) else {
            throw ClientError(description: "no status line in \(head)")
        }
        return Response(status: status, head: head, body: String(text[split.upperBound...]))
    }

    /// Sends `request` to 127.0.0.1:`port` and reads the response.
    static func fetch(port: Int, _ request: String) throws -> Response {
        let fd = try openConnection(port: port)
        defer { close(fd) }
        try sendAll(fd, Array(request.utf8))
        return try receive(fd)
    }

    @Test func servesTheRegistryInTheTextFormat() throws {
        let registry = PrometheusCollectorRegistry()
        let factory = PrometheusMetricsFactory(registry: registry)
        let counter = Counter(label: "bisnn_test_frames_total", dimensions: [("sensor", "left")], factory: factory)
        counter.increment(by: 3)
        let endpoint = try MetricsEndpoint(listen: Self.anyLoopbackPort, registry: registry)
        defer { endpoint.stop() }
        #expect(endpoint.address.host == "127.0.0.1" && endpoint.address.port > 0)

        let response = try Self.fetch(port: endpoint.address.port, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(response.status == 200)
        #expect(response.header("Content-Type") == "text/plain; version=0.0.4; charset=utf-8")
        #expect(response.header("Connection") == "close")
        #expect(response.header("Content-Length") == "\(response.body.utf8.count)")
        #expect(response.body.contains("bisnn_test_frames_total{sensor=\"left\"} 3\n"), "\(response.body)")

        // Fresh values on every scrape, a query string ignored, HTTP/1.0 and bare LFs accepted.
        counter.increment(by: 2)
        let again = try Self.fetch(port: endpoint.address.port, "GET /metrics?x=1 HTTP/1.0\n\n")
        #expect(again.status == 200)
        #expect(again.body.contains("bisnn_test_frames_total{sensor=\"left\"} 5\n"), "\(again.body)")

        // HEAD: the same head, no body.
        let head = try Self.fetch(port: endpoint.address.port, "HEAD /metrics HTTP/1.1\r\n\r\n")
        #expect(head.status == 200 && head.body.isEmpty)
        #expect(head.header("Content-Length") == again.header("Content-Length"))
    }

    @Test func otherPathsMethodsAndGarbageAreRefused() throws {
        let endpoint = try MetricsEndpoint(listen: Self.anyLoopbackPort, registry: PrometheusCollectorRegistry())
        defer { endpoint.stop() }
        let port = endpoint.address.port
        let notFound = try Self.fetch(port: port, "GET / HTTP/1.1\r\n\r\n")
        #expect(notFound.status == 404 && notFound.header("Connection") == "close")
        #expect(try Self.fetch(port: port, "GET /metricsx HTTP/1.1\r\n\r\n").status == 404)
        let notAllowed = try Self.fetch(port: port, "POST /metrics HTTP/1.1\r\nContent-Length: 4\r\n\r\nabcd")
        #expect(notAllowed.status == 405)
        #expect(notAllowed.header("Allow") == "GET, HEAD")
        #expect(try Self.fetch(port: port, "DELETE /metrics HTTP/1.1\r\n\r\n").status == 405)
        #expect(try Self.fetch(port: port, "hello\r\n\r\n").status == 400)
        #expect(try Self.fetch(port: port, "GET  /metrics HTTP/1.1\r\n\r\n").status == 400)
        #expect(try Self.fetch(port: port, "GET /metrics HTTP/2.0\r\n\r\n").status == 505)
    }

    @Test func oversizedRequestHeadsAreRefused() throws {
        let endpoint = try MetricsEndpoint(listen: Self.anyLoopbackPort, registry: PrometheusCollectorRegistry())
        defer { endpoint.stop() }
        let port = endpoint.address.port
        let big = "GET /metrics HTTP/1.1\r\nX-Padding: \(String(repeating: "a", count: 16 * 1024))\r\n\r\n"
        let refused = try Self.fetch(port: port, big)
        #expect(refused.status == 431)
        #expect(refused.header("Connection") == "close")
        let fits = "GET /metrics HTTP/1.1\r\nX-Padding: \(String(repeating: "a", count: 4 * 1024))\r\n\r\n"
        #expect(try Self.fetch(port: port, fits).status == 200)
        // A head that never ends is refused at the limit too, without waiting for the client to finish.
        let fd = try Self.openConnection(port: port)
        defer { close(fd) }
        try Self.sendAll(fd, Array("GET /metrics HTTP/1.1\r\nX: \(String(repeating: "b", count: 9_000))".utf8))
        #expect(try Self.receive(fd).status == 431)
    }

    @Test func aSlowClientTimesOutAndOthersAreServed() throws {
        let endpoint = try MetricsEndpoint(
            listen: Self.anyLoopbackPort, registry: PrometheusCollectorRegistry(), timeout: .milliseconds(200))
        defer { endpoint.stop() }
        let idle = try Self.openConnection(port: endpoint.address.port)
        defer { close(idle) }
        try Self.sendAll(idle, Array("GET /metr".utf8))
        let start = ContinuousClock.now
        let served = try Self.fetch(port: endpoint.address.port, "GET /metrics HTTP/1.1\r\n\r\n")
        #expect(served.status == 200)
        #expect(ContinuousClock.now - start < .seconds(3))
        #expect(try Self.receive(idle).status == 408)
    }

    @Test func stopReturnsPromptlyWithAnIdleClientConnected() throws {
        let endpoint = try MetricsEndpoint(
            listen: Self.anyLoopbackPort, registry: PrometheusCollectorRegistry(), timeout: .seconds(60))
        let port = endpoint.address.port
        let idle = try Self.openConnection(port: port)
        defer { close(idle) }
        // Let the server accept it and start waiting for its request.
        usleep(100_000)
        let start = ContinuousClock.now
        endpoint.stop()
        #expect(ContinuousClock.now - start < .seconds(2))
        endpoint.stop()  // idempotent
        // The listening socket is closed: nothing answers any more.
        #expect(throws: ClientError.self) { _ = try Self.openConnection(port: port) }
    }

    /// As a swift-service-lifecycle `Service`: `run()` returns, and the endpoint is stopped, on cancellation.
    @Test func runStopsTheEndpointWhenCancelled() async throws {
        let endpoint = try MetricsEndpoint(listen: Self.anyLoopbackPort, registry: PrometheusCollectorRegistry())
        let port = endpoint.address.port
        let task = Task { await endpoint.run() }
        #expect(try Self.fetch(port: port, "GET /metrics HTTP/1.1\r\n\r\n").status == 200)
        task.cancel()
        await task.value
        #expect(throws: ClientError.self) { _ = try Self.openConnection(port: port) }
    }

    @Test func anAddressInUseIsAnErrorNamingIt() throws {
        let first = try MetricsEndpoint(listen: Self.anyLoopbackPort, registry: PrometheusCollectorRegistry())
        defer { first.stop() }
        let taken = first.address
        do {
            let second = try MetricsEndpoint(listen: taken, registry: PrometheusCollectorRegistry())
            second.stop()
            Issue.record("a second endpoint bound \(taken)")
        } catch {
            #expect(error.code == .bindFailed)
            #expect(error.address == "127.0.0.1:\(taken.port)")
            #expect("\(error)".contains("127.0.0.1:\(taken.port)"), "\(error)")
        }
    }
}
