/// Settings of ``EventSimulator``: sensor, how the image is shown, the saccade path, the pixel model and
/// noise. ``nmnist`` (the default) reproduces the N-MNIST recordings (Orchard et al. 2015): an ATIS
/// sensor (34x34 window) looking at a 28x28 MNIST digit on a screen while it moves in three saccades
/// along a triangle over about 300 ms. Its figures were measured on ../shared/data/nmnist-small/train.
///
/// Coordinates are sensor pixels, x to the right and y down; the path gives the position of the
/// image's top-left corner on the sensor.
public struct EventSimulatorConfiguration: Sendable, Hashable, Codable {
    /// One straight move of the image across the sensor.
    public struct Saccade: Sendable, Hashable, Codable {
        /// Start and end of the move, microseconds from the start of the recording.
        public var start: Int64
        public var end: Int64
        /// Where the image's top-left corner is at the end of the move (sensor pixels).
        public var toX: Double
        public var toY: Double
        /// Shape of the speed profile: speed ∝ u^acceleration · (1 - u)^deceleration over the move's
        /// normalised time u; equal exponents give a symmetric bell, a larger deceleration exponent
        /// an early peak.
        public var accelerationExponent: Int
        public var decelerationExponent: Int

        public init(start: Int64, end: Int64, toX: Double, toY: Double,
                    accelerationExponent: Int = 2, decelerationExponent: Int = 2) {
            self.start = start
            self.end = end
            self.toX = toX
            self.toY = toY
            self.accelerationExponent = accelerationExponent
            self.decelerationExponent = decelerationExponent
        }
    }

    /// The sensor's pixel array.
    public var sensor = SensorGeometry(width: 34, height: 34)
    /// Side of the square the image is scaled to fit (area-averaged, aspect kept, centred); 28x28
    /// MNIST digits are used as they are.
    public var imageSize = 28
    /// Shows the image as its negative. N-MNIST files behave as if the digit were darker than the
    /// screen: the ON events trail a moving stroke and OFF events lead it, and a pixel's first event is
    /// OFF (bit 7 = 0) in 57 % of pixels, where a bright digit would give ON first. `true` reproduces
    /// that (whether the screen or the files' polarity bit is inverted makes no difference here).
    public var invertImage = true
    /// Screen luminance of gray level 0 relative to level 255 (the screen's and the optics' contrast).
    public var blackLevel = 0.1
    /// Screen gamma: luminance = black + (1 - black) · (level / 255)^gamma.
    public var displayGamma = 2.2
    /// Standard deviation of the optics' Gaussian blur, sensor pixels (each pixel also integrates
    /// light over its own square).
    public var blurSigma = 0.6
    /// The pixel's log-intensity is ln(luminance + epsilon).
    public var logEpsilon = 1e-3
    /// Mean ON and OFF contrast thresholds (log-intensity change that makes an event).
    public var onThreshold = 0.27
    public var offThreshold = 0.27
    /// Standard deviation of each pixel's thresholds around the means (fixed pattern mismatch).
    public var thresholdSigma = 0.03
    /// After an event the pixel is held in reset this long (microseconds); changes during it are lost.
    public var refractoryPeriod: Int64 = 500
    /// Background activity: Poisson events per pixel per second.
    public var noiseRate = 0.37
    /// Probability that a background event is ON. Away from the digit, 98 % of the events of the
    /// N-MNIST recordings are ON (leakage makes ON events, as in most DVS pixels).
    public var noiseOnProbability = 0.98
    /// Simulation step, microseconds; event times are interpolated within a step.
    public var timeStep: Int64 = 100
    /// Length of the recording, microseconds (noise runs until then).
    public var duration: Int64 = 308_000
    /// Position of the image's top-left corner before the first saccade.
    public var startX = 0.25
    public var startY = 1.0
    /// The moves, in time order.
    public var saccades: [Saccade] = [
        Saccade(start: 0, end: 78_000, toX: 1.75, toY: 6.0, accelerationExponent: 2, decelerationExponent: 1),
        Saccade(start: 97_000, end: 183_000, toX: 5.0, toY: 1.4, accelerationExponent: 2, decelerationExponent: 1),
        Saccade(start: 225_000, end: 303_000, toX: 0.25, toY: 1.0, accelerationExponent: 1, decelerationExponent: 2),
    ]
    /// Standard deviation (sensor pixels) of a small random tremor of the sensor, an Ornstein-Uhlenbeck
    /// process on each axis added to the path all the time: the pan-tilt unit never stands quite still,
    /// and N-MNIST recordings keep making events at the digit's edges between saccades.
    public var tremorAmplitude = 0.1
    /// Correlation time of the tremor, microseconds.
    public var tremorTimeConstant = 5_000.0
    /// Starts each pixel's memorised level at a random point between its OFF and ON thresholds (a real
    /// sensor's pixels are not all freshly reset when a recording starts); false starts them at the
    /// level they see.
    public var randomInitialReference = false
    /// Standard deviation of a random shift of each saccade's timing (microseconds), per recording.
    public var timingJitter = 1_500.0
    /// Standard deviation of a random shift of the whole path (sensor pixels), per recording.
    public var placementJitter = 0.3
    /// Seed used when ``EventSimulator/simulate(_:seed:)`` is given none.
    public var seed: UInt64 = 1

