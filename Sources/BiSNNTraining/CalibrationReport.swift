import BiSNN

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One equal-width confidence bin of a reliability diagram: the predictions whose confidence falls in
/// [``lower``, ``upper``) (the last bin also holds ``upper`` = 1), how many there are, how many of them are
/// right and how confident they were on average.
public struct ReliabilityBin: Sendable, Hashable, Codable {
    /// Lower edge of the bin (included).
    public var lower: Double
    /// Upper edge of the bin (excluded, except for the last bin, whose upper edge is 1 and included).
    public var upper: Double
    /// Number of predictions in the bin.
    public var count: Int
    /// Fraction of the bin's predictions that are right; nil for an empty bin.
    public var accuracy: Double?
    /// Mean confidence of the bin's predictions; nil for an empty bin.
    public var meanConfidence: Double?

    /// A bin; see the properties.
    public init(lower: Double, upper: Double, count: Int, accuracy: Double?, meanConfidence: Double?) {
        self.lower = lower
        self.upper = upper
        self.count = count
        self.accuracy = accuracy
        self.meanConfidence = meanConfidence
    }

    enum CodingKeys: String, CodingKey {
        case lower, upper, count, accuracy
        case meanConfidence = "mean_confidence"
    }

    /// Writes every key; an empty bin's `accuracy` and `mean_confidence` are JSON `null`.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(lower, forKey: .lower)
        try c.encode(upper, forKey: .upper)
        try c.encode(count, forKey: .count)
        try c.encode(accuracy, forKey: .accuracy)
        try c.encode(meanConfidence, forKey: .meanConfidence)
    }
}

/// How well a set of decisions on labelled samples is calibrated (BISNN.md section 4, `bisnn eval`):
/// accuracy, negative log-likelihood, Brier score, expected calibration error with 15 and 20 bins, a
/// 15-bin reliability diagram, per-class accuracy, the confusion matrix, and how mutual information and
/// abstention relate to being right.
///
/// A prediction is right when its ``Decision/predictedClass`` equals the label, whether or not it abstained;
/// its confidence is ``Decision/confidence``.
///
/// Bins: `bins` equal-width bins on [0, 1]; bin k (0-based) holds the confidences c with
/// k/bins <= c < (k+1)/bins, the edges computed as `Double(k) / Double(bins)`; confidence 0 falls in the first
/// bin and confidence 1 in the last (which is closed on the right). Confidences outside [0, 1] are clamped
/// into it.
///
/// JSON (snake_case keys, every key always written): `n`, `class_count`, `accuracy`, `nll`, `brier`,
/// `ece_15`, `ece_20`, `reliability` (the 15 bins: `lower`, `upper`, `count`, `accuracy`, `mean_confidence`),
/// `per_class_accuracy`, `confusion`, `mean_confidence`, `mean_mutual_information_correct`,
/// `mean_mutual_information_wrong`, `abstentions`, `non_abstained_accuracy`. A value that does not exist
/// (a class with no sample, no wrong prediction, every prediction abstained, an empty bin) is written as
/// JSON `null` rather than left out, so every report has the same shape.
public struct CalibrationReport: Sendable, Hashable, Codable {
    /// Number of samples.
    public var n: Int
    /// Number of classes.
    public var classCount: Int
    /// Fraction of samples whose predicted class is the label.
    public var accuracy: Double
    /// Mean negative log-likelihood of the label, -ln max(p[label], ``probabilityFloor``), in nats.
    public var nll: Double
    /// Mean over samples of the sum over classes of (p_c - [c == label])^2; between 0 and 2.
    public var brier: Double
    /// Expected calibration error with 15 equal-width bins.
    public var ece15: Double
    /// Expected calibration error with 20 equal-width bins.
    public var ece20: Double
    /// The 15 equal-width bins the reliability diagram draws (the same bins as ``ece15``).
    public var reliability: [ReliabilityBin]
    /// Per true class, the fraction of its samples predicted as that class; nil for a class with no sample.
    public var perClassAccuracy: [Double?]
    /// `confusion[label][predicted]`: number of samples of class `label` predicted as class `predicted`.
    public var confusion: [[Int]]
    /// Mean confidence over all samples.
    public var meanConfidence: Double
    /// Mean mutual information (nats) over the right predictions; nil when there are none.
    public var meanMutualInformationCorrect: Double?
    /// Mean mutual information (nats) over the wrong predictions; nil when there are none.
    public var meanMutualInformationWrong: Double?
    /// Number of decisions that abstained.
    public var abstentions: Int
    /// Accuracy over the decisions that did not abstain; nil when every decision abstained.
    public var nonAbstainedAccuracy: Double?

