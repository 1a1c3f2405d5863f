/// Area under the ROC curve of a score that should be higher for positives than for negatives, e.g. mutual
/// information separating samples of unseen classes (positives) from samples of seen ones (negatives).
public enum AUROC {
    /// The probability that a random positive scores higher than a random negative, a tie counting half
    /// (the Mann-Whitney U statistic over `positives.count * negatives.count`): 1 for perfect separation,
    /// 0 for perfectly reversed, 0.5 for a score that carries no information.
    ///
    /// O(n log n): sorts all scores once and gives tied scores their mean rank.
    /// Preconditions: both sets non-empty, no score NaN.
    public static func area(positives: [Double], negatives: [Double]) -> Double {
        precondition(!positives.isEmpty && !negatives.isEmpty, "AUROC needs at least one positive and one negative")
        precondition(!positives.contains(where: \.isNaN) && !negatives.contains(where: \.isNaN), "scores must not be NaN")
        let scores = (positives.map { ($0, true) } + negatives.map { ($0, false) }).sorted { $0.0 < $1.0 }
        // Sum of the 1-based ranks of the positives, tied scores sharing the mean of their ranks.
        var positiveRankSum = 0.0
        var start = 0
        while start < scores.count {
            var end = start + 1
            while end < scores.count, scores[end].0 == scores[start].0 { end += 1 }
            let meanRank = Double(start + 1 + end) / 2  // mean of ranks start+1 ... end
            var positivesInGroup = 0
            for i in start..<end where scores[i].1 { positivesInGroup += 1 }
            positiveRankSum += meanRank * Double(positivesInGroup)
            start = end
        }
        let p = Double(positives.count), q = Double(negatives.count)
        let u = positiveRankSum - p * (p + 1) / 2
        return u / (p * q)
    }
}
