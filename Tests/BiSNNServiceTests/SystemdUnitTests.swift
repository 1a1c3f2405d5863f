import Foundation
import Testing

/// The shipped units, `systemd/bisnnd.service` and `systemd/bisnnd@.service`: their settings, and
/// `systemd-analyze verify` and `security --offline=yes` where systemd-analyze is installed.
struct SystemdUnitTests {
    typealias F = ConfigurationFixtures

    static let units = ["bisnnd.service", "bisnnd@.service"]

    static func unitPath(_ name: String) -> String {
        F.repositoryRoot.appendingPathComponent("systemd/\(name)").path
    }

    static let systemdAnalyze = ["/usr/bin/systemd-analyze", "/bin/systemd-analyze"]
        .first { FileManager.default.isExecutableFile(atPath: $0) }

    /// The `[Service]` section's settings, each key with every value it is given.
    static func serviceSettings(_ name: String) throws -> [String: [String]] {
        var settings: [String: [String]] = [:]
        var section = ""
        for line in try String(contentsOfFile: unitPath(name), encoding: .utf8).split(separator: "\n") {
            let text = line.trimmingCharacters(in: .whitespaces)
            if text.isEmpty || text.hasPrefix("#") { continue }
            if text.hasPrefix("[") {
                section = text
                continue
            }
            guard section == "[Service]", let equals = text.firstIndex(of: "=") else { continue }
            settings[String(text[..<equals]), default: []].append(String(text[text.index(after: equals)...]))
        }
        return settings
    }

    @Test(arguments: units)
    func unitHasTheRequiredSettings(_ name: String) throws {
        let s = try Self.serviceSettings(name)
        let required: [String: String] = [
            "Type": "notify", "NotifyAccess": "main", "ExecReload": "/bin/kill -HUP $MAINPID",
            "Restart": "on-failure", "RestartPreventExitStatus": "78", "DynamicUser": "yes",
            "ProtectSystem": "strict", "ProtectHome": "yes", "PrivateTmp": "yes", "PrivateDevices": "yes",
            "NoNewPrivileges": "yes", "CapabilityBoundingSet": "", "RestrictAddressFamilies": "AF_UNIX AF_INET AF_INET6",
            "MemoryDenyWriteExecute": "yes", "LockPersonality": "yes", "RestrictRealtime": "yes",
            "RestrictNamespaces": "yes", "ProtectKernelTunables": "yes", "ProtectKernelModules": "yes",
            "ProtectKernelLogs": "yes", "ProtectControlGroups": "yes", "ProtectClock": "yes", "ProtectHostname": "yes",
            "UMask": "0077", "IPAddressDeny": "any", "IPAddressAllow": "localhost",
        ]
        for (key, value) in required {
            #expect(s[key] == [value], "\(name): \(key)")
        }
        #expect(s["SystemCallFilter"]?.first == "@system-service", "\(name)")
        #expect(s["WatchdogSec"]?.count == 1)
        if name == "bisnnd.service" {
            #expect(s["ExecStart"] == ["/usr/local/bin/bisnnd --config /etc/bisnnd/bisnnd.yaml"])
            #expect(s["RuntimeDirectory"] == ["bisnnd"])
        } else {
            #expect(s["ExecStart"] == ["/usr/local/bin/bisnnd --config /etc/bisnnd/%i.yaml"])
            #expect(s["RuntimeDirectory"] == ["bisnnd/%i"])
        }
    }

    /// Runs systemd-analyze; returns its exit status and output (stdout and stderr together).
    static func analyze(_ arguments: [String]) throws -> (status: Int32, output: String) {
        let tool = try #require(systemdAnalyze)
        let dir = try F.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let outPath = try F.write("", in: dir, name: "output")
        let out = try #require(FileHandle(forWritingAtPath: outPath))
        defer { try? out.close() }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: tool)
        process.arguments = arguments
        process.standardOutput = out
        process.standardError = out
        process.environment = ["PATH": "/usr/bin:/bin", "SYSTEMD_COLORS": "0", "SYSTEMD_PAGER": ""]
        try process.run()
        process.waitUntilExit()
        return (process.terminationStatus, try String(contentsOfFile: outPath, encoding: .utf8))
    }

    /// `systemd-analyze verify` checks that ExecStart's binary exists: it runs on a copy whose ExecStart is the
    /// bisnnd built next to the tests (or /bin/true), the template as an instance.
    @Test(.enabled(if: systemdAnalyze != nil, "systemd-analyze is not installed"), arguments: units)
    func unitVerifies(_ name: String) throws {
        let dir = try F.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let binary = ConfigurationCommandTests.binary ?? "/bin/true"
        let text = try String(contentsOfFile: Self.unitPath(name), encoding: .utf8)
            .replacingOccurrences(of: "/usr/local/bin/bisnnd", with: binary)
        let copy = try F.write(text, in: dir, name: name.replacingOccurrences(of: "@.", with: "@dock."))
        let (status, output) = try Self.analyze(["verify", copy])
        #expect(status == 0, "\(output)")
        #expect(output.isEmpty, "\(output)")
    }

    /// The exposure score of `systemd-analyze security --offline=yes` must be OK or better (at most 4.9).
    @Test(.enabled(if: systemdAnalyze != nil, "systemd-analyze is not installed"), arguments: units)
    func unitExposureIsOK(_ name: String) throws {
        let (status, output) = try Self.analyze(["security", "--offline=yes", Self.unitPath(name)])
        #expect(status == 0, "\(output)")
        let summary = try #require(output.split(separator: "\n").first { $0.contains("Overall exposure level") })
        let words = summary.split(separator: " ")
        let levelIndex = try #require(words.lastIndex { ["PERFECT", "SAFE", "OK", "MEDIUM", "EXPOSED", "UNSAFE",
                                                           "DANGEROUS"].contains(String($0)) })
        let score = try #require(Double(words[levelIndex - 1]))
        #expect(score <= 4.9, "\(summary)")
        #expect(["PERFECT", "SAFE", "OK"].contains(String(words[levelIndex])), "\(summary)")
    }
}
