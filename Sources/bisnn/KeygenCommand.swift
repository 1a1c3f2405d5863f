import ArgumentParser
import BiSNNService
import ZeroMQ

/// `bisnn keygen --out PREFIX`: a new CURVE key pair for bisnnd (`security.curve.secret_key_file`) or for a
/// client (`--curve-key`, and its public key in the service's `security.curve.allowed_clients_file`).
struct KeygenCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keygen",
        abstract: "Make a CURVE key pair: PREFIX.key (secret, mode 0600) and PREFIX.pub (public).",
        discussion: """
            Each file holds one key as 40 Z85 characters on a line. Neither file may exist: keys are never \
            overwritten. For the service: security.curve.secret_key_file names PREFIX.key, and clients get \
            PREFIX.pub (--curve-server-key). For a client: --curve-key names PREFIX.key, and PREFIX.pub's line \
            goes into the service's security.curve.allowed_clients_file.
            """)

    @Option(help: "Path prefix of the two files (PREFIX.key and PREFIX.pub).")
    var out: String

    func validate() throws {
        guard !out.isEmpty, !out.hasSuffix("/") else { throw ValidationError("--out must be a path prefix, as keys/cam0") }
    }

    func run() throws {
        guard ZMQCurve.isAvailable else { throw ValidationError("this libzmq was built without CURVE") }
        let pair = try ZMQCurve.keyPair()
        let paths = try CurveKeyFile.writeKeyPair(secretKey: pair.secretKey, publicKey: pair.publicKey, prefix: out)
        print("secret key: \(paths.secretPath) (mode 0600; keep it private)")
        print("public key: \(paths.publicPath): \(ZMQCurve.z85Encode(pair.publicKey) ?? "?")")
    }
}
