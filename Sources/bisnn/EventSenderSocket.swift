import BiSNNService
import ZeroMQ

/// The socket `bisnn replay` sends event messages on: a PUSH connected to the service's PULL (the default),
/// or, with `--bind`, a publisher bound for services that connect SUB sockets (`input.sub_connect`).
///
/// - PUSH: `ZMQ_IMMEDIATE` queues messages only to a completed connection, so with no service at the endpoint
///   a send waits, and gives up after the send timeout with an error saying so; a service that stops reading
///   makes sends wait the same way.
/// - PUB (an XPUB, which sees subscriptions): a publisher drops every message no subscriber is connected
///   for, so ``init(endpoint:bind:sensor:sendTimeout:subscriberWait:)`` waits up to `subscriberWait` for a
///   subscription that covers `events/<sensor>`, and warns when none came. A subscriber that falls behind
///   by more than the high-water mark (1000 messages) loses messages too.
///
/// With `curve` keys the PUSH socket is a CURVE client of a service with `security.curve.enabled`: traffic is
/// encrypted, and a key the service does not allow is refused (sends then wait and time out).
///
/// Closing normally waits up to the send timeout for queued messages to leave.
final class EventSenderSocket {
    let endpoint: String
    let bind: Bool
    private let context: ZMQContext
    private let socket: ZMQSocket
    private let sendTimeout: Duration
    private let usesCurve: Bool

    /// Opens the socket. Throws an ``EndpointError`` that names the endpoint.
    init(
        endpoint: String, bind: Bool, sensor: SensorName, sendTimeout: Duration, subscriberWait: Duration,
        curve: CurveClientKeys? = nil
    ) throws(EndpointError) {
        self.endpoint = endpoint
        self.bind = bind
        self.sendTimeout = sendTimeout
        usesCurve = curve != nil
        do {
            context = try ZMQContext()
            socket = try ZMQSocket(bind ? .xpub : .push, context: context)
            try socket.setSendTimeout(sendTimeout)
            try curve?.apply(to: socket)
        } catch {
            throw EndpointError("cannot open a socket: \(error)")
        }
        if bind {
            do {
                try socket.bind(endpoint)
            } catch {
                throw EndpointError("cannot bind \(endpoint): \(error.code)")
            }
            waitForSubscriber(topic: EventPacket.topic(for: sensor), within: subscriberWait)
        } else {
            do {
                try socket.setImmediate(true)
                try socket.connect(endpoint)
            } catch {
                throw EndpointError("cannot connect to \(endpoint): \(error.code)")
            }
        }
    }

    /// Sends one message, waiting up to the send timeout for room.
    func send(_ frames: [[UInt8]]) throws(EndpointError) {
        let sent: Bool
        do {
            sent = try socket.send(frames)
        } catch {
            throw EndpointError("sending to \(endpoint) failed: \(error.code)")
        }
        guard sent else {
            let hint = usesCurve
                ? ", and is this client's public key in its security.curve.allowed_clients_file?"
                : "? With security.curve.enabled, give --curve-server-key and --curve-key"
            throw EndpointError(
                "nothing at \(endpoint) took the messages within \(sendTimeout) "
                    + "(is bisnnd running with input.pull_bind \(endpoint)\(hint))")
        }
    }

    /// Closes the socket: `flushing`, after waiting up to the send timeout for queued messages to leave;
    /// otherwise at once, dropping them (after a failure).
    func close(flushing: Bool) {
        socket.close(linger: flushing ? sendTimeout : .zero)
        context.close()
    }

    /// Waits until a subscription covering `topic` arrives or `limit` has passed; warns on standard error
    /// when none came.
    private func waitForSubscriber(topic: [UInt8], within limit: Duration) {
        let deadline = ContinuousClock.now + limit
        while true {
            let left = deadline - ContinuousClock.now
            guard left > .zero else { break }
            guard (try? socket.setReceiveTimeout(left)) != nil, let message = try? socket.receive() else { break }
            // An XPUB receives [1, prefix...] for a subscription, [0, prefix...] for an unsubscription.
            if let frame = message.first, frame.first == 1, topic.starts(with: frame.dropFirst()) { return }
        }
        LineOutput.standardError(
            "bisnn replay: warning: no subscriber to \(String(decoding: topic, as: UTF8.self)) at \(endpoint) "
                + "within \(limit); a PUB socket drops messages until one subscribes")
    }
}

/// A failure of the endpoint `bisnn replay` or `bisnn listen` talks to.
struct EndpointError: Error, CustomStringConvertible {
    var description: String

    init(_ description: String) {
        self.description = description
    }
}
