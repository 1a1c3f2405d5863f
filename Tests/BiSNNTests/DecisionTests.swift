import Foundation
import Testing

@testable import BiSNN

/// ``Decision`` and ``AbstentionRule`` on hand-computed cases (BISNN.md section 4).
@Suite struct DecisionTests {
    static func close(_ a: Double, _ b: Double, tolerance: Double = 1e-12) -> Bool { abs(a - b) <= tolerance }

    static func closeArrays(_ a: [Double], _ b: [Double], tolerance: Double = 1e-12) -> Bool {
        a.count == b.count && zip(a, b).allSatisfy { close($0, $1, tolerance: tolerance) }
    }

    /// -sum p ln p, written out independently of ``Decision/entropy(_:)``.
    static func h(_ p: [Double]) -> Double { -p.reduce(0) { $0 + ($1 > 0 ? $1 * log($1) : 0) } }

    @Test func oneDraw() {
        let p = [0.2, 0.5, 0.3]
        let d = Decision(drawProbabilities: [p], classCount: 3, steps: 7)
        #expect(d.probabilities == p)
        #expect(d.predictedClass == 1)
        #expect(d.confidence == 0.5)
        let expected = -(0.2 * log(0.2) + 0.5 * log(0.5) + 0.3 * log(0.3))
        #expect(Self.close(d.predictiveEntropy, expected))
        #expect(Self.close(d.expectedEntropy, expected))
        #expect(d.mutualInformation == 0)
        #expect(d.agreement == 1)
        #expect(d.drawCount == 1)
        #expect(d.steps == 7)
        #expect(!d.abstained)
    }

    @Test func twoDrawsThatAgree() {
        let d = Decision(drawProbabilities: [[0.7, 0.3], [0.9, 0.1]], classCount: 2, steps: 3)
        #expect(Self.closeArrays(d.probabilities, [0.8, 0.2]))
        #expect(d.predictedClass == 0)
        #expect(Self.close(d.confidence, 0.8))
        let predictive = -(0.8 * log(0.8) + 0.2 * log(0.2))
        let expected = (-(0.7 * log(0.7) + 0.3 * log(0.3)) - (0.9 * log(0.9) + 0.1 * log(0.1))) / 2
        #expect(Self.close(d.predictiveEntropy, predictive))
        #expect(Self.close(d.expectedEntropy, expected))
        #expect(Self.close(d.mutualInformation, predictive - expected))
        #expect(d.mutualInformation > 0.01)  // they agree on the class, not on the probabilities
        #expect(d.agreement == 1)
        #expect(d.drawCount == 2)
    }

    @Test func twoDrawsThatDisagreeCompletely() {
        let d = Decision(drawProbabilities: [[1, 0], [0, 1]], classCount: 2, steps: 1)
        #expect(d.probabilities == [0.5, 0.5])
        #expect(d.predictedClass == 0)  // a tie: the lowest index
        #expect(d.confidence == 0.5)
        #expect(Self.close(d.predictiveEntropy, log(2)))
        #expect(d.expectedEntropy == 0)
        #expect(Self.close(d.mutualInformation, log(2)))
        #expect(d.agreement == 0.5)  // draw 0's own argmax is the (tied) winner, draw 1's is not
    }

    @Test func threeDrawsAgreementAndMean() {
        let draws = [[0.6, 0.3, 0.1], [0.1, 0.8, 0.1], [0.6, 0.1, 0.3]]
        let d = Decision(drawProbabilities: draws, classCount: 3, steps: 10)
        #expect(Self.closeArrays(d.probabilities, [1.3 / 3, 1.2 / 3, 0.5 / 3]))
        #expect(d.predictedClass == 0)
        #expect(Self.close(d.confidence, 1.3 / 3))
        #expect(d.agreement == 2.0 / 3)  // draw 1 votes for class 1
        #expect(d.drawCount == 3)
        let expected = draws.map(Self.h).reduce(0, +) / 3
        #expect(Self.close(d.expectedEntropy, expected))
        #expect(Self.close(d.mutualInformation, Self.h(d.probabilities) - expected))
    }

    @Test func tiesPickTheLowestIndex() {
        #expect(Decision.argmax([3, 3, 3]) == 0)
        #expect(Decision.argmax([1, 5, 5, 2]) == 1)
        #expect(Decision.argmax([1, 2, 5]) == 2)
        #expect(Decision.argmax([-1, -1]) == 0)
        let d = Decision(drawProbabilities: [[0.25, 0.375, 0.375]], classCount: 3, steps: 1)
        #expect(d.predictedClass == 1)
        let uniform = Decision(drawProbabilities: [[0.25, 0.25, 0.25, 0.25]], classCount: 4, steps: 1)
        #expect(uniform.predictedClass == 0)
        #expect(uniform.agreement == 1)
    }

