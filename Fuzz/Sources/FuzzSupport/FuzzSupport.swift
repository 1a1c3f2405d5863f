import EventStream

/// Feeds `data` to `decoder` in chunks whose sizes come from the input's first bytes, then finishes.
/// Errors are expected (hostile input); only a crash is a finding.
///
/// Layout: byte 0 = number of chunk-size bytes `k` (0-7, low 3 bits); the next `k` bytes are chunk sizes
/// (0 means 1 byte, used cyclically); the rest is the stream. With `k == 0` the stream goes in one chunk.
public func fuzzDecoder<D: EventDecoder>(_ decoder: inout D, _ data: UnsafeRawBufferPointer) {
    guard let first = data.first else { return }
    let k = min(Int(first & 7), data.count - 1)
    let sizes = data[1..<(1 + k)].map { Int($0) == 0 ? 1 : Int($0) * (first & 8 != 0 ? 61 : 1) }
    let stream = UnsafeRawBufferPointer(rebasing: data[(1 + k)...])
    var events = EventBuffer()
    var offset = 0
    var index = 0
    do {
        while offset < stream.count {
            let size = sizes.isEmpty ? stream.count : min(sizes[index % sizes.count], stream.count - offset)
            index += 1
            try decoder.decode(UnsafeRawBufferPointer(rebasing: stream[offset..<(offset + size)]), into: &events)
            offset += size
            if events.count > 1 << 16 { events = EventBuffer() }
        }
        try decoder.finish(into: &events)
    } catch {}
}

/// The libFuzzer entry's bytes as a buffer.
public func fuzzBytes(_ data: UnsafePointer<UInt8>?, _ size: Int) -> UnsafeRawBufferPointer {
    guard let data, size > 0 else { return UnsafeRawBufferPointer(start: nil, count: 0) }
    return UnsafeRawBufferPointer(start: data, count: size)
}

/// libFuzzer's entry taking the test function explicitly (in `libclang_rt.fuzzer`).
@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(
    _ argc: UnsafeMutablePointer<CInt>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
    _ test: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt
) -> CInt

/// Runs libFuzzer on `test`. SwiftPM links an executable target with `main` redirected to
/// `<Target>_main` (`--defsym`), which hides libFuzzer's own `main`; each target defines that symbol and
/// calls this.
public func fuzzMain(
    _ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?,
    _ test: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt
) -> CInt {
    var count = argc
    var arguments = argv
    return LLVMFuzzerRunDriver(&count, &arguments, test)
}
