/// The constants of one layer's dynamics, computed once so the float reference and the binary engine use
/// bit-identical values (BISNN.md section 2).
public struct LayerDynamics: Sendable, Hashable {
    /// Decay of the second trace stage (P, and B in output space).
    public let alpha: Double
    /// Decay of the first trace stage (Q, and A in output space).
    public let beta: Double
    /// Decay of the refractory trace R.
    public let alphaRefractory: Double
    /// Scale of the weights and bias: 1 / sqrt(fan-in).
    public let scale: Double
    /// Scale of the readout: 1 / sqrt(layer size).
    public let readoutScale: Double

    /// Dynamics with these constants.
    public init(alpha: Double, beta: Double, alphaRefractory: Double, scale: Double, readoutScale: Double) {
        self.alpha = alpha
        self.beta = beta
        self.alphaRefractory = alphaRefractory
        self.scale = scale
        self.readoutScale = readoutScale
    }

    /// The dynamics of layer `layer` of `network`.
    public init(network: NetworkDescription, layer: Int) {
        let tau = network.layers[layer].timeConstants
        alpha = tau.alpha
        beta = tau.beta
        alphaRefractory = tau.alphaRefractory
        scale = 1 / Double(network.inputCount(ofLayer: layer)).squareRoot()
        readoutScale = 1 / Double(network.layers[layer].size).squareRoot()
    }

    /// The membrane potential `c (x + b) - r`, in this one order everywhere.
    @inline(__always)
    public func membrane(current x: Double, bias b: Double, refractory r: Double) -> Double {
        scale * (x + b) - r
    }

    /// A readout value `c_ro (count + d)` from the integer `count` of B S.
    @inline(__always)
    public func readout(count: Double, bias d: Double) -> Double {
        readoutScale * (count + d)
    }
}
