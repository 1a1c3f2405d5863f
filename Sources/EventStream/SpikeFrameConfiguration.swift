/// How events are binned into spike frames: bin width, sensor geometry, crop, spatial downsampling, polarity
/// channels, frame kind, the optional refractory and background-activity filters, and the bounds that keep a
/// misbehaving time line from corrupting state.
///
/// An event at sensor pixel (x, y) with polarity p lands on input
/// `index = (channel * outputHeight + oy) * outputWidth + ox`, where `ox = (x - crop.x) / downsample`,
/// `oy = (y - crop.y) / downsample` and `channel` is p (OFF = 0, ON = 1) with ``PolarityChannels/split`` or 0
/// with ``PolarityChannels/merged``. Times are microseconds. Call ``validate()`` (the binner's initialiser
/// does) before use.
public struct SpikeFrameConfiguration: Sendable, Hashable {
    /// Whether ON and OFF events go to separate input channels.
    public enum PolarityChannels: Sendable, Hashable {
        /// Two channels: OFF events in channel 0, ON events in channel 1.
        case split
        /// One channel for both polarities.
        case merged
    }

    /// What a frame holds per input.
    public enum FrameKind: Sendable, Hashable {
        /// 1 if at least one event fell on the input during the bin, else 0.
        case binary
        /// The number of events on the input during the bin, saturating at 255 (stored as `UInt16`).
        case countUInt8
        /// The number of events on the input during the bin, saturating at 65535.
        case countUInt16
    }

    /// Width of one time bin (one frame), in microseconds; > 0.
    public var binWidth: Int64
    /// The sensor's pixel array; events with coordinates off it are counted as outside the crop and ignored.
    public var sensor: SensorGeometry
    /// The part of the sensor that is binned, in sensor pixels; nil means the whole sensor.
    public var crop: PixelRectangle?
    /// Spatial downsampling factor (≥ 1): `downsample` x `downsample` sensor pixels make one input pixel.
    public var downsample: Int
    /// Split (two channels) or merged (one channel) polarity.
    public var polarity: PolarityChannels
    /// Binary or count frames.
    public var kind: FrameKind
    /// Refractory filter, in microseconds (nil: off; else > 0): an event at a sensor pixel less than this
    /// long after the last *kept* event at that same pixel (either polarity) is dropped.
    public var refractoryPeriod: Int64?
    /// Background-activity (noise) filter window, in microseconds (nil: off; else > 0): an event is kept only
    /// if one of its 8 neighbouring sensor pixels had an event less than this long before it. Every event on
    /// the sensor, kept or not and inside the crop or not, updates its pixel's time.
    public var backgroundActivityWindow: Int64?
    /// A timestamp earlier than the current frame's start by more than this many microseconds (≥ 0) is taken
    /// as a new time base: the current frame is emitted and a new segment starts at that event. Events less
    /// late than this are dropped and counted as late.
    public var maxBackwardJump: Int64
    /// The most empty frames (≥ 0) emitted for one gap in the events; a longer gap ends the segment instead,
    /// and a new segment starts at the bin holding the next event. The default, 100, is ten membrane time
    /// constants of the reference network (BISNN.md): after that many empty steps its state has decayed to
    /// nothing, so ending the segment loses nothing, and one event can never make more than 100 frames (each
    /// empty frame costs a header, its bits are shared).
    public var maxGapFrames: Int

    /// A configuration; the defaults bin the whole sensor into 1 ms binary frames with split polarity and no
    /// filters.
    public init(
        sensor: SensorGeometry,
        binWidth: Int64 = 1_000,
        crop: PixelRectangle? = nil,
        downsample: Int = 1,
        polarity: PolarityChannels = .split,
        kind: FrameKind = .binary,
        refractoryPeriod: Int64? = nil,
        backgroundActivityWindow: Int64? = nil,
        maxBackwardJump: Int64 = 100_000,
        maxGapFrames: Int = 100
    ) {
        self.binWidth = binWidth
        self.sensor = sensor
        self.crop = crop
        self.downsample = downsample
        self.polarity = polarity
        self.kind = kind
        self.refractoryPeriod = refractoryPeriod
        self.backgroundActivityWindow = backgroundActivityWindow
        self.maxBackwardJump = maxBackwardJump
        self.maxGapFrames = maxGapFrames
    }

    /// N-MNIST as the network takes it: 34x34 sensor, 2x34x34 binary frames.
    public static func nmnist(binWidth: Int64 = 1_000) -> SpikeFrameConfiguration {
        SpikeFrameConfiguration(sensor: SensorGeometry(width: 34, height: 34), binWidth: binWidth)
    }

    /// The binned region of the sensor: ``crop``, or the whole sensor.
    public var cropRectangle: PixelRectangle {
        crop ?? PixelRectangle(x: 0, y: 0, width: sensor.width, height: sensor.height)
    }

