import BiSNN
import EventStream
import Foundation
import Testing

#if canImport(FoundationXML)
import FoundationXML
#endif

@testable import BiSNNTraining

/// Calibration metrics, the reliability diagram and AUROC on hand-computed cases (BISNN.md section 4).
@Suite struct MetricsTests {
    static func close(_ a: Double, _ b: Double, tolerance: Double = 1e-12) -> Bool { abs(a - b) <= tolerance }

    static func close(_ a: Double?, _ b: Double, tolerance: Double = 1e-12) -> Bool {
        guard let a else { return false }
        return abs(a - b) <= tolerance
    }

    /// A one-draw decision with these probabilities.
    static func decision(_ p: [Double], rule: AbstentionRule = .never) -> Decision {
        Decision(drawProbabilities: [p], classCount: p.count, steps: 1, rule: rule)
    }

    // MARK: - Hand-computed 3-sample, 2-class case

    /// sample | p            | label | predicted | confidence | right
    ///   0    | [0.9, 0.1]   |   0   |     0     |    0.9     |  yes
    ///   1    | [0.6, 0.4]   |   1   |     0     |    0.6     |  no
    ///   2    | [0.3, 0.7]   |   1   |     1     |    0.7     |  yes
    ///
    /// accuracy = 2/3
    /// NLL      = -(ln 0.9 + ln 0.4 + ln 0.7) / 3 = (0.1053605 + 0.9162907 + 0.3566749) / 3 = 0.4594421
    /// Brier    = [(0.9-1)^2 + 0.1^2] + [0.6^2 + (0.4-1)^2] + [0.3^2 + (0.7-1)^2] = 0.02 + 0.72 + 0.18 = 0.92;
    ///            / 3 = 0.3066667
    /// ECE, 2 bins: [0, 0.5) is empty; [0.5, 1] holds all three, accuracy 2/3, mean confidence 2.2/3;
    ///            ECE = 3/3 * |2/3 - 2.2/3| = 0.2/3 = 0.0666667
    /// ECE, 15 bins: 0.9 in [13/15, 14/15) (|1 - 0.9| = 0.1), 0.6 = 9/15 in [9/15, 10/15) (|0 - 0.6| = 0.6),
    ///            0.7 in [10/15, 11/15) (|1 - 0.7| = 0.3); ECE = (0.1 + 0.6 + 0.3) / 3 = 1/3
    /// ECE, 20 bins: 0.9 = 18/20, 0.6 = 12/20, 0.7 = 14/20 each alone in a bin: again 1/3
    static let handDecisions = [decision([0.9, 0.1]), decision([0.6, 0.4]), decision([0.3, 0.7])]
    static let handLabels = [0, 1, 1]

    @Test func handComputedThreeSamples() {
        let report = CalibrationReport(decisions: Self.handDecisions, labels: Self.handLabels, classCount: 2)
        #expect(report.n == 3)
        #expect(report.classCount == 2)
        #expect(Self.close(report.accuracy, 2.0 / 3))
        #expect(Self.close(report.nll, -(log(0.9) + log(0.4) + log(0.7)) / 3))
        #expect(Self.close(report.nll, 0.4594421, tolerance: 1e-7))
        #expect(Self.close(report.brier, 0.92 / 3))
        #expect(Self.close(report.ece15, 1.0 / 3))
        #expect(Self.close(report.ece20, 1.0 / 3))
        #expect(Self.close(report.meanConfidence, 2.2 / 3))
        #expect(report.confusion == [[1, 0], [1, 1]])
        #expect(report.perClassAccuracy == [1.0, 0.5])
        #expect(report.abstentions == 0)
        #expect(report.nonAbstainedAccuracy == 2.0 / 3)
        #expect(report.meanMutualInformationCorrect == 0)  // one draw: no disagreement
        #expect(report.meanMutualInformationWrong == 0)

        let confidences = Self.handDecisions.map(\.confidence)
        let correct = [true, false, true]
        let ece2 = CalibrationReport.expectedCalibrationError(confidences: confidences, correct: correct, bins: 2)
        #expect(Self.close(ece2, 0.2 / 3))
        #expect(Self.close(ece2, 0.0666667, tolerance: 1e-7))
        // One bin: |accuracy - mean confidence| overall.
        let ece1 = CalibrationReport.expectedCalibrationError(confidences: confidences, correct: correct, bins: 1)
        #expect(Self.close(ece1, abs(2.0 / 3 - 2.2 / 3)))
    }

