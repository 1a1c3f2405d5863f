import EventStream
import Foundation
import Testing

@testable import BiSNN

/// Binary draws from a Bernoulli posterior (reproducibility, frequencies, extremes, a golden hash) and the
/// two packings of ``SignMatrix``.
@Suite struct DrawTests {
    // MARK: - Fixtures

    /// A Bernoulli model of `network` whose lambda at (layer, row, column) is `lambda`; zero biases, +1 readouts.
    static func model(_ network: NetworkDescription, lambda: (Int, Int, Int) -> Float) -> NetworkModel {
        let layers = network.layers.indices.map { l in
            let rows = network.layers[l].size
            let columns = network.inputCount(ofLayer: l)
            return LayerParameters(
                weights: (0..<(rows * columns)).map { lambda(l, $0 / columns, $0 % columns) },
                bias: [Float](repeating: 0, count: rows),
                readoutWeights: [Int8](repeating: 1, count: network.classCount * rows),
                readoutBias: [Int8](repeating: 1, count: network.classCount))
        }
        return NetworkModel(network: network, layers: layers)
    }

    static func network(_ input: InputGeometry, _ hidden: [Int], classes: Int = 3) -> NetworkDescription {
        .mlp(input: input, hiddenSizes: hidden, classNames: (0..<classes).map { "c\($0)" }, weightKind: .bernoulli)
    }

    /// A small random Bernoulli model (lambda uniform in -2...2).
    static let smallModel = NetworkModel.random(
        network: network(InputGeometry(channels: 1, height: 5, width: 7), [20, 9]), seed: 11, weightScale: 2)

