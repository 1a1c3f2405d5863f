import ZeroMQ

/// The keys `security.curve.*` names, read and checked: the server's key pair (the public key derived from the
/// secret) and the allowed clients' public keys.
///
/// ``load(_:environment:source:)`` reads them at start, for `--check-config` and on every reload (a bad file
/// refuses the reload, and the running keys stay). ``description`` never shows the secret key.
public struct ServiceCurveKeys: Sendable, CustomStringConvertible {
    /// The server's public key (raw 32 bytes), which clients need (`--curve-server-key`).
    public let serverPublicKey: [UInt8]
    /// The server's secret key (raw 32 bytes).
    let serverSecretKey: [UInt8]
    /// The public keys of the clients let in, in file order.
    public let allowedClients: [[UInt8]]
    /// The allow-list's path.
    public let allowedClientsFile: String

    /// The server's public key in Z85.
    public var serverPublicKeyText: String { ZMQCurve.z85Encode(serverPublicKey) ?? "?" }

    /// `server key <Z85>, N allowed clients (<file>)`.
    public var description: String {
        "server key \(serverPublicKeyText), \(allowedClients.count) allowed client"
            + "\(allowedClients.count == 1 ? "" : "s") (\(allowedClientsFile))"
    }

    /// Reads the keys `curve` names, or nil when CURVE is off. Errors name the setting
    /// (``ConfigurationError/Code/invalidFile``), with `source(key)` as their source.
    static func load(
        _ curve: ServiceConfiguration.Security.Curve, environment: [String: String], source: (String) -> String?
    ) throws(ConfigurationError) -> ServiceCurveKeys? {
        guard curve.enabled else { return nil }
        func fail(_ key: String, _ error: ConfiguredFileError) -> ConfigurationError {
            ConfigurationError(.invalidFile, key: key, "\(error)", source: source(key))
        }
        let secretKey: [UInt8]
        do {
            secretKey = try CurveKeyFile.secretKey(at: curve.secretKeyFile, environment: environment)
        } catch {
            throw fail("security.curve.secret_key_file", error)
        }
        let publicKey: [UInt8]
        do {
            publicKey = try ZMQCurve.publicKey(fromSecret: secretKey)
        } catch {
            throw ConfigurationError(
                .invalidFile, key: "security.curve.secret_key_file",
                "cannot derive the public key (is libzmq built with CURVE?): \(error)",
                source: source("security.curve.secret_key_file"))
        }
        let clients: [[UInt8]]
        do {
            clients = try CurveKeyFile.keyList(at: curve.allowedClientsFile, environment: environment)
        } catch {
            throw fail("security.curve.allowed_clients_file", error)
        }
        return ServiceCurveKeys(
            serverPublicKey: publicKey, serverSecretKey: secretKey, allowedClients: clients,
            allowedClientsFile: curve.allowedClientsFile)
    }
}
