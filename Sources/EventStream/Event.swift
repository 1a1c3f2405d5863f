/// One change-detection event from an event camera.
///
/// Timestamps are microseconds on the recording's own clock (64-bit, so a sensor's
/// wrapping counters can be unrolled without loss). Polarity is 1 for ON (brighter), 0 for OFF.
public struct Event: Sendable, Hashable {
    public var t: Int64
    public var x: UInt16
    public var y: UInt16
    public var polarity: UInt8

    @inlinable
    public init(t: Int64, x: UInt16, y: UInt16, polarity: UInt8) {
        self.t = t
        self.x = x
        self.y = y
        self.polarity = polarity
    }
}

/// Width and height of a sensor's pixel array.
public struct SensorGeometry: Sendable, Hashable, CustomStringConvertible {
    public var width: Int
    public var height: Int

    public init(width: Int, height: Int) {
        self.width = width
        self.height = height
    }

    /// Whether a pixel coordinate lies on the sensor.
    @inlinable
    public func contains(x: UInt16, y: UInt16) -> Bool {
        Int(x) < width && Int(y) < height
    }

    public var description: String { "\(width)x\(height)" }
}
