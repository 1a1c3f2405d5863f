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
        // Other temperatures, down to hard signs.
        for tau: Float in [0.5, 0.1, 1e-10] {
            for lambda: Float in [-6, -0.2, 0, 0.3, 2] {
                for eps: Float in [0x1p-24, 0.01, 0.3, 0.5, 0.77, 0.999] {
                    let fast = RuleState.relaxedSample(lambda: lambda, expTwoLambda: expf(2 * lambda), eps: eps, tau: tau)
                    let definition = tanhf((lambda + 0.5 * logf(eps / (1 - eps))) / tau)
                    #expect(abs(fast - definition) < 2e-5, "tau \(tau) lambda \(lambda) eps \(eps): \(fast) vs \(definition)")
                }
            }
        }
    }

    @Test func fastLogMatchesLog() {
        var worst: Float = 0
        var x: Float = 0x1p-25
        while x < 4 {
            worst = max(worst, abs(fastLog(x) - logf(x)))
            x *= 1.000_37
        }
        #expect(worst < 2e-6, "worst absolute error \(worst)")
        #expect(fastLog(1) == 0)
    }
}
