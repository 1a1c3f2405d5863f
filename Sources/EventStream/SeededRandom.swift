/// SplitMix64 (Steele, Lea and Flood): a tiny seeded generator, used to seed ``Xoshiro256StarStar`` and to
/// derive per-item seeds. Same seed, same sequence, on every machine.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    /// The generator's whole state; any value is a valid seed.
    public var state: UInt64

    /// A generator started from `state`.
    public init(state: UInt64) { self.state = state }

    /// The next 64 random bits.
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// xoshiro256** (Blackman and Vigna): the seeded generator behind the event simulator and the ensemble draws.
/// Same seed, same sequence, on every machine.
public struct Xoshiro256StarStar: RandomNumberGenerator, Sendable {
    private var s0, s1, s2, s3: UInt64
    private var spareGaussian: Double?

    /// A generator seeded through SplitMix64, as its authors recommend.
    public init(seed: UInt64) {
        var mixer = SplitMix64(state: seed)
        s0 = mixer.next()
        s1 = mixer.next()
        s2 = mixer.next()
        s3 = mixer.next()
    }

    /// The next 64 random bits.
    public mutating func next() -> UInt64 {
        let result = ((s1 &* 5) << 7 | (s1 &* 5) >> 57) &* 9
        let t = s1 << 17
        s2 ^= s0
        s3 ^= s1
        s1 ^= s2
        s0 ^= s3
        s2 ^= t
        s3 = s3 << 45 | s3 >> 19
        return result
    }

    /// Uniform in [0, 1), 53 bits.
    public mutating func nextUniform() -> Double {
        Double(next() >> 11) * 0x1p-53
    }

    /// Uniform integer in 0..<n (n > 0), without modulo bias.
    public mutating func nextInt(below n: Int) -> Int {
        let bound = UInt64(n)
        let limit = UInt64.max - UInt64.max % bound
        while true {
            let v = next()
            if v < limit { return Int(v % bound) }
        }
    }

    /// Standard normal deviate (Marsaglia's polar form of the Box-Muller transform).
    public mutating func nextGaussian() -> Double {
        if let spare = spareGaussian {
            spareGaussian = nil
            return spare
        }
        while true {
            let u = 2 * nextUniform() - 1
            let v = 2 * nextUniform() - 1
            let s = u * u + v * v
            if s > 0 && s < 1 {
                let factor = (-2 * DeterministicMath.log(s) / s).squareRoot()
                spareGaussian = v * factor
                return u * factor
            }
        }
    }
}
