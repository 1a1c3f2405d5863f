import CZeroMQ

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A failed libzmq call: which operation failed, the `errno` it left, and libzmq's text for it.
public struct ZMQError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The `errno` value a libzmq call failed with, opaque so that callers compare against the named members.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        /// The raw `errno` value (libzmq's own codes start at `ZMQ_HAUSNUMERO`).
        public let rawValue: Int32

        /// Wraps a raw `errno` value.
        public init(rawValue: Int32) { self.rawValue = rawValue }

        /// `EAGAIN`: nothing to receive, no room to send, or a timeout elapsed.
        public static let again = Code(rawValue: EAGAIN)
        /// `ETERM`: the context was shut down; close the socket.
        public static let terminated = Code(rawValue: ETERM)
        /// `EINTR`: a signal interrupted a blocking call; retry it.
        public static let interrupted = Code(rawValue: EINTR)
        /// `EINVAL`: a malformed endpoint, option value or key.
        public static let invalidArgument = Code(rawValue: EINVAL)
        /// `EADDRINUSE`: the endpoint is already bound.
        public static let addressInUse = Code(rawValue: EADDRINUSE)
        /// `EPROTONOSUPPORT`: the endpoint's transport is unknown.
        public static let protocolNotSupported = Code(rawValue: EPROTONOSUPPORT)
        /// `ENOTSUP`: the operation is not supported by this socket kind or this build of libzmq.
        public static let notSupported = Code(rawValue: ENOTSUP)
        /// `EFSM`: the operation is not allowed in the socket's current state (e.g. REQ sending twice).
        public static let wrongState = Code(rawValue: EFSM)
        /// `ENOENT`: unbinding or disconnecting an endpoint the socket does not have.
        public static let noSuchEndpoint = Code(rawValue: ENOENT)
        /// `ENOTSOCK`: the socket was already closed.
        public static let notASocket = Code(rawValue: ENOTSOCK)

        /// libzmq's text for the code, as `zmq_strerror` gives it.
        public var description: String { String(cString: zmq_strerror(rawValue)) }
    }

    /// What failed.
    public let code: Code
    /// The operation that failed, including its argument where there is one (e.g. `bind tcp://127.0.0.1:5555`).
    public let operation: String

    /// Creates an error for `operation` failing with `code`.
    public init(_ code: Code, operation: String) {
        self.code = code
        self.operation = operation
    }

    /// `operation: message (errno N)`, e.g. `bind tcp://127.0.0.1:5555: Address already in use (errno 98)`.
    public var description: String { "\(operation): \(code) (errno \(code.rawValue))" }

    /// The error libzmq's thread-local `errno` currently describes.
    static func last(_ operation: @autoclosure () -> String) -> ZMQError {
        ZMQError(Code(rawValue: zmq_errno()), operation: operation())
    }
}

/// Runs a libzmq call that returns -1 on failure and throws the error it leaves in `errno`.
@discardableResult
func check(_ result: Int32, _ operation: @autoclosure () -> String) throws(ZMQError) -> Int32 {
    if result == -1 { throw ZMQError.last(operation()) }
    return result
}
