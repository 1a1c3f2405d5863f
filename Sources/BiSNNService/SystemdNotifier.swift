import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The service manager's notification protocol (`sd_notify(3)`), without libsystemd: state changes sent as
/// datagrams to the `AF_UNIX` socket named by `NOTIFY_SOCKET`.
///
/// With `Type=notify` systemd waits for ``ready(status:)`` before it counts the service as started, shows the
/// last ``status(_:)`` in `systemctl status`, restarts the service when ``watchdog()`` pings stop for
/// `WatchdogSec=` (ping every ``watchdogPingInterval``), and knows a stop or reload is under way from
/// ``stopping(status:)`` and ``reloading(status:)``.
///
/// Outside systemd (`NOTIFY_SOCKET` unset) every call does nothing. A value, `Sendable`: each call opens a
/// datagram socket, sends one message and closes it, as `sd_notify` does.
public struct SystemdNotifier: Sendable {
    /// The socket address from `NOTIFY_SOCKET`: a path, or `@name` in the abstract namespace; nil when unset
    /// (every call is then a no-op).
    public let socketAddress: String?
    /// The watchdog timeout systemd enforces (`WATCHDOG_USEC`), when it is meant for this process
    /// (`WATCHDOG_PID` unset or this process's id); nil when there is no watchdog.
    public let watchdogInterval: Duration?

    /// A notifier configured from `environment` as systemd sets it for the service's main process, `processID`
    /// being this process.
    public init(
        environment: [String: String] = ProcessInfo.processInfo.environment, processID: Int32 = getpid()
    ) {
        let socket = environment["NOTIFY_SOCKET"].flatMap { $0.isEmpty ? nil : $0 }
        socketAddress = socket
        if let text = environment["WATCHDOG_USEC"], let usec = UInt64(text), usec > 0, usec <= UInt64(Int64.max),
           environment["WATCHDOG_PID"].map({ Int32($0) == processID }) ?? true {
            watchdogInterval = .microseconds(Int64(usec))
        } else {
            watchdogInterval = nil
        }
    }

    /// Whether notifications go anywhere (the service runs under systemd with `Type=notify`).
    public var isEnabled: Bool { socketAddress != nil }

    /// How often to call ``watchdog()``: half the watchdog timeout, as sd_watchdog_enabled(3) advises; nil when
    /// there is no watchdog.
    public var watchdogPingInterval: Duration? { watchdogInterval.map { $0 / 2 } }

    /// `READY=1`: start-up is complete (the configuration and model are loaded and the sockets bound), or a
    /// reload is complete.
    public func ready(status: String? = nil) throws(SystemdNotifierError) {
        try send(["READY=1"] + Self.statusLine(status))
    }

    /// `STATUS=...`: one line describing the state, shown by `systemctl status`.
    public func status(_ text: String) throws(SystemdNotifierError) {
        try send(Self.statusLine(text))
    }

    /// `WATCHDOG=1`: the service is alive; send every ``watchdogPingInterval``.
    public func watchdog() throws(SystemdNotifierError) {
        try send(["WATCHDOG=1"])
    }

    /// `STOPPING=1`: a graceful stop has begun.
    public func stopping(status: String? = nil) throws(SystemdNotifierError) {
        try send(["STOPPING=1"] + Self.statusLine(status))
    }

    /// `RELOADING=1` with `MONOTONIC_USEC=` (the `CLOCK_MONOTONIC` time, which systemd 253's `Type=notify-reload`
    /// uses to match the reload to its request): a reload has begun; finish it with ``ready(status:)``.
    public func reloading(status: String? = nil) throws(SystemdNotifierError) {
        try send(["RELOADING=1", "MONOTONIC_USEC=\(Self.monotonicMicroseconds())"] + Self.statusLine(status))
    }

