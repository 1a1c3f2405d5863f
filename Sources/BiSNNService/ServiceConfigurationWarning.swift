/// Something in a valid configuration that the daemon logs at start because it is an explicit choice with
/// consequences, such as binding an address other machines can reach.
public struct ConfigurationWarning: Sendable, Hashable, CustomStringConvertible {
    /// The setting concerned, as in the YAML file.
    public var key: String
    /// What the choice means.
    public var message: String

    /// A warning about `key`.
    public init(key: String, _ message: String) {
        self.key = key
        self.message = message
    }

    public var description: String { "\(key): \(message)" }
}
