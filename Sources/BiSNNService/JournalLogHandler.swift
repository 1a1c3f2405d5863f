import Foundation
import Logging
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A swift-log handler writing one line per message to standard error, in the form journald reads when the
/// service runs under systemd, and timestamped for a terminal otherwise.
///
/// - ``Format/journald``: `<6>bisnnd: listening endpoint=tcp://127.0.0.1:5555`. The `<N>` prefix is the
///   syslog priority of sd-daemon(3) (`<3>` error, `<4>` warning, `<5>` notice, `<6>` info, `<7>` debug and
///   trace, `<2>` critical); journald strips it and files the line at that priority. No timestamp: the
///   journal has its own.
/// - ``Format/plain``: `2025-06-01T12:34:56.789Z info bisnnd: listening endpoint=tcp://127.0.0.1:5555`,
///   the time in UTC.
///
/// Metadata follows the message as `key=value`, sorted by key, values quoted when they hold spaces, quotes
/// or `=`; line breaks inside the message or a value are written as `\n`, so one message is always one line
/// (journald would otherwise file each line as a separate entry of default priority). Each line is written
/// with one `write(2)` under a lock, so lines from concurrent tasks do not interleave.
public struct JournalLogHandler: LogHandler {
    /// The shape of a line.
    public enum Format: Sendable, Hashable {
        /// `<N>` syslog priority prefix, no timestamp.
        case journald
        /// ISO 8601 UTC timestamp and level name.
        case plain

        /// The format `configured` asks for; ``ServiceConfiguration/Log/Format/auto`` is
        /// ``detect(environment:fileDescriptor:)``.
        public static func resolve(
            _ configured: ServiceConfiguration.Log.Format,
            environment: [String: String] = ProcessInfo.processInfo.environment,
            fileDescriptor: Int32 = STDERR_FILENO
        ) -> Format {
            switch configured {
            case .journald: .journald
            case .plain: .plain
            case .auto: detect(environment: environment, fileDescriptor: fileDescriptor)
            }
        }

        /// ``journald`` when `fileDescriptor` is the journal stream systemd connected: `JOURNAL_STREAM` is set
        /// to `device:inode` and these are the descriptor's (systemd.exec(5)); otherwise ``plain`` (the output
        /// was redirected, or there is no systemd).
        public static func detect(
            environment: [String: String] = ProcessInfo.processInfo.environment,
            fileDescriptor: Int32 = STDERR_FILENO
        ) -> Format {
            guard let stream = environment["JOURNAL_STREAM"] else { return .plain }
            let parts = stream.split(separator: ":")
            guard parts.count == 2, let device = UInt64(parts[0]), let inode = UInt64(parts[1]) else { return .plain }
            var status = stat()
            guard fstat(fileDescriptor, &status) == 0 else { return .plain }
            return UInt64(status.st_dev) == device && UInt64(status.st_ino) == inode ? .journald : .plain
        }
    }

    /// Where lines go.
    public struct Output: Sendable {
        let write: @Sendable (String) -> Void

        /// Calls `write` with each line, its newline included.
        public static func custom(_ write: @escaping @Sendable (String) -> Void) -> Output {
            Output(write: write)
        }

        /// Writes each line to `fileDescriptor` with one `write(2)` (retried while interrupted or partial),
        /// lines serialised by a lock shared by every handler writing to this output.
        public static func fileDescriptor(_ fileDescriptor: Int32) -> Output {
            let writer = LineWriter(fileDescriptor: fileDescriptor)
            return Output { writer.writeLine($0) }
        }

        /// Standard error.
        public static let standardError = fileDescriptor(STDERR_FILENO)
    }

    /// The logger's label, written before the message.
    public let label: String
    /// The line format.
    public let format: Format
    /// The least severe level written.
    public var logLevel: Logger.Level
    /// Metadata added to every message of this handler.
    public var metadata: Logger.Metadata = [:]
    /// Metadata added from the task's context to every message.
    public var metadataProvider: Logger.MetadataProvider?
    let output: Output

