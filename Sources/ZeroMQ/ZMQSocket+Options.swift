import CZeroMQ

/// Typed setters for the socket options the service uses. Set options before ``ZMQSocket/bind(_:)`` or
/// ``ZMQSocket/connect(_:)``: most only apply to connections made afterwards.
extension ZMQSocket {
    /// `ZMQ_LINGER`: how long closing the socket (or terminating its context) waits to deliver unsent messages;
    /// nil waits forever. Sockets start at 0.
    public func setLinger(_ linger: Duration?) throws(ZMQError) {
        try setOption(ZMQ_LINGER, linger.map(\.zmqMilliseconds) ?? -1, "ZMQ_LINGER")
    }

    /// `ZMQ_SNDHWM`: how many messages may queue for one peer (0 = unlimited; libzmq's default is 1000).
    public func setSendHighWaterMark(_ messages: Int) throws(ZMQError) {
        try setOption(ZMQ_SNDHWM, Int32(clamping: messages), "ZMQ_SNDHWM")
    }

    /// `ZMQ_RCVHWM`: how many received messages may queue per peer (0 = unlimited; libzmq's default is 1000).
    public func setReceiveHighWaterMark(_ messages: Int) throws(ZMQError) {
        try setOption(ZMQ_RCVHWM, Int32(clamping: messages), "ZMQ_RCVHWM")
    }

    /// `ZMQ_MAXMSGSIZE`: the largest message part (frame), in bytes, accepted from a tcp or ipc peer; nil = unlimited.
    /// The limit applies to each part, not to a multipart message's total. A bigger part makes libzmq drop that peer's
    /// connection, and with it the message and whatever else was in flight on it; no error reaches the receiver (a
    /// monitor reports ``ZMQMonitorEvents/disconnected``) and the peer reconnects by itself. Not enforced on
    /// `inproc://`, which does not encode messages.
    public func setMaxMessageSize(_ bytes: Int64?) throws(ZMQError) {
        try setOption(ZMQ_MAXMSGSIZE, int64: bytes ?? -1, "ZMQ_MAXMSGSIZE")
    }

    /// `ZMQ_RCVTIMEO`: how long a blocking receive waits before returning nil; nil waits forever.
    public func setReceiveTimeout(_ timeout: Duration?) throws(ZMQError) {
        try setOption(ZMQ_RCVTIMEO, timeout.map(\.zmqMilliseconds) ?? -1, "ZMQ_RCVTIMEO")
    }

    /// `ZMQ_SNDTIMEO`: how long a blocking send waits before returning false; nil waits forever.
    public func setSendTimeout(_ timeout: Duration?) throws(ZMQError) {
        try setOption(ZMQ_SNDTIMEO, timeout.map(\.zmqMilliseconds) ?? -1, "ZMQ_SNDTIMEO")
    }

    /// `ZMQ_SUBSCRIBE` (SUB): receive messages whose first part starts with `prefix`; an empty prefix receives all.
    public func subscribe(_ prefix: [UInt8] = []) throws(ZMQError) {
        try setOption(ZMQ_SUBSCRIBE, bytes: prefix, "ZMQ_SUBSCRIBE")
    }

    /// `ZMQ_UNSUBSCRIBE` (SUB): removes one earlier ``subscribe(_:)`` of the same prefix.
    public func unsubscribe(_ prefix: [UInt8] = []) throws(ZMQError) {
        try setOption(ZMQ_UNSUBSCRIBE, bytes: prefix, "ZMQ_UNSUBSCRIBE")
    }

    /// `ZMQ_IMMEDIATE`: queue messages only to completed connections, not to peers still being connected.
    public func setImmediate(_ immediate: Bool) throws(ZMQError) {
        try setOption(ZMQ_IMMEDIATE, immediate ? 1 : 0, "ZMQ_IMMEDIATE")
    }