    /// The N-MNIST setup (the defaults).
    public static var nmnist: EventSimulatorConfiguration { EventSimulatorConfiguration() }

    public init() {}

    /// Decodes a configuration (JSON, for instance); absent keys keep their ``nmnist`` values. The sensor
    /// is `sensorWidth` and `sensorHeight`; the other keys are the property names.
    public init(from decoder: any Decoder) throws {
        self.init()
        let c = try decoder.container(keyedBy: CodingKeys.self)
        func read<T: Decodable>(_ key: CodingKeys, _ value: inout T) throws {
            if let v = try c.decodeIfPresent(T.self, forKey: key) { value = v }
        }
        var width = sensor.width, height = sensor.height
        try read(.sensorWidth, &width)
        try read(.sensorHeight, &height)
        sensor = SensorGeometry(width: width, height: height)
        try read(.imageSize, &imageSize)
        try read(.invertImage, &invertImage)
        try read(.blackLevel, &blackLevel)
        try read(.displayGamma, &displayGamma)
        try read(.blurSigma, &blurSigma)
        try read(.logEpsilon, &logEpsilon)
        try read(.onThreshold, &onThreshold)
        try read(.offThreshold, &offThreshold)
        try read(.thresholdSigma, &thresholdSigma)
        try read(.refractoryPeriod, &refractoryPeriod)
        try read(.noiseRate, &noiseRate)
        try read(.noiseOnProbability, &noiseOnProbability)
        try read(.timeStep, &timeStep)
        try read(.duration, &duration)
        try read(.startX, &startX)
        try read(.startY, &startY)
        try read(.saccades, &saccades)
        try read(.tremorAmplitude, &tremorAmplitude)
        try read(.tremorTimeConstant, &tremorTimeConstant)
        try read(.randomInitialReference, &randomInitialReference)
        try read(.timingJitter, &timingJitter)
        try read(.placementJitter, &placementJitter)
        try read(.seed, &seed)
    }

    private enum CodingKeys: String, CodingKey {
        case sensorWidth, sensorHeight, imageSize, invertImage, blackLevel, displayGamma, blurSigma, logEpsilon
        case onThreshold, offThreshold, thresholdSigma, refractoryPeriod, noiseRate, noiseOnProbability
        case timeStep, duration
        case startX, startY, saccades, tremorAmplitude, tremorTimeConstant, randomInitialReference
        case timingJitter, placementJitter, seed
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(sensor.width, forKey: .sensorWidth)
        try c.encode(sensor.height, forKey: .sensorHeight)
        try c.encode(imageSize, forKey: .imageSize)
        try c.encode(invertImage, forKey: .invertImage)
        try c.encode(blackLevel, forKey: .blackLevel)
        try c.encode(displayGamma, forKey: .displayGamma)
        try c.encode(blurSigma, forKey: .blurSigma)
        try c.encode(logEpsilon, forKey: .logEpsilon)
        try c.encode(onThreshold, forKey: .onThreshold)
        try c.encode(offThreshold, forKey: .offThreshold)
        try c.encode(thresholdSigma, forKey: .thresholdSigma)
        try c.encode(refractoryPeriod, forKey: .refractoryPeriod)
        try c.encode(noiseRate, forKey: .noiseRate)
        try c.encode(noiseOnProbability, forKey: .noiseOnProbability)
        try c.encode(timeStep, forKey: .timeStep)
        try c.encode(duration, forKey: .duration)
        try c.encode(startX, forKey: .startX)
        try c.encode(startY, forKey: .startY)
        try c.encode(saccades, forKey: .saccades)
        try c.encode(tremorAmplitude, forKey: .tremorAmplitude)
        try c.encode(tremorTimeConstant, forKey: .tremorTimeConstant)
        try c.encode(randomInitialReference, forKey: .randomInitialReference)
        try c.encode(timingJitter, forKey: .timingJitter)
        try c.encode(placementJitter, forKey: .placementJitter)
        try c.encode(seed, forKey: .seed)
    }