    /// `EXTEND_TIMEOUT_USEC=...`: start-up, reload or stop needs `duration` more before systemd gives up (a
    /// large model loading, pipelines draining).
    public func extendTimeout(by duration: Duration) throws(SystemdNotifierError) {
        let (seconds, attoseconds) = duration.components
        let usec = max(0, seconds) * 1_000_000 + max(0, attoseconds) / 1_000_000_000_000
        try send(["EXTEND_TIMEOUT_USEC=\(usec)"])
    }

    /// Sends `assignments` (`KEY=value`, no newlines) as one datagram; nothing when ``isEnabled`` is false.
    public func send(_ assignments: [String]) throws(SystemdNotifierError) {
        guard let socketAddress, !assignments.isEmpty else { return }
        if let bad = assignments.first(where: { $0.contains("\n") || !$0.contains("=") }) {
            throw SystemdNotifierError("\"\(bad)\" is not a single KEY=value line")
        }
        try Self.sendDatagram(assignments.joined(separator: "\n"), to: socketAddress)
    }

    /// `STATUS=text` with line breaks turned into spaces; nothing for nil.
    static func statusLine(_ text: String?) -> [String] {
        guard let text else { return [] }
        return ["STATUS=" + text.split(whereSeparator: \.isNewline).joined(separator: " ")]
    }

    /// The `CLOCK_MONOTONIC` time in microseconds.
    static func monotonicMicroseconds() -> UInt64 {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return UInt64(now.tv_sec) * 1_000_000 + UInt64(now.tv_nsec) / 1_000
    }

    /// Sends `message` as one datagram to the `AF_UNIX` address `address` (`@` for the abstract namespace).
    static func sendDatagram(_ message: String, to address: String) throws(SystemdNotifierError) {
        guard address.hasPrefix("/") || address.hasPrefix("@") else {
            throw SystemdNotifierError("NOTIFY_SOCKET=\(address) is neither a path nor an abstract (@) address")
        }
        var socketAddress = sockaddr_un()
        socketAddress.sun_family = sa_family_t(AF_UNIX)
        var path = Array(address.utf8)
        let abstract = path.first == UInt8(ascii: "@")
        if abstract { path[0] = 0 }
        let capacity = MemoryLayout.size(ofValue: socketAddress.sun_path)
        guard path.count < capacity || (abstract && path.count == capacity) else {
            throw SystemdNotifierError("NOTIFY_SOCKET=\(address) is longer than a socket address holds")
        }
        withUnsafeMutableBytes(of: &socketAddress.sun_path) { $0.copyBytes(from: path) }
        let pathOffset = MemoryLayout<sockaddr_un>.offset(of: \sockaddr_un.sun_path)!
        // A path counts its terminating NUL; an abstract name is exactly its bytes.
        let length = socklen_t(pathOffset + path.count + (abstract ? 0 : 1))

        #if os(Linux)
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        let flags = Int32(MSG_NOSIGNAL)
        #else
        let fd = socket(AF_UNIX, SOCK_DGRAM, 0)
        let flags: Int32 = 0
        #endif
        guard fd >= 0 else { throw SystemdNotifierError("cannot create a datagram socket: \(errnoText())") }
        defer { _ = close(fd) }
        let bytes = Array(message.utf8)
        while true {
            let sent = bytes.withUnsafeBytes { buffer in
                withUnsafePointer(to: &socketAddress) { pointer in
                    pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                        sendto(fd, buffer.baseAddress, buffer.count, flags, $0, length)
                    }
                }
            }
            if sent >= 0 { return }
            if errno == EINTR { continue }
            throw SystemdNotifierError("cannot notify \(address): \(errnoText())")
        }
    }

    static func errnoText() -> String { String(cString: strerror(errno)) }
}

/// A notification that could not be sent.
public struct SystemdNotifierError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What went wrong.
    public var message: String

    /// An error saying `message`.
    public init(_ message: String) { self.message = message }

    public var description: String { "sd_notify: \(message)" }
}