    /// The smallest probability the negative log-likelihood takes the logarithm of: a label given
    /// probability 0 (or less than this) costs -ln(1e-12) ≈ 27.63 nats instead of infinity, so one
    /// confidently wrong sample cannot make the mean infinite (and the JSON invalid).
    public static let probabilityFloor = 1e-12

    /// Number of bins of ``reliability``.
    public static let reliabilityBinCount = 15

    /// The report for `decisions` on samples labelled `labels` among `classCount` classes.
    ///
    /// Preconditions: at least one decision, as many labels as decisions, `classCount > 0`, every label and
    /// predicted class in `0..<classCount`, every decision's probabilities `classCount` long, no confidence NaN.
    public init(decisions: [Decision], labels: [Int], classCount: Int) {
        precondition(classCount > 0, "classCount must be > 0")
        precondition(!decisions.isEmpty, "a calibration report needs at least one decision")
        precondition(decisions.count == labels.count, "one label per decision")
        let count = decisions.count
        var correct = [Bool]()
        var confidences = [Double]()
        correct.reserveCapacity(count)
        confidences.reserveCapacity(count)
        var confusion = [[Int]](repeating: [Int](repeating: 0, count: classCount), count: classCount)
        var nllSum = 0.0
        var brierSum = 0.0
        var miCorrect = (sum: 0.0, count: 0)
        var miWrong = (sum: 0.0, count: 0)
        var abstentions = 0
        var answeredCorrect = 0
        for (decision, label) in zip(decisions, labels) {
            precondition((0..<classCount).contains(label), "label \(label) outside 0..<\(classCount)")
            precondition((0..<classCount).contains(decision.predictedClass),
                         "predicted class \(decision.predictedClass) outside 0..<\(classCount)")
            precondition(decision.probabilities.count == classCount, "every decision needs classCount probabilities")
            let right = decision.predictedClass == label
            correct.append(right)
            confidences.append(decision.confidence)
            confusion[label][decision.predictedClass] += 1
            nllSum -= log(max(decision.probabilities[label], Self.probabilityFloor))
            for (c, p) in decision.probabilities.enumerated() {
                let diff = p - (c == label ? 1 : 0)
                brierSum += diff * diff
            }
            if right {
                miCorrect.sum += decision.mutualInformation
                miCorrect.count += 1
            } else {
                miWrong.sum += decision.mutualInformation
                miWrong.count += 1
            }
            if decision.abstained {
                abstentions += 1
            } else if right {
                answeredCorrect += 1
            }
        }
        let total = Double(count)
        n = count
        self.classCount = classCount
        accuracy = Double(miCorrect.count) / total
        nll = nllSum / total
        brier = brierSum / total
        ece15 = Self.expectedCalibrationError(confidences: confidences, correct: correct, bins: 15)
        ece20 = Self.expectedCalibrationError(confidences: confidences, correct: correct, bins: 20)
        reliability = Self.reliabilityBins(confidences: confidences, correct: correct, bins: Self.reliabilityBinCount)
        perClassAccuracy = (0..<classCount).map { label in
            let row = confusion[label]
            let samples = row.reduce(0, +)
            return samples > 0 ? Double(row[label]) / Double(samples) : nil
        }
        self.confusion = confusion
        meanConfidence = confidences.reduce(0, +) / total
        meanMutualInformationCorrect = miCorrect.count > 0 ? miCorrect.sum / Double(miCorrect.count) : nil
        meanMutualInformationWrong = miWrong.count > 0 ? miWrong.sum / Double(miWrong.count) : nil
        self.abstentions = abstentions
        nonAbstainedAccuracy = abstentions < count ? Double(answeredCorrect) / Double(count - abstentions) : nil
    }