    /// Checks that the settings make sense; throws ``EventSimulatorError`` naming the first bad one.
    public func validate() throws {
        func check(_ ok: Bool, _ message: String) throws {
            if !ok { throw EventSimulatorError(message) }
        }
        try check(sensor.width > 0 && sensor.height > 0 && sensor.width <= 4096 && sensor.height <= 4096,
                  "sensor \(sensor) must be 1...4096 pixels a side")
        try check(imageSize > 0 && imageSize <= 4096, "imageSize \(imageSize) must be 1...4096")
        try check(blackLevel >= 0 && blackLevel < 1, "blackLevel must be in [0, 1)")
        try check(displayGamma > 0 && displayGamma <= 10, "displayGamma must be in (0, 10]")
        try check(blurSigma >= 0 && blurSigma <= 16, "blurSigma must be in [0, 16]")
        try check(logEpsilon > 0 && logEpsilon.isFinite, "logEpsilon must be positive")
        try check(onThreshold > 0 && offThreshold > 0, "thresholds must be positive")
        try check(thresholdSigma >= 0, "thresholdSigma must not be negative")
        try check(refractoryPeriod >= 0, "refractoryPeriod must not be negative")
        try check(noiseRate >= 0 && noiseRate <= 10_000, "noiseRate must be in [0, 10000] Hz")
        try check(noiseOnProbability >= 0 && noiseOnProbability <= 1, "noiseOnProbability must be in [0, 1]")
        try check(timeStep > 0 && timeStep <= 10_000, "timeStep must be 1...10000 µs")
        try check(duration > 0 && duration <= 60_000_000, "duration must be 1 µs...60 s")
        try check(duration / timeStep <= 1_000_000, "duration / timeStep must be at most 1,000,000 steps")
        try check(timingJitter >= 0 && placementJitter >= 0, "jitters must not be negative")
        try check(tremorAmplitude >= 0 && tremorAmplitude <= 100, "tremorAmplitude must be in [0, 100] pixels")
        try check(tremorTimeConstant > 0, "tremorTimeConstant must be positive")
        try check(startX.isFinite && startY.isFinite && abs(startX) < 4096 && abs(startY) < 4096,
                  "start position out of range")
        var last: Int64 = 0
        for (i, s) in saccades.enumerated() {
            try check(s.start >= last && s.end > s.start && s.end <= duration,
                      "saccade \(i + 1) must start after the previous one and end within the duration")
            try check(s.accelerationExponent >= 0 && s.accelerationExponent <= 8
                      && s.decelerationExponent >= 0 && s.decelerationExponent <= 8,
                      "saccade \(i + 1): exponents must be 0...8")
            try check(s.toX.isFinite && s.toY.isFinite && abs(s.toX) < 4096 && abs(s.toY) < 4096,
                      "saccade \(i + 1): target out of range")
            last = s.end
        }
    }
}

/// A configuration the simulator cannot use.
public struct EventSimulatorError: Error, Sendable, Equatable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { "simulator: \(message)" }
}