    /// 64-bit FNV-1a over the packed rows of every layer of `draws`, each word little-endian.
    static func fnv1a(_ draws: [BinaryDraw]) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for draw in draws {
            for layer in draw.layers {
                for word in layer.packedRows {
                    for byte in 0..<8 {
                        hash ^= word >> UInt64(8 * byte) & 0xff
                        hash = hash &* 0x0000_0100_0000_01b3
                    }
                }
            }
        }
        return hash
    }

    // MARK: - Reproducibility

    @Test func sameSeedGivesIdenticalDraws() {
        let a = BinaryDraw.samples(from: Self.smallModel, count: 4, seed: 42)
        let b = BinaryDraw.samples(from: Self.smallModel, count: 4, seed: 42)
        #expect(a.count == 4)
        #expect(a == b)
    }

    @Test func differentSeedsAndIndicesDiffer() {
        let a = BinaryDraw.samples(from: Self.smallModel, count: 4, seed: 42)
        let b = BinaryDraw.samples(from: Self.smallModel, count: 4, seed: 43)
        for d in 0..<4 { #expect(a[d] != b[d], "draw \(d) is the same for seeds 42 and 43") }
        // The draws of one ensemble differ from each other too (each has its own stream).
        for d in 1..<4 { #expect(a[d] != a[0], "draws 0 and \(d) of one ensemble are equal") }
    }

    @Test func smallerEnsembleIsAPrefixOfALargerOne() {
        let large = BinaryDraw.samples(from: Self.smallModel, count: 6, seed: 9)
        for n in 0..<6 {
            let small = BinaryDraw.samples(from: Self.smallModel, count: n, seed: 9)
            #expect(small.count == n)
            #expect(Array(large[..<n]) == small, "the first \(n) of 6 draws differ from 3 draws")
        }
    }

    // MARK: - Distribution

    /// Each lambda value fills whole rows; over several draws, the fraction of +1 entries of every group of
    /// rows must be sigmoid(2 lambda) within 5 binomial standard deviations.
    @Test func frequencyOfPlusOneIsSigmoidOfTwoLambda() {
        let values: [Float] = [-1, 0, 0.5, 2]
        let net = Self.network(InputGeometry(channels: 1, height: 25, width: 40), [8, 40], classes: 2)
        // Layer 0: row r has values[r % 4] (2000 weights a value); layer 1: rows 10v..<10v+10 have values[v].
        func group(_ layer: Int, _ row: Int) -> Int { layer == 0 ? row % 4 : row / 10 }
        let model = Self.model(net) { l, r, _ in values[group(l, r)] }
        let draws = BinaryDraw.samples(from: model, count: 5, seed: 2024)
        for l in net.layers.indices {
            var plus = [Int](repeating: 0, count: values.count)
            var total = [Int](repeating: 0, count: values.count)
            for draw in draws {
                let m = draw.layers[l]
                #expect(m.rows == net.layers[l].size && m.columns == net.inputCount(ofLayer: l))
                for r in 0..<m.rows {
                    for c in 0..<m.columns {
                        total[group(l, r)] += 1
                        if m[r, c] == 1 { plus[group(l, r)] += 1 }
                    }
                }
            }
            for (v, lambda) in values.enumerated() {
                let p = 1 / (1 + exp(-2 * Double(lambda)))
                let n = Double(total[v])
                let sigma = (n * p * (1 - p)).squareRoot()
                let deviation = abs(Double(plus[v]) - n * p)
                #expect(total[v] >= 400)
                #expect(
                    deviation <= 5 * sigma,
                    "layer \(l) lambda \(lambda): \(plus[v]) of \(total[v]) are +1, expected \(n * p) +- \(5 * sigma)")
            }
        }
    }

    @Test func extremeLambdasAreCertain() {
        let net = Self.network(InputGeometry(channels: 1, height: 10, width: 30), [64, 7])
        // A checkerboard of +20 and -20, so both signs appear in every row and column.
        let model = Self.model(net) { l, r, c in (r + c + l) % 2 == 0 ? 20 : -20 }
        let draws = BinaryDraw.samples(from: model, count: 10, seed: 5)
        var checked = 0
        for draw in draws {
            for (l, m) in draw.layers.enumerated() {
                for r in 0..<m.rows {
                    for c in 0..<m.columns {
                        let expected = (r + c + l) % 2 == 0 ? 1 : -1
                        if m[r, c] != expected {
                            Issue.record("layer \(l) (\(r), \(c)) is \(m[r, c]) for lambda \(20 * expected)")
                            return
                        }
                        checked += 1
                    }
                }
            }
        }
        #expect(checked == 10 * (64 * 300 + 7 * 64))
    }

    @Test func modeIsSignOfLambdaWithZeroPositive() {
        let values: [Float] = [-20, -1, -1e-30, -0.0, 0, 1e-30, 0.5, 20, -Float.leastNonzeroMagnitude]
        let net = Self.network(InputGeometry(channels: 1, height: 1, width: values.count), [3, 2])
        let model = Self.model(net) { l, r, c in
            l == 0 ? values[c] * (r == 1 ? -1 : 1) : (r + c) % 2 == 0 ? -0.25 : 0.25
        }
        let mode = BinaryDraw.mode(of: model)
        #expect(mode.layers.count == 2)
        for l in 0..<2 {
            let m = mode.layers[l]
            let columns = net.inputCount(ofLayer: l)
            for r in 0..<m.rows {
                for c in 0..<columns {
                    let lambda = model.layers[l].weights[r * columns + c]
                    let expected = lambda > 0 || lambda == 0 ? 1 : -1  // -0.0 == 0: +1
                    #expect(m[r, c] == expected, "layer \(l) (\(r), \(c)): lambda \(lambda) gave \(m[r, c])")
                }
            }
        }
        // The mode of a model is also what the reference network uses when given no draw.
        let reference = ReferenceNetwork(model: model)
        let withDraw = ReferenceNetwork(model: model, draw: mode)
        #expect(reference.weights == withDraw.weights)
    }

    // MARK: - Golden value

    /// Pins cross-machine determinism of the draws: the xoshiro256** streams and their per-draw seeds
    /// (SplitMix64 of seed and index), the order in which weights are visited, the probabilities from
    /// ``DeterministicMath``'s exp (never the platform libm), and the row packing. An ensemble saved with a
    /// model file is identified by (model, size, seed) alone, so any change that alters the draws of an
    /// existing model (and would silently change every stored prediction) fails here. The lambdas are exact
    /// Float arithmetic on integers, independent of every generator.
    @Test func goldenHashOfDraws() {
        let net = Self.network(InputGeometry(channels: 1, height: 3, width: 7), [13, 5])
        let offsets = [0, net.weightCount(ofLayer: 0)]
        let model = Self.model(net) { l, r, c in
            let i = offsets[l] + r * net.inputCount(ofLayer: l) + c
            return Float((i * 37) % 101 - 50) / 20  // -2.5 ... 2.5 in steps of 0.05
        }
        let draws = BinaryDraw.samples(from: model, count: 3, seed: 42)
        let hash = Self.fnv1a(draws)
        #expect(hash == 0x2380_b0dd_35b3_e1a7, "draws changed: FNV-1a is \(String(hash, radix: 16))")
        // The generator must not make the draws trivial: they differ from each other and from the mode.
        #expect(draws[0] != draws[1] && draws[1] != draws[2] && draws[0] != BinaryDraw.mode(of: model))
    }

    // MARK: - SignMatrix

    /// Entry (row, column) of the column packing, as ``SignMatrix/packedColumns`` documents it: chunks of
    /// 32 bytes for 256 rows; row r is bit (r % 256) / 32 of byte 32 (r / 256) + r % 32 of its column.
    static func columnBit(_ m: SignMatrix, row r: Int, column c: Int) -> Bool {
        m.packedColumns[c * m.bytesPerColumn + 32 * (r / 256) + r % 32] >> UInt8((r % 256) / 32) & 1 == 1
    }

    @Test(arguments: [(1, 1), (3, 65), (70, 129), (8, 64), (256, 63), (257, 1), (300, 3)])
    func signMatrixPackingsAgree(rows: Int, columns: Int) {
        var rng = SplitMix64(state: UInt64(rows * 1000 + columns))
        let table = (0..<(rows * columns)).map { _ in rng.next() & 1 == 1 }
        let m = SignMatrix(rows: rows, columns: columns) { table[$0 * columns + $1] }
        #expect(m.rows == rows && m.columns == columns)
        #expect(m.wordsPerRow == (columns + 63) / 64)
        #expect(m.bytesPerColumn % 32 == 0 && m.bytesPerColumn * 8 >= rows && m.bytesPerColumn * 8 < rows + 256)
        #expect(m.packedRows.count == rows * m.wordsPerRow)
        #expect(m.packedColumns.count == columns * m.bytesPerColumn)
        var positives = 0
        for r in 0..<rows {
            for c in 0..<columns {
                let positive = table[r * columns + c]
                if positive { positives += 1 }
                let rowBit = m.packedRows[r * m.wordsPerRow + c / 64] >> UInt64(c % 64) & 1 == 1
                let columnBit = Self.columnBit(m, row: r, column: c)
                #expect(m[r, c] == (positive ? 1 : -1), "(\(r), \(c)) subscript")
                #expect(rowBit == positive, "(\(r), \(c)) row packing")
                #expect(columnBit == positive, "(\(r), \(c)) column packing")
            }
        }
        // Padding bits are zero: the set bits of each packing are exactly the +1 entries.
        #expect(m.packedRows.reduce(0) { $0 + $1.nonzeroBitCount } == positives)
        #expect(m.packedColumns.reduce(0) { $0 + $1.nonzeroBitCount } == positives)
        #expect(m.packedByteCount == m.packedRows.count * 8 + m.packedColumns.count)

        // The other initialisers give the same matrix: >= 0 (so 0 and -0.0) is +1, bytes > 0 are +1.
        let values: [Float] = table.enumerated().map { i, p in p ? (i % 3 == 0 ? 0 : 0.5) : (i % 3 == 0 ? -0.5 : -2) }
        #expect(SignMatrix(rows: rows, columns: columns, signsOf: values) == m)
        let zeros: [Float] = table.map { $0 ? -0.0 : -1 }
        #expect(SignMatrix(rows: rows, columns: columns, signsOf: zeros) == m)
        #expect(SignMatrix(rows: rows, columns: columns, signs: table.map { $0 ? 1 : -1 }) == m)
    }
}
