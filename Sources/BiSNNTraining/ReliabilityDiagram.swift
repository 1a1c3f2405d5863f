import Foundation

/// A reliability diagram as a self-contained SVG document (no external fonts, styles or scripts): confidence
/// on the x axis and accuracy on the y axis, both from 0 to 1 with ticks every 0.1 and labels every 0.2; the
/// diagonal of perfect calibration dashed; per non-empty bin one bar (`<rect class="bar">`) as wide as the bin
/// and as tall as its accuracy, a short red line across the bin at its mean confidence
/// (`<line class="mean-confidence">`, so the gap between bar top and line is the bin's miscalibration), and
/// the bin's count written above both; the title on top; and a legend (with the ECE when given). Empty bins
/// draw nothing.
public enum ReliabilityDiagram {
    // Layout, in SVG user units.
    static let plotLeft = 64.0
    static let plotTop = 52.0
    static let plotSize = 360.0
    static let width = 448.0
    static let height = 472.0

    /// The SVG document for `bins` (typically ``CalibrationReport/reliability``) under `title` (escaped for
    /// XML), with `ece` shown in the legend when given. Edges, accuracies and mean confidences outside [0, 1]
    /// are clamped into it; a non-empty bin without an accuracy or with a non-finite one draws no bar.
    public static func svg(bins: [ReliabilityBin], title: String, ece: Double? = nil) -> String {
        let left = plotLeft, top = plotTop, size = plotSize
        let bottom = top + size
        func x(_ value: Double) -> Double { left + clamp(value) * size }
        func y(_ value: Double) -> Double { bottom - clamp(value) * size }

        var out = """
            <?xml version="1.0" encoding="UTF-8"?>
            <svg xmlns="http://www.w3.org/2000/svg" width="\(f(width))" height="\(f(height))" \
            viewBox="0 0 \(f(width)) \(f(height))" font-family="sans-serif">

            """
        let escapedTitle = xmlEscaped(title)
        out += "<title>\(escapedTitle)</title>\n"
        out += "<rect class=\"background\" x=\"0\" y=\"0\" width=\"\(f(width))\" height=\"\(f(height))\" fill=\"white\"/>\n"
        out += "<text class=\"title\" x=\"\(f(width / 2))\" y=\"28\" text-anchor=\"middle\" font-size=\"15\" "
            + "font-weight=\"bold\">\(escapedTitle)</text>\n"

        // Bars, mean-confidence markers and counts, under the axes.
        for bin in bins where bin.count > 0 {
            guard let accuracy = bin.accuracy, accuracy.isFinite else { continue }
            let x0 = x(bin.lower), x1 = Swift.max(x(bin.upper), x0)
            let barTop = y(accuracy)
            out += "<rect class=\"bar\" x=\"\(f(x0))\" y=\"\(f(barTop))\" width=\"\(f(x1 - x0))\" "
                + "height=\"\(f(bottom - barTop))\" fill=\"#4a7ebb\" fill-opacity=\"0.85\" stroke=\"white\" "
                + "stroke-width=\"0.5\"/>\n"
            var labelAbove = barTop
            if let confidence = bin.meanConfidence, confidence.isFinite {
                let markY = y(confidence)
                out += "<line class=\"mean-confidence\" x1=\"\(f(x0))\" y1=\"\(f(markY))\" x2=\"\(f(x1))\" "
                    + "y2=\"\(f(markY))\" stroke=\"#d62728\" stroke-width=\"2\"/>\n"
                labelAbove = Swift.min(labelAbove, markY)
            }
            out += "<text class=\"count\" x=\"\(f((x0 + x1) / 2))\" y=\"\(f(labelAbove - 4))\" "
                + "text-anchor=\"middle\" font-size=\"9\">\(bin.count)</text>\n"
        }

        // Diagonal of perfect calibration.
        out += "<line class=\"diagonal\" x1=\"\(f(x(0)))\" y1=\"\(f(y(0)))\" x2=\"\(f(x(1)))\" y2=\"\(f(y(1)))\" "
            + "stroke=\"#666666\" stroke-width=\"1\" stroke-dasharray=\"6 4\"/>\n"

        // Axes, ticks and labels.
        out += "<line class=\"axis\" x1=\"\(f(left))\" y1=\"\(f(bottom))\" x2=\"\(f(left + size))\" y2=\"\(f(bottom))\" "
            + "stroke=\"black\"/>\n"
        out += "<line class=\"axis\" x1=\"\(f(left))\" y1=\"\(f(bottom))\" x2=\"\(f(left))\" y2=\"\(f(top))\" "
            + "stroke=\"black\"/>\n"
        for i in 0...10 {
            let value = Double(i) / 10
            let labelled = i % 2 == 0
            let length = labelled ? 6.0 : 3.0
            out += "<line class=\"tick\" x1=\"\(f(x(value)))\" y1=\"\(f(bottom))\" x2=\"\(f(x(value)))\" "
                + "y2=\"\(f(bottom + length))\" stroke=\"black\"/>\n"
            out += "<line class=\"tick\" x1=\"\(f(left))\" y1=\"\(f(y(value)))\" x2=\"\(f(left - length))\" "
                + "y2=\"\(f(y(value)))\" stroke=\"black\"/>\n"
            if labelled {
                let label = String(format: "%.1f", value)
                out += "<text class=\"tick-label\" x=\"\(f(x(value)))\" y=\"\(f(bottom + 20))\" "
                    + "text-anchor=\"middle\" font-size=\"11\">\(label)</text>\n"
                out += "<text class=\"tick-label\" x=\"\(f(left - 9))\" y=\"\(f(y(value) + 4))\" "
                    + "text-anchor=\"end\" font-size=\"11\">\(label)</text>\n"
            }
        }
        out += "<text class=\"axis-label\" x=\"\(f(left + size / 2))\" y=\"\(f(bottom + 44))\" "
            + "text-anchor=\"middle\" font-size=\"13\">Confidence</text>\n"
        let yLabelX = 20.0, yLabelY = top + size / 2
        out += "<text class=\"axis-label\" x=\"\(f(yLabelX))\" y=\"\(f(yLabelY))\" text-anchor=\"middle\" "
            + "font-size=\"13\" transform=\"rotate(-90 \(f(yLabelX)) \(f(yLabelY)))\">Accuracy</text>\n"

        // Legend, top left inside the plot.
        let lx = left + 10, ly = top + 10
        let rows = ece == nil ? 3 : 4
        out += "<g class=\"legend\" font-size=\"11\">\n"
        out += "<rect class=\"legend-box\" x=\"\(f(lx))\" y=\"\(f(ly))\" width=\"150\" height=\"\(f(Double(rows) * 16 + 8))\" "
            + "fill=\"white\" fill-opacity=\"0.85\" stroke=\"#999999\" stroke-width=\"0.5\"/>\n"
        var rowY = ly + 15
        out += "<rect class=\"legend-swatch\" x=\"\(f(lx + 6))\" y=\"\(f(rowY - 8))\" width=\"18\" height=\"9\" "
            + "fill=\"#4a7ebb\" fill-opacity=\"0.85\"/>\n"
        out += "<text x=\"\(f(lx + 30))\" y=\"\(f(rowY))\">accuracy</text>\n"
        rowY += 16
        out += "<line x1=\"\(f(lx + 6))\" y1=\"\(f(rowY - 4))\" x2=\"\(f(lx + 24))\" y2=\"\(f(rowY - 4))\" "
            + "stroke=\"#d62728\" stroke-width=\"2\"/>\n"
        out += "<text x=\"\(f(lx + 30))\" y=\"\(f(rowY))\">mean confidence</text>\n"
        rowY += 16
        out += "<line x1=\"\(f(lx + 6))\" y1=\"\(f(rowY - 4))\" x2=\"\(f(lx + 24))\" y2=\"\(f(rowY - 4))\" "
            + "stroke=\"#666666\" stroke-dasharray=\"6 4\"/>\n"
        out += "<text x=\"\(f(lx + 30))\" y=\"\(f(rowY))\">perfect calibration</text>\n"
        if let ece {
            rowY += 16
            let value = ece.isFinite ? String(format: "%.4f", ece) : "n/a"
            out += "<text class=\"ece\" x=\"\(f(lx + 6))\" y=\"\(f(rowY))\">ECE = \(value)</text>\n"
        }
        out += "</g>\n"
        out += "</svg>\n"
        return out
    }

    /// `text` with `&`, `<`, `>`, `"` and `'` escaped as XML entities, and the characters XML 1.0 forbids
    /// (controls other than tab, newline and carriage return; U+FFFE and U+FFFF) left out.
    static func xmlEscaped(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&apos;"
            case "\t", "\n", "\r": out.unicodeScalars.append(scalar)
            default:
                if scalar.value < 0x20 || scalar.value == 0xFFFE || scalar.value == 0xFFFF { continue }
                out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    /// `value` clamped into [0, 1] (NaN becomes 0).
    static func clamp(_ value: Double) -> Double {
        guard value.isFinite else { return value == .infinity ? 1 : 0 }
        return Swift.min(Swift.max(value, 0), 1)
    }

    /// A coordinate with at most two decimals, without exponent.
    static func f(_ value: Double) -> String {
        let text = String(format: "%.2f", value)
        // Trim trailing zeros ("12.50" -> "12.5", "12.00" -> "12").
        guard text.contains(".") else { return text }
        var trimmed = Substring(text)
        while trimmed.last == "0" { trimmed.removeLast() }
        if trimmed.last == "." { trimmed.removeLast() }
        return trimmed == "-0" ? "0" : String(trimmed)
    }
}
