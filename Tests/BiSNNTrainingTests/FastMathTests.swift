import Testing

@testable import BiSNNTraining

#if canImport(Glibc)
import Glibc
#endif

@Suite struct FastMathTests {
    @Test func fastExpMatchesExp() {
        var worst: Float = 0
        var x: Float = -80
        while x <= 80 {
            let relative = abs(fastExp(x) - expf(x)) / expf(x)
            worst = max(worst, relative)
            x += 0.0137
        }
        #expect(worst < 5e-7, "worst relative error \(worst)")
        #expect(fastExp(200).isFinite && fastExp(-200) >= 0)
    }

    @Test func relaxedSampleFastPathEqualsTheDefinition() {
        for lambda: Float in [-6, -1.5, -0.1, 0, 0.3, 2, 7] {
            for eps: Float in [1e-6, 0.01, 0.3, 0.5, 0.77, 0.999] {
                let fast = RuleState.relaxedSample(lambda: lambda, expTwoLambda: expf(2 * lambda), eps: eps, tau: 1)
                let definition = tanhf(lambda + 0.5 * logf(eps / (1 - eps)))
                #expect(abs(fast - definition) < 1e-5, "lambda \(lambda) eps \(eps): \(fast) vs \(definition)")
            }
        }
        // Another temperature goes through the definition itself.
        let tempered = RuleState.relaxedSample(lambda: 1, expTwoLambda: expf(2), eps: 0.25, tau: 0.5)
        #expect(abs(tempered - tanhf((1 + 0.5 * logf(0.25 / 0.75)) / 0.5)) < 1e-6)
    }
}