/// An event-camera simulator that turns a still image into an N-MNIST-like recording.
///
/// The model, per recording:
/// 1. The image (scaled to ``EventSimulatorConfiguration/imageSize``, optionally inverted) is shown on
///    a screen: gray levels become linear luminance through the black level and gamma; around the
///    image the screen shows the image's background (gray level 0 before inversion).
/// 2. The sensor sees it through optics with Gaussian blur, each pixel integrating its square, while
///    the image moves across the sensor along the saccade path (smooth speed profiles) plus a small
///    random tremor.
/// 3. Every pixel compares its log-intensity ln(I + ε) with the level memorised at its last reset and
///    fires ON (polarity 1) or OFF when the change reaches its own threshold (Gaussian mismatch around
///    the mean); the crossing time is interpolated inside the simulation step. After an event the
///    pixel stays in reset for the refractory period and memorises the level it sees when released.
/// 4. Background activity adds Poisson events at random pixels, nearly all ON.
///
/// Results depend only on the image, the configuration and the seed: random numbers come from
/// xoshiro256** seeded with SplitMix64, Gaussians from the Marsaglia polar method, and the few
/// transcendental functions are computed here with plain IEEE arithmetic, so every machine gives the
/// same events. Events are time-ordered, in microseconds from 0.
public struct EventSimulator: Sendable {
    /// The settings in use.
    public let configuration: EventSimulatorConfiguration

    /// A simulator; throws ``EventSimulatorError`` for invalid settings.
    public init(configuration: EventSimulatorConfiguration = .nmnist) throws {
        try configuration.validate()
        self.configuration = configuration
    }

    /// The seed for image number `index` of a batch simulated with `base`: recordings of a batch do not
    /// depend on which thread simulates them or in which order.
    public static func seed(base: UInt64, index: Int) -> UInt64 {
        var mixer = SplitMix64(state: base ^ (UInt64(bitPattern: Int64(index)) &* 0xD1B5_4A32_D192_ED03))
        _ = mixer.next()
        return mixer.next()
    }

