import Foundation
@testable import EventStream

/// Paths to the shared recordings (`../shared/data` beside the repository).
enum TestData {
    static let root: String = {
        let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        return repo.deletingLastPathComponent().appendingPathComponent("shared/data").path
    }()

    static func path(_ relative: String) -> String { root + "/" + relative }

    /// One entry of `formats/reference.json`.
    struct Reference: Decodable, Sendable, CustomStringConvertible {
        let file: String
        let format: String
        let events: Int
        let x_min: Int, x_max: Int, y_min: Int, y_max: Int
        let on: Int, off: Int
        let t_first: Int64, t_last: Int64, t_min: Int64, t_max: Int64
        let sum_x: Int64, sum_y: Int64, sum_t: Int64
        let first: [[Int64]]
        let last: [[Int64]]
        var description: String { file }
    }

    static let references: [Reference] = {
        let data = try! Data(contentsOf: URL(fileURLWithPath: path("formats/reference.json")))
        return try! JSONDecoder().decode([Reference].self, from: data)
    }()

    static func reference(_ file: String) -> Reference { references.first { $0.file == file }! }

    /// A deterministic generator for tests: the simulator's SplitMix64.
    typealias Random = SplitMix64

    /// Decodes `bytes` fed in chunks of random sizes (1 byte up to `maxChunk`).
    static func decodeInChunks(
        _ bytes: [UInt8], format: EventFormat, geometry: SensorGeometry? = nil, maxChunk: Int, seed: UInt64
    ) throws -> (events: EventBuffer, counters: DecoderCounters, geometry: SensorGeometry?) {
        var decoder = format.makeDecoder(geometry: geometry)
        var events = EventBuffer()
        var rng = Random(seed: seed)
        var start = 0
        try bytes.withUnsafeBytes { all in
            while start < all.count {
                let n = min(all.count - start, Int.random(in: 1...maxChunk, using: &rng))
                try decoder.decode(UnsafeRawBufferPointer(rebasing: all[start..<(start + n)]), into: &events)
                start += n
            }
        }
        try decoder.finish(into: &events)
        return (events, decoder.counters, decoder.geometry)
    }
}

extension SplitMix64 {
    init(seed: UInt64) { self.init(state: seed) }
}
