import Foundation
import Logging
import Synchronization
import Testing

@testable import BiSNNService

#if canImport(Glibc)
import Glibc
#endif

/// `JournalLogHandler`: line formats, one line per message, journal detection, and writes to a real pipe.
struct LogHandlerTests {
    /// Lines a handler wrote.
    final class Captured: Sendable {
        let lines = Mutex<[String]>([])
        var output: JournalLogHandler.Output {
            .custom { [self] line in lines.withLock { $0.append(line) } }
        }
        var all: [String] { lines.withLock { $0 } }
    }

    static func logger(
        _ format: JournalLogHandler.Format, level: Logger.Level = .trace, label: String = "bisnnd"
    ) -> (Logger, Captured) {
        let captured = Captured()
        let output = captured.output
        let logger = Logger(label: label) { JournalLogHandler(label: $0, format: format, logLevel: level, output: output) }
        return (logger, captured)
    }

    @Test func journaldLinesCarryTheSyslogPriority() {
        let (logger, captured) = Self.logger(.journald)
        logger.trace("t")
        logger.debug("d")
        logger.info("i")
        logger.notice("n")
        logger.warning("w")
        logger.error("e")
        logger.critical("c")
        #expect(captured.all == [
            "<7>bisnnd: t\n", "<7>bisnnd: d\n", "<6>bisnnd: i\n", "<5>bisnnd: n\n", "<4>bisnnd: w\n",
            "<3>bisnnd: e\n", "<2>bisnnd: c\n",
        ])
    }

    @Test func plainLinesAreTimestamped() throws {
        let (logger, captured) = Self.logger(.plain)
        logger.warning("queue full", metadata: ["sensor": "cam-1"])
        let line = try #require(captured.all.first)
        let pattern = try Regex(#"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z warning bisnnd: queue full sensor=cam-1\n$"#)
        #expect(line.wholeMatch(of: pattern) != nil, "\(line)")
    }

    @Test func metadataIsSortedAndQuoted() {
        let (sensorLogger, captured) = Self.logger(.journald, label: "bisnnd.sensor")
        var logger = sensorLogger
        logger[metadataKey: "sensor"] = "cam 1"
        logger.info("frame dropped", metadata: [
            "a": "plain", "quote": "say \"hi\"", "eq": "x=y", "empty": "", "list": ["1", "2"], "count": "\(3)",
            "map": ["b": "2", "a": "1"],
        ])
        #expect(captured.all == [
            "<6>bisnnd.sensor: frame dropped a=plain count=3 empty=\"\" eq=\"x=y\" list=\"[1, 2]\" map=\"[a: 1, b: 2]\" "
                + "quote=\"say \\\"hi\\\"\" sensor=\"cam 1\"\n",
        ])
    }

    @Test func oneMessageIsOneLine() {
        let (logger, captured) = Self.logger(.journald)
        logger.error("first\nsecond\r\tthird \\ done", metadata: ["detail": "a\nb"])
        #expect(captured.all == ["<3>bisnnd: first\\nsecond\\r\\tthird \\\\ done detail=\"a\\nb\"\n"])
    }

    @Test func levelAndProviderAndErrorAreHonoured() {
        struct Failure: Error, CustomStringConvertible {
            var description: String { "disk full" }
        }
        let captured = Captured()
        let output = captured.output
        let provider = Logger.MetadataProvider { ["request": "42"] }
        let logger = Logger(label: "bisnnd") {
            JournalLogHandler(label: $0, format: .journald, logLevel: .warning, output: output, metadataProvider: provider)
        }
        logger.info("hidden")
        logger.warning("shown", metadata: ["request": "override"])
        logger.error("failed", error: Failure())
        #expect(captured.all == [
            "<4>bisnnd: shown request=override\n", "<3>bisnnd: failed error=\"disk full\" request=42\n",
        ])
    }

    @Test func journalIsDetectedFromJournalStream() throws {
        let dir = try ConfigurationFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = try ConfigurationFixtures.write("", in: dir, name: "stream")
        let handle = try #require(FileHandle(forWritingAtPath: path))
        defer { try? handle.close() }
        var status = stat()
        try #require(fstat(handle.fileDescriptor, &status) == 0)
        let fd = handle.fileDescriptor
        let matching = ["JOURNAL_STREAM": "\(status.st_dev):\(status.st_ino)"]
        typealias Format = JournalLogHandler.Format
        #expect(Format.detect(environment: matching, fileDescriptor: fd) == .journald)
        #expect(Format.detect(environment: ["JOURNAL_STREAM": "\(status.st_dev):\(status.st_ino + 1)"],
                              fileDescriptor: fd) == .plain)
        #expect(Format.detect(environment: ["JOURNAL_STREAM": "garbage"], fileDescriptor: fd) == .plain)
        #expect(Format.detect(environment: [:], fileDescriptor: fd) == .plain)
        #expect(Format.resolve(.auto, environment: matching, fileDescriptor: fd) == .journald)
        #expect(Format.resolve(.plain, environment: matching, fileDescriptor: fd) == .plain)
        #expect(Format.resolve(.journald, environment: [:], fileDescriptor: fd) == .journald)
    }

    /// Lines written concurrently to a pipe come out whole, one per message.
    @Test func concurrentWritesToAPipeStayWhole() async throws {
        var fds: [Int32] = [0, 0]
        try #require(pipe(&fds) == 0)
        let (readEnd, writeEnd) = (fds[0], fds[1])
        let output = JournalLogHandler.Output.fileDescriptor(writeEnd)
        let reader = Task.detached { () -> String in
            var data = [UInt8]()
            var buffer = [UInt8](repeating: 0, count: 65536)
            while true {
                let n = buffer.withUnsafeMutableBytes { read(readEnd, $0.baseAddress, $0.count) }
                if n <= 0 { break }
                data += buffer[..<n]
            }
            return String(decoding: data, as: UTF8.self)
        }
        let filler = String(repeating: "x", count: 3000)  // longer than an atomic pipe write on some systems
        await withTaskGroup(of: Void.self) { group in
            for task in 0..<4 {
                group.addTask {
                    let logger = Logger(label: "bisnnd") {
                        JournalLogHandler(label: $0, format: .journald, output: output)
                    }
                    for i in 0..<50 { logger.info("message", metadata: ["task": "\(task)", "i": "\(i)", "pad": "\(filler)"]) }
                }
            }
        }
        close(writeEnd)
        let text = await reader.value
        close(readEnd)
        let lines = text.split(separator: "\n")
        #expect(lines.count == 200)
        #expect(lines.allSatisfy { $0.hasPrefix("<6>bisnnd: message i=") && $0.contains(" pad=\(filler) task=") })
    }
}