    /// Simulates one recording of `image`, with `seed` or else the configuration's seed.
    public func simulate(_ image: GrayImage, seed: UInt64? = nil) -> EventBuffer {
        var rng = Xoshiro256StarStar(seed: seed ?? configuration.seed)
        let c = configuration
        let scene = SimulatedScene(image: image, configuration: c)
        let path = jitteredPath(using: &rng)
        let width = c.sensor.width, height = c.sensor.height
        let pixelCount = width * height

        // Per-pixel thresholds (fixed pattern): drawn for every pixel so the noise stream that follows
        // does not depend on which pixels the image reaches.
        var onThresholds = [Double](repeating: 0, count: pixelCount)
        var offThresholds = [Double](repeating: 0, count: pixelCount)
        for i in 0..<pixelCount {
            onThresholds[i] = max(0.01, c.onThreshold + c.thresholdSigma * rng.nextGaussian())
            offThresholds[i] = max(0.01, c.offThreshold + c.thresholdSigma * rng.nextGaussian())
        }

        // Tremor added to the path at every step (Ornstein-Uhlenbeck, exact discretisation).
        let dt = Double(c.timeStep)
        let steps = Int((c.duration + c.timeStep - 1) / c.timeStep)
        var tremorX = [Double](repeating: 0, count: steps + 1)
        var tremorY = [Double](repeating: 0, count: steps + 1)
        var tremorExtent = 0.0
        if c.tremorAmplitude > 0 {
            let a = DeterministicMath.exp(-dt / c.tremorTimeConstant)
            let kick = c.tremorAmplitude * (1 - a * a).squareRoot()
            tremorX[0] = c.tremorAmplitude * rng.nextGaussian()
            tremorY[0] = c.tremorAmplitude * rng.nextGaussian()
            for i in 1...steps {
                tremorX[i] = a * tremorX[i - 1] + kick * rng.nextGaussian()
                tremorY[i] = a * tremorY[i - 1] + kick * rng.nextGaussian()
                tremorExtent = max(tremorExtent, abs(tremorX[i]), abs(tremorY[i]))
            }
            tremorExtent = max(tremorExtent, abs(tremorX[0]), abs(tremorY[0]))
        }

        // Pixels whose view ever reaches the image; the others see a constant screen.
        var bounds = path.bounds
        bounds.minX -= tremorExtent
        bounds.maxX += tremorExtent
        bounds.minY -= tremorExtent
        bounds.maxY += tremorExtent
        var active: [Int] = []
        for y in 0..<height {
            for x in 0..<width where scene.mayChange(x: x, y: y, offsetBounds: bounds) {
                active.append(y * width + x)
            }
        }

        var raw: [RawEvent] = []
        raw.reserveCapacity(8192)
        let s = SimulatedScene.supersampling
        let state = UnsafeMutableBufferPointer<PixelState>.allocate(capacity: active.count)
        defer { state.deallocate() }
        scene.fine.withUnsafeBufferPointer { fine in
            let start = path.offset(at: 0)
            let first = scene.sampler(offsetX: start.x + tremorX[0], offsetY: start.y + tremorY[0])
            for (k, p) in active.enumerated() {
                let x = p % width, y = p / width
                let l = first.logIntensity(x: x, y: y, fine: fine)
                var pixel = PixelState(
                    level: l, reference: l, resetUntil: -.infinity, on: onThresholds[p], off: offThresholds[p],
                    x: UInt16(x), y: UInt16(y), fineX: x * s, fineY: y * s)
                if c.randomInitialReference {
                    pixel.reference += pixel.off - rng.nextUniform() * (pixel.on + pixel.off)
                }
                state.initializeElement(at: k, to: pixel)
            }

            let refractory = Double(c.refractoryPeriod)
            for step in 1...steps {
                let t1 = Double(step) * dt
                let t0 = t1 - dt
                // Nothing moves: levels stay, and pixels in reset are released at the level they hold.
                if c.tremorAmplitude == 0 && path.isStill(from: t0, to: t1) { continue }
                let offset = path.offset(at: t1)
                let sampler = scene.sampler(offsetX: offset.x + tremorX[step], offsetY: offset.y + tremorY[step])
                for k in 0..<state.count {
                    let l1 = sampler.logIntensity(fineX: state[k].fineX, fineY: state[k].fineY, fine: fine)
                    var ts = t0
                    var ls = state[k].level
                    var ref = state[k].reference
                    var resetUntil = state[k].resetUntil
                    state[k].level = l1
                    if resetUntil > ts {
                        if resetUntil >= t1 {
                            state[k].reference = l1
                            continue
                        }
                        ls += (l1 - ls) * (resetUntil - t0) / dt
                        ts = resetUntil
                        ref = ls
                    }
                    let on = state[k].on, off = state[k].off
                    while true {
                        let change = l1 - ref
                        let polarity: UInt8
                        let target: Double
                        if change >= on {
                            polarity = 1
                            target = ref + on
                        } else if change <= -off {
                            polarity = 0
                            target = ref - off
                        } else {
                            break
                        }
                        let fraction = l1 == ls ? 1 : min(1, max(0, (target - ls) / (l1 - ls)))
                        let te = ts + fraction * (t1 - ts)
                        raw.append(RawEvent(t: te, sequence: raw.count, x: state[k].x, y: state[k].y, polarity: polarity))
                        if refractory <= 0 {
                            ref = target
                            ls = target
                            ts = te
                            continue
                        }
                        resetUntil = te + refractory
                        if resetUntil >= t1 {
                            ref = l1
                            break
                        }
                        ls += (l1 - ls) * (resetUntil - ts) / (t1 - ts)
                        ts = resetUntil
                        ref = ls
                    }
                    state[k].reference = ref
                    state[k].resetUntil = resetUntil
                }
            }
        }

        // Background activity.
        let totalRate = c.noiseRate * Double(pixelCount) / 1e6  // events per microsecond
        if totalRate > 0 {
            var t = 0.0
            while true {
                t += -DeterministicMath.log(1 - rng.nextUniform()) / totalRate
                if t >= Double(c.duration) { break }
                let p = rng.nextInt(below: pixelCount)
                let polarity: UInt8 = rng.nextUniform() < c.noiseOnProbability ? 1 : 0
                raw.append(RawEvent(t: t, sequence: raw.count, x: UInt16(p % width), y: UInt16(p / width),
                                    polarity: polarity))
            }
        }

        var events = EventBuffer(capacity: raw.count)
        let maxT = c.duration
        let keyed = raw.map { (t: min(maxT, max(0, Int64($0.t.rounded()))), event: $0) }
            .sorted { $0.t != $1.t ? $0.t < $1.t : $0.event.sequence < $1.event.sequence }
        events.withWriter(reservingCapacity: keyed.count) { w in
            for item in keyed {
                w.append(t: item.t, x: item.event.x, y: item.event.y, polarity: item.event.polarity)
            }
        }
        return events
    }

