import Foundation

extension SoakReport {
    /// The human-readable report `bisnn soak` prints: the run, traffic per sensor, decisions, losses by reason,
    /// faults, memory, latency, and the checks with the verdict.
    public var text: String {
        var lines: [String] = []
        let r = run
        lines.append(
            "bisnn soak: \(Self.seconds(r.durationSeconds)) asked (\(Self.seconds(r.sentSeconds)) sent), \(r.sensors) "
                + "sensors, \(Self.grouped(Int(r.targetEventsPerSecond))) events/s asked ("
                + "\(Self.grouped(Int(r.sentEventsPerSecond.rounded()))) sent; each sensor "
                + String(format: "%.1fx", r.speed) + " real time), a fault every \(Self.seconds(r.faultIntervalSeconds)), "
                + "overload x" + String(format: "%g", r.overloadFactor) + ", seed \(r.seed)")
        lines.append("started \(r.started), load average \(r.loadAverage.map { String(format: "%.2f", $0) }.joined(separator: " "))")
        lines.append("bisnnd \(r.daemonVersion) (\(r.daemon)), model \(r.modelIdentifier)")
        lines.append("\(r.recordings) recordings from \(r.data)")
        lines.append("")

        lines.append("traffic: sent -> counted by bisnnd")
        let header = [
            "sensor", "msgs sent", "counted", "lost", "rejected", "events sent", "accepted", "late", "unsynced", "restarts",
            "unaccounted",
        ]
        var rows = [header]
        for a in sensors + [total] {
            rows.append([
                a.sensor, Self.grouped(a.sentMessages), Self.grouped(a.countedMessages), Self.grouped(a.lostMessages),
                Self.grouped(a.rejectedMessages), Self.grouped(a.sentEvents), Self.grouped(a.acceptedEvents),
                Self.grouped(a.lateEvents), Self.grouped(a.unsyncedEvents), "\(a.restarts)/\(a.expectedRestarts)",
                Self.grouped(a.unaccountedMessages + a.unaccountedEvents),
            ])
        }
        lines += Self.table(rows)
        lines.append("")

        lines.append("decisions: published by bisnnd -> received")
        var decisionRows = [["sensor", "published", "received", "lost unsubscribed", "lost otherwise", "frames", "shed"]]
        for a in sensors + [total] {
            decisionRows.append([
                a.sensor, Self.grouped(a.decisionsPublished), Self.grouped(a.decisionsReceived),
                Self.grouped(a.decisionsLostInGaps), Self.grouped(a.decisionsLostOtherwise), Self.grouped(a.frames),
                Self.grouped(a.shedFrames),
            ])
        }
        lines += Self.table(decisionRows)
        lines.append("incomplete decisions received (complete: false): \(Self.grouped(incompleteDecisions)); "
            + "status messages received: \(Self.grouped(statusMessages))")
        lines.append("")

        lines.append("losses by reason")
        let l = losses
        lines.append("  rejected messages                 \(Self.grouped(l.rejectedMessages)) "
            + "(\(Self.grouped(l.rejectedMessages - l.rejectedValidMessages)) injected, "
            + "\(Self.grouped(l.rejectedValidMessages)) not)")
        for rejection in rejections {
            let mark = rejection.counted == rejection.injected ? "" : "   <- differs"
            lines.append("    \(rejection.place) \(rejection.reason): \(Self.grouped(rejection.counted)) counted, "
                + "\(Self.grouped(rejection.injected)) injected\(mark)")
        }
        lines.append("  late events                       \(Self.grouped(l.lateEvents))")
        lines.append("  unsynced events (EVT resync)      \(Self.grouped(l.unsyncedEvents))")
        lines.append("  sequence gaps / lost messages     \(Self.grouped(l.sequenceGaps)) / \(Self.grouped(l.lostMessages))")
        lines.append("  events in lost/rejected messages  \(Self.grouped(l.eventsInLostMessages))")
        lines.append("  shed frames                       \(Self.grouped(l.shedFrames))")
        lines.append("  predictions lost unsubscribed     \(Self.grouped(l.predictionsLostInGaps))")
        lines.append("  dropped by the output queue       \(l.outputQueueDropped.map(Self.grouped) ?? "unknown")")
        lines.append("  unaccounted                       \(Self.grouped(l.total)) (messages \(l.unaccountedMessages), "
            + "events \(l.unaccountedEvents), decisions \(l.unaccountedDecisions), rejections \(l.unaccountedRejections))")
        lines.append("")

        lines.append("faults")
        if faults.isEmpty { lines.append("  none") }
        for fault in faults {
            lines.append("  " + String(format: "%7.1f s", fault.atSeconds) + "  \(fault.kind.title)"
                + (fault.ok ? "" : " FAILED") + ": \(fault.detail) [resident " + Self.mebibytes(fault.residentBytes) + "]")
        }
        lines.append("")

        let m = memory
        lines.append("bisnnd resident memory (VmRSS): start \(Self.mebibytes(m.startBytes)), middle "
            + "\(Self.mebibytes(m.middleBytes)) (at " + String(format: "%.0f s", m.middleAtSeconds) + ", VmHWM then "
            + "\(Self.mebibytes(m.middlePeakBytes))), end \(Self.mebibytes(m.endBytes)), max \(Self.mebibytes(m.maxBytes)) of "
            + "\(m.samples) samples (VmHWM \(Self.mebibytes(m.peakBytes)))")
        lines.append("  end <= max(middle, VmHWM then) + max(16 MiB, 10 %) = \(Self.mebibytes(m.limitBytes)): "
            + (m.ok ? "ok" : "GREW"))
        lines.append("decision latency (latency_us), ms:")
        lines += Self.table([
            ["", "count", "p50", "p90", "p99", "p99.9", "max"],
            Self.latencyRow("all", latency),
            Self.latencyRow("outside faults", steadyLatency),
        ])
        if let at = latency.maxAtSeconds {
            let near = faults.last { $0.atSeconds <= at && at <= $0.atSeconds + $0.seconds + 1 }
            lines.append("slowest decision: " + String(format: "%.2f ms", Double(latency.max) / 1000) + " at "
                + String(format: "%.1f s", at) + (near.map { " (during the \($0.kind.title) at " + String(format: "%.1f s)", $0.atSeconds) } ?? "")
                + (steadyLatency.maxAtSeconds.map { "; outside faults " + String(format: "%.2f ms at %.1f s", Double(steadyLatency.max) / 1000, $0) } ?? ""))
        }
        let d = daemon
        lines.append("bisnnd: " + (d.diedEarly
            ? "ended during the run" + (d.diedAtSeconds.map { String(format: " (by %.0f s)", $0) } ?? "")
            : d.killed ? "did not stop within 30 s of SIGTERM; killed" : "stopped by SIGTERM")
            + (d.exitStatus.map { ", \(d.signalled ? "signal" : "exit status") \($0)" } ?? "")
            + "; \(d.warnings) log lines at warning or worse")
        lines.append("")

        lines.append("checks")
        for check in checks {
            lines.append("  \(check.ok ? "ok  " : "FAIL") \(check.name): \(check.detail)")
        }
        if !d.logTail.isEmpty {
            lines.append("")
            lines.append("bisnnd's last log lines:")
            lines += d.logTail.map { "  " + $0 }
        }
        lines.append("")
        lines.append(passed ? "PASS" : "FAIL")
        return lines.joined(separator: "\n")
    }