    /// Index of the equal-width bin (out of `bins` on [0, 1]) that holds `confidence`: bin k holds
    /// `Double(k) / Double(bins) <= c < Double(k + 1) / Double(bins)`, the last bin also 1. Values outside
    /// [0, 1] are clamped into it.
    public static func binIndex(confidence: Double, bins: Int) -> Int {
        precondition(bins > 0, "bins must be > 0")
        precondition(!confidence.isNaN, "confidence must not be NaN")
        let c = Swift.min(Swift.max(confidence, 0), 1)
        var k = Swift.min(Int(c * Double(bins)), bins - 1)
        // c * bins can round across an edge; settle on the edges as they are computed.
        while k > 0, c < Double(k) / Double(bins) { k -= 1 }
        while k < bins - 1, c >= Double(k + 1) / Double(bins) { k += 1 }
        return k
    }

    /// The `bins` equal-width reliability bins on [0, 1] of predictions with these confidences, `correct[i]`
    /// saying whether prediction i is right. Preconditions: as many flags as confidences, `bins > 0`.
    public static func reliabilityBins(confidences: [Double], correct: [Bool], bins: Int) -> [ReliabilityBin] {
        precondition(bins > 0, "bins must be > 0")
        precondition(confidences.count == correct.count, "one correctness flag per confidence")
        var counts = [Int](repeating: 0, count: bins)
        var rights = [Int](repeating: 0, count: bins)
        var confidenceSums = [Double](repeating: 0, count: bins)
        for (c, right) in zip(confidences, correct) {
            let k = binIndex(confidence: c, bins: bins)
            counts[k] += 1
            if right { rights[k] += 1 }
            confidenceSums[k] += c
        }
        return (0..<bins).map { k in
            let size = counts[k]
            return ReliabilityBin(
                lower: Double(k) / Double(bins),
                upper: Double(k + 1) / Double(bins),
                count: size,
                accuracy: size > 0 ? Double(rights[k]) / Double(size) : nil,
                meanConfidence: size > 0 ? confidenceSums[k] / Double(size) : nil
            )
        }
    }

    /// Expected calibration error: with `bins` equal-width confidence bins on [0, 1] (see ``binIndex(confidence:bins:)``),
    /// the sum over bins of |bin| * |accuracy in bin - mean confidence in bin| / N. Between 0 and 1.
    /// Preconditions: at least one prediction, as many flags as confidences, `bins > 0`.
    public static func expectedCalibrationError(confidences: [Double], correct: [Bool], bins: Int) -> Double {
        precondition(!confidences.isEmpty, "expected calibration error needs at least one prediction")
        let table = reliabilityBins(confidences: confidences, correct: correct, bins: bins)
        var sum = 0.0
        for bin in table {
            guard let accuracy = bin.accuracy, let confidence = bin.meanConfidence else { continue }
            sum += Double(bin.count) * abs(accuracy - confidence)
        }
        return sum / Double(confidences.count)
    }

    enum CodingKeys: String, CodingKey {
        case n
        case classCount = "class_count"
        case accuracy, nll, brier
        case ece15 = "ece_15"
        case ece20 = "ece_20"
        case reliability
        case perClassAccuracy = "per_class_accuracy"
        case confusion
        case meanConfidence = "mean_confidence"
        case meanMutualInformationCorrect = "mean_mutual_information_correct"
        case meanMutualInformationWrong = "mean_mutual_information_wrong"
        case abstentions
        case nonAbstainedAccuracy = "non_abstained_accuracy"
    }

    /// Writes every key; a value that does not exist is JSON `null` (see the type's documentation).
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(n, forKey: .n)
        try c.encode(classCount, forKey: .classCount)
        try c.encode(accuracy, forKey: .accuracy)
        try c.encode(nll, forKey: .nll)
        try c.encode(brier, forKey: .brier)
        try c.encode(ece15, forKey: .ece15)
        try c.encode(ece20, forKey: .ece20)
        try c.encode(reliability, forKey: .reliability)
        try c.encode(perClassAccuracy, forKey: .perClassAccuracy)
        try c.encode(confusion, forKey: .confusion)
        try c.encode(meanConfidence, forKey: .meanConfidence)
        try c.encode(meanMutualInformationCorrect, forKey: .meanMutualInformationCorrect)
        try c.encode(meanMutualInformationWrong, forKey: .meanMutualInformationWrong)
        try c.encode(abstentions, forKey: .abstentions)
        try c.encode(nonAbstainedAccuracy, forKey: .nonAbstainedAccuracy)
    }
}
