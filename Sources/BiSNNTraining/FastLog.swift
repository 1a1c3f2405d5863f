/// Natural logarithm in Float from basic operations only, for x > 0 and finite: x = m 2^e with m in
/// [sqrt(1/2), sqrt(2)), log x = e ln 2 + 2 atanh((m - 1) / (m + 1)) by its odd series to degree 9. No branch, so
/// loops over it vectorise. Absolute error below 2e-6 on the uniforms the Bayes rule draws. Zero, negative and
/// subnormal inputs are not supported (the rule's uniforms lie in (2^-25, 1)). `logf` is the reference the
/// tests compare it with.
@inline(__always)
func fastLog(_ x: Float) -> Float {
    // Bias the exponent so the mantissa lands in [sqrt(1/2), sqrt(2)): add (1 - sqrt(1/2)) of a binade first.
    let bits = x.bitPattern &+ (0x3F80_0000 &- 0x3F35_04F3)
    let e = Int32(bitPattern: bits >> 23) &- 127
    let m = Float(bitPattern: (bits & 0x007F_FFFF) &+ 0x3F35_04F3)
    let s = (m - 1) / (m + 1)
    let s2 = s * s
    var p: Float = 1.0 / 9
    p = p * s2 + 1.0 / 7
    p = p * s2 + 1.0 / 5
    p = p * s2 + 1.0 / 3
    p = p * s2 + 1
    return Float(e) * 0.693_147_18 + 2 * s * p
}
