import BiSNNService
import EventStream
import FuzzSupport

/// Input: byte 0 = control (bits 0-1: frame count - 1; bit 2: decode with restart; bit 3: expect a
/// 34x34 geometry; bit 4: resynchronise the second pass, as after lost input; bit 5: at most 4096 events a
/// message); then 2-byte little-endian lengths of all frames but the last; the last frame is the rest.
/// Accepted packets are decoded through a `SensorEventDecoder`; a second pass feeds the same packet again
/// (continuing the stream) to reach the decoder's cross-packet state.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = fuzzBytes(data, size)
    guard let control = bytes.first else { return 0 }
    let frameCount = Int(control & 3) + 1
    var frames: [[UInt8]] = []
    var position = 1
    for _ in 0..<(frameCount - 1) {
        guard position + 2 <= bytes.count else { break }
        let length = Int(bytes[position]) | Int(bytes[position + 1]) << 8
        position += 2
        let end = min(bytes.count, position + length)
        frames.append(Array(bytes[position..<end]))
        position = end
    }
    frames.append(Array(bytes[min(position, bytes.count)...]))
    guard let packet = try? EventPacket.parse(frames: frames, maximumPayloadBytes: 1 << 20) else { return 0 }
    var decoder = SensorEventDecoder(
        expectedGeometry: control & 8 != 0 ? SensorGeometry(width: 34, height: 34) : nil,
        maximumEvents: control & 32 != 0 ? 4096 : SensorEventDecoder.defaultMaximumEvents)
    var events = EventBuffer()
    _ = try? decoder.decode(packet, restart: control & 4 != 0, into: &events)
    _ = try? decoder.decode(packet, resync: control & 16 != 0, into: &events)
    return 0
}

@_cdecl("FuzzPacket_main")
public func fuzzerMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    fuzzMain(argc, argv, fuzz)
}
