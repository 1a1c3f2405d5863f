import Testing

@testable import BiSNNService

/// The `model` field of predictions and status, and what a reload can apply.
struct ServiceModelIdentifierTests {
    @Test func identifierIsTheFileNameAndTheSHA256Prefix() {
        // FIPS 180-4 test vectors; "test" gives the digest of docs/protocol.md's example.
        #expect(ModelIdentifier(fileName: "nmnist.safetensors", bytes: Array("test".utf8)).text
                == "nmnist.safetensors@9f86d081")
        #expect(ModelIdentifier(fileName: "m", bytes: []).text == "m@e3b0c442")
        #expect(ModelIdentifier(fileName: "m", bytes: Array("abc".utf8)).text == "m@ba7816bf")
        let long = Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8)  // two blocks
        #expect(SHA256.hash(long).prefix(8) == [0x24, 0x8d, 0x6a, 0x61, 0xd2, 0x06, 0x38, 0xb8])
        #expect(ModelIdentifier(file: "/nonexistent/model.safetensors") == nil)
    }

    @Test func reloadNamesTheSettingsThatNeedARestart() throws {
        let running = ServiceConfiguration()
        var reloaded = running
        reloaded.model.seed = 9
        reloaded.decisions.mode = .window
        reloaded.input.maxSensors = 3
        #expect(ServiceReloadDifference(running: running, reloaded: reloaded).restartKeys.isEmpty)
        reloaded.output.sendHighWaterMark = 10
        reloaded.input.pullBind = []
        reloaded.log.level = .debug
        #expect(ServiceReloadDifference(running: running, reloaded: reloaded).restartKeys
                == ["input.pull_bind", "output.send_hwm", "log.level"])
    }
}
