import BiSNN
import EventStream

extension LabelledDataset {
    /// How a recording from a `sensor` is binned into the input frames of `network`: BiSNN's
    /// ``SensorMapping`` rule with everything automatic.
    ///
    /// - Bins are `network.binWidthMicroseconds` wide; frames are binary, without filters.
    /// - `network.input.channels` 2 splits the polarities (OFF in channel 0, ON in channel 1), 1 merges them.
    /// - Space: the sensor is downsampled by the largest integer factor `f` for which the downsampled sensor
    ///   still covers the input (`sensor.width / f >= input.width` and `sensor.height / f >= input.height`),
    ///   that is the least reduction that makes it fit, and the centred `f * input.width` x `f * input.height`
    ///   pixels are kept (the crop is nil when that is the whole sensor). So 34x34 feeds 34x34 as it is,
    ///   128x128 feeds 32x32 through a factor of 4 and 64x64 through 2, and 346x260 feeds 64x64 through 4
    ///   from the centred 256x256 pixels.
    ///
    /// - Throws: ``DatasetError/Code/incompatibleInput`` when the sensor is smaller than the input in either
    ///   direction, the input has other than 1 or 2 channels, or the result is not a valid configuration; the
    ///   message names the sensor and the input and says why.
    public static func frameConfiguration(
        for network: NetworkDescription, sensor: SensorGeometry
    ) throws(DatasetError) -> SpikeFrameConfiguration {
        do {
            return try SensorMapping(sensor: sensor).frameConfiguration(for: network)
        } catch {
            throw DatasetError(
                .incompatibleInput, "a \(sensor) sensor cannot feed a \(network.input) input: \(error.reason)")
        }
    }

    /// The spike frames of one recording, as a network steps through them.
    ///
    /// A fresh binner bins `events` and is flushed, so the last, partial bin is a frame too. The bins are
    /// aligned to time 0 when the recording starts near it (its first event at a time in
    /// `0 ..< (maxGapFrames + 1) * binWidth`, as N-MNIST recordings do, whose saccades start at t = 0): the
    /// first frame then covers `[0, binWidth)`, empty leading frames included, so every sample keeps its time
    /// relative to the stimulus, and a recording whose last event is at `t` gives `t / binWidth + 1` frames
    /// (rounded down; fewer only if a gap longer than `maxGapFrames` bins ends a segment). Otherwise
    /// (timestamps on a sensor's running clock) the first frame starts at the first event. No events, no frames.
    ///
    /// - Precondition: `configuration` is valid (as from ``frameConfiguration(for:sensor:)``).
    public static func frames(of events: EventBuffer, configuration: SpikeFrameConfiguration) -> SpikeFrameBatch {
        var binner: SpikeFrameBinner
        do {
            binner = try SpikeFrameBinner(configuration: configuration)
        } catch {
            preconditionFailure("\(error)")
        }
        var frames = SpikeFrameBatch(configuration: configuration)
        guard !events.isEmpty else { return frames }
        let (first, last) = events.withColumns { ts, _, _, _ in (ts.first!, ts.last!) }
        let bin = configuration.binWidth
        let nearZero = first >= 0 && first / bin <= Int64(configuration.maxGapFrames)
        binner.reset(origin: nearZero ? 0 : nil)
        let span = last - (nearZero ? 0 : first)
        if span >= 0, span / bin < 1 << 20 { frames.reserveCapacity(frames: Int(span / bin) + 1) }
        binner.append(events, to: &frames)
        binner.flush(to: &frames)
        return frames
    }
}