    @Test func reliabilityBinsOfHandCase() {
        let report = CalibrationReport(decisions: Self.handDecisions, labels: Self.handLabels, classCount: 2)
        #expect(report.reliability.count == 15)
        #expect(report.reliability.map(\.count) == [0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 0, 0, 1, 0])
        #expect(report.reliability[9].accuracy == 0)
        #expect(Self.close(report.reliability[9].meanConfidence, 0.6))
        #expect(report.reliability[10].accuracy == 1)
        #expect(report.reliability[13].accuracy == 1)
        #expect(report.reliability[0].accuracy == nil)
        #expect(report.reliability[0].meanConfidence == nil)
        #expect(report.reliability[0].lower == 0)
        #expect(report.reliability[14].upper == 1)
        for (k, bin) in report.reliability.enumerated() {
            #expect(bin.lower == Double(k) / 15)
            #expect(bin.upper == Double(k + 1) / 15)
        }
    }

    // MARK: - ECE on synthetic data

    @Test func perfectlyCalibratedExactCountsHasZeroECE() {
        // In each of five confidence levels, exactly that fraction of 100 predictions is right.
        var confidences = [Double]()
        var correct = [Bool]()
        for level in [0.55, 0.65, 0.75, 0.85, 0.95] {
            let right = Int((level * 100).rounded())
            for i in 0..<100 {
                confidences.append(level)
                correct.append(i < right)
            }
        }
        for bins in [10, 15, 20] {
            let ece = CalibrationReport.expectedCalibrationError(confidences: confidences, correct: correct, bins: bins)
            #expect(ece < 1e-12, "bins \(bins): ECE \(ece)")
        }
    }

    @Test func perfectlyCalibratedRandomDataHasSmallECE() {
        var random = Xoshiro256StarStar(seed: 42)
        var confidences = [Double]()
        var correct = [Bool]()
        for _ in 0..<200_000 {
            let c = Double.random(in: 0.5...1, using: &random)
            confidences.append(c)
            correct.append(Double.random(in: 0..<1, using: &random) < c)
        }
        let ece = CalibrationReport.expectedCalibrationError(confidences: confidences, correct: correct, bins: 15)
        #expect(ece < 0.01, "ECE \(ece)")
    }

