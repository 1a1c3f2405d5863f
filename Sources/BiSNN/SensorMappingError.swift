/// Why a sensor cannot be mapped onto a network's input: the parameter that is wrong and why, in words.
///
/// A struct with an opaque ``Field`` so new parameters can be added without breaking callers. Callers that
/// take the parameters from elsewhere (a configuration file, a command line) translate ``field`` into their
/// own names; ``reason`` reads on its own (`the 20x40 sensor has 20 columns, fewer than the model's 2x34x34
/// input needs (34)`).
public struct SensorMappingError: Error, Sendable, Hashable, CustomStringConvertible {
    /// A parameter of the mapping, as spelled in ``SensorMapping`` or (``channels``, ``binWidth``, ``input``)
    /// taken from the ``NetworkDescription``.
    public struct Field: Sendable, Hashable, CustomStringConvertible {
        let name: String
        private init(_ name: String) { self.name = name }
        public var description: String { name }

        /// ``SensorMapping/sensor``'s width.
        public static let sensorWidth = Field("sensorWidth")
        /// ``SensorMapping/sensor``'s height.
        public static let sensorHeight = Field("sensorHeight")
        /// ``SensorMapping/cropX``.
        public static let cropX = Field("cropX")
        /// ``SensorMapping/cropY``.
        public static let cropY = Field("cropY")
        /// ``SensorMapping/cropWidth``.
        public static let cropWidth = Field("cropWidth")
        /// ``SensorMapping/cropHeight``.
        public static let cropHeight = Field("cropHeight")
        /// ``SensorMapping/downsample``.
        public static let downsample = Field("downsample")
        /// The network's input channels (only 1, merged polarity, and 2, split, are supported).
        public static let channels = Field("channels")
        /// The network's bin width.
        public static let binWidth = Field("binWidth")
        /// The network's input width or height (less than 1).
        public static let input = Field("input")
    }

    /// The parameter that is wrong.
    public var field: Field
    /// Why, in words, with the values concerned.
    public var reason: String

    /// An error about `field`.
    public init(_ field: Field, _ reason: String) {
        self.field = field
        self.reason = reason
    }

    /// `field: reason`.
    public var description: String { "\(field): \(reason)" }
}
