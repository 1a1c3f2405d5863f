import ArgumentParser
import BiSNN
import BiSNNTraining
import EventStream
import Foundation

/// `bisnn eval`: accuracy and calibration of a model on a labelled folder.
struct EvalCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval",
        abstract: "Accuracy, NLL, Brier, ECE, per-class accuracy and confusion of a model on a labelled folder.")

    @Option(help: "The model file (.safetensors).")
    var model: String

    @OptionGroup var source: DatasetOptions
    var data: String { source.data }
    var jobs: Int { source.jobs }

    @Option(help: "mode (sign of the stored values; float weights for a real model) or ensemble.")
    var predictor: PredictorName = .mode

    @Option(help: "Draws of the ensemble (1-64).")
    var samples = 10

    @Option(help: "Seed of the ensemble's draws.")
    var seed: UInt64 = 1

    @Option(help: "Which part of the folder: all, or the train or validation part of the split training uses.")
    var split: SplitPart = .all

    @Flag(help: "Print one JSON object.")
    var json = false

    @Option(help: "Write a reliability diagram (SVG) here.")
    var diagram: String?

    @Option(help: "Write one JSON line per recording here.")
    var predictions: String?

    @Option(help: "Classes never seen in training, comma-separated: AUROC of mutual information and of low confidence.")
    var unseenClasses: String?

    enum PredictorName: String, ExpressibleByArgument, CaseIterable { case mode, ensemble }
    enum SplitPart: String, ExpressibleByArgument, CaseIterable { case all, train, validation }

    func run() throws {
        let network = try NetworkModel.load(from: model)
        var dataset = try source.load(classNames: network.network.classNames)
        if split != .all {
            let parts = source.split(dataset)
            dataset = split == .train ? parts.train : parts.validation
        }
        guard dataset.count > 0 else { throw ValidationError("\(data): no recording in the \(split.rawValue) part") }
        let choice: EvaluationPredictor = predictor == .mode ? .mode : .ensemble(size: samples, seed: seed)
        let decisions = try ModelEvaluator.decisions(model: network, dataset: dataset, predictor: choice, jobs: jobs)
        let labels = dataset.recordings.map(\.label)
        let report = CalibrationReport(decisions: decisions, labels: labels, classCount: network.network.classCount)
        let title = "\(URL(fileURLWithPath: model).lastPathComponent), \(predictor == .mode ? "mode" : "ensemble of \(samples)")"
        if let diagram {
            try ReliabilityDiagram.svg(bins: report.reliability, title: title, ece: report.ece15)
                .write(toFile: diagram, atomically: true, encoding: .utf8)
        }
        if let predictions {
            var lines = ""
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            for (recording, decision) in zip(dataset.recordings, decisions) {
                let line = PredictionLine(
                    file: recording.file, label: recording.label, predicted: decision.predictedClass,
                    confidence: decision.confidence, probabilities: decision.probabilities,
                    mutualInformation: decision.mutualInformation)
                lines += String(decoding: try encoder.encode(line), as: UTF8.self) + "\n"
            }
            try lines.write(toFile: predictions, atomically: true, encoding: .utf8)
        }
        let unseen = try unseenSeparation(decisions: decisions, labels: labels)
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            var object = try JSONSerialization.jsonObject(with: try encoder.encode(report)) as! [String: Any]
            if let unseen {
                object["auroc_mutual_information"] = unseen.mutualInformation
                object["auroc_confidence"] = unseen.confidence
            }
            let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
            print(String(decoding: data, as: UTF8.self))
        } else {
            print(text(report, title: title, classNames: network.network.classNames))
            if let unseen {
                print(String(format: "unseen classes %@: AUROC of mutual information %.4f, of 1 - confidence %.4f",
                             unseenClasses ?? "", unseen.mutualInformation, unseen.confidence))
            }
        }
    }

    /// With `--unseen-classes`: how well mutual information, and low confidence, rank the recordings of unseen
    /// classes above the others (AUROC; 0.5 is chance).
    func unseenSeparation(decisions: [Decision], labels: [Int]) throws -> (mutualInformation: Double, confidence: Double)? {
        guard let unseenClasses else { return nil }
        let unseen = Set(unseenClasses.split(separator: ",").compactMap { Int($0) })
        let isUnseen = labels.map { unseen.contains($0) }
        guard isUnseen.contains(true), isUnseen.contains(false) else {
            throw ValidationError("--unseen-classes \(unseenClasses): the data needs recordings of both seen and unseen classes")
        }
        let mi = zip(decisions, isUnseen)
        let confidence = zip(decisions, isUnseen)
        return (
            AUROC.area(positives: mi.filter(\.1).map(\.0.mutualInformation), negatives: mi.filter { !$0.1 }.map(\.0.mutualInformation)),
            AUROC.area(positives: confidence.filter(\.1).map { 1 - $0.0.confidence },
                       negatives: confidence.filter { !$0.1 }.map { 1 - $0.0.confidence }))
    }

    func text(_ r: CalibrationReport, title: String, classNames: [String]) -> String {
        var lines = [
            "\(title) on \(data) (\(split.rawValue), \(r.n) recordings)",
            String(format: "accuracy %.4f  nll %.4f  brier %.4f  ece-15 %.4f  ece-20 %.4f  mean confidence %.4f",
                   r.accuracy, r.nll, r.brier, r.ece15, r.ece20, r.meanConfidence),
            "mutual information: right " + (r.meanMutualInformationCorrect.map { String(format: "%.4f", $0) } ?? "-")
                + ", wrong " + (r.meanMutualInformationWrong.map { String(format: "%.4f", $0) } ?? "-"),
            "per class: " + classNames.indices.map { c in
                "\(classNames[c]) " + (r.perClassAccuracy[c].map { String(format: "%.2f", $0) } ?? "-")
            }.joined(separator: ", "),
            "confusion (rows true, columns predicted):",
        ]
        for row in r.confusion { lines.append("  " + row.map { String(format: "%4d", $0) }.joined(separator: " ")) }
        return lines.joined(separator: "\n")
    }
}

/// One line of `--predictions`.
struct PredictionLine: Encodable {
    var file: String
    var label: Int
    var predicted: Int
    var confidence: Double
    var probabilities: [Double]
    var mutualInformation: Double

    enum CodingKeys: String, CodingKey {
        case file, label, predicted, confidence, probabilities
        case mutualInformation = "mutual_information"
    }
}
