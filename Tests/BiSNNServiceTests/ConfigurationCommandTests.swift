import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The `bisnnd` executable as a real process: `--check-config`, start-up with a bad or a good configuration,
/// `--version`.
struct ConfigurationCommandTests {
    typealias F = ConfigurationFixtures

    /// The built `bisnnd`, next to the test bundle (`swift build --build-tests` and `swift test` build it).
    static var binary: String? {
        var candidates: [URL] = []
        if let executable = Bundle.main.executableURL {
            candidates.append(executable.deletingLastPathComponent().appendingPathComponent("bisnnd"))
        }
        candidates.append(URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
            .appendingPathComponent("bisnnd"))
        return candidates.map(\.path).first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    struct Run {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    /// Runs `bisnnd arguments` with exactly `environment` (plus PATH), its output and error going to files;
    /// `journalStream` sets `JOURNAL_STREAM` to the error file's device and inode, as systemd does for a
    /// service whose standard error is the journal.
    static func run(_ arguments: [String], environment: [String: String] = [:], journalStream: Bool = false) throws -> Run {
        let binary = try #require(binary, "bisnnd is not built next to the tests (swift build --build-tests)")
        let dir = try F.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let outPath = try F.write("", in: dir, name: "stdout")
        let errPath = try F.write("", in: dir, name: "stderr")
        let out = try #require(FileHandle(forWritingAtPath: outPath))
        let err = try #require(FileHandle(forWritingAtPath: errPath))
        defer {
            try? out.close()
            try? err.close()
        }
        var env = environment
        env["PATH"] = "/usr/bin:/bin"
        if journalStream {
            var status = stat()
            try #require(fstat(err.fileDescriptor, &status) == 0)
            env["JOURNAL_STREAM"] = "\(status.st_dev):\(status.st_ino)"
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = arguments
        process.environment = env
        process.standardOutput = out
        process.standardError = err
        try process.run()
        process.waitUntilExit()
        return Run(
            status: process.terminationStatus, stdout: try String(contentsOfFile: outPath, encoding: .utf8),
            stderr: try String(contentsOfFile: errPath, encoding: .utf8))
    }

    @Test func checkConfigRefusesABadConfiguration() throws {
        let dir = try F.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = try F.write("decisions:\n  window_ms: -5\n", in: dir)
        let run = try Self.run(["--check-config", "--config", file])
        #expect(run.status == 78)
        #expect(run.stderr == "bisnnd: \(file): decisions.window_ms: must be a positive integer (got -5)\n")
        #expect(run.stdout.isEmpty)
    }

    @Test func checkConfigLoadsTheModel() throws {
        let dir = try F.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let missing = try Self.run(["--check-config", "--config", F.shippedConfiguration],
                                   environment: ["BISNND_MODEL_PATH": dir.appendingPathComponent("none").path])
        #expect(missing.status == 78)
        #expect(missing.stderr.contains("model.path"))

        let model = try F.model(in: dir)
        let good = try Self.run(["--check-config", "--config", F.shippedConfiguration],
                                environment: ["BISNND_MODEL_PATH": model])
        #expect(good.status == 0, "\(good.stderr)")
        #expect(good.stdout.hasPrefix("bisnnd: configuration OK: \(F.shippedConfiguration): model \(model) "))
        #expect(good.stdout.filter { $0 == "\n" }.count == 1)
        #expect(good.stderr.isEmpty)
    }

    @Test func checkConfigPrintsWarnings() throws {
        let dir = try F.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let model = try F.model(in: dir)
        let file = try F.write("model:\n  path: \(model)\noutput:\n  pub_bind: tcp://0.0.0.0:5556\n", in: dir)
        let run = try Self.run(["--check-config", "--config", file])
        #expect(run.status == 0)
        #expect(run.stderr.hasPrefix("bisnnd: warning: output.pub_bind: binds tcp://0.0.0.0:5556"))
        #expect(run.stdout.contains("1 warning"))
    }

    @Test func daemonExitsWithExConfigOnABadConfiguration() throws {
        let dir = try F.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = try F.write("decisions:\n  windw_ms: 200\n", in: dir)
        let plain = try Self.run(["--config", file])
        #expect(plain.status == 78)
        #expect(plain.stderr.contains(" error bisnnd: configuration error: \(file): decisions.windw_ms: "))

        let journal = try Self.run(["--config", file], journalStream: true)
        #expect(journal.status == 78)
        #expect(journal.stderr.hasPrefix("<3>bisnnd: configuration error: \(file): decisions.windw_ms: "))

        let missing = try Self.run(["--config", dir.appendingPathComponent("absent.yaml").path])
        #expect(missing.status == 78)
    }

    @Test func daemonLogsItsConfiguration() throws {
        let dir = try BisnndServiceTests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let model = try F.model(in: dir)
        let endpoints = "input:\n  pull_bind: [\"ipc://\(dir.path)/in.sock\"]\noutput:\n  pub_bind: ipc://\(dir.path)/out.sock\n"
        let file = try F.write("model:\n  path: \(model)\nlog:\n  format: journald\n" + endpoints, in: dir)
        let daemon = try BisnndServiceTests.Daemon(configuration: file, directory: dir)
        #expect(daemon.waitForLog("bisnnd: serving: "), "\(daemon.log)")
        daemon.signal(SIGTERM)
        #expect(daemon.exitStatus() == 0)
        let lines = daemon.log.split(separator: "\n")
        #expect(lines.first?.hasPrefix("<6>bisnnd: configuration loaded: \(file): model \(model)") == true)
        #expect(lines.last == "<6>bisnnd: stopped")

        // Quiet: nothing below warning. Bound sockets (out2.sock) mean the service runs and traps SIGTERM.
        let quiet = try BisnndServiceTests.Daemon(
            configuration: file, directory: dir,
            environment: ["BISNND_LOG_LEVEL": "warning", "BISNND_OUTPUT_PUB_BIND": "ipc://\(dir.path)/out2.sock"])
        let deadline = ContinuousClock.now + .seconds(20)
        while !FileManager.default.fileExists(atPath: dir.path + "/out2.sock") && ContinuousClock.now < deadline {
            usleep(20_000)
        }
        quiet.signal(SIGTERM)
        #expect(quiet.exitStatus() == 0)
        #expect(quiet.log.isEmpty, "\(quiet.log)")
    }

    @Test func versionIsPrinted() throws {
        let run = try Self.run(["--version"])
        #expect(run.status == 0)
        #expect(!run.stdout.isEmpty)
    }
}
