import ArgumentParser
import BiSNNTraining

/// Options `bisnn train` and `bisnn eval` share: the labelled folder, how to read it, and the validation split.
struct DatasetOptions: ParsableArguments {
    @Option(help: "A folder with labels.csv and recordings (train carves its validation split out of it).")
    var data: String

    @Option(help: "Sensor width for recordings without one (e.g. 128 for DVS128 Gesture).")
    var width: Int?

    @Option(help: "Sensor height for recordings without one.")
    var height: Int?

    @Option(help: "Validation fraction of the split.")
    var validationFraction = 0.2

    @Option(help: "Seed of the split.")
    var splitSeed: UInt64 = 1

    @Option(help: "Threads for loading and evaluating.")
    var jobs = 2

    /// The recordings of `folder` (default: `--data`) labelled with `classNames`.
    func load(_ folder: String? = nil, classNames: [String]) throws -> LabelledDataset {
        try LabelledDataset.load(folder: folder ?? data, classNames: classNames, width: width, height: height, jobs: jobs)
    }

    /// `dataset` split as `bisnn train` splits it.
    func split(_ dataset: LabelledDataset) -> (train: LabelledDataset, validation: LabelledDataset) {
        dataset.stratifiedSplit(validationFraction: validationFraction, seed: splitSeed)
    }
}