    @Test func overConfidentDataHasKnownECE() {
        // 100 predictions at confidence 0.95, 70 of them right: ECE = |0.7 - 0.95| = 0.25.
        let confidences = [Double](repeating: 0.95, count: 100)
        let correct = (0..<100).map { $0 < 70 }
        #expect(Self.close(CalibrationReport.expectedCalibrationError(confidences: confidences, correct: correct, bins: 15),
                           0.25))
        // Plus 100 at 0.75 with 50 right: (100 * 0.25 + 100 * 0.25) / 200 = 0.25; 300 at 0.9 with 180 right
        // adds 300 * 0.3: (25 + 25 + 90) / 500 = 0.28.
        let mixedConfidences = confidences + [Double](repeating: 0.75, count: 100) + [Double](repeating: 0.9, count: 300)
        let mixedCorrect = correct + (0..<100).map { $0 < 50 } + (0..<300).map { $0 < 180 }
        for bins in [15, 20] {
            let ece = CalibrationReport.expectedCalibrationError(confidences: mixedConfidences, correct: mixedCorrect,
                                                                 bins: bins)
            #expect(Self.close(ece, 0.28), "bins \(bins): ECE \(ece)")
        }
    }

    @Test func overConfidentDecisionsReport() {
        // 10 decisions at confidence 0.9, 5 right: ECE 0.4 with any bin count.
        let decisions = (0..<10).map { _ in Self.decision([0.9, 0.1]) }
        let labels = (0..<10).map { $0 < 5 ? 0 : 1 }
        let report = CalibrationReport(decisions: decisions, labels: labels, classCount: 2)
        #expect(Self.close(report.ece15, 0.4))
        #expect(Self.close(report.ece20, 0.4))
        #expect(Self.close(report.accuracy, 0.5))
        #expect(report.perClassAccuracy == [1.0, 0.0])
    }

    // MARK: - Bin edges

    @Test func binEdges() {
        #expect(CalibrationReport.binIndex(confidence: 0, bins: 15) == 0)
        #expect(CalibrationReport.binIndex(confidence: 1.0 / 15, bins: 15) == 1)
        #expect(CalibrationReport.binIndex(confidence: (1.0 / 15).nextDown, bins: 15) == 0)
        #expect(CalibrationReport.binIndex(confidence: 1, bins: 15) == 14)
        #expect(CalibrationReport.binIndex(confidence: 1.0.nextDown, bins: 15) == 14)
        #expect(CalibrationReport.binIndex(confidence: 0.5, bins: 2) == 1)
        #expect(CalibrationReport.binIndex(confidence: 0.5.nextDown, bins: 2) == 0)
        // Out of range is clamped.
        #expect(CalibrationReport.binIndex(confidence: -0.1, bins: 15) == 0)
        #expect(CalibrationReport.binIndex(confidence: 1.5, bins: 15) == 14)
        // Every edge k/bins starts bin k, whatever c * bins rounds to.
        for bins in [2, 3, 7, 10, 15, 20, 33, 100] {
            for k in 0..<bins {
                let edge = Double(k) / Double(bins)
                #expect(CalibrationReport.binIndex(confidence: edge, bins: bins) == k, "edge \(k)/\(bins)")
                if k > 0 {
                    #expect(CalibrationReport.binIndex(confidence: edge.nextDown, bins: bins) == k - 1,
                            "below edge \(k)/\(bins)")
                }
            }
        }

        let bins = CalibrationReport.reliabilityBins(confidences: [0, 1.0 / 15, 1, 1], correct: [false, true, true, false],
                                                     bins: 15)
        #expect(bins[0].count == 1)
        #expect(bins[0].accuracy == 0)
        #expect(bins[0].meanConfidence == 0)
        #expect(bins[1].count == 1)
        #expect(bins[1].accuracy == 1)
        #expect(bins[14].count == 2)
        #expect(bins[14].accuracy == 0.5)
        #expect(bins[14].meanConfidence == 1)
        #expect(bins.map(\.count).reduce(0, +) == 4)
    }

    // MARK: - Confusion, per-class accuracy, MI, NLL clamp, abstention

    @Test func confusionAndPerClassAccuracyWithMissingClass() {
        // Three classes; no sample is labelled 1, but one is predicted 1.
        let decisions = [
            Self.decision([0.8, 0.1, 0.1]),  // label 0, predicted 0
            Self.decision([0.2, 0.7, 0.1]),  // label 0, predicted 1
            Self.decision([0.1, 0.1, 0.8]),  // label 2, predicted 2
            Self.decision([0.6, 0.2, 0.2]),  // label 2, predicted 0
            Self.decision([0.2, 0.2, 0.6]),  // label 2, predicted 2
        ]
        let report = CalibrationReport(decisions: decisions, labels: [0, 0, 2, 2, 2], classCount: 3)
        #expect(report.confusion == [[1, 1, 0], [0, 0, 0], [1, 0, 2]])
        #expect(report.perClassAccuracy.count == 3)
        #expect(report.perClassAccuracy[0] == 0.5)
        #expect(report.perClassAccuracy[1] == nil)
        #expect(Self.close(report.perClassAccuracy[2], 2.0 / 3))
        #expect(Self.close(report.accuracy, 0.6))
    }

    @Test func mutualInformationMeansWithNoWrongPrediction() {
        let agree = Decision(drawProbabilities: [[0.7, 0.3], [0.9, 0.1]], classCount: 2, steps: 1)
        let disagree = Decision(drawProbabilities: [[0.4, 0.6], [0.0, 1.0], [0.2, 0.8]], classCount: 2, steps: 1)
        #expect(agree.mutualInformation > 0)
        #expect(disagree.mutualInformation > 0)
        let report = CalibrationReport(decisions: [agree, disagree], labels: [0, 1], classCount: 2)
        #expect(report.accuracy == 1)
        #expect(report.meanMutualInformationWrong == nil)
        #expect(Self.close(report.meanMutualInformationCorrect, (agree.mutualInformation + disagree.mutualInformation) / 2))

        // The other way round: every prediction wrong.
        let wrong = CalibrationReport(decisions: [agree, disagree], labels: [1, 0], classCount: 2)
        #expect(wrong.accuracy == 0)
        #expect(wrong.meanMutualInformationCorrect == nil)
        #expect(Self.close(wrong.meanMutualInformationWrong, (agree.mutualInformation + disagree.mutualInformation) / 2))
    }

    @Test func nllClampsZeroProbability() {
        let report = CalibrationReport(decisions: [Self.decision([1, 0])], labels: [1], classCount: 2)
        #expect(report.nll.isFinite)
        #expect(Self.close(report.nll, -log(1e-12)))
        #expect(Self.close(report.nll, 27.631021115928547, tolerance: 1e-9))
        #expect(Self.close(report.brier, 2))  // (1 - 0)^2 + (0 - 1)^2
        // A probability above the floor is not clamped.
        let fine = CalibrationReport(decisions: [Self.decision([1 - 1e-9, 1e-9])], labels: [1], classCount: 2)
        #expect(Self.close(fine.nll, -log(1e-9), tolerance: 1e-9))
    }

    @Test func abstentionCountAndAccuracy() {
        let rule = AbstentionRule(minimumConfidence: 0.65)
        let decisions = [Self.decision([0.9, 0.1], rule: rule), Self.decision([0.6, 0.4], rule: rule),
                         Self.decision([0.3, 0.7], rule: rule)]
        let report = CalibrationReport(decisions: decisions, labels: Self.handLabels, classCount: 2)
        #expect(report.abstentions == 1)  // the 0.6 one, which is also the wrong one
        #expect(report.nonAbstainedAccuracy == 1)
        #expect(Self.close(report.accuracy, 2.0 / 3))  // abstained decisions still count in accuracy

        let all = CalibrationReport(decisions: [Self.decision([0.6, 0.4], rule: rule)], labels: [0], classCount: 2)
        #expect(all.abstentions == 1)
        #expect(all.nonAbstainedAccuracy == nil)
    }

    // MARK: - JSON

    @Test func jsonKeysAndValues() throws {
        // The hand case plus a tie predicted as class 0, among three classes; class 2 has no sample, so
        // per_class_accuracy has a null, as have the empty bins.
        let decisions = [[0.9, 0.1, 0], [0.6, 0.4, 0], [0.3, 0.7, 0], [0.5, 0.5, 0]].map { Self.decision($0) }
        let report = CalibrationReport(decisions: decisions, labels: Self.handLabels + [0], classCount: 3)
        let data = try JSONEncoder().encode(report)
        let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        for key in ["n", "class_count", "accuracy", "nll", "brier", "ece_15", "ece_20", "reliability",
                    "per_class_accuracy", "confusion", "mean_confidence", "mean_mutual_information_correct",
                    "mean_mutual_information_wrong", "abstentions", "non_abstained_accuracy"] {
            #expect(object[key] != nil, "missing key \(key)")
        }
        #expect(object.count == 15)
        #expect((object["n"] as? NSNumber)?.intValue == 4)
        #expect(Self.close((object["accuracy"] as? NSNumber)?.doubleValue, 3.0 / 4))
        #expect(Self.close((object["ece_15"] as? NSNumber)?.doubleValue, report.ece15))
        let perClass = try #require(object["per_class_accuracy"] as? [Any])
        #expect(perClass.count == 3)
        #expect(perClass[2] is NSNull)
        let reliability = try #require(object["reliability"] as? [[String: Any]])
        #expect(reliability.count == 15)
        #expect(Set(reliability[0].keys) == ["lower", "upper", "count", "accuracy", "mean_confidence"])
        #expect(reliability[0]["accuracy"] is NSNull)  // empty bin
        #expect((object["confusion"] as? [[Int]]) == [[2, 0, 0], [1, 1, 0], [0, 0, 0]])

        // Decodes back to the same report.
        let decoded = try JSONDecoder().decode(CalibrationReport.self, from: data)
        #expect(decoded == report)
    }

    @Test func jsonNullForMissingMeans() throws {
        let report = CalibrationReport(decisions: [Self.decision([0.9, 0.1])], labels: [0], classCount: 2)
        let data = try JSONEncoder().encode(report)
        let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        #expect(object["mean_mutual_information_wrong"] is NSNull)
        #expect((object["mean_mutual_information_correct"] as? NSNumber)?.doubleValue == 0)
        #expect(try JSONDecoder().decode(CalibrationReport.self, from: data) == report)
    }

    // MARK: - Reliability diagram

    /// Element names, `class` attributes and text of an XML document, through Foundation's XMLParser.
    final class XMLSummary: NSObject, XMLParserDelegate {
        var elements: [(name: String, cls: String?)] = []
        var texts: [(cls: String?, text: String)] = []
        private var stack: [(name: String, cls: String?, text: String)] = []

        func parser(_ parser: XMLParser, didStartElement elementName: String, namespaceURI: String?,
                    qualifiedName qName: String?, attributes attributeDict: [String: String] = [:]) {
            elements.append((elementName, attributeDict["class"]))
            stack.append((elementName, attributeDict["class"], ""))
        }

        func parser(_ parser: XMLParser, foundCharacters string: String) {
            if !stack.isEmpty { stack[stack.count - 1].text += string }
        }

        func parser(_ parser: XMLParser, didEndElement elementName: String, namespaceURI: String?,
                    qualifiedName qName: String?) {
            let top = stack.removeLast()
            if top.name == "text" || top.name == "title" { texts.append((top.name == "title" ? "svg-title" : top.cls, top.text)) }
        }

        /// Parses `text`; nil when it is not well-formed XML.
        static func parse(_ text: String) -> XMLSummary? {
            let parser = XMLParser(data: Data(text.utf8))
            let summary = XMLSummary()
            parser.delegate = summary
            return parser.parse() ? summary : nil
        }
    }

    static func diagramBins() -> [ReliabilityBin] {
        var random = Xoshiro256StarStar(seed: 7)
        var confidences = [Double]()
        var correct = [Bool]()
        for _ in 0..<500 {
            let c = Double.random(in: 0.4...1, using: &random)
            confidences.append(c)
            correct.append(Double.random(in: 0..<1, using: &random) < c * 0.9)
        }
        confidences.append(1)
        correct.append(true)
        return CalibrationReport.reliabilityBins(confidences: confidences, correct: correct, bins: 15)
    }

    @Test func svgIsWellFormedWithOneBarPerNonEmptyBin() throws {
        let bins = Self.diagramBins()
        let nonEmpty = bins.filter { $0.count > 0 }
        #expect(nonEmpty.count > 3 && nonEmpty.count < bins.count)  // some bins (below 0.4) stay empty
        let svg = ReliabilityDiagram.svg(bins: bins, title: "Validation", ece: 0.0523)
        #expect(svg.hasPrefix("<?xml"))
        #expect(svg.contains("<svg xmlns=\"http://www.w3.org/2000/svg\""))
        #expect(!svg.contains("<script"))
        #expect(!svg.contains("href"))
        #expect(svg.components(separatedBy: "class=\"bar\"").count - 1 == nonEmpty.count)
        #expect(svg.components(separatedBy: "class=\"mean-confidence\"").count - 1 == nonEmpty.count)
        #expect(svg.contains("stroke-dasharray"))
        #expect(svg.contains("ECE = 0.0523"))

        let summary = try #require(XMLSummary.parse(svg), "the SVG is not well-formed XML")
        #expect(summary.elements.first?.name == "svg")
        #expect(summary.elements.filter { $0.name == "rect" && $0.cls == "bar" }.count == nonEmpty.count)
        #expect(summary.elements.filter { $0.name == "line" && $0.cls == "diagonal" }.count == 1)
        #expect(summary.elements.filter { $0.name == "line" && $0.cls == "axis" }.count == 2)
        let counts = summary.texts.filter { $0.cls == "count" }.map(\.text)
        #expect(counts == nonEmpty.map { String($0.count) })
        let tickLabels = Set(summary.texts.filter { $0.cls == "tick-label" }.map(\.text))
        #expect(tickLabels == ["0.0", "0.2", "0.4", "0.6", "0.8", "1.0"])
        let axisLabels = summary.texts.filter { $0.cls == "axis-label" }.map(\.text)
        #expect(axisLabels == ["Confidence", "Accuracy"])
        #expect(summary.texts.contains { $0.cls == "title" && $0.text == "Validation" })
        #expect(summary.texts.contains { $0.cls == "ece" && $0.text == "ECE = 0.0523" })
    }

    @Test func svgWithoutECEAndEmptyBins() throws {
        let empty = CalibrationReport.reliabilityBins(confidences: [], correct: [], bins: 15)
        let svg = ReliabilityDiagram.svg(bins: empty, title: "nothing")
        #expect(!svg.contains("class=\"bar\""))
        #expect(!svg.contains("class=\"count\""))
        #expect(!svg.contains("ECE"))
        let summary = try #require(XMLSummary.parse(svg))
        #expect(summary.elements.filter { $0.cls == "bar" }.isEmpty)
    }

    @Test func svgEscapesTitle() throws {
        let title = "Model <v2> & \"calibration\" 'test'\u{1}"
        let report = CalibrationReport(decisions: Self.handDecisions, labels: Self.handLabels, classCount: 2)
        let svg = ReliabilityDiagram.svg(bins: report.reliability, title: title, ece: report.ece15)
        #expect(svg.contains("Model &lt;v2&gt; &amp; &quot;calibration&quot; &apos;test&apos;"))
        #expect(!svg.contains("<v2>"))
        #expect(!svg.contains("\u{1}"))
        let summary = try #require(XMLSummary.parse(svg), "the SVG is not well-formed XML")
        #expect(summary.texts.contains { $0.cls == "title" && $0.text == "Model <v2> & \"calibration\" 'test'" })
        #expect(summary.texts.contains { $0.cls == "svg-title" && $0.text == "Model <v2> & \"calibration\" 'test'" })
        #expect(summary.elements.filter { $0.cls == "bar" }.count == 3)
        #expect(summary.texts.filter { $0.cls == "count" }.map(\.text) == ["1", "1", "1"])
        #expect(svg.contains("ECE = 0.3333"))
    }

    @Test func svgBarGeometry() {
        // One bin [0.5, 1] with accuracy 0.5: the bar spans half the plot width and half its height.
        let bin = ReliabilityBin(lower: 0.5, upper: 1, count: 4, accuracy: 0.5, meanConfidence: 0.75)
        let svg = ReliabilityDiagram.svg(bins: [bin], title: "t")
        let left = ReliabilityDiagram.plotLeft, top = ReliabilityDiagram.plotTop, size = ReliabilityDiagram.plotSize
        let expected = "<rect class=\"bar\" x=\"\(ReliabilityDiagram.f(left + size / 2))\" "
            + "y=\"\(ReliabilityDiagram.f(top + size / 2))\" width=\"\(ReliabilityDiagram.f(size / 2))\" "
            + "height=\"\(ReliabilityDiagram.f(size / 2))\""
        #expect(svg.contains(expected))
        #expect(svg.contains(">4</text>"))
        #expect(ReliabilityDiagram.f(12.5) == "12.5")
        #expect(ReliabilityDiagram.f(12) == "12")
        #expect(ReliabilityDiagram.f(-0.001) == "0")
    }

    // MARK: - AUROC

    @Test func aurocPerfectReversedIdentical() {
        #expect(AUROC.area(positives: [3, 4, 5], negatives: [0, 1, 2]) == 1)
        #expect(AUROC.area(positives: [0, 1, 2], negatives: [3, 4, 5]) == 0)
        #expect(AUROC.area(positives: [1, 2, 3], negatives: [1, 2, 3]) == 0.5)
        #expect(AUROC.area(positives: [7, 7], negatives: [7, 7, 7]) == 0.5)
        #expect(AUROC.area(positives: [1], negatives: [0]) == 1)

        // Same distribution, many samples: close to 0.5.
        var random = Xoshiro256StarStar(seed: 3)
        let a = (0..<20_000).map { _ in Double.random(in: 0..<1, using: &random) }
        let b = (0..<20_000).map { _ in Double.random(in: 0..<1, using: &random) }
        #expect(abs(AUROC.area(positives: a, negatives: b) - 0.5) < 0.01)
    }

    @Test func aurocHandCaseWithTies() {
        // positives 0.9, 0.5, 0.5; negatives 0.5, 0.1. Pairs (positive, negative):
        // (0.9, 0.5) 1, (0.9, 0.1) 1, (0.5, 0.5) 1/2, (0.5, 0.1) 1, (0.5, 0.5) 1/2, (0.5, 0.1) 1 -> 5 / 6.
        #expect(Self.close(AUROC.area(positives: [0.9, 0.5, 0.5], negatives: [0.5, 0.1]), 5.0 / 6))
        // Order of the inputs does not matter.
        #expect(Self.close(AUROC.area(positives: [0.5, 0.9, 0.5], negatives: [0.1, 0.5]), 5.0 / 6))
    }

    @Test func aurocMatchesPairCounting() {
        var random = Xoshiro256StarStar(seed: 11)
        for _ in 0..<20 {
            // Scores on a coarse grid, so ties are common.
            let positives = (0..<Int.random(in: 1...40, using: &random)).map { _ in Double(Int.random(in: 0...9, using: &random)) }
            let negatives = (0..<Int.random(in: 1...40, using: &random)).map { _ in Double(Int.random(in: 0...6, using: &random)) }
            var wins = 0.0
            for p in positives {
                for q in negatives { wins += p > q ? 1 : (p == q ? 0.5 : 0) }
            }
            let expected = wins / Double(positives.count * negatives.count)
            #expect(Self.close(AUROC.area(positives: positives, negatives: negatives), expected))
        }
    }
}
