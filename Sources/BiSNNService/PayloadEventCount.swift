/// How many events a payload can decode to, found without decoding it: the service refuses a message that
/// would decode to more than `input.max_message_events` events before any memory is spent on them
/// (docs/protocol.md, reason `too_many_events`). A 16 MiB EVT 3.0 payload of vector words holds about 100
/// million events, 1.3 GB once decoded; this bound is what keeps that out.
///
/// - native: the header's count;
/// - EVT 2.0: the CD_OFF / CD_ON words (type `0x0`, `0x1`);
/// - EVT 3.0: one per EVT_ADDR_X word (`0x2`) and one per set bit of each VECT_12 (`0x4`, 12 bits) and VECT_8
///   (`0x5`, 8 bits) word.
///
/// Exact for native payloads; for EVT an upper bound (events before the first time word, or outside the
/// sensor, are decoded and then dropped).
enum PayloadEventCount {
    /// The most events a word of `encoding` can hold (an EVT 3.0 VECT_12 word holds 12).
    static func mostPerUnit(_ encoding: EventEncoding) -> Int {
        switch encoding {
        case .native, .evt2: 1
        case .evt3: 12
        }
    }

    /// ``upperBound(_:encoding:count:)`` when it is over `limit`, else nil. The words are only scanned when
    /// the payload is long enough to hold more than `limit` events at all, so the common message costs nothing
    /// here.
    static func over(_ limit: Int, payload: [UInt8], encoding: EventEncoding, count: UInt32) -> Int? {
        guard Int(count) * mostPerUnit(encoding) > limit else { return nil }
        let bound = upperBound(payload, encoding: encoding, count: count)
        return bound > limit ? bound : nil
    }

    /// The most events `payload` (whole units of `encoding`) can decode to.
    static func upperBound(_ payload: [UInt8], encoding: EventEncoding, count: UInt32) -> Int {
        switch encoding {
        case .native:
            return Int(count)
        case .evt2:
            return payload.withUnsafeBytes { raw in
                var n = 0
                var i = 0
                while i + 4 <= raw.count {
                    // Little-endian word: the type is the top 4 bits of the last byte.
                    if raw[i + 3] >> 4 <= 1 { n += 1 }
                    i += 4
                }
                return n
            }
        case .evt3:
            return payload.withUnsafeBytes { raw in
                var n = 0
                var i = 0
                while i + 2 <= raw.count {
                    let word = UInt16(raw[i]) | UInt16(raw[i + 1]) << 8
                    switch word >> 12 {
                    case 0x2: n += 1
                    case 0x4: n += (word & 0xfff).nonzeroBitCount
                    case 0x5: n += (word & 0xff).nonzeroBitCount
                    default: break
                    }
                    i += 2
                }
                return n
            }
        }
    }
}