    /// The saccade path with this recording's random timing and placement shifts.
    private func jitteredPath(using rng: inout Xoshiro256StarStar) -> SaccadePath {
        let c = configuration
        let dx = c.placementJitter * rng.nextGaussian()
        let dy = c.placementJitter * rng.nextGaussian()
        var moves: [SaccadePath.Move] = []
        var fromX = c.startX + dx, fromY = c.startY + dy
        var earliest = 0.0
        for s in c.saccades {
            let shift = c.timingJitter * rng.nextGaussian()
            let length = Double(s.end - s.start)
            let start = min(max(earliest, Double(s.start) + shift), Double(c.duration) - length)
            let move = SaccadePath.Move(
                start: start, end: start + length, fromX: fromX, fromY: fromY, toX: s.toX + dx, toY: s.toY + dy,
                a: s.accelerationExponent, b: s.decelerationExponent)
            moves.append(move)
            fromX = move.toX
            fromY = move.toY
            earliest = move.end
        }
        return SaccadePath(startX: c.startX + dx, startY: c.startY + dy, moves: moves)
    }
}

/// What the simulator keeps for each pixel the image can reach.
private struct PixelState {
    /// Log-intensity at the last step.
    var level: Double
    /// The level memorised at the last reset.
    var reference: Double
    /// End of the current refractory period (microseconds).
    var resetUntil: Double
    /// This pixel's thresholds.
    var on: Double
    var off: Double
    var x: UInt16
    var y: UInt16
    /// The pixel's position on the scene's fine grid (x · supersampling).
    var fineX: Int
    var fineY: Int
}

/// An event before sorting: exact time, and creation order to break ties deterministically.
private struct RawEvent {
    var t: Double
    var sequence: Int
    var x: UInt16
    var y: UInt16
    var polarity: UInt8
}

/// Where the image's top-left corner is on the sensor at any time.
private struct SaccadePath {
    struct Move {
        var start: Double, end: Double
        var fromX: Double, fromY: Double, toX: Double, toY: Double
        var a: Int, b: Int

        /// Fraction of the move done at normalised time u: the regularised incomplete beta function
        /// I_u(a + 1, b + 1), a polynomial for integer exponents.
        func progress(_ u: Double) -> Double {
            if u <= 0 { return 0 }
            if u >= 1 { return 1 }
            let n = a + b + 1
            var sum = 0.0
            for j in (a + 1)...n {
                sum += binomial(n, j) * power(u, j) * power(1 - u, n - j)
            }
            return sum
        }
    }

    var startX: Double, startY: Double
    var moves: [Move]

    func offset(at t: Double) -> (x: Double, y: Double) {
        var x = startX, y = startY
        for m in moves {
            if t >= m.end {
                x = m.toX
                y = m.toY
            } else if t > m.start {
                let f = m.progress((t - m.start) / (m.end - m.start))
                return (m.fromX + (m.toX - m.fromX) * f, m.fromY + (m.toY - m.fromY) * f)
            } else {
                break
            }
        }
        return (x, y)
    }

    /// Whether no move overlaps the interval (t0, t1].
    func isStill(from t0: Double, to t1: Double) -> Bool {
        moves.allSatisfy { $0.end <= t0 || $0.start >= t1 }
    }

    /// The range of offsets the path takes.
    var bounds: (minX: Double, maxX: Double, minY: Double, maxY: Double) {
        var b = (minX: startX, maxX: startX, minY: startY, maxY: startY)
        for m in moves {
            b.minX = min(b.minX, m.toX)
            b.maxX = max(b.maxX, m.toX)
            b.minY = min(b.minY, m.toY)
            b.maxY = max(b.maxY, m.toY)
        }
        return b
    }
}

private func binomial(_ n: Int, _ k: Int) -> Double {
    var r = 1.0
    if k == 0 || k == n { return 1 }
    for i in 1...k { r = r * Double(n - k + i) / Double(i) }
    return r
}

private func power(_ x: Double, _ n: Int) -> Double {
    var r = 1.0
    for _ in 0..<max(0, n) { r *= x }
    return r
}

