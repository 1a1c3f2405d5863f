#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A decoded recording: its events, what format it was, its geometry where known, and what was skipped.
public struct EventRecording: Sendable {
    public var events: EventBuffer
    public var format: EventFormat
    public var geometry: SensorGeometry?
    public var counters: DecoderCounters

    public init(events: EventBuffer, format: EventFormat, geometry: SensorGeometry?, counters: DecoderCounters) {
        self.events = events
        self.format = format
        self.geometry = geometry
        self.counters = counters
    }
}

/// Whole-file conveniences over the streaming decoders: the file is read in fixed-size blocks and fed
/// to the same decoder a network stream would use.
public enum EventFileReader {
    /// Block size used to read files.
    public static let blockSize = 1 << 20

    /// Reads a whole recording. `format` nil means detect it from the header and the file name;
    /// `geometry` overrides whatever the file declares. Errors name the file and the byte offset.
    public static func read(
        _ path: String, format: EventFormat? = nil, geometry: SensorGeometry? = nil
    ) throws -> EventRecording {
        let file = try RawFile(path: path)
        defer { file.close() }
        var block = [UInt8](repeating: 0, count: blockSize)
        var n = try file.read(into: &block)
        let resolved: EventFormat
        if let format {
            resolved = format
        } else if let detected = EventFormat.detect(prefix: block[..<n], fileName: path) {
            resolved = detected
        } else {
            throw EventDecodingError(.unknownFormat, offset: 0, "cannot tell the format; pass --format", file: path)
        }
        var decoder = resolved.makeDecoder(geometry: geometry)
        var events = EventBuffer(capacity: max(1024, Int(file.size / 4)))
        do {
            while n > 0 {
                try block.withUnsafeBytes { try decoder.decode(UnsafeRawBufferPointer(rebasing: $0[..<n]), into: &events) }
                n = try file.read(into: &block)
            }
            try decoder.finish(into: &events)
        } catch var error as EventDecodingError {
            error.file = path
            throw error
        }
        return EventRecording(events: events, format: resolved, geometry: decoder.geometry, counters: decoder.counters)
    }

    /// Decodes a recording already in memory (benchmarks, tests, network payloads).
    public static func decode(
        _ bytes: UnsafeRawBufferPointer, format: EventFormat, geometry: SensorGeometry? = nil,
        into events: inout EventBuffer
    ) throws -> (geometry: SensorGeometry?, counters: DecoderCounters) {
        var decoder = format.makeDecoder(geometry: geometry)
        try decoder.decode(bytes, into: &events)
        try decoder.finish(into: &events)
        return (decoder.geometry, decoder.counters)
    }

    /// Reads a whole file into memory.
    public static func readBytes(_ path: String) throws -> [UInt8] {
        let file = try RawFile(path: path)
        defer { file.close() }
        var bytes = [UInt8](repeating: 0, count: Int(file.size))
        var filled = 0
        while filled < bytes.count {
            let n = try bytes.withUnsafeMutableBytes { buf in
                try file.read(into: UnsafeMutableRawBufferPointer(rebasing: buf[filled...]))
            }
            if n == 0 { break }
            filled += n
        }
        return Array(bytes[..<filled])
    }
}

/// A file opened for reading with POSIX calls, with errors that name it.
struct RawFile {
    let path: String
    let fd: Int32
    let size: Int64

    init(path: String) throws {
        self.path = path
        fd = open(path, O_RDONLY)
        guard fd >= 0 else {
            throw EventDecodingError(.io, offset: 0, "cannot open: \(String(cString: strerror(errno)))", file: path)
        }
        var st = stat()
        guard fstat(fd, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else {
            Glibc.close(fd)
            throw EventDecodingError(.io, offset: 0, "not a regular file", file: path)
        }
        size = Int64(st.st_size)
    }

    func read(into buffer: inout [UInt8]) throws -> Int {
        try buffer.withUnsafeMutableBytes { try read(into: $0) }
    }

    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        while true {
            let n = Glibc.read(fd, buffer.baseAddress, buffer.count)
            if n >= 0 { return n }
            if errno == EINTR { continue }
            throw EventDecodingError(.io, offset: 0, "read failed: \(String(cString: strerror(errno)))", file: path)
        }
    }

    func close() { _ = Glibc.close(fd) }
}
