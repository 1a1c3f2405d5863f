import EventStream

/// One recording loaded for replay: its events, its sensor, and, for a Prophesee EVT 2.0 / 3.0 file, its
/// raw words (the bytes after the `%` text header), which can be forwarded untouched.
public struct ReplayRecording: Sendable {
    /// The file, as given.
    public var path: String
    /// The file's format.
    public var format: EventFormat
    /// The decoded events, in file order.
    public var events: EventBuffer
    /// The sensor the events lie on.
    public var geometry: SensorGeometry
    /// For a Prophesee EVT 2.0 / 3.0 file loaded with `keepingWords`: its words, without the `%` header.
    public var words: [UInt8]?

    /// N-MNIST's sensor, assumed for `.bin` recordings whose events all fit on it (the format says no size).
    public static let nmnistGeometry = SensorGeometry(width: 34, height: 34)

    /// A recording from parts already known to agree.
    public init(path: String, format: EventFormat, events: EventBuffer, geometry: SensorGeometry, words: [UInt8]? = nil) {
        self.path = path
        self.format = format
        self.events = events
        self.geometry = geometry
        self.words = words
    }

    /// The encoding whose words this recording's file holds (EVT 2.0 / 3.0), or nil.
    public var wordEncoding: EventEncoding? {
        switch format {
        case .evt2: .evt2
        case .evt3: .evt3
        default: nil
        }
    }

    /// Reads and decodes `path`. `format` nil detects it (``EventFormat/detect(prefix:fileName:)``);
    /// `geometry` overrides the file's (events off it are dropped). Without either, an N-MNIST recording
    /// whose events fit on 34 x 34 is taken as N-MNIST's; any other recording must say its size.
    ///
    /// With `keepingWords` and a file in that EVT encoding, ``words`` holds its raw words. When the decoder
    /// dropped events off the sensor, forwarding those words would get messages rejected
    /// (`coordinates`): that is an error too.
    ///
    /// Throws a ``ReplayError`` naming the file.
    public static func load(
        _ path: String, format: EventFormat? = nil, geometry override: SensorGeometry? = nil,
        keepingWords encoding: EventEncoding? = nil
    ) throws(ReplayError) -> ReplayRecording {
        let decoded: EventRecording
        do {
            decoded = try EventFileReader.read(path, format: format, geometry: override)
        } catch let error as EventDecodingError {
            throw ReplayError("byte \(error.offset): \(error.code): \(error.message)", file: path)
        } catch {
            throw ReplayError("cannot read the recording: \(error)", file: path)
        }
        guard let geometry = override ?? decoded.geometry ?? nmnistGeometry(of: decoded) else {
            throw ReplayError(
                "the \(decoded.format) recording does not say its sensor size; pass --width and --height", file: path)
        }
        guard (1...Int(UInt16.max)).contains(geometry.width), (1...Int(UInt16.max)).contains(geometry.height) else {
            throw ReplayError("a \(geometry) sensor does not fit the protocol's 16-bit width and height", file: path)
        }
        var recording = ReplayRecording(path: path, format: decoded.format, events: decoded.events, geometry: geometry)
        if let encoding, recording.wordEncoding == encoding {
            if decoded.counters.outOfBounds > 0 {
                throw ReplayError(
                    "\(decoded.counters.outOfBounds) event(s) lie outside the \(geometry) sensor, so the service "
                        + "would reject the messages holding them; give the sensor's real size or use --encoding native",
                    file: path)
            }
            recording.words = try words(of: path, encoding: encoding)
        }
        return recording
    }

    /// N-MNIST's 34 x 34 when `recording` is N-MNIST and every event fits on it.
    static func nmnistGeometry(of recording: EventRecording) -> SensorGeometry? {
        guard recording.format == .nmnist else { return nil }
        let (maxX, maxY) = recording.events.withColumns { _, xs, ys, _ in (xs.max() ?? 0, ys.max() ?? 0) }
        return nmnistGeometry.contains(x: maxX, y: maxY) ? nmnistGeometry : nil
    }

    /// The bytes of the file at `path` after its `%` text header: whole `encoding` words.
    static func words(of path: String, encoding: EventEncoding) throws(ReplayError) -> [UInt8] {
        var bytes: [UInt8]
        do {
            bytes = try EventFileReader.readBytes(path)
        } catch {
            throw ReplayError("cannot read: \(error)", file: path)
        }
        var parser = PropheseeHeaderParser()
        let headerBytes: Int
        do {
            headerBytes = try bytes.withUnsafeBytes { try parser.parse($0) }
            try parser.finish()
        } catch {
            throw ReplayError("cannot read the % header: \(error)", file: path)
        }
        bytes.removeFirst(headerBytes)
        guard bytes.count % encoding.unitSize == 0 else {
            throw ReplayError(
                "\(bytes.count % encoding.unitSize) trailing byte(s) do not make a whole \(encoding) word", file: path)
        }
        return bytes
    }
}