    static func latencyRow(_ name: String, _ latency: Latency) -> [String] {
        [name, grouped(latency.count)] + [latency.p50, latency.p90, latency.p99, latency.p999, latency.max].map {
            String(format: "%.2f", Double($0) / 1000)
        }
    }

    /// Rows as columns: the first column left-aligned, the others right-aligned, two spaces apart.
    static func table(_ rows: [[String]]) -> [String] {
        guard let width = rows.map(\.count).max() else { return [] }
        let widths = (0..<width).map { c in rows.map { c < $0.count ? $0[c].count : 0 }.max() ?? 0 }
        return rows.map { row in
            var line = "  "
            for (c, cell) in row.enumerated() {
                let pad = String(repeating: " ", count: widths[c] - cell.count)
                line += c == 0 ? cell + pad : "  " + pad + cell
            }
            return line
        }
    }

    /// `1,234,567`.
    static func grouped(_ value: Int) -> String {
        let digits = String(value.magnitude)
        var out = ""
        for (i, digit) in digits.enumerated() {
            if i > 0, (digits.count - i) % 3 == 0 { out.append(",") }
            out.append(digit)
        }
        return (value < 0 ? "-" : "") + out
    }

    static func seconds(_ value: Double) -> String {
        value == value.rounded() ? "\(Int(value)) s" : String(format: "%.1f s", value)
    }

    static func mebibytes(_ bytes: Int) -> String { String(format: "%.1f MiB", Double(bytes) / 1_048_576) }
}
