import ArgumentParser
import BiSNN
import BiSNNTraining
import EventStream
import Foundation

/// `bisnn train`: trains a model with one of the three learning rules on a labelled folder.
struct TrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train a model (fp, st or bayes) on a labelled folder, with a validation split and checkpoints.")

    @Option(help: "fp (full precision), st (ST-BiSNN) or bayes (Bayes-BiSNN).")
    var rule: LearningRule

    @OptionGroup var source: DatasetOptions
    var data: String { source.data }
    var jobs: Int { source.jobs }
    var validationFraction: Double { source.validationFraction }
    var splitSeed: UInt64 { source.splitSeed }

    @Option(help: "More training folders (not split), e.g. simulated recordings.")
    var extra: [String] = []

    @Option(help: "Where to write the trained model.")
    var out: String

    @Option(help: "Class names, comma-separated (default 0..9).")
    var classes = "0,1,2,3,4,5,6,7,8,9"

    @Option(help: "Only these classes, comma-separated indices (e.g. 0,1,2,3,4,5,6,7); others are left out.")
    var onlyClasses: String?

    @Option(help: "The model's input, CxHxW (2 channels: ON and OFF apart); larger sensors are downsampled and cropped.")
    var input = "2x34x34"

    @Option(help: "Hidden layer sizes, comma-separated.")
    var hidden = "512,512"

    @Option(help: "Bin width in microseconds.")
    var binWidth = 1_000

    @Option(help: "Time steps per sample (shorter recordings are padded, longer cut).")
    var steps = 300

    @Option(help: "Burn-in steps without learning.")
    var burnIn = 30

    @Option(help: "Epochs in all (a resumed run continues up to this).")
    var epochs = 10

    @Option(help: "Mini-batch size.")
    var batch = 32

    @Option(help: "Learning rate eta (default per rule: fp 1, st 5, bayes 5).")
    var lr: Float?

    @Option(help: "Bias learning rate.")
    var biasLr: Float?

    @Option(help: "Halve the learning rates every this many epochs (0: never).")
    var halveEvery = 0

    @Option(help: "Bayes: temperature tau of the relaxed sample.")
    var tau: Float?

    @Option(help: "Bayes: prior weight rho (default 1 / (training samples x updates a sample)).")
    var rho: Float?

    @Option(help: "Bayes: initial |lambda| (default 2).")
    var lambda0: Float?

    @Option(help: "Augmentation: largest random shift in pixels.")
    var shift = 0

    @Option(help: "Augmentation: event dropout probability.")
    var dropout = 0.0

    @Option(help: "Augmentation: time jitter in microseconds.")
    var jitter: Int64 = 0

    @Option(help: "Seed of initialisation, shuffling and sampling.")
    var seed: UInt64 = 1

    @Option(help: "Checkpoint written after every epoch (default: OUT.checkpoint.safetensors).")
    var checkpoint: String?

    @Flag(help: "Continue from the checkpoint (give the same options as the first run).")
    var resume = false

    func run() throws {
        let classNames = classes.split(separator: ",").map(String.init)
        var train = try source.load(classNames: classNames)
        let parts = source.split(train)
        train = parts.train
        var validation = parts.validation
        for folder in extra {
            train = train.merged(with: try source.load(folder, classNames: classNames))
        }
        if let onlyClasses {
            let keep = Set(onlyClasses.split(separator: ",").compactMap { Int($0) })
            train = train.filtered(classes: keep)
            validation = validation.filtered(classes: keep)
        }
        guard train.count >= batch else {
            throw ValidationError("\(data): \(train.count) training recordings, fewer than one batch of \(batch)")
        }
        var hyper = RuleHyperparameters.defaults(
            for: rule, trainingSamples: train.count, updatesPerSample: steps - burnIn)
        if let lr { hyper.learningRate = lr }
        if let biasLr { hyper.biasLearningRate = biasLr }
        if let tau { hyper.temperature = tau }
        if let rho { hyper.priorWeight = rho }
        if let lambda0 { hyper.initialLambda = lambda0 }
        let sizes = hidden.split(separator: ",").compactMap { Int($0) }
        let shape = input.split(separator: "x").compactMap { Int($0) }
        guard shape.count == 3 else { throw ValidationError("--input \(input): expected CxHxW, e.g. 2x34x34") }
        let description = NetworkDescription.mlp(
            input: InputGeometry(channels: shape[0], height: shape[1], width: shape[2]), hiddenSizes: sizes,
            classNames: classNames, binWidthMicroseconds: binWidth, burnInSteps: burnIn, weightKind: rule.weightKind)
        try description.validate()
        let checkpointPath = checkpoint ?? out + ".checkpoint.safetensors"
        var start = RuleState.initialModel(network: description, rule: rule, hyperparameters: hyper, seed: seed)
        var epochsDone = 0
        if resume {
            start = try NetworkModel.load(from: checkpointPath)
            epochsDone = Int(start.metadata.hyperparameters["epochs_done"]?.number ?? 0)
            FileHandle.standardError.write(Data("resuming from \(checkpointPath) after epoch \(epochsDone)\n".utf8))
        }
        let augmentation = EventAugmentation(maxShift: shift, dropout: dropout, timeJitter: jitter)
        var options = TrainingOptions(rule: rule, hyperparameters: hyper, batchSize: batch, steps: steps, seed: seed)
        options.hyperparameters = halved(hyper, epoch: epochsDone)
        var trainer = Trainer(model: start, options: options, epochsDone: epochsDone)
        // A resumed run continues the checkpoint's per-epoch history.
        var history: [JSONValue] = []
        if resume, case .array(let earlier)? = start.metadata.evaluation["history"] { history = earlier }
        while trainer.epochsDone < epochs {
            let epoch = trainer.epochsDone + 1
            trainer.options.hyperparameters = halved(hyper, epoch: epoch - 1)
            var rng = Xoshiro256StarStar(seed: seed ^ UInt64(epoch) &* 0xA24B_AED4_963E_E407)
            let samples = try train.recordings.map { r in
                let events = augmentation.isNone ? r.events : augmentation.apply(to: r.events, geometry: r.geometry, rng: &rng)
                let configuration = try LabelledDataset.frameConfiguration(for: description, sensor: r.geometry)
                return TrainingSample(frames: LabelledDataset.frames(of: events, configuration: configuration), label: r.label)
            }
            let report = trainer.trainEpoch(samples) { done, total, loss, accuracy in
                let width = 30
                let filled = width * done / max(total, 1)
                let bar = String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled)
                FileHandle.standardError.write(Data(String(
                    format: "\repoch %d/%d [%@] %d/%d  loss %.4f  acc %.3f", epoch, epochs, bar, done, total, loss,
                    accuracy).utf8))
            }
            guard trainer.rule.isFinite, trainer.network.biases.allSatisfy({ $0.allSatisfy(\.isFinite) }) else {
                throw ValidationError("epoch \(epoch): weights became NaN or infinite; the last good checkpoint is \(checkpointPath)")
            }
            var model = trainer.model
            let figures = try validationFigures(model, validation)
            let speed = Double(report.samples) / report.seconds
            FileHandle.standardError.write(Data(String(
                format: "\repoch %d/%d  %.1f s (%.0f samples/s)  loss %.4f  train acc %.3f  %@\n", epoch, epochs,
                report.seconds, speed, report.meanLoss, report.trainingAccuracy,
                figures.map { "\($0.key) \(String(format: "%.4f", $0.value.number ?? .nan))" }.sorted()
                    .joined(separator: "  ")).utf8))
            history.append(.object([
                "epoch": .number(Double(epoch)), "seconds": .number(report.seconds), "loss": .number(report.meanLoss),
                "train_accuracy": .number(report.trainingAccuracy),
            ].merging(figures) { a, _ in a }))
            model.metadata = metadata(hyper: hyper, epochsDone: epoch, train: train, validation: validation,
                                      figures: figures, history: history)
            try model.write(to: checkpointPath)
            if epoch == epochs { try model.write(to: out) }
        }
    }

    func halved(_ h: RuleHyperparameters, epoch: Int) -> RuleHyperparameters {
        guard halveEvery > 0 else { return h }
        var h = h
        let factor = Float(pow(0.5, Double(epoch / halveEvery)))
        h.learningRate *= factor
        h.biasLearningRate *= factor
        return h
    }

    /// Validation accuracy, NLL, ECE-15 and Brier: mode for every rule, and an ensemble of 10 for bayes.
    func validationFigures(_ model: NetworkModel, _ validation: LabelledDataset) throws -> [String: JSONValue] {
        guard validation.count > 0 else { return [:] }
        var figures: [String: JSONValue] = [:]
        var predictors: [(String, EvaluationPredictor)] = [("mode", .mode)]
        if rule == .bayes { predictors.append(("ensemble10", .ensemble(size: 10, seed: 1))) }
        for (name, predictor) in predictors {
            let decisions = try ModelEvaluator.decisions(model: model, dataset: validation, predictor: predictor, jobs: jobs)
            let r = CalibrationReport(
                decisions: decisions, labels: validation.recordings.map(\.label), classCount: model.network.classCount)
            figures["val_\(name)_accuracy"] = .number(r.accuracy)
            figures["val_\(name)_nll"] = .number(r.nll)
            figures["val_\(name)_ece_15"] = .number(r.ece15)
            figures["val_\(name)_brier"] = .number(r.brier)
        }
        return figures
    }

    func metadata(
        hyper: RuleHyperparameters, epochsDone: Int, train: LabelledDataset, validation: LabelledDataset,
        figures: [String: JSONValue], history: [JSONValue]
    ) -> ModelMetadata {
        ModelMetadata(
            rule: rule.rawValue,
            trainedOn: "\(data) minus a \(validationFraction) validation split (seed \(splitSeed))"
                + (extra.isEmpty ? "" : " plus \(extra.joined(separator: ", "))")
                + (onlyClasses.map { ", classes \($0) only" } ?? "") + ": \(train.count) training, \(validation.count) validation recordings",
            hyperparameters: [
                "learning_rate": .number(Double(hyper.learningRate)), "bias_learning_rate": .number(Double(hyper.biasLearningRate)),
                "temperature": .number(Double(hyper.temperature)), "prior_weight": .number(Double(hyper.priorWeight)),
                "initial_lambda": .number(Double(hyper.initialLambda)), "halve_every": .number(Double(halveEvery)),
                "epochs": .number(Double(epochs)), "epochs_done": .number(Double(epochsDone)), "batch": .number(Double(batch)),
                "steps": .number(Double(steps)), "seed": .number(Double(seed)), "shift": .number(Double(shift)),
                "dropout": .number(dropout), "jitter_us": .number(Double(jitter)),
                "validation_fraction": .number(validationFraction), "split_seed": .number(Double(splitSeed)),
            ],
            evaluation: figures.merging(["history": .array(history)]) { a, _ in a })
    }
}

extension LearningRule: ExpressibleByArgument {}
