/// The recording and stream formats bisnn reads.
public enum EventFormat: String, CaseIterable, Sendable, CustomStringConvertible {
    /// N-MNIST 40-bit records (also the DVS128 Gesture crops in ../shared/data).
    case nmnist
    /// Prophesee EVT 2.0, with or without `%` text header.
    case evt2
    /// Prophesee EVT 3.0.
    case evt3
    /// Prophesee DAT, CD events.
    case dat
    /// iniVation AEDAT 4.0.
    case aedat4
    /// iniVation AEDAT 3.1 (polarity packets).
    case aedat3

    public var description: String { rawValue }

    /// A fresh streaming decoder for this format. `geometry`, when given, overrides the header's.
    public func makeDecoder(geometry: SensorGeometry? = nil) -> any EventDecoder {
        switch self {
        case .nmnist: NMNISTDecoder(geometry: geometry)
        case .evt2: EVT2Decoder(geometry: geometry)
        case .evt3: EVT3Decoder(geometry: geometry)
        case .dat: DATDecoder(geometry: geometry)
        case .aedat4: AEDAT4Decoder(geometry: geometry)
        case .aedat3: AEDAT3Decoder(geometry: geometry)
        }
    }

    /// Recognises a format from the first bytes of a file (a few KiB suffice) and its name.
    ///
    /// Headers decide where there is one (`#!AER-DAT4.0`, `#!AER-DAT3.1`, Prophesee `%` lines naming
    /// `evt 2.0`/`evt 3.0`/`format EVT3` or a DAT event type); otherwise the extension: `.bin` is N-MNIST,
    /// `.raw` headerless EVT 2.0 (as GenX320 writes it), `.dat` DAT.
    public static func detect(prefix: some Collection<UInt8>, fileName: String) -> EventFormat? {
        let head = Array(prefix.prefix(8192))
        let text = String(decoding: head.prefix { $0 < 0x80 && $0 != 0 }, as: UTF8.self)
        if text.hasPrefix("#!AER-DAT4") { return .aedat4 }
        if text.hasPrefix("#!AER-DAT3") { return .aedat3 }
        let ext = fileName.split(separator: ".").last.map { $0.lowercased() } ?? ""
        if text.hasPrefix("%") {
            let lines = text.split(separator: "\n").prefix { $0.hasPrefix("%") }.map { $0.lowercased() }
            for line in lines {
                let words = line.dropFirst().split(whereSeparator: { $0 == " " || $0 == ";" || $0 == "=" || $0 == "\r" })
                if words.first == "evt", words.count > 1 {
                    if words[1].hasPrefix("3") { return .evt3 }
                    if words[1].hasPrefix("2") { return .evt2 }
                }
                if words.first == "format", words.count > 1 {
                    if words[1].hasPrefix("evt3") { return .evt3 }
                    if words[1].hasPrefix("evt21") { return nil }  // EVT 2.1 is not supported
                    if words[1].hasPrefix("evt2") { return .evt2 }
                }
                if line.contains("data file containing") || words.first == "version" { return .dat }
            }
            if ext == "dat" { return .dat }
            if ext == "raw" { return .evt2 }
            return nil
        }
        switch ext {
        case "bin": return .nmnist
        case "raw": return .evt2
        case "dat": return .dat
        case "aedat4": return .aedat4
        case "aedat": return .aedat3
        default: return nil
        }
    }
}
