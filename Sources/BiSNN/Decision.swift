#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A prediction with its confidence and uncertainty (BISNN.md section 4), from the class probabilities of
/// one or more draws.
public struct Decision: Sendable, Hashable {
    /// Predictive class probabilities: the mean over draws of each draw's time-averaged softmax.
    public var probabilities: [Double]
    /// Index of the most probable class (the lowest index on a tie).
    public var predictedClass: Int
    /// Probability of the predicted class.
    public var confidence: Double
    /// H[mean p], in nats.
    public var predictiveEntropy: Double
    /// mean H[p] over draws, in nats.
    public var expectedEntropy: Double
    /// predictive - expected entropy (never below 0): how much the draws disagree.
    public var mutualInformation: Double
    /// Fraction of draws whose own most probable class is ``predictedClass``.
    public var agreement: Double
    /// Number of draws that voted.
    public var drawCount: Int
    /// Time steps the probabilities average over (after burn-in).
    public var steps: Int
    /// Whether the abstention rule says "unknown"; the probabilities are still reported.
    public var abstained: Bool

    /// The decision for per-draw probabilities `drawProbabilities` (each a distribution over the same
    /// classes), averaged over `steps` time steps, with `rule` deciding abstention. With no draw or no step,
    /// the probabilities are uniform and the decision abstains.
    public init(drawProbabilities: [[Double]], classCount: Int, steps: Int, rule: AbstentionRule = .never) {
        precondition(classCount > 0, "classCount must be > 0")
        guard !drawProbabilities.isEmpty, steps > 0 else {
            let uniform = [Double](repeating: 1 / Double(classCount), count: classCount)
            probabilities = uniform
            predictedClass = 0
            confidence = uniform[0]
            predictiveEntropy = Decision.entropy(uniform)
            expectedEntropy = predictiveEntropy
            mutualInformation = 0
            agreement = 0
            drawCount = drawProbabilities.count
            self.steps = steps
            abstained = true
            return
        }
        var mean = [Double](repeating: 0, count: classCount)
        for p in drawProbabilities {
            precondition(p.count == classCount, "every draw needs classCount probabilities")
            for c in 0..<classCount { mean[c] += p[c] }
        }
        let draws = Double(drawProbabilities.count)
        for c in 0..<classCount { mean[c] /= draws }
        let winner = Decision.argmax(mean)
        probabilities = mean
        predictedClass = winner
        confidence = mean[winner]
        predictiveEntropy = Decision.entropy(mean)
        expectedEntropy = drawProbabilities.reduce(0) { $0 + Decision.entropy($1) } / draws
        mutualInformation = max(0, predictiveEntropy - expectedEntropy)
        agreement = Double(drawProbabilities.filter { Decision.argmax($0) == winner }.count) / draws
        drawCount = drawProbabilities.count
        self.steps = steps
        abstained = rule.abstains(confidence: confidence, mutualInformation: mutualInformation)
    }

    /// Shannon entropy in nats (0 log 0 = 0).
    public static func entropy(_ p: [Double]) -> Double {
        var h = 0.0
        for x in p where x > 0 { h -= x * log(x) }
        return h
    }

    /// Index of the largest value, the lowest on a tie.
    public static func argmax(_ values: [Double]) -> Int {
        var best = 0
        for i in values.indices where values[i] > values[best] { best = i }
        return best
    }

    /// Softmax of `logits`, computed stably, written into `probabilities` (resized to fit).
    public static func softmax(_ logits: [Double], into probabilities: inout [Double]) {
        if probabilities.count != logits.count { probabilities = [Double](repeating: 0, count: logits.count) }
        let top = logits.max() ?? 0
        var sum = 0.0
        for i in logits.indices {
            probabilities[i] = exp(logits[i] - top)
            sum += probabilities[i]
        }
        for i in logits.indices { probabilities[i] /= sum }
    }
}

/// When a decision says "unknown": confidence below ``minimumConfidence`` or mutual information above
/// ``maximumMutualInformation``.
public struct AbstentionRule: Sendable, Hashable, Codable {
    /// Abstain below this confidence (0 never abstains on confidence).
    public var minimumConfidence: Double
    /// Abstain above this mutual information, in nats (infinity never abstains on disagreement).
    public var maximumMutualInformation: Double

    /// A rule; see the properties.
    public init(minimumConfidence: Double = 0, maximumMutualInformation: Double = .infinity) {
        self.minimumConfidence = minimumConfidence
        self.maximumMutualInformation = maximumMutualInformation
    }

    /// Never abstains.
    public static let never = AbstentionRule()

    /// Whether a decision with this confidence and mutual information is "unknown".
    public func abstains(confidence: Double, mutualInformation: Double) -> Bool {
        confidence < minimumConfidence || mutualInformation > maximumMutualInformation
    }
}
