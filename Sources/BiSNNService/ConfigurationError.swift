/// Why a service configuration was rejected: the setting, where its value came from, and what is wrong.
///
/// A struct with an opaque ``Code`` so new kinds can be added without breaking callers. ``description`` reads
/// `config/bisnnd.yaml: decisions.window_ms: must be a positive integer (got -5)`; a value from an environment
/// variable names the variable as the source (`environment BISNND_DECISIONS_WINDOW_MS: decisions.window_ms: ...`).
///
/// Every configuration error ends the daemon with ``exitCode`` (78, `EX_CONFIG` of sysexits.h), which the
/// shipped systemd units list in `RestartPreventExitStatus=`: restarting cannot fix a bad configuration.
public struct ConfigurationError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The kind of problem.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        let name: String
        /// A setting has a value of the wrong type or out of range, or settings contradict each other.
        public static let invalidValue = Code(name: "invalid value")
        /// The file or the environment names a setting that does not exist (an operator's typo).
        public static let unknownKey = Code(name: "unknown key")
        /// The configuration file cannot be read.
        public static let unreadableFile = Code(name: "unreadable file")
        /// The configuration file is not YAML, or not a mapping of sections to settings.
        public static let malformedFile = Code(name: "malformed file")
        /// The model file cannot be loaded, or it does not fit the settings (predictor, sensor geometry).
        public static let invalidModel = Code(name: "invalid model")
        /// A file a setting names (a CURVE key, the allow-list) cannot be read, is not a regular file, is malformed,
        /// or others than the service may read (a secret) or change it (``ConfiguredFileError``).
        public static let invalidFile = Code(name: "invalid file")
        public var description: String { name }
    }

    /// The exit status of a daemon that stops on a configuration error: `EX_CONFIG` (78).
    public static let exitCode: Int32 = 78

    /// The kind of problem.
    public var code: Code
    /// The setting, as spelled in the YAML file (`decisions.window_ms`); nil when the problem is the whole file.
    public var key: String?
    /// What is wrong, with the offending value.
    public var message: String
    /// Where the value came from: the configuration file's path or `environment BISNND_...`; nil when unknown.
    public var source: String?

    /// An error of kind `code` about `key`.
    public init(_ code: Code, key: String?, _ message: String, source: String? = nil) {
        self.code = code
        self.key = key
        self.message = message
        self.source = source
    }

    public var description: String {
        [source, key, message].compactMap { $0 }.joined(separator: ": ")
    }
}
