/// e^x in Float from basic operations only (range reduction to 2^n 2^f, a degree-6 polynomial for 2^f), with
/// no branch and no trapping conversion, so loops over it vectorise. Relative error below 2e-7 for |x| < 87; clamped outside.
/// Training's hot loops use it (the Bayes rule needs one exponential per weight per step); ``exactExp`` is
/// the plain reference the tests compare it with.
@inline(__always)
func fastExp(_ x: Float) -> Float {
    let clamped = min(max(x, -87), 87)
    let t = clamped * 1.442_695_04  // x log2(e)
    let n = t.rounded(.toNearestOrEven)
    let f = (clamped - n * 0.693_145_75) - n * 1.428_606_8e-6  // x - n ln 2, in two parts
    // e^f for |f| <= ln2 / 2: Taylor to degree 6.
    var p: Float = 1.0 / 720
    p = p * f + 1.0 / 120
    p = p * f + 1.0 / 24
    p = p * f + 1.0 / 6
    p = p * f + 0.5
    p = p * f + 1
    p = p * f + 1
    // 2^n without a trapping conversion: n + 1.5 * 2^23 holds n in its low mantissa bits.
    let shifted = (n + 12_582_912).bitPattern &- 0x4B40_0000
    let scale = Float(bitPattern: (shifted &+ 127) &<< 23)
    return p * scale
}
