import EventStream

/// Events into raw EVT 2.0 / 3.0 words for event messages: EventStream's ``EVT2Encoder`` / ``EVT3Encoder``
/// without their `%` text header (payloads are words only). One encoder makes one continuous word stream:
/// its state (time high bits, current row) carries from call to call, as the service's decoder's does from
/// message to message, so use a fresh one after every START.
struct EVTWordEncoder: Sendable {
    private enum Encoder: Sendable {
        case evt2(EVT2Encoder)
        case evt3(EVT3Encoder)
    }

    private var encoder: Encoder
    private var headerBytes: Int?

    /// The encoding these words are in.
    let encoding: EventEncoding

    /// An encoder of `encoding` (EVT 2.0 or 3.0) for a `geometry` sensor.
    init(_ encoding: EventEncoding, geometry: SensorGeometry) {
        precondition(encoding != .native, "EVTWordEncoder writes EVT 2.0 / 3.0 words")
        self.encoding = encoding
        switch encoding {
        case .evt2:
            let e = EVT2Encoder(geometry: geometry)
            encoder = .evt2(e)
            headerBytes = e.headerText.utf8.count
        case .evt3, .native:
            let e = EVT3Encoder(geometry: geometry)
            encoder = .evt3(e)
            headerBytes = e.headerText.utf8.count
        }
    }

    /// The largest timestamp the encoding can carry, in microseconds.
    static func maximumTimestamp(_ encoding: EventEncoding) -> Int64 {
        encoding == .evt2 ? EVT2Encoder.maximumTimestamp : EVT3Encoder.maximumTimestamp
    }

    /// The words of `events`, continuing the stream. Throws (writing nothing) on an event the encoding
    /// cannot carry, naming its index in the stream.
    mutating func words(_ events: EventBuffer) throws(EventEncodingError) -> [UInt8] {
        var output: [UInt8] = []
        do {
            switch encoder {
            case .evt2(var e):
                try e.encode(events, into: &output)
                encoder = .evt2(e)
            case .evt3(var e):
                try e.encode(events, into: &output)
                encoder = .evt3(e)
            }
        } catch let error as EventEncodingError {
            throw error
        } catch {
            throw EventEncodingError(eventIndex: 0, "\(error)")
        }
        if let header = headerBytes {
            output.removeFirst(header)
            headerBytes = nil
        }
        return output
    }
}
