import COpenBLAS

/// The two dense products training needs, row-major Float32, through OpenBLAS's `cblas_sgemm` (both cores),
/// each beside a plain loop the tests compare it with.
enum DenseProduct {
    /// `x[b][o] = sum_i p[b][i] w[o][i]`: a layer's `W P` for a batch (x is batch x outputs).
    static func forward(
        p: UnsafePointer<Float>, w: UnsafePointer<Float>, x: UnsafeMutablePointer<Float>,
        batch: Int, inputs: Int, outputs: Int
    ) {
        cblas_sgemm(
            CblasRowMajor, CblasNoTrans, CblasTrans, Int32(batch), Int32(outputs), Int32(inputs),
            1, p, Int32(inputs), w, Int32(inputs), 0, x, Int32(outputs))
    }

    /// `g[o][i] = alpha sum_b d[b][o] p[b][i] + beta g[o][i]`: a weight gradient for a batch (d is batch x
    /// outputs, p batch x inputs, g outputs x inputs).
    static func gradient(
        d: UnsafePointer<Float>, p: UnsafePointer<Float>, g: UnsafeMutablePointer<Float>,
        batch: Int, inputs: Int, outputs: Int, alpha: Float, beta: Float
    ) {
        cblas_sgemm(
            CblasRowMajor, CblasTrans, CblasNoTrans, Int32(outputs), Int32(inputs), Int32(batch),
            alpha, d, Int32(outputs), p, Int32(inputs), beta, g, Int32(inputs))
    }

    /// ``forward(p:w:x:batch:inputs:outputs:)`` as plain loops.
    static func referenceForward(p: [Float], w: [Float], batch: Int, inputs: Int, outputs: Int) -> [Float] {
        var x = [Float](repeating: 0, count: batch * outputs)
        for b in 0..<batch {
            for o in 0..<outputs {
                var sum: Float = 0
                for i in 0..<inputs { sum += p[b * inputs + i] * w[o * inputs + i] }
                x[b * outputs + o] = sum
            }
        }
        return x
    }

    /// ``gradient(d:p:g:batch:inputs:outputs:alpha:beta:)`` as plain loops.
    static func referenceGradient(
        d: [Float], p: [Float], g: [Float], batch: Int, inputs: Int, outputs: Int, alpha: Float, beta: Float
    ) -> [Float] {
        var out = g
        for o in 0..<outputs {
            for i in 0..<inputs {
                var sum: Float = 0
                for b in 0..<batch { sum += d[b * outputs + o] * p[b * inputs + i] }
                out[o * inputs + i] = alpha * sum + beta * g[o * inputs + i]
            }
        }
        return out
    }
}
