/// Renders event recordings as pictures: the events of a time window accumulated per pixel, ON in one
/// colour and OFF in another on a dark background, optionally cut into equal time slices laid out side
/// by side (one per N-MNIST saccade, for instance), each sensor pixel drawn as a `scale` x `scale`
/// block.
public struct EventImageRenderer: Sendable {
    /// An 8-bit RGB colour.
    public struct Color: Sendable, Hashable {
        public var r: UInt8, g: UInt8, b: UInt8
        public init(_ r: UInt8, _ g: UInt8, _ b: UInt8) {
            self.r = r
            self.g = g
            self.b = b
        }
    }

    /// An RGB picture: `width * height * 3` bytes, row-major.
    public struct Picture: Sendable, Hashable {
        public var width: Int
        public var height: Int
        public var pixels: [UInt8]

        /// The colour at column `x`, row `y`.
        public subscript(x: Int, y: Int) -> Color {
            let i = (y * width + x) * 3
            return Color(pixels[i], pixels[i + 1], pixels[i + 2])
        }

        /// The picture as a PNG file.
        public func png() -> [UInt8] { PNGCodec.encodeRGB(width: width, height: height, pixels: pixels) }
    }

    /// The sensor; events outside it are ignored.
    public var geometry: SensorGeometry
    /// Output pixels per sensor pixel, in each direction.
    public var scale: Int
    /// Number of equal time slices of the window, drawn left to right.
    public var slices: Int
    /// Start (inclusive) and end (exclusive) of the window in microseconds; nil means from the first to
    /// just after the last event.
    public var window: Range<Int64>?
    /// Number of events at a pixel that gives the full colour; fewer give a proportionally dimmer one.
    public var saturation: Int
    public var onColor = Color(255, 196, 48)
    public var offColor = Color(48, 150, 255)
    public var background = Color(14, 14, 20)
    /// Colour of the gap (one sensor pixel wide) between slices.
    public var separator = Color(70, 70, 80)

    public init(geometry: SensorGeometry, scale: Int = 8, slices: Int = 1, window: Range<Int64>? = nil,
                saturation: Int = 3) {
        self.geometry = geometry
        self.scale = scale
        self.slices = slices
        self.window = window
        self.saturation = saturation
    }

    /// The window used for `events`: ``window`` or, when nil, the span of the events.
    public func resolvedWindow(for events: EventBuffer) -> Range<Int64> {
        if let window { return window }
        guard !events.isEmpty else { return 0..<1 }
        let (lo, hi) = events.withColumns { t, _, _, _ in (t.min()!, t.max()!) }
        return lo..<(hi + 1)
    }

    /// Accumulates `events` into a picture.
    public func render(_ events: EventBuffer) -> Picture {
        precondition(scale >= 1 && slices >= 1 && saturation >= 1, "scale, slices and saturation must be positive")
        precondition(geometry.width > 0 && geometry.height > 0, "empty geometry")
        let w = geometry.width, h = geometry.height
        let span = resolvedWindow(for: events)
        let length = max(1, span.upperBound - span.lowerBound)
        var on = [Int](repeating: 0, count: w * h * slices)
        var off = [Int](repeating: 0, count: w * h * slices)
        events.withColumns { t, x, y, p in
            for i in 0..<t.count where span.contains(t[i]) && Int(x[i]) < w && Int(y[i]) < h {
                let slice = min(slices - 1, Int((t[i] - span.lowerBound) * Int64(slices) / length))
                let index = (slice * h + Int(y[i])) * w + Int(x[i])
                if p[i] != 0 { on[index] += 1 } else { off[index] += 1 }
            }
        }
        let gap = slices > 1 ? scale : 0
        let width = slices * w * scale + (slices - 1) * gap
        let height = h * scale
        var pixels = [UInt8](repeating: 0, count: width * height * 3)
        for py in 0..<height {
            for px in 0..<width {
                let cell = w * scale + gap
                let slice = px / cell
                let inner = px % cell
                let color: Color
                if inner >= w * scale {
                    color = separator
                } else {
                    let index = (slice * h + py / scale) * w + inner / scale
                    color = blend(on: on[index], off: off[index])
                }
                let o = (py * width + px) * 3
                pixels[o] = color.r
                pixels[o + 1] = color.g
                pixels[o + 2] = color.b
            }
        }
        return Picture(width: width, height: height, pixels: pixels)
    }

    /// Accumulates `events` and encodes the picture as PNG.
    public func renderPNG(_ events: EventBuffer) -> [UInt8] {
        render(events).png()
    }

    /// Background plus each polarity's colour weighted by its count (saturating), clamped.
    private func blend(on: Int, off: Int) -> Color {
        guard on > 0 || off > 0 else { return background }
        let wOn = Double(min(on, saturation)) / Double(saturation)
        let wOff = Double(min(off, saturation)) / Double(saturation)
        let keep = max(0, 1 - wOn - wOff)
        func channel(_ bg: UInt8, _ a: UInt8, _ b: UInt8) -> UInt8 {
            UInt8(min(255, (Double(bg) * keep + Double(a) * wOn + Double(b) * wOff).rounded()))
        }
        return Color(channel(background.r, onColor.r, offColor.r),
                     channel(background.g, onColor.g, offColor.g),
                     channel(background.b, onColor.b, offColor.b))
    }
}