/// The screen as the sensor sees it: log-intensity on a supersampled grid, blurred by the optics and
/// integrated over each pixel's square, sampled bilinearly at any sub-pixel offset.
private struct SimulatedScene {
    /// Fine grid cells per sensor pixel.
    static let supersampling = 4
    let fine: [Double]
    let fineWidth: Int
    let fineHeight: Int
    /// Sensor pixels of margin around the image in the grid.
    let margin: Int
    let background: Double
    /// Bounding box (fine cells) of where the log-intensity differs from the background.
    let changed: (minX: Int, maxX: Int, minY: Int, maxY: Int)

    init(image: GrayImage, configuration c: EventSimulatorConfiguration) {
        let s = Self.supersampling
        let size = c.imageSize
        let resized = resize(image, toFit: size)
        // Linear luminance of each gray level.
        var luminance = [Double](repeating: 0, count: 256)
        for v in 0..<256 {
            let level = Double(c.invertImage ? 255 - v : v) / 255
            let shaped = level <= 0 ? 0 : DeterministicMath.exp(c.displayGamma * DeterministicMath.log(level))
            luminance[v] = c.blackLevel + (1 - c.blackLevel) * shaped
        }
        let backgroundLuminance = luminance[0]
        let sigma = c.blurSigma * Double(s)
        let radius = Int((4 * sigma).rounded(.up)) + s
        margin = (radius + s - 1) / s + 1
        fineWidth = (size + 2 * margin) * s
        fineHeight = fineWidth
        var grid = [Double](repeating: backgroundLuminance, count: fineWidth * fineHeight)
        for y in 0..<(size * s) {
            for x in 0..<(size * s) {
                grid[(y + margin * s) * fineWidth + x + margin * s] = luminance[Int(resized[x / s, y / s])]
            }
        }
        // Optics: Gaussian; pixel aperture: a box one pixel wide, centred (trapezoid over s + 1 cells).
        var kernel: [Double]
        if sigma > 0 {
            kernel = (-radius...radius).map { DeterministicMath.exp(-Double($0 * $0) / (2 * sigma * sigma)) }
        } else {
            kernel = [1]
        }
        let total = kernel.reduce(0, +)
        kernel = kernel.map { $0 / total }
        var aperture = [Double](repeating: 1, count: s + 1)
        aperture[0] = 0.5
        aperture[s] = 0.5
        aperture = aperture.map { $0 / Double(s) }
        for k in [kernel, aperture] {
            grid = convolve(grid, width: fineWidth, height: fineHeight, kernel: k, horizontal: true, fill: backgroundLuminance)
            grid = convolve(grid, width: fineWidth, height: fineHeight, kernel: k, horizontal: false, fill: backgroundLuminance)
        }
        background = DeterministicMath.log(backgroundLuminance + c.logEpsilon)
        var box = (minX: Int.max, maxX: Int.min, minY: Int.max, maxY: Int.min)
        var logGrid = [Double](repeating: 0, count: grid.count)
        for y in 0..<fineHeight {
            for x in 0..<fineWidth {
                let i = y * fineWidth + x
                logGrid[i] = DeterministicMath.log(grid[i] + c.logEpsilon)
                if abs(logGrid[i] - background) > 1e-12 {
                    box = (min(box.minX, x), max(box.maxX, x), min(box.minY, y), max(box.maxY, y))
                }
            }
        }
        fine = logGrid
        changed = box
    }

    /// Fine-grid coordinate of a sensor pixel's centre when the image's corner is at `offset`.
    @inline(__always)
    func fineCoordinate(_ pixel: Int, offset: Double) -> Double {
        (Double(pixel) + 0.5 - offset + Double(margin)) * Double(Self.supersampling) - 0.5
    }

    func mayChange(x: Int, y: Int, offsetBounds b: (minX: Double, maxX: Double, minY: Double, maxY: Double)) -> Bool {
        guard changed.minX <= changed.maxX else { return false }
        let x0 = fineCoordinate(x, offset: b.maxX) - 1, x1 = fineCoordinate(x, offset: b.minX) + 1
        let y0 = fineCoordinate(y, offset: b.maxY) - 1, y1 = fineCoordinate(y, offset: b.minY) + 1
        return x1 >= Double(changed.minX) && x0 <= Double(changed.maxX)
            && y1 >= Double(changed.minY) && y0 <= Double(changed.maxY)
    }

