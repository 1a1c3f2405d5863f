import EventStream

extension LabelledDataset {
    /// Splits the dataset into a training and a validation part, stratified by class.
    ///
    /// For each class with `n` recordings, `k = round(validationFraction * n)` of them (halves rounded away
    /// from zero) go to validation, the rest to training, with two adjustments for small classes: when
    /// `validationFraction > 0` and `n >= 2`, `k` is at least 1, and when `validationFraction < 1` and
    /// `n >= 2`, at most `n - 1`, so such a class is on both sides. A class with a single recording keeps it in
    /// training unless `round(validationFraction) == 1`.
    ///
    /// Which recordings go to validation is a seeded partial Fisher-Yates shuffle of the class's recordings
    /// with ``Xoshiro256StarStar``; class `c` uses its own generator, seeded with the `c + 1`-th output of
    /// `SplitMix64(state: seed)`, so a class's choice depends only on the seed and on that class's recordings
    /// (their order in `labels.csv`), not on other classes, on `jobs` or on thread timing. Both parts keep
    /// the dataset's order and its class names; together they hold every recording exactly once.
    ///
    /// - Parameters:
    ///   - validationFraction: the share of each class to hold out, in `0...1`.
    ///   - seed: the seed of the choice; the same seed gives the same split.
    public func stratifiedSplit(
        validationFraction: Double, seed: UInt64
    ) -> (train: LabelledDataset, validation: LabelledDataset) {
        precondition(
            validationFraction >= 0 && validationFraction <= 1,
            "validationFraction must be in 0...1, got \(validationFraction)")
        var members = [[Int]](repeating: [], count: classNames.count)
        for (i, r) in recordings.enumerated() { members[r.label].append(i) }
        var toValidation = [Bool](repeating: false, count: recordings.count)
        var seeds = SplitMix64(state: seed)
        for var positions in members {
            var rng = Xoshiro256StarStar(seed: seeds.next())
            let n = positions.count
            var k = Int((validationFraction * Double(n)).rounded(.toNearestOrAwayFromZero))
            if n >= 2 {
                if validationFraction > 0 { k = max(k, 1) }
                if validationFraction < 1 { k = min(k, n - 1) }
            }
            for j in 0..<k {
                positions.swapAt(j, j + rng.nextInt(below: n - j))
                toValidation[positions[j]] = true
            }
        }
        var train: [LabelledRecording] = [], validation: [LabelledRecording] = []
        for (i, r) in recordings.enumerated() {
            if toValidation[i] { validation.append(r) } else { train.append(r) }
        }
        return (LabelledDataset(classNames: classNames, recordings: train),
                LabelledDataset(classNames: classNames, recordings: validation))
    }
}
