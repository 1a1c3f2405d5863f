import BiSNNService
import Foundation
import Testing

/// `bisnn soak` as a real process with a real `bisnnd` (both built next to the tests): a short soak, a fault
/// every 1.5 s so that each kind runs at least once, and its JSON report checked: nothing unaccounted, every
/// fault ran and did what it should, the malformed counts exactly those injected, bisnnd stopped with 0.
@Suite struct SoakCommandTests {
    typealias T = PipelineTools

    /// The first `count` recordings of `nmnist-small/train`, linked into `folder` with their `labels.csv` rows.
    static func recordings(_ count: Int, in folder: URL) throws {
        let source = T.data("nmnist-small/train")
        let labels = try String(contentsOfFile: source + "/labels.csv", encoding: .utf8)
        let lines = labels.split(separator: "\n").prefix(count + 1).map(String.init)
        try (lines.joined(separator: "\n") + "\n").write(
            to: folder.appendingPathComponent("labels.csv"), atomically: true, encoding: .utf8)
        for line in lines.dropFirst() {
            let file = String(line.split(separator: ",")[0])
            try FileManager.default.createSymbolicLink(
                atPath: folder.appendingPathComponent(file).path, withDestinationPath: source + "/" + file)
        }
    }

    @Test func aShortSoakWithEveryFaultAccountsForEverything() async throws {
        let folder = try T.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: folder) }
        let data = folder.appendingPathComponent("recordings")
        try FileManager.default.createDirectory(at: data, withIntermediateDirectories: true)
        try Self.recordings(20, in: data)
        let json = folder.appendingPathComponent("report.json").path
        let model = T.repositoryRoot.appendingPathComponent("models/bisnn-default.safetensors").path

        // A low rate: the tests' bisnnd is a debug build, and other tests run at the same time.
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try T.bisnn())
        process.arguments = [
            "soak", "--duration", "15s", "--sensors", "2", "--rate", "4000", "--fault-interval", "1.5",
            "--seed", "7", "--model", model, "--data", data.path, "--json", json,
        ]
        let stdout = folder.appendingPathComponent("stdout").path
        let stderr = folder.appendingPathComponent("stderr").path
        _ = FileManager.default.createFile(atPath: stdout, contents: nil)
        _ = FileManager.default.createFile(atPath: stderr, contents: nil)
        process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: stdout))
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: stderr))
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let deadline = ContinuousClock.now + .seconds(150)
        while process.isRunning, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(100)) }
        if process.isRunning {
            process.terminate()
            Issue.record("bisnn soak still ran after 150 s")
        }
        process.waitUntilExit()
        let text = (try? String(contentsOfFile: stdout, encoding: .utf8)) ?? ""
        let log = (try? String(contentsOfFile: stderr, encoding: .utf8)) ?? ""
        #expect(process.terminationStatus == 0, "bisnn soak failed:\n\(text)\n\(log)")
        #expect(text.contains("traffic: sent -> counted by bisnnd") && text.hasSuffix("PASS\n"), "\(text)")

        let report = try SoakReport.decode(json: Data(contentsOf: URL(fileURLWithPath: json)))
        #expect(report.passed, "\(text)")
        #expect(report.losses.total == 0)
        let failedChecks = report.checks.filter { !$0.ok }
        #expect(failedChecks.isEmpty, "\(failedChecks)")

        // Every kind of fault ran, and each did what it should.
        #expect(Set(report.faults.map(\.kind)) == Set(SoakFault.allCases), "\(report.faults.map(\.kind))")
        let failedFaults = report.faults.filter { !$0.ok }
        #expect(failedFaults.isEmpty, "\(failedFaults)")

        // Traffic: every message sent counted (PUSH loses nothing, restarts included), every event accepted or late.
        #expect(report.total.sentMessages == report.total.countedMessages)
        #expect(report.total.lostMessages == 0)
        #expect(
            report.total.sentEvents
                == report.total.acceptedEvents + report.total.lateEvents + report.total.unsyncedEvents)
        #expect(report.total.restarts == report.total.expectedRestarts && report.total.restarts >= 1)

        // Rejections: exactly what was injected, of every kind injected, where the protocol says they count.
        for rejection in report.rejections {
            #expect(rejection.counted == rejection.injected, "\(rejection)")
        }
        let places = Set(report.rejections.map { "\($0.place) \($0.reason)" })
        #expect(places.contains("(top level) frame_count"))
        #expect(places.contains("(top level) sensor_name"))
        #expect(places.contains("soak-evt3 count_mismatch"))
        #expect(places.contains { $0.hasSuffix(" magic") && $0.hasPrefix("soak-") })
        #expect(places.contains { $0.hasSuffix(" coordinates") && $0.hasPrefix("soak-") })

        // The EVT 3.0 stream cut mid-word: once resent, every event accepted but those before its first time word,
        // dropped as bisnnd resynchronised (unsynced); the native sensors never resynchronise.
        let evt3 = try #require(report.sensors.first { $0.sensor == "soak-evt3" })
        #expect(evt3.sentEvents > 0 && evt3.acceptedEvents + evt3.lateEvents + evt3.unsyncedEvents == evt3.sentEvents)
        let nativeUnsynced = report.sensors.filter { $0.sensor != "soak-evt3" }.reduce(0) { $0 + $1.unsyncedEvents }
        #expect(nativeUnsynced == 0)

        // Decisions: published = received + lost while unsubscribed (+ output queue drops, none here).
        #expect(report.total.decisionsReceived > 0)
        #expect(
            report.total.decisionsPublished
                == report.total.decisionsReceived + report.total.decisionsLostInGaps + (report.losses.outputQueueDropped ?? 0))
        #expect(report.latency.count == report.total.decisionsReceived)
        #expect(report.memory.startBytes > 0 && report.memory.middleBytes > 0 && report.memory.endBytes > 0)
        #expect(report.daemon.exitStatus == 0 && !report.daemon.signalled && !report.daemon.diedEarly)
    }

    @Test func durationsParse() {
        #expect(SoakSettings.parseDuration("600") == .seconds(600))
        #expect(SoakSettings.parseDuration("10m") == .seconds(600))
        #expect(SoakSettings.parseDuration("30s") == .seconds(30))
        #expect(SoakSettings.parseDuration("1.5") == .milliseconds(1500))
        #expect(SoakSettings.parseDuration("250ms") == .milliseconds(250))
        #expect(SoakSettings.parseDuration("1h") == .seconds(3600))
        #expect(SoakSettings.parseDuration("0") == nil)
        #expect(SoakSettings.parseDuration("-5s") == nil)
        #expect(SoakSettings.parseDuration("ten") == nil)
    }
}
