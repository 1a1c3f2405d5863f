import ArgumentParser
import BiSNNService
import Foundation

/// `bisnn soak`: runs a real `bisnnd` for a long time under a steady replay of recordings with periodic faults,
/// then reports what went in, what came out, every loss by reason, memory and latency (``SoakRun``).
struct SoakCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "soak",
        abstract: "Run bisnnd under steady replay with periodic faults and account for every message, event and decision.",
        discussion: """
            Starts bisnnd on a generated configuration (TCP loopback on free ports, status every 0.5 s, metrics \
            on), replays the recordings of --data from --sensors sensors as START ... END segments paced to \
            --rate events/s in all, and every --fault-interval injects a fault, in turn: an overload burst \
            (--overload-factor times the rate), a SIGHUP reload, a publisher restart mid-segment, a subscriber \
            gap, a burst of malformed messages, an EVT 3.0 message cut mid-word. At the end it stops sending, \
            waits for the last decisions, reads the final status, stops bisnnd with SIGTERM and prints a report. \
            Exit status 1 when anything is unaccounted, a fault failed, bisnnd died or did not exit with 0, or \
            its resident memory at the end exceeded by more than max(16 MiB, 10 %) the most it had used by the \
            middle (VmHWM at half-way, or once every kind of fault has run).
            """)

    @Option(help: "Run time: seconds, or with a unit (30s, 10m, 1h); default 10m.", transform: parseDuration)
    var duration: Duration = .seconds(600)

    @Option(help: "Sensors sending at once.")
    var sensors = 4

    @Option(help: "Events per second, all sensors together.")
    var rate = 500_000.0

    @Option(help: "Time between faults: seconds, or with a unit (60s, 2m); default 60s.", transform: parseDuration)
    var faultInterval: Duration = .seconds(60)

    @Option(help: "How many times the rate an overload burst sends.")
    var overloadFactor = 5.0

    @Option(help: "Seed for the recordings' order, the faults' sensors and the malformed bursts.")
    var seed: UInt64 = 1

    @Option(help: "The model bisnnd serves.")
    var model = "models/bisnn-default.safetensors"

    @Option(help: "A recording or a folder of recordings to replay.")
    var data = "../shared/data/nmnist-small/train"

    @Option(help: "The bisnnd executable (default: the one next to this bisnn).")
    var bisnnd: String?

    @Option(help: "Also write the report as JSON to this file.")
    var json: String?

    @Flag(help: "No progress lines on standard error.")
    var quiet = false

    static func parseDuration(_ text: String) throws -> Duration {
        guard let duration = SoakSettings.parseDuration(text) else {
            throw ValidationError("not a positive length of time: \(text) (e.g. 600, 30s, 10m)")
        }
        return duration
    }

    func validate() throws {
        guard (1...64).contains(sensors) else { throw ValidationError("--sensors must be in 1...64") }
        guard rate.isFinite, rate > 0 else { throw ValidationError("--rate must be positive") }
        guard overloadFactor.isFinite, overloadFactor >= 1 else { throw ValidationError("--overload-factor must be >= 1") }
    }

    func run() throws {
        let daemon = bisnnd ?? Bundle.main.executableURL.map {
            $0.deletingLastPathComponent().appendingPathComponent("bisnnd").path
        } ?? "bisnnd"
        var settings = SoakSettings(daemon: absolute(daemon), model: absolute(model), data: data)
        settings.duration = duration
        settings.sensors = sensors
        settings.eventsPerSecond = rate
        settings.faultInterval = faultInterval
        settings.overloadFactor = overloadFactor
        settings.seed = seed
        let report: SoakReport
        do {
            report = try SoakRun(settings: settings).run { line in
                if !quiet { LineOutput.standardError(line) }
            }
        } catch let error as SoakError {
            LineOutput.standardError("bisnn soak: \(error)")
            throw ExitCode.failure
        }
        print(report.text)
        if let json {
            try report.json().write(to: URL(fileURLWithPath: json))
        }
        if !report.passed { throw ExitCode.failure }
    }

    /// `path` made absolute against the working directory.
    func absolute(_ path: String) -> String {
        path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
    }
}