    /// A handler for a logger labelled `label`.
    public init(
        label: String, format: Format, logLevel: Logger.Level = .info, output: Output = .standardError,
        metadataProvider: Logger.MetadataProvider? = nil
    ) {
        self.label = label
        self.format = format
        self.logLevel = logLevel
        self.output = output
        self.metadataProvider = metadataProvider
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var merged = metadata
        if let provided = metadataProvider?.get() { merged.merge(provided) { _, new in new } }
        if let extra = event.metadata { merged.merge(extra) { _, new in new } }
        if let error = event.error { merged["error"] = .string("\(error)") }
        output.write(Self.line(
            level: event.level, message: event.message.description, metadata: merged, label: label, format: format,
            time: format == .plain ? Self.timestamp() : "") + "\n")
    }

    /// The syslog priority of `level` as sd-daemon(3) prefixes it.
    public static func priority(of level: Logger.Level) -> Int {
        switch level {
        case .trace, .debug: 7
        case .info: 6
        case .notice: 5
        case .warning: 4
        case .error: 3
        case .critical: 2
        }
    }

    /// One line, without its newline: `time` is written only in the plain format.
    static func line(
        level: Logger.Level, message: String, metadata: Logger.Metadata, label: String, format: Format, time: String
    ) -> String {
        var line: String
        switch format {
        case .journald: line = "<\(priority(of: level))>"
        case .plain: line = "\(time) \(level.rawValue) "
        }
        if !label.isEmpty { line += escaped(label) + ": " }
        line += escaped(message)
        for key in metadata.keys.sorted() {
            line += " " + escaped(key) + "=" + value(metadata[key]!)
        }
        return line
    }

    /// A metadata value: as it is when it is a plain word, else in double quotes with `\` escapes.
    static func value(_ value: Logger.Metadata.Value) -> String {
        let text = text(of: value)
        let plain = !text.isEmpty && text.unicodeScalars.allSatisfy {
            $0.value > 0x20 && $0.value != 0x7F && $0 != "\"" && $0 != "=" && $0 != "\\"
        }
        if plain { return text }
        return "\"" + escaped(text).replacingOccurrences(of: "\"", with: "\\\"") + "\""
    }

    /// A metadata value as text: lists as `[a, b]`, dictionaries as `[k: v]` sorted by key.
    static func text(of value: Logger.Metadata.Value) -> String {
        switch value {
        case .string(let s): s
        case .stringConvertible(let c): c.description
        case .array(let items): "[" + items.map(text(of:)).joined(separator: ", ") + "]"
        case .dictionary(let entries):
            "[" + entries.keys.sorted().map { "\($0): \(text(of: entries[$0]!))" }.joined(separator: ", ") + "]"
        }
    }

    /// `text` with backslashes doubled and control characters (line breaks included) as escapes, so it stays on
    /// one line.
    static func escaped(_ text: String) -> String {
        guard text.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F || $0 == "\\" }) else {
            return text
        }
        var out = ""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20 || scalar.value == 0x7F:
                out += "\\x" + (scalar.value < 0x10 ? "0" : "") + String(scalar.value, radix: 16)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    /// The current time as `2025-06-01T12:34:56.789Z`.
    static func timestamp() -> String {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        var seconds = now.tv_sec
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func two(_ n: Int32) -> String { n < 10 ? "0\(n)" : "\(n)" }
        let millis = Int(now.tv_nsec) / 1_000_000
        let ms = millis < 10 ? "00\(millis)" : millis < 100 ? "0\(millis)" : "\(millis)"
        return "\(parts.tm_year + 1900)-\(two(parts.tm_mon + 1))-\(two(parts.tm_mday))T\(two(parts.tm_hour)):"
            + "\(two(parts.tm_min)):\(two(parts.tm_sec)).\(ms)Z"
    }
}

/// Writes whole lines to a file descriptor, one at a time.
final class LineWriter: Sendable {
    let fileDescriptor: Int32
    let lock = Mutex(())

    init(fileDescriptor: Int32) {
        self.fileDescriptor = fileDescriptor
    }

    func writeLine(_ line: String) {
        var bytes = Array(line.utf8)
        lock.withLock { _ in
            bytes.withUnsafeMutableBytes { buffer in
                var offset = 0
                while offset < buffer.count {
                    let n = write(fileDescriptor, buffer.baseAddress! + offset, buffer.count - offset)
                    if n < 0 {
                        if errno == EINTR { continue }
                        return  // nowhere to report a failure to write a log line
                    }
                    offset += n
                }
            }
        }
    }
}
