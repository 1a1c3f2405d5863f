import ArgumentParser
import BiSNNService
import Foundation
import ZeroMQ

/// `--curve-server-key FILE --curve-key FILE`: talk to a bisnnd whose sockets are CURVE servers
/// (`security.curve.enabled`) as an authenticated, encrypted client. Shared by `bisnn replay` and `bisnn listen`.
///
/// The server key file holds the service's public key (its `PREFIX.pub` from `bisnn keygen`); the client key file
/// this client's secret key (mode 0600, like `PREFIX.key`), whose public key must be in the service's
/// `security.curve.allowed_clients_file`. The client's public key is derived from its secret.
struct CurveClientOptions: ParsableArguments {
    @Option(name: .customLong("curve-server-key"), help: "The service's CURVE public key file (its .pub from bisnn keygen): connect with CURVE encryption and authentication.")
    var serverKeyFile: String?

    @Option(name: .customLong("curve-key"), help: "This client's CURVE secret key file (a .key from bisnn keygen, mode 0600); its public key must be in the service's allowed_clients_file.")
    var clientKeyFile: String?

    func validate() throws {
        if (serverKeyFile == nil) != (clientKeyFile == nil) {
            throw ValidationError("give both --curve-server-key and --curve-key, or neither")
        }
    }

    /// The keys to connect with, read and checked; nil without CURVE.
    func keys() throws -> CurveClientKeys? {
        guard let serverKeyFile, let clientKeyFile else { return nil }
        let environment = ProcessInfo.processInfo.environment
        let serverKey = try CurveKeyFile.publicKey(at: serverKeyFile, environment: environment)
        let secretKey = try CurveKeyFile.secretKey(at: clientKeyFile, environment: environment)
        let publicKey = try ZMQCurve.publicKey(fromSecret: secretKey)
        return CurveClientKeys(serverKey: serverKey, publicKey: publicKey, secretKey: secretKey)
    }
}

/// A CURVE client's keys: the server's public key and the client's own pair.
struct CurveClientKeys {
    var serverKey: [UInt8]
    var publicKey: [UInt8]
    var secretKey: [UInt8]

    /// Makes `socket` a CURVE client of the server; before it connects.
    func apply(to socket: ZMQSocket) throws(ZMQError) {
        try socket.setCurveServerKey(serverKey)
        try socket.setCurvePublicKey(publicKey)
        try socket.setCurveSecretKey(secretKey)
    }
}
