import CLZ4
import CZstd

/// How the packets of an AEDAT 4.0 file are compressed (the IOHeader's `compression`).
public enum PacketCompression: Int32, Sendable, CaseIterable, CustomStringConvertible {
    case uncompressed = 0
    /// LZ4 frame format.
    case lz4 = 1
    /// LZ4 frame format, high-compression encoder (decoded the same way).
    case lz4High = 2
    /// Zstandard frame format.
    case zstd = 3
    /// Zstandard frame format, high-compression encoder (decoded the same way).
    case zstdHigh = 4

    public var description: String {
        switch self {
        case .uncompressed: "none"
        case .lz4: "LZ4"
        case .lz4High: "LZ4 (high)"
        case .zstd: "zstd"
        case .zstdHigh: "zstd (high)"
        }
    }
}

/// Decompresses one packet at a time (LZ4 frame or zstd frame) into a reused scratch buffer, never
/// producing more than a fixed number of bytes, so a small hostile payload cannot make it allocate
/// without bound.
///
/// It keeps its decompression contexts and scratch memory between packets. It is a reference type shared
/// by copies of the decoder that owns it; it is used by one packet at a time and reset before each.
final class PacketDecompressor {
    /// Why a payload could not be decompressed.
    enum Failure: Error {
        /// The payload is not a valid, complete frame.
        case corrupt(String)
        /// The payload decompresses to more than the cap.
        case tooLarge(limit: Int)
    }

    /// The most bytes one packet may decompress to.
    let maxOutput: Int
    private var lz4: OpaquePointer?
    private var zstd: OpaquePointer?
    private var scratch: UnsafeMutableRawPointer?
    private var scratchSize = 0

    init(maxOutput: Int) {
        precondition(maxOutput >= 0)
        self.maxOutput = maxOutput
    }

    deinit {
        if let lz4 { _ = LZ4F_freeDecompressionContext(lz4) }
        if let zstd { _ = ZSTD_freeDCtx(zstd) }
        scratch?.deallocate()
    }

    /// Decompresses `source` and hands the output to `body` (valid only during the call).
    func decompress<R>(
        _ source: UnsafeRawBufferPointer, _ compression: PacketCompression,
        _ body: (UnsafeRawBufferPointer) throws -> R
    ) throws -> R {
        let produced: Int
        switch compression {
        case .uncompressed: return try body(source)
        case .lz4, .lz4High: produced = try decompressLZ4(source)
        case .zstd, .zstdHigh: produced = try decompressZstd(source)
        }
        return try body(UnsafeRawBufferPointer(start: scratch, count: produced))
    }

    /// Makes room for at least one more byte after `used`, up to `maxOutput + 1` bytes in all (one byte
    /// over the cap, so that overflowing it is seen). Returns false when the cap is reached.
    private func grow(used: Int) -> Bool {
        guard used == scratchSize else { return true }
        let limit = maxOutput + 1
        guard scratchSize < limit else { return false }
        let newSize = min(limit, max(scratchSize * 2, 1 << 16))
        let fresh = UnsafeMutableRawPointer.allocate(byteCount: newSize, alignment: 16)
        if let old = scratch {
            fresh.copyMemory(from: old, byteCount: used)
            old.deallocate()
        }
        scratch = fresh
        scratchSize = newSize
        return true
    }

    private func decompressLZ4(_ source: UnsafeRawBufferPointer) throws -> Int {
        guard let src = source.baseAddress, source.count > 0 else { throw Failure.corrupt("empty LZ4 payload") }
        if lz4 == nil {
            var ctx: OpaquePointer?
            let rc = LZ4F_createDecompressionContext(&ctx, UInt32(LZ4F_VERSION))
            guard LZ4F_isError(rc) == 0, let ctx else { throw Failure.corrupt("cannot create an LZ4 context") }
            lz4 = ctx
        }
        guard let ctx = lz4 else { throw Failure.corrupt("no LZ4 context") }
        LZ4F_resetDecompressionContext(ctx)
        var read = 0, produced = 0
        while true {
            guard grow(used: produced), let out = scratch else { throw Failure.tooLarge(limit: maxOutput) }
            var dstSize = scratchSize - produced
            var srcSize = source.count - read
            let hint = LZ4F_decompress(ctx, out + produced, &dstSize, src + read, &srcSize, nil)
            if LZ4F_isError(hint) != 0 {
                LZ4F_resetDecompressionContext(ctx)
                throw Failure.corrupt("LZ4: " + String(cString: LZ4F_getErrorName(hint)))
            }
            read += srcSize
            produced += dstSize
            guard produced <= maxOutput else { throw Failure.tooLarge(limit: maxOutput) }
            if hint == 0 && read == source.count { return produced }
            if srcSize == 0 && dstSize == 0 && produced < scratchSize {
                // No progress with room to write: the input ran out inside a frame.
                LZ4F_resetDecompressionContext(ctx)
                throw Failure.corrupt("LZ4 frame is incomplete (\(source.count) bytes)")
            }
        }
    }

    private func decompressZstd(_ source: UnsafeRawBufferPointer) throws -> Int {
        guard let src = source.baseAddress, source.count > 0 else { throw Failure.corrupt("empty zstd payload") }
        if zstd == nil {
            guard let ctx = ZSTD_createDCtx() else { throw Failure.corrupt("cannot create a zstd context") }
            // Bound the window a frame may ask for by the output cap (no frame needs a larger one).
            var windowLog: Int32 = 10
            while windowLog < 27 && (1 << windowLog) < maxOutput { windowLog += 1 }
            _ = ZSTD_DCtx_setParameter(ctx, ZSTD_d_windowLogMax, windowLog)
            zstd = ctx
        }
        guard let ctx = zstd else { throw Failure.corrupt("no zstd context") }
        _ = ZSTD_DCtx_reset(ctx, ZSTD_reset_session_only)
        var input = ZSTD_inBuffer(src: src, size: source.count, pos: 0)
        var produced = 0
        while true {
            guard grow(used: produced), let out = scratch else { throw Failure.tooLarge(limit: maxOutput) }
            var output = ZSTD_outBuffer(dst: out, size: scratchSize, pos: produced)
            let before = input.pos
            let rc = ZSTD_decompressStream(ctx, &output, &input)
            if ZSTD_isError(rc) != 0 {
                _ = ZSTD_DCtx_reset(ctx, ZSTD_reset_session_only)
                throw Failure.corrupt("zstd: " + String(cString: ZSTD_getErrorName(rc)))
            }
            let wrote = output.pos - produced
            produced = output.pos
            guard produced <= maxOutput else { throw Failure.tooLarge(limit: maxOutput) }
            if rc == 0 && input.pos == input.size { return produced }
            if input.pos == before && wrote == 0 && produced < scratchSize {
                _ = ZSTD_DCtx_reset(ctx, ZSTD_reset_session_only)
                throw Failure.corrupt("zstd frame is incomplete (\(source.count) bytes)")
            }
        }
    }
}
