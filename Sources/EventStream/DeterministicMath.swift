/// Natural logarithm and exponential from IEEE-754 basic operations only, so results are bit-identical
/// on every machine (platform libm implementations may differ in the last bit).
public enum DeterministicMath {
    /// ln 2 split Cody-Waite style (fdlibm's constants): `ln2Hi` has its low 32 bits zero, so `k * ln2Hi`
    /// is exact for the exponents met here.
    public static let ln2Hi = 6.931_471_803_691_238_164_90e-01
    public static let ln2Lo = 1.908_214_929_270_587_700_02e-10

    /// ln(x) for x > 0 (−∞ for 0, NaN for negative input).
    public static func log(_ x: Double) -> Double {
        if x.isNaN || x < 0 { return .nan }
        if x == 0 { return -.infinity }
        if x.isInfinite { return x }
        var e = Int(x.exponent)
        var m = x.significand  // [1, 2)
        if m > 1.414_213_562_373_095 {
            m /= 2
            e += 1
        }
        // ln(m) = 2 atanh(z), z = (m - 1) / (m + 1), |z| < 0.1716.
        let z = (m - 1) / (m + 1)
        let z2 = z * z
        var series = 1.0 / 23
        var k = 21.0
        while k >= 1 {
            series = 1 / k + z2 * series
            k -= 2
        }
        return Double(e) * ln2Hi + (Double(e) * ln2Lo + 2 * z * series)
    }

    /// e^x.
    public static func exp(_ x: Double) -> Double {
        if x.isNaN { return x }
        if x > 709.7 { return .infinity }
        if x < -745.2 { return 0 }
        let k = (x / (ln2Hi + ln2Lo)).rounded()
        let r = (x - k * ln2Hi) - k * ln2Lo  // |r| <= 0.35
        var sum = 1.0
        var n = 16.0
        while n >= 1 {
            sum = 1 + r * sum / n
            n -= 1
        }
        return Double(sign: .plus, exponent: Int(k), significand: sum)
    }
}
