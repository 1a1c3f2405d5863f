import Foundation
import Testing

@testable import BiSNNService

#if canImport(Glibc)
import Glibc
#endif

/// `SystemdNotifier` against a real `AF_UNIX` datagram socket, as systemd's notification socket.
struct SystemdNotifierTests {
    /// A bound datagram socket standing in for systemd's `NOTIFY_SOCKET`.
    final class NotifySocket {
        let fd: Int32
        /// The `NOTIFY_SOCKET` value: the path, or `@name`.
        let address: String
        let directory: URL?

        /// A socket bound to a path in a new temporary directory, or in the abstract namespace.
        init(abstract: Bool = false) throws {
            fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            try #require(fd >= 0)
            var name: [UInt8]
            if abstract {
                address = "@bisnnd-test-\(UUID().uuidString)"
                directory = nil
                name = [0] + Array(address.utf8.dropFirst())
            } else {
                let dir = try ConfigurationFixtures.temporaryDirectory()
                directory = dir
                address = dir.appendingPathComponent("notify").path
                name = Array(address.utf8) + [0]
            }
            var socketAddress = sockaddr_un()
            socketAddress.sun_family = sa_family_t(AF_UNIX)
            withUnsafeMutableBytes(of: &socketAddress.sun_path) { $0.copyBytes(from: name) }
            let length = socklen_t(MemoryLayout<sockaddr_un>.offset(of: \sockaddr_un.sun_path)! + name.count)
            let bound = withUnsafePointer(to: &socketAddress) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) }
            }
            try #require(bound == 0, "bind: \(String(cString: strerror(errno)))")
            var timeout = timeval(tv_sec: 5, tv_usec: 0)
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        }

        deinit {
            close(fd)
            if let directory { try? FileManager.default.removeItem(at: directory) }
        }

        /// The next datagram, as text; nil after 5 s without one.
        func receive() -> String? {
            var buffer = [UInt8](repeating: 0, count: 4096)
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            return n < 0 ? nil : String(decoding: buffer[..<n], as: UTF8.self)
        }

        /// Whether a datagram is waiting.
        func hasPending() -> Bool {
            var buffer = [UInt8](repeating: 0, count: 16)
            return buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) } >= 0
        }
    }

    @Test(arguments: [false, true])
    func sendsTheExactMessages(abstract: Bool) throws {
        let socket = try NotifySocket(abstract: abstract)
        let notifier = SystemdNotifier(environment: ["NOTIFY_SOCKET": socket.address])
        #expect(notifier.isEnabled)
        try notifier.ready(status: "serving 3 sensors")
        #expect(socket.receive() == "READY=1\nSTATUS=serving 3 sensors")
        try notifier.ready()
        #expect(socket.receive() == "READY=1")
        try notifier.status("model loaded\nwaiting")
        #expect(socket.receive() == "STATUS=model loaded waiting")
        try notifier.watchdog()
        #expect(socket.receive() == "WATCHDOG=1")
        try notifier.stopping(status: "draining")
        #expect(socket.receive() == "STOPPING=1\nSTATUS=draining")
        try notifier.extendTimeout(by: .seconds(20))
        #expect(socket.receive() == "EXTEND_TIMEOUT_USEC=20000000")

        let before = SystemdNotifier.monotonicMicroseconds()
        try notifier.reloading(status: "reloading")
        let reload = try #require(socket.receive()).split(separator: "\n")
        #expect(reload.count == 3)
        #expect(reload[0] == "RELOADING=1")
        #expect(reload[2] == "STATUS=reloading")
        let usec = try #require(UInt64(reload[1].dropFirst("MONOTONIC_USEC=".count)))
        #expect(reload[1].hasPrefix("MONOTONIC_USEC="))
        #expect(usec >= before && usec <= SystemdNotifier.monotonicMicroseconds())

        #expect(throws: SystemdNotifierError.self) { try notifier.send(["BAD\nLINE=1"]) }
        #expect(!socket.hasPending())
    }

    @Test func withoutNotifySocketEverythingIsANoOp() throws {
        for environment in [[:], ["NOTIFY_SOCKET": ""]] {
            let notifier = SystemdNotifier(environment: environment)
            #expect(!notifier.isEnabled)
            try notifier.ready(status: "x")
            try notifier.watchdog()
            try notifier.stopping()
            try notifier.reloading()
        }
    }

    @Test func unreachableSocketIsAnError() throws {
        let missing = SystemdNotifier(environment: ["NOTIFY_SOCKET": "/nonexistent/notify"])
        #expect(throws: SystemdNotifierError.self) { try missing.ready() }
        let relative = SystemdNotifier(environment: ["NOTIFY_SOCKET": "notify"])
        #expect(throws: SystemdNotifierError.self) { try relative.ready() }
        let long = SystemdNotifier(environment: ["NOTIFY_SOCKET": "/" + String(repeating: "x", count: 200)])
        #expect(throws: SystemdNotifierError.self) { try long.ready() }
    }

    @Test func watchdogIntervalComesFromTheEnvironment() {
        let pid = getpid()
        let mine = SystemdNotifier(environment: ["WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "\(pid)"])
        #expect(mine.watchdogInterval == .seconds(30))
        #expect(mine.watchdogPingInterval == .seconds(15))
        #expect(SystemdNotifier(environment: ["WATCHDOG_USEC": "5000000"]).watchdogPingInterval == .milliseconds(2500))
        #expect(SystemdNotifier(environment: ["WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "\(pid + 1)"])
            .watchdogInterval == nil)
        #expect(SystemdNotifier(environment: ["WATCHDOG_USEC": "0"]).watchdogInterval == nil)
        #expect(SystemdNotifier(environment: ["WATCHDOG_USEC": "soon"]).watchdogInterval == nil)
        #expect(SystemdNotifier(environment: [:]).watchdogPingInterval == nil)
    }
}
