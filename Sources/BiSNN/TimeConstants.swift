#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A layer's time constants, in time steps (BISNN.md section 2), and the decay factors they give.
public struct TimeConstants: Sendable, Hashable, Codable {
    /// Membrane (second trace stage) time constant: `alpha = exp(-1/membrane)`.
    public var membrane: Double
    /// Synaptic (first trace stage) time constant: `beta = exp(-1/synapse)`.
    public var synapse: Double
    /// Refractory trace time constant: `alphaR = exp(-1/refractory)`.
    public var refractory: Double

    /// Time constants in time steps; the defaults are the reference code's (10, 6, 2).
    public init(membrane: Double = 10, synapse: Double = 6, refractory: Double = 2) {
        self.membrane = membrane
        self.synapse = synapse
        self.refractory = refractory
    }

    /// The reference defaults: membrane 10, synapse 6, refractory 2 steps.
    public static let reference = TimeConstants()

    /// Decay of the second trace stage, `exp(-1/membrane)`.
    public var alpha: Double { exp(-1 / membrane) }
    /// Decay of the first trace stage, `exp(-1/synapse)`.
    public var beta: Double { exp(-1 / synapse) }
    /// Decay of the refractory trace, `exp(-1/refractory)`.
    public var alphaRefractory: Double { exp(-1 / refractory) }
}