    /// `ZMQ_IPV6`: allow IPv6 on tcp endpoints (and `tcp://*:port` then listens on both families).
    public func setIPv6(_ enabled: Bool) throws(ZMQError) {
        try setOption(ZMQ_IPV6, enabled ? 1 : 0, "ZMQ_IPV6")
    }

    // MARK: CURVE (see ZMQCurve for keys)

    /// `ZMQ_CURVE_SERVER`: this socket is the CURVE server side (set ``setCurveSecretKey(_:)`` too).
    public func setCurveServer(_ isServer: Bool) throws(ZMQError) {
        try setOption(ZMQ_CURVE_SERVER, isServer ? 1 : 0, "ZMQ_CURVE_SERVER")
    }

    /// `ZMQ_CURVE_SECRETKEY`: this socket's 32-byte secret key (server and client).
    public func setCurveSecretKey(_ key: [UInt8]) throws(ZMQError) {
        try setCurveKey(ZMQ_CURVE_SECRETKEY, key, "ZMQ_CURVE_SECRETKEY")
    }

    /// `ZMQ_CURVE_PUBLICKEY`: this socket's 32-byte public key (client).
    public func setCurvePublicKey(_ key: [UInt8]) throws(ZMQError) {
        try setCurveKey(ZMQ_CURVE_PUBLICKEY, key, "ZMQ_CURVE_PUBLICKEY")
    }

    /// `ZMQ_CURVE_SERVERKEY`: the 32-byte public key of the server this client connects to; makes the socket a client.
    public func setCurveServerKey(_ key: [UInt8]) throws(ZMQError) {
        try setCurveKey(ZMQ_CURVE_SERVERKEY, key, "ZMQ_CURVE_SERVERKEY")
    }

    /// `ZMQ_ZAP_DOMAIN`: the domain passed to the ZAP handler that authenticates this socket's peers.
    public func setZAPDomain(_ domain: String) throws(ZMQError) {
        try setOption(ZMQ_ZAP_DOMAIN, bytes: Array(domain.utf8), "ZMQ_ZAP_DOMAIN")
    }

    // MARK: Plumbing

    private func setCurveKey(_ option: Int32, _ key: [UInt8], _ name: String) throws(ZMQError) {
        guard key.count == ZMQCurve.keyLength else {
            throw ZMQError(.invalidArgument, operation: "set \(name): a key is 32 bytes, not \(key.count)")
        }
        try setOption(option, bytes: key, name)
    }

    /// Sets an `int` option (libzmq checks the size: an `Int` would be refused).
    private func setOption(_ option: Int32, _ value: Int32, _ name: String) throws(ZMQError) {
        var value = value
        let handle = try openHandle("set \(name)")
        try check(zmq_setsockopt(handle, option, &value, MemoryLayout<Int32>.size), "set \(name) \(value)")
    }

    /// Sets an `int64_t` option.
    private func setOption(_ option: Int32, int64 value: Int64, _ name: String) throws(ZMQError) {
        var value = value
        let handle = try openHandle("set \(name)")
        try check(zmq_setsockopt(handle, option, &value, MemoryLayout<Int64>.size), "set \(name) \(value)")
    }

    private func setOption(_ option: Int32, bytes: [UInt8], _ name: String) throws(ZMQError) {
        let handle = try openHandle("set \(name)")
        let result = bytes.withUnsafeBytes { zmq_setsockopt(handle, option, $0.baseAddress, $0.count) }
        try check(result, "set \(name) (\(bytes.count) bytes)")
    }
}

extension Duration {
    /// Whole milliseconds, as libzmq's `int` time options take them, clamped to 0...Int32.max.
    var zmqMilliseconds: Int32 {
        let (seconds, attoseconds) = components
        guard seconds >= 0 else { return 0 }
        guard seconds < Int64(Int32.max) / 1000 else { return .max }
        return Int32(seconds * 1000 + attoseconds / 1_000_000_000_000_000)
    }
}
