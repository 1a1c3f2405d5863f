import Foundation
import Testing

/// `make install` and `make uninstall` into a DESTDIR, with the bisnnd built next to the tests as BINARY (no
/// release build) and a tiny model as MODEL.
struct SystemdInstallTests {
    typealias F = ConfigurationFixtures

    static let make = ["/usr/bin/make", "/bin/make"].first { FileManager.default.isExecutableFile(atPath: $0) }

    /// Runs `make arguments` in the repository; returns its status and output.
    static func make(_ arguments: [String]) throws -> (status: Int32, output: String) {
        let dir = try F.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let outPath = try F.write("", in: dir, name: "output")
        let out = try #require(FileHandle(forWritingAtPath: outPath))
        defer { try? out.close() }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try #require(make))
        process.arguments = ["-C", F.repositoryRoot.path, "--no-print-directory"] + arguments
        process.standardOutput = out
        process.standardError = out
        process.environment = ["PATH": "/usr/bin:/bin"]
        try process.run()
        process.waitUntilExit()
        return (process.terminationStatus, try String(contentsOfFile: outPath, encoding: .utf8))
    }

    @Test(.enabled(if: make != nil, "make is not installed"))
    func installAndUninstall() throws {
        let binary = try #require(ConfigurationCommandTests.binary, "bisnnd is not built next to the tests")
        let dir = try F.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let model = try F.model(in: dir)
        let root = dir.appendingPathComponent("root").path
        let variables = ["DESTDIR=\(root)", "BINARY=\(binary)", "MODEL=\(model)"]
        let install = try Self.make(["install"] + variables)
        #expect(install.status == 0, "\(install.output)")

        let files = [
            "/usr/local/bin/bisnnd", "/usr/local/share/bisnnd/bisnn-default.safetensors", "/etc/bisnnd/bisnnd.yaml",
            "/usr/local/lib/systemd/system/bisnnd.service", "/usr/local/lib/systemd/system/bisnnd@.service",
        ]
        for file in files {
            #expect(FileManager.default.fileExists(atPath: root + file), "\(file)")
        }
        #expect(FileManager.default.isExecutableFile(atPath: root + "/usr/local/bin/bisnnd"))
        let config = try String(contentsOfFile: root + "/etc/bisnnd/bisnnd.yaml", encoding: .utf8)
        #expect(config.contains("\n  path: /usr/local/share/bisnnd/bisnn-default.safetensors\n"))

        // The installed configuration is valid, its model being the installed one (seen through DESTDIR).
        let check = try ConfigurationCommandTests.run(
            ["--check-config", "--config", root + "/etc/bisnnd/bisnnd.yaml"],
            environment: ["BISNND_MODEL_PATH": root + "/usr/local/share/bisnnd/bisnn-default.safetensors"])
        #expect(check.status == 0, "\(check.stderr)")

        // A second install keeps the operator's configuration.
        try F.write(config + "\n# edited\n", in: URL(fileURLWithPath: root + "/etc/bisnnd"))
        let again = try Self.make(["install"] + variables)
        #expect(again.status == 0, "\(again.output)")
        #expect(try String(contentsOfFile: root + "/etc/bisnnd/bisnnd.yaml", encoding: .utf8).hasSuffix("# edited\n"))

        let uninstall = try Self.make(["uninstall"] + variables)
        #expect(uninstall.status == 0, "\(uninstall.output)")
        for file in files where !file.hasPrefix("/etc/") {
            #expect(!FileManager.default.fileExists(atPath: root + file), "\(file)")
        }
        #expect(FileManager.default.fileExists(atPath: root + "/etc/bisnnd/bisnnd.yaml"))
    }

    @Test(.enabled(if: make != nil, "make is not installed"))
    func prefixAndSysconfdirAreHonoured() throws {
        let binary = try #require(ConfigurationCommandTests.binary, "bisnnd is not built next to the tests")
        let dir = try F.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let model = try F.model(in: dir)
        let root = dir.appendingPathComponent("root").path
        let install = try Self.make([
            "install", "DESTDIR=\(root)", "BINARY=\(binary)", "MODEL=\(model)", "PREFIX=/opt/bisnn",
            "SYSCONFDIR=/opt/bisnn/etc",
        ])
        #expect(install.status == 0, "\(install.output)")
        let unit = try String(contentsOfFile: root + "/opt/bisnn/lib/systemd/system/bisnnd.service", encoding: .utf8)
        #expect(unit.contains("\nExecStart=/opt/bisnn/bin/bisnnd --config /opt/bisnn/etc/bisnnd/bisnnd.yaml\n"))
        let config = try String(contentsOfFile: root + "/opt/bisnn/etc/bisnnd/bisnnd.yaml", encoding: .utf8)
        #expect(config.contains("\n  path: /opt/bisnn/share/bisnnd/bisnn-default.safetensors\n"))

        let missing = try Self.make(["install", "DESTDIR=\(root)", "BINARY=\(binary)", "MODEL=\(dir.path)/none"])
        #expect(missing.status != 0)
        #expect(missing.output.contains("no model"))
    }
}