    /// Bilinear sampling of the scene for one position of the image: with the whole grid moving
    /// together, the weights are the same for every pixel.
    struct Sampler {
        let originX: Int, originY: Int
        let ax: Double, ay: Double
        let width: Int, height: Int
        let background: Double

        @inline(__always)
        func logIntensity(fineX: Int, fineY: Int, fine: UnsafeBufferPointer<Double>) -> Double {
            let ix = fineX + originX, iy = fineY + originY
            guard ix >= 0, iy >= 0, ix + 1 < width, iy + 1 < height else { return background }
            let i = iy * width + ix
            let top = fine[i] + (fine[i + 1] - fine[i]) * ax
            let bottom = fine[i + width] + (fine[i + width + 1] - fine[i + width]) * ax
            return top + (bottom - top) * ay
        }

        func logIntensity(x: Int, y: Int, fine: UnsafeBufferPointer<Double>) -> Double {
            logIntensity(fineX: x * SimulatedScene.supersampling, fineY: y * SimulatedScene.supersampling, fine: fine)
        }
    }

    /// The sampler for the image's corner at (`offsetX`, `offsetY`) on the sensor: pixel x's centre
    /// falls on fine coordinate x · s + (0.5 − offset + margin) · s − 0.5.
    func sampler(offsetX: Double, offsetY: Double) -> Sampler {
        let s = Double(Self.supersampling)
        let cx = (0.5 - offsetX + Double(margin)) * s - 0.5
        let cy = (0.5 - offsetY + Double(margin)) * s - 0.5
        let fx = cx.rounded(.down), fy = cy.rounded(.down)
        return Sampler(originX: Int(fx), originY: Int(fy), ax: cx - fx, ay: cy - fy,
                       width: fineWidth, height: fineHeight, background: background)
    }
}

/// One pass of a separable convolution; samples beyond the grid take `fill`.
private func convolve(_ grid: [Double], width: Int, height: Int, kernel: [Double], horizontal: Bool, fill: Double) -> [Double] {
    precondition(kernel.count % 2 == 1, "kernels are odd-length, centred")
    let r = kernel.count / 2
    var out = [Double](repeating: 0, count: grid.count)
    grid.withUnsafeBufferPointer { g in
        kernel.withUnsafeBufferPointer { k in
            out.withUnsafeMutableBufferPointer { o in
                let (step, span) = horizontal ? (1, width) : (width, height)
                for y in 0..<height {
                    for x in 0..<width {
                        let position = horizontal ? x : y
                        let centre = y * width + x
                        var sum = 0.0
                        for j in 0..<k.count {
                            let q = position + j - r
                            sum += k[j] * (q >= 0 && q < span ? g[centre + (j - r) * step] : fill)
                        }
                        o[centre] = sum
                    }
                }
            }
        }
    }
    return out
}

/// Area-averaging resize of `image` to fit a `size` x `size` square, aspect kept, centred on black.
private func resize(_ image: GrayImage, toFit size: Int) -> GrayImage {
    if image.width == size && image.height == size { return image }
    let scale = Double(size) / Double(max(image.width, image.height))
    let w = max(1, Int((Double(image.width) * scale).rounded()))
    let h = max(1, Int((Double(image.height) * scale).rounded()))
    let ox = (size - w) / 2, oy = (size - h) / 2
    var out = GrayImage(width: size, height: size, value: 0)
    let sx = Double(image.width) / Double(w), sy = Double(image.height) / Double(h)
    for y in 0..<h {
        let y0 = Double(y) * sy, y1 = y0 + sy
        for x in 0..<w {
            let x0 = Double(x) * sx, x1 = x0 + sx
            var sum = 0.0, area = 0.0
            var v = Int(y0)
            while Double(v) < y1 && v < image.height {
                let cy = min(y1, Double(v + 1)) - max(y0, Double(v))
                var u = Int(x0)
                while Double(u) < x1 && u < image.width {
                    let cx = min(x1, Double(u + 1)) - max(x0, Double(u))
                    sum += cx * cy * Double(image[u, v])
                    area += cx * cy
                    u += 1
                }
                v += 1
            }
            out[ox + x, oy + y] = UInt8(min(255, max(0, (sum / area).rounded())))
        }
    }
    return out
}