    /// Number of input channels: 2 for split polarity, 1 for merged.
    public var channelCount: Int { polarity == .split ? 2 : 1 }
    /// Width of a frame in input pixels: ceil(crop width / downsample).
    public var outputWidth: Int { Self.ceilDiv(cropRectangle.width, downsample) }
    /// Height of a frame in input pixels: ceil(crop height / downsample).
    public var outputHeight: Int { Self.ceilDiv(cropRectangle.height, downsample) }
    /// Number of inputs of a frame: channels x height x width.
    public var inputCount: Int { channelCount * outputHeight * outputWidth }
    /// Number of 64-bit words of a bit-packed frame: ceil(inputCount / 64).
    public var wordsPerFrame: Int { Self.ceilDiv(inputCount, 64) }
    /// The largest value a count frame holds (0 for binary frames).
    public var countLimit: UInt16 {
        switch kind {
        case .binary: 0
        case .countUInt8: UInt16(UInt8.max)
        case .countUInt16: UInt16.max
        }
    }

    /// The input index of an input pixel: `(channel * outputHeight + y) * outputWidth + x`.
    @inlinable
    public func inputIndex(channel: Int, x: Int, y: Int) -> Int {
        (channel * outputHeight + y) * outputWidth + x
    }

    /// The input an event at sensor pixel (x, y) with `polarity` lands on, or nil when it is off the sensor
    /// or outside the crop.
    public func inputIndex(sensorX x: Int, sensorY y: Int, polarity p: UInt8) -> Int? {
        let r = cropRectangle
        guard x >= r.x, y >= r.y, x < r.x + r.width, y < r.y + r.height,
              x < sensor.width, y < sensor.height else { return nil }
        let channel = polarity == .split && p != 0 ? 1 : 0
        return inputIndex(channel: channel, x: (x - r.x) / downsample, y: (y - r.y) / downsample)
    }

    /// Checks every parameter; the error names the first bad one.
    public func validate() throws(SpikeFrameConfigurationError) {
        func fail(_ parameter: String, _ message: String) -> SpikeFrameConfigurationError {
            SpikeFrameConfigurationError(parameter: parameter, message: message)
        }
        guard binWidth > 0 else { throw fail("binWidth", "must be > 0 µs, got \(binWidth)") }
        guard sensor.width > 0, sensor.height > 0 else {
            throw fail("sensor", "width and height must be > 0, got \(sensor)")
        }
        guard sensor.width <= 1 << 16, sensor.height <= 1 << 16 else {
            throw fail("sensor", "width and height must be at most 65536 (16-bit coordinates), got \(sensor)")
        }
        guard sensor.width * sensor.height <= Self.maxSensorPixels else {
            throw fail("sensor", "\(sensor) has more than \(Self.maxSensorPixels) pixels")
        }
        if let crop {
            guard crop.width > 0, crop.height > 0 else {
                throw fail("crop", "width and height must be > 0, got \(crop)")
            }
            guard crop.x >= 0, crop.y >= 0, crop.x + crop.width <= sensor.width,
                  crop.y + crop.height <= sensor.height else {
                throw fail("crop", "\(crop) does not lie inside the \(sensor) sensor")
            }
        }
        guard downsample >= 1 else { throw fail("downsample", "must be >= 1, got \(downsample)") }
        if let refractoryPeriod, refractoryPeriod <= 0 {
            throw fail("refractoryPeriod", "must be > 0 µs (or nil for no filter), got \(refractoryPeriod)")
        }
        if let backgroundActivityWindow, backgroundActivityWindow <= 0 {
            throw fail(
                "backgroundActivityWindow",
                "must be > 0 µs (or nil for no filter), got \(backgroundActivityWindow)")
        }
        guard maxBackwardJump >= 0 else {
            throw fail("maxBackwardJump", "must be >= 0 µs, got \(maxBackwardJump)")
        }
        guard maxGapFrames >= 0 else { throw fail("maxGapFrames", "must be >= 0, got \(maxGapFrames)") }
        guard inputCount < Int(Int32.max) - 64 else {
            throw fail("crop", "\(inputCount) inputs is too many for 32-bit input indices")
        }
    }

    /// The largest sensor (in pixels) a binner accepts: its per-pixel tables stay below a few hundred MB.
    public static let maxSensorPixels = 1 << 24

    @usableFromInline
    static func ceilDiv(_ a: Int, _ b: Int) -> Int { (a + b - 1) / b }
}

/// A rectangle of sensor pixels: columns `x ..< x + width`, rows `y ..< y + height`.
public struct PixelRectangle: Sendable, Hashable, CustomStringConvertible {
    public var x: Int
    public var y: Int
    public var width: Int
    public var height: Int

    public init(x: Int, y: Int, width: Int, height: Int) {
        self.x = x
        self.y = y
        self.width = width
        self.height = height
    }

    public var description: String { "\(width)x\(height) at (\(x), \(y))" }
}

/// A ``SpikeFrameConfiguration`` parameter that is out of range, named.
public struct SpikeFrameConfigurationError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The name of the bad parameter, as spelled in ``SpikeFrameConfiguration`` (for example `binWidth`).
    public var parameter: String
    /// What is wrong with it.
    public var message: String

    public init(parameter: String, message: String) {
        self.parameter = parameter
        self.message = message
    }

    public var description: String { "invalid spike-frame configuration: \(parameter) \(message)" }
}
