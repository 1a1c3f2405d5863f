import CZeroMQ

/// The pattern a socket takes part in (`ZMQ_PUB`, `ZMQ_SUB`, ...).
public struct ZMQSocketKind: Sendable, Hashable, CustomStringConvertible {
    /// The libzmq constant.
    public let rawValue: Int32

    /// Wraps a libzmq socket-type constant.
    public init(rawValue: Int32) { self.rawValue = rawValue }

    /// Publishes to every matching subscriber; drops a subscriber's messages past its high-water mark, never blocks.
    public static let pub = ZMQSocketKind(rawValue: ZMQ_PUB)
    /// Receives what publishers send for the prefixes it subscribed to (see ``ZMQSocket/subscribe(_:)``).
    public static let sub = ZMQSocketKind(rawValue: ZMQ_SUB)
    /// A publisher that also receives its subscribers' (un)subscriptions as messages `[0x01 | 0x00, prefix...]`.
    public static let xpub = ZMQSocketKind(rawValue: ZMQ_XPUB)
    /// A subscriber that sends its subscriptions as messages.
    public static let xsub = ZMQSocketKind(rawValue: ZMQ_XSUB)
    /// Sends round-robin to connected pullers; blocks (or fails with `EAGAIN`) at the high-water mark, lossless.
    public static let push = ZMQSocketKind(rawValue: ZMQ_PUSH)
    /// Receives fair-queued from all pushers.
    public static let pull = ZMQSocketKind(rawValue: ZMQ_PULL)
    /// One exclusive peer, both directions.
    public static let pair = ZMQSocketKind(rawValue: ZMQ_PAIR)
    /// Request side of request/reply.
    public static let req = ZMQSocketKind(rawValue: ZMQ_REQ)
    /// Reply side of request/reply.
    public static let rep = ZMQSocketKind(rawValue: ZMQ_REP)

    /// The libzmq name, e.g. `PUB`.
    public var description: String {
        switch self {
        case .pub: "PUB"
        case .sub: "SUB"
        case .xpub: "XPUB"
        case .xsub: "XSUB"
        case .push: "PUSH"
        case .pull: "PULL"
        case .pair: "PAIR"
        case .req: "REQ"
        case .rep: "REP"
        default: "socket type \(rawValue)"
        }
    }
}
