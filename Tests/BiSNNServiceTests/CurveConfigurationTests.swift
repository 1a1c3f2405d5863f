import Foundation
import Logging
import Testing
import ZeroMQ

@testable import BiSNNService

#if canImport(Glibc)
import Glibc
#endif

/// `security.curve.*` without a daemon: the settings and their checks, key files (format, owner, mode, links,
/// FIFOs, sizes, systemd credentials), `bisnn keygen`'s writer, the model path check, the reload difference and
/// the rate-limited refusal log. `CurveSecurityTests` runs the real daemon.
@Suite(.enabled(if: ZMQCurve.isAvailable))
struct CurveConfigurationTests {
    typealias F = ConfigurationFixtures

    /// A directory with a model, a server key pair (`server.key` 0600, `server.pub`), a client key pair and an
    /// allow-list (`clients`, 0644) holding the client's public key.
    struct Keys {
        let dir: URL
        let model: String
        let serverKey: String
        let serverPublic: [UInt8]
        let clientPublic: [UInt8]
        let clients: String

        init() throws {
            dir = try F.temporaryDirectory()
            model = try F.model(in: dir)
            let server = try ZMQCurve.keyPair()
            serverPublic = server.publicKey
            serverKey = try CurveKeyFile.writeKeyPair(
                secretKey: server.secretKey, publicKey: server.publicKey, prefix: dir.appendingPathComponent("server").path
            ).secretPath
            clientPublic = try ZMQCurve.keyPair().publicKey
            clients = try F.write("# the allowed clients\n\(ZMQCurve.z85Encode(clientPublic)!)  # cam0\n", in: dir, name: "clients")
            chmod(clients, 0o644)
        }

        func remove() { try? FileManager.default.removeItem(at: dir) }

        /// A configuration serving the model with CURVE on (`extra` YAML under `security.curve`).
        func configuration(secretKey: String? = nil, clients: String? = nil, extra: String = "") throws -> String {
            try F.write(
                """
                model:
                  path: \(model)
                security:
                  curve:
                    enabled: true
                    secret_key_file: \(secretKey ?? serverKey)
                    allowed_clients_file: \(clients ?? self.clients)
                \(extra)
                """, in: dir)
        }

        func load(_ file: String, environment: [String: String] = [:]) throws -> LoadedServiceConfiguration {
            try LoadedServiceConfiguration.load(file: file, environment: environment)
        }

        /// The configuration error loading `file` gives.
        func failure(_ file: String, environment: [String: String] = [:]) throws -> ConfigurationError {
            try #require(F.error { _ = try self.load(file, environment: environment) })
        }
    }

    @Test func goodKeysLoadAndThePublicKeyIsDerived() throws {
        let keys = try Keys()
        defer { keys.remove() }
        let loaded = try keys.load(try keys.configuration())
        let curve = try #require(loaded.curve)
        #expect(curve.serverPublicKey == keys.serverPublic)
        #expect(curve.allowedClients == [keys.clientPublic])
        #expect(curve.allowedClientsFile == keys.clients)
        #expect(loaded.summary.contains("; CURVE, 1 allowed client key"))
        #expect(!"\(curve)".contains(ZMQCurve.z85Encode(curve.serverSecretKey)!))
        #expect("\(curve)".contains(ZMQCurve.z85Encode(keys.serverPublic)!))
        // Off: nothing is read, even files that would not pass.
        let off = try F.write("model:\n  path: \(keys.model)\nsecurity:\n  curve:\n    secret_key_file: /nonexistent\n", in: keys.dir)
        #expect(try keys.load(off).curve == nil)
    }

