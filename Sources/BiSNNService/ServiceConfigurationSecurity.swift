extension ServiceConfiguration {
    /// `security.*`.
    public struct Security: Sendable, Hashable {
        /// `security.curve.*`.
        public var curve = Curve()

        /// `security.curve.*`: ZeroMQ CURVE on every socket bisnnd binds (`input.pull_bind`, `output.pub_bind`).
        ///
        /// With ``enabled``, each bound socket is a CURVE server with the secret key of ``secretKeyFile`` (its
        /// public key is derived from it), and a ZAP handler lets in only clients whose public key is listed in
        /// ``allowedClientsFile``: sensors that push events and subscribers alike. Traffic is encrypted, and a
        /// client without CURVE or with an unknown key is refused and counted (`refused_connections`). The
        /// files are read (and checked, ``ServiceCurveKeys``) at start, by `--check-config` and on every reload;
        /// a reload applies a changed allow-list at once.
        public struct Curve: Sendable, Hashable {
            /// `security.curve.enabled`.
            public var enabled = false
            /// `security.curve.secret_key_file`: the server's secret key, 40 Z85 characters on one line; an
            /// absolute path (empty while CURVE is off).
            public var secretKeyFile = ""
            /// `security.curve.allowed_clients_file`: the clients' public keys, one Z85 key a line, `#`
            /// comments and blank lines ignored; an absolute path (empty while CURVE is off).
            public var allowedClientsFile = ""
        }
    }

    /// A key file's path: empty (not set) or absolute, so that what is read does not depend on the working
    /// directory.
    static func checkKeyFilePath(_ path: String) throws(ConfigurationError) {
        guard !path.contains("\0") else {
            throw ConfigurationError(.invalidValue, key: nil, "must be a file path (got a NUL character)")
        }
        guard path.isEmpty || path.hasPrefix("/") else {
            throw ConfigurationError(
                .invalidValue, key: nil,
                "must be an absolute path (got \"\(path)\"), e.g. /etc/bisnnd/curve/server.key or, with systemd's "
                    + "LoadCredential=, /run/credentials/bisnnd.service/server.key")
        }
    }

    /// What `security.curve.*` requires of the rest: both files named, and no `input.sub_connect` (bisnnd would be
    /// the CURVE *client* of such a sensor, which it does not support).
    func checkSecurity() throws(ConfigurationError) {
        let curve = security.curve
        guard curve.enabled else { return }
        if curve.secretKeyFile.isEmpty {
            throw ConfigurationError(
                .invalidValue, key: "security.curve.secret_key_file",
                "must name the server's secret key file while security.curve.enabled is true "
                    + "(make one with `bisnn keygen --out /etc/bisnnd/curve/server`)")
        }
        if curve.allowedClientsFile.isEmpty {
            throw ConfigurationError(
                .invalidValue, key: "security.curve.allowed_clients_file",
                "must name the file of allowed client public keys while security.curve.enabled is true")
        }
        if !input.subConnect.isEmpty {
            throw ConfigurationError(
                .invalidValue, key: "input.sub_connect",
                "cannot be used with security.curve.enabled: bisnnd would connect to those sensors as a CURVE "
                    + "client, which it does not support; let the sensors connect PUSH sockets to input.pull_bind")
        }
    }
}