    @Test func noStepsOrNoDrawsIsUniformAndAbstains() {
        for (draws, steps) in [([[0.9, 0.05, 0.05, 0.0]], 0), ([], 5), ([], 0)] as [([[Double]], Int)] {
            let d = Decision(drawProbabilities: draws, classCount: 4, steps: steps)
            #expect(d.probabilities == [0.25, 0.25, 0.25, 0.25])
            #expect(d.predictedClass == 0)
            #expect(d.confidence == 0.25)
            #expect(Self.close(d.predictiveEntropy, log(4)))
            #expect(d.mutualInformation == 0)
            #expect(d.agreement == 0)
            #expect(d.steps == steps)
            #expect(d.drawCount == draws.count)
            #expect(d.abstained, "no evidence must abstain even with the .never rule")
        }
    }

    @Test func abstentionByConfidence() {
        let rule = AbstentionRule(minimumConfidence: 0.6)
        let below = Decision(drawProbabilities: [[0.55, 0.45]], classCount: 2, steps: 1, rule: rule)
        #expect(below.abstained)
        // Confidence equal to the minimum is not below it.
        let at = Decision(drawProbabilities: [[0.6, 0.4]], classCount: 2, steps: 1, rule: rule)
        #expect(at.confidence == 0.6)
        #expect(!at.abstained)
        let above = Decision(drawProbabilities: [[0.4, 0.6000001]], classCount: 2, steps: 1, rule: rule)
        #expect(!above.abstained)
        // The probabilities are reported either way.
        #expect(below.probabilities == [0.55, 0.45] && below.predictedClass == 0)
        #expect(!Decision(drawProbabilities: [[0.55, 0.45]], classCount: 2, steps: 1).abstained)
    }

    @Test func abstentionByMutualInformation() {
        let draws = [[0.9, 0.1], [0.2, 0.8]]
        let free = Decision(drawProbabilities: draws, classCount: 2, steps: 4)
        let mi = free.mutualInformation
        #expect(mi > 0.1)
        #expect(!free.abstained)
        // MI equal to the maximum is not above it; just below the MI, it is.
        let at = Decision(
            drawProbabilities: draws, classCount: 2, steps: 4, rule: AbstentionRule(maximumMutualInformation: mi))
        #expect(!at.abstained)
        let below = Decision(
            drawProbabilities: draws, classCount: 2, steps: 4,
            rule: AbstentionRule(maximumMutualInformation: mi.nextDown))
        #expect(below.abstained)
        // A confident single draw has MI 0 and never abstains on disagreement, even with maximum 0.
        let single = Decision(
            drawProbabilities: [[0.99, 0.01]], classCount: 2, steps: 1, rule: AbstentionRule(maximumMutualInformation: 0))
        #expect(!single.abstained)
        // The rule on its own, both conditions.
        let rule = AbstentionRule(minimumConfidence: 0.5, maximumMutualInformation: 0.2)
        #expect(!rule.abstains(confidence: 0.5, mutualInformation: 0.2))
        #expect(rule.abstains(confidence: 0.5.nextDown, mutualInformation: 0))
        #expect(rule.abstains(confidence: 1, mutualInformation: 0.2.nextUp))
        #expect(!AbstentionRule.never.abstains(confidence: 0, mutualInformation: .greatestFiniteMagnitude))
    }

    @Test func entropyWithZeros() {
        #expect(Decision.entropy([0, 1, 0]) == 0)
        #expect(Decision.entropy([]) == 0)
        #expect(Self.close(Decision.entropy([0.5, 0, 0.5, 0]), log(2)))
        #expect(Self.close(Decision.entropy([0.25, 0.25, 0.25, 0.25]), log(4)))
        let h = Decision.entropy([0, 0.1, 0.9])
        #expect(h.isFinite)
        #expect(Self.close(h, -(0.1 * log(0.1) + 0.9 * log(0.9))))
        // A draw with zeros inside a decision: no NaN anywhere.
        let d = Decision(drawProbabilities: [[0, 1, 0], [0, 0, 1]], classCount: 3, steps: 2)
        #expect(d.expectedEntropy == 0)
        #expect(Self.close(d.mutualInformation, log(2)))
    }

    @Test func softmaxIsStableForLargeLogits() {
        var p: [Double] = []
        Decision.softmax([1000, 1001], into: &p)
        #expect(p.count == 2)
        let finite = p.allSatisfy { $0.isFinite }
        #expect(finite)
        #expect(Self.close(p[0], 1 / (1 + M_E)))
        #expect(Self.close(p[1], M_E / (1 + M_E)))
        #expect(Self.close(p.reduce(0, +), 1, tolerance: 1e-15))

        Decision.softmax([-1000, -1001, -1002], into: &p)
        #expect(p.count == 3)  // resized
        #expect(p.allSatisfy { $0.isFinite && $0 > 0 })
        #expect(Self.close(p.reduce(0, +), 1, tolerance: 1e-15))
        #expect(p[0] > p[1] && p[1] > p[2])

        Decision.softmax([0, 0, 0, 0], into: &p)
        #expect(p == [0.25, 0.25, 0.25, 0.25])

        // Values far apart: the small one underflows to 0, the sum is still 1.
        Decision.softmax([0, 2000], into: &p)
        #expect(p == [0, 1])
    }
}