    @Test func enabledNeedsBothFilesAndNoSubConnect() throws {
        let keys = try Keys()
        defer { keys.remove() }
        let noSecret = try F.write("security:\n  curve:\n    enabled: true\n    allowed_clients_file: \(keys.clients)\n", in: keys.dir)
        let a = try #require(F.error { _ = try ServiceConfiguration.load(file: noSecret, environment: [:]) })
        #expect(a.key == "security.curve.secret_key_file" && a.code == .invalidValue)
        #expect(a.description.contains("bisnn keygen"))
        let noClients = try F.write("security:\n  curve:\n    enabled: true\n    secret_key_file: \(keys.serverKey)\n", in: keys.dir)
        let b = try #require(F.error { _ = try ServiceConfiguration.load(file: noClients, environment: [:]) })
        #expect(b.key == "security.curve.allowed_clients_file")
        let sub = try keys.configuration(extra: "input:\n  sub_connect: [\"tcp://127.0.0.1:5557\"]\n")
        let c = try keys.failure(sub)
        #expect(c.key == "input.sub_connect" && c.message.contains("security.curve.enabled"))
        // The environment can turn it on, too.
        let d = try #require(F.error {
            _ = try ServiceConfiguration.load(
                file: F.write("", in: keys.dir), environment: ["BISNND_SECURITY_CURVE_ENABLED": "true"])
        })
        #expect(d.key == "security.curve.secret_key_file")
    }

    @Test func aSecretKeyOthersCanReadExitsNamingTheKey() throws {
        let keys = try Keys()
        defer { keys.remove() }
        chmod(keys.serverKey, 0o644)
        let file = try keys.configuration()
        let error = try keys.failure(file)
        #expect(error.code == .invalidFile)
        #expect(error.key == "security.curve.secret_key_file")
        #expect(error.source == file)
        #expect(error.message.contains("mode 0644") && error.message.contains("chmod 600"), "\(error)")
        #expect(error.description.hasPrefix("\(file): security.curve.secret_key_file: \(keys.serverKey): "))
        chmod(keys.serverKey, 0o400)
        #expect(try keys.load(file).curve != nil)
        // From the environment: the error names the variable.
        chmod(keys.serverKey, 0o640)
        let fromEnvironment = try keys.failure(
            file, environment: ["BISNND_SECURITY_CURVE_SECRET_KEY_FILE": keys.serverKey])
        #expect(fromEnvironment.source == "environment BISNND_SECURITY_CURVE_SECRET_KEY_FILE")
    }

    @Test func aSecretKeyOfAnotherUserIsRefused() throws {
        guard geteuid() == 0 else { return }  // only root can give a file away
        let keys = try Keys()
        defer { keys.remove() }
        chown(keys.serverKey, 4321, 4321)
        let error = try keys.failure(try keys.configuration())
        #expect(error.key == "security.curve.secret_key_file")
        #expect(error.message.contains("owned by uid 4321"), "\(error)")
        // The allow-list may be root's or the service's, nobody else's.
        chown(keys.clients, 4321, 4321)
        chown(keys.serverKey, 0, 0)
        let list = try keys.failure(try keys.configuration())
        #expect(list.key == "security.curve.allowed_clients_file")
        #expect(list.message.contains("owned by uid 4321"), "\(list)")
    }

    @Test func keyFilesAreNotFollowedThroughLinksAndMustBeRegularFiles() throws {
        let keys = try Keys()
        defer { keys.remove() }
        let link = keys.dir.appendingPathComponent("link.key").path
        symlink(keys.serverKey, link)
        let linked = try keys.failure(try keys.configuration(secretKey: link))
        #expect(linked.key == "security.curve.secret_key_file")
        #expect(linked.message.contains("symbolic link"), "\(linked)")

        let fifo = keys.dir.appendingPathComponent("fifo.key").path
        mkfifo(fifo, 0o600)
        let started = ContinuousClock.now
        let piped = try keys.failure(try keys.configuration(secretKey: fifo))
        #expect(ContinuousClock.now - started < .seconds(5))
        #expect(piped.message.contains("is a FIFO, not a regular file"), "\(piped)")

        let directory = try keys.failure(try keys.configuration(clients: keys.dir.path))
        #expect(directory.key == "security.curve.allowed_clients_file")
        #expect(directory.message.contains("is a directory"), "\(directory)")

        let missing = try keys.failure(try keys.configuration(secretKey: "/home/nobody/server.key"))
        #expect(missing.message.contains("ProtectHome=yes"), "\(missing)")

        let big = keys.dir.appendingPathComponent("big.key").path
        _ = FileManager.default.createFile(
            atPath: big, contents: Data(repeating: 0x41, count: CurveKeyFile.maxKeyFileBytes + 1),
            attributes: [.posixPermissions: 0o600])
        let tooLarge = try keys.failure(try keys.configuration(secretKey: big))
        #expect(tooLarge.message.contains("at most \(CurveKeyFile.maxKeyFileBytes) bytes"), "\(tooLarge)")
    }

    @Test func theModelPathMustBeARegularFile() throws {
        let keys = try Keys()
        defer { keys.remove() }
        let fifo = keys.dir.appendingPathComponent("model.fifo").path
        mkfifo(fifo, 0o600)
        let started = ContinuousClock.now
        let error = try #require(F.error {
            _ = try LoadedServiceConfiguration.load(
                file: F.write("model:\n  path: \(fifo)\n", in: keys.dir), environment: [:])
        })
        #expect(ContinuousClock.now - started < .seconds(5))
        #expect(error.key == "model.path" && error.code == .invalidModel)
        #expect(error.message.contains("FIFO"), "\(error)")
        let directory = try #require(F.error {
            _ = try LoadedServiceConfiguration.load(
                file: F.write("model:\n  path: \(keys.dir.path)\n", in: keys.dir), environment: [:])
        })
        #expect(directory.key == "model.path" && directory.message.contains("directory"), "\(directory)")
    }

    @Test func allowListsTakeCommentsAndRefuseGarbageAndLooseModes() throws {
        let keys = try Keys()
        defer { keys.remove() }
        let a = try ZMQCurve.z85Encode(ZMQCurve.keyPair().publicKey)!
        let b = try ZMQCurve.z85Encode(ZMQCurve.keyPair().publicKey)!
        // Z85 has '#' among its characters (never first: it is the last digit, and 2^32 < 84 x 85^4).
        let hashKey = try #require((0..<10_000).lazy.compactMap { _ in
            (try? ZMQCurve.keyPair()).flatMap { ZMQCurve.z85Encode($0.publicKey) }
        }.first { $0.contains("#") })
        let list = try F.write(
            "\n# team\n\(a)\n  \(b)\t# laptop\r\n\(a)\n#comment\n\(hashKey) #hash\n\n", in: keys.dir, name: "list")
        chmod(list, 0o644)
        #expect(try CurveKeyFile.keyList(at: list, environment: [:]).map { ZMQCurve.z85Encode($0)! } == [a, b, hashKey])

        let empty = try F.write("# nobody yet\n", in: keys.dir, name: "empty")
        chmod(empty, 0o644)
        #expect(try keys.load(try keys.configuration(clients: empty)).curve?.allowedClients == [])

        let garbage = try F.write("\(a)\n\(a) extra\nnot-a-key\n", in: keys.dir, name: "garbage")
        chmod(garbage, 0o644)
        let error = try keys.failure(try keys.configuration(clients: garbage))
        #expect(error.key == "security.curve.allowed_clients_file" && error.code == .invalidFile)
        #expect(error.message.contains("line 2: not a CURVE key"), "\(error)")

        chmod(keys.clients, 0o664)
        let writable = try keys.failure(try keys.configuration())
        #expect(writable.key == "security.curve.allowed_clients_file")
        #expect(writable.message.contains("writable by group or others (mode 0664)"), "\(writable)")

        // A secret key file holds exactly one key.
        let two = try F.write("\(a)\n\(b)\n", in: keys.dir, name: "two.key")
        chmod(two, 0o600)
        let twoKeys = try keys.failure(try keys.configuration(secretKey: two))
        #expect(twoKeys.message.contains("holds 2 keys"), "\(twoKeys)")
    }

    @Test func filesInTheCredentialsDirectoryKeepSystemdsOwnerAndMode() throws {
        let keys = try Keys()
        defer { keys.remove() }
        let credentials = keys.dir.appendingPathComponent("credentials")
        try FileManager.default.createDirectory(at: credentials, withIntermediateDirectories: false)
        let secret = credentials.appendingPathComponent("server.key").path
        try FileManager.default.copyItem(atPath: keys.serverKey, toPath: secret)
        chmod(secret, 0o440)  // what an ACL granting the service's user looks like
        let file = try keys.configuration(secretKey: secret)
        #expect(throws: ConfigurationError.self) { try keys.load(file) }
        let loaded = try keys.load(file, environment: ["CREDENTIALS_DIRECTORY": credentials.path + "/"])
        #expect(loaded.curve?.serverPublicKey == keys.serverPublic)
        // Only directly inside it.
        #expect(ConfiguredFile.isCredential(credentials.path + "/x", environment: ["CREDENTIALS_DIRECTORY": credentials.path]))
        #expect(!ConfiguredFile.isCredential(credentials.path + "/a/x", environment: ["CREDENTIALS_DIRECTORY": credentials.path]))
        #expect(!ConfiguredFile.isCredential(credentials.path + "x/y", environment: ["CREDENTIALS_DIRECTORY": credentials.path]))
        #expect(!ConfiguredFile.isCredential(secret, environment: [:]))
    }

    @Test func keygenWritesAPrivateSecretAndNeverOverwrites() throws {
        let dir = try F.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let prefix = dir.appendingPathComponent("cam0").path
        let pair = try ZMQCurve.keyPair()
        let paths = try CurveKeyFile.writeKeyPair(secretKey: pair.secretKey, publicKey: pair.publicKey, prefix: prefix)
        #expect(paths.secretPath == prefix + ".key" && paths.publicPath == prefix + ".pub")
        var status = stat()
        stat(paths.secretPath, &status)
        #expect(status.st_mode & 0o777 == 0o600)
        stat(paths.publicPath, &status)
        #expect(status.st_mode & 0o777 == 0o644)
        #expect(try CurveKeyFile.secretKey(at: paths.secretPath, environment: [:]) == pair.secretKey)
        #expect(try CurveKeyFile.publicKey(at: paths.publicPath, environment: [:]) == pair.publicKey)
        #expect(try String(contentsOfFile: paths.publicPath, encoding: .utf8) == ZMQCurve.z85Encode(pair.publicKey)! + "\n")

        let other = try ZMQCurve.keyPair()
        #expect(throws: ConfiguredFileError.self) {
            try CurveKeyFile.writeKeyPair(secretKey: other.secretKey, publicKey: other.publicKey, prefix: prefix)
        }
        #expect(try CurveKeyFile.secretKey(at: paths.secretPath, environment: [:]) == pair.secretKey)
        // Only the .pub exists: nothing is written, and no stray .key is left.
        let half = dir.appendingPathComponent("half").path
        _ = FileManager.default.createFile(atPath: half + ".pub", contents: Data())
        #expect(throws: ConfiguredFileError.self) {
            try CurveKeyFile.writeKeyPair(secretKey: other.secretKey, publicKey: other.publicKey, prefix: half)
        }
        #expect(!FileManager.default.fileExists(atPath: half + ".key"))
    }

    @Test func curveSettingsNeedARestartButTheAllowListDoesNot() {
        let running = ServiceConfiguration()
        var reloaded = running
        reloaded.security.curve.enabled = true
        reloaded.security.curve.secretKeyFile = "/etc/bisnnd/curve/server.key"
        reloaded.security.curve.allowedClientsFile = "/etc/bisnnd/curve/clients"
        #expect(ServiceReloadDifference(running: running, reloaded: reloaded).restartKeys
            == ["security.curve.enabled", "security.curve.secret_key_file"])
    }

    @Test func refusalsAreLoggedAtMostOnceAnIntervalAtWarningLevel() {
        var log = ConnectionRefusalLog()
        let key = [UInt8](repeating: 7, count: 32)
        let refusal = ZMQAuthenticator.Refusal(
            reason: .unknownKey, address: "127.0.0.1", domain: "bisnnd", mechanism: "CURVE", publicKey: key)
        let start = ContinuousClock.now
        let first = log.lines(for: Array(repeating: refusal, count: 3), dropped: 0, now: start)
        #expect(first.map(\.level) == [.warning, .debug, .debug])
        #expect(first[0].text.contains("from 127.0.0.1: CURVE client key \(ZMQCurve.z85Encode(key)!) is not in the allow-list"))
        let flood = log.lines(for: Array(repeating: refusal, count: 50), dropped: 100, now: start + .seconds(5))
        #expect(flood.allSatisfy { $0.level == .debug })
        let later = log.lines(for: [refusal], dropped: 0, now: start + .seconds(11))
        #expect(later.map(\.level) == [.warning])
        #expect(later[0].text.contains("(and 152 more since the last such line)"), "\(later[0].text)")
    }
}
