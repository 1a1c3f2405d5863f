import BiSNN
import EventStream

extension ServiceConfiguration.Sensor {
    /// How this sensor's events are binned into the input frames of `network`, or an error naming the
    /// `sensor.*` key that cannot map onto the model's input.
    ///
    /// - Sensor size: ``width`` and ``height``, each 0 meaning `announced` (a sensor's own geometry, when the
    ///   caller has one) or else the model's input size.
    /// - Downsampling factor: ``downsample``, or when 0 the largest integer factor `f` such that the
    ///   downsampled region still covers the input: `f = min(regionWidth / inputWidth, regionHeight /
    ///   inputHeight)`, the region being the explicit crop or else the whole sensor.
    /// - Crop: ``cropX``, ``cropY``, ``cropWidth``, ``cropHeight``; a width (height) of 0 is the centred
    ///   `f * inputWidth` columns (`f * inputHeight` rows). An explicit crop must give exactly the input's size
    ///   after downsampling (`ceil(cropWidth / f) == inputWidth`).
    /// - Bins are the model's bin width; 2 input channels split the polarities, 1 merges them.
    ///
    /// With every key 0 this is the rule the trainer uses (`LabelledDataset.frameConfiguration(for:sensor:)`
    /// in BiSNNTraining): 34x34 feeds a 34x34 input as it is, 128x128 feeds 32x32 through a factor of 4, and
    /// 346x260 feeds 64x64 through 4 from the centred 256x256 pixels.
    public func frameConfiguration(
        for network: NetworkDescription, announced: SensorGeometry? = nil
    ) throws(ConfigurationError) -> SpikeFrameConfiguration {
        func fail(_ key: String, _ why: String) -> ConfigurationError {
            ConfigurationError(.invalidValue, key: key, why)
        }
        let input = network.input
        let polarity: SpikeFrameConfiguration.PolarityChannels
        switch input.channels {
        case 2: polarity = .split
        case 1: polarity = .merged
        default:
            throw ConfigurationError(
                .invalidModel, key: "model.path",
                "the model's input has \(input.channels) channels; 1 (merged polarity) or 2 (split) are supported")
        }
        let sensor = SensorGeometry(
            width: width != 0 ? width : announced?.width ?? input.width,
            height: height != 0 ? height : announced?.height ?? input.height)

        // One axis: the factor it allows (for the automatic factor), and its crop once the factor is known.
        struct Axis {
            var name: String  // "width" or "height"
            var sensor: Int
            var offset: Int
            var crop: Int  // 0: automatic
            var input: Int
            var offsetKey: String { name == "width" ? "sensor.crop_x" : "sensor.crop_y" }
            var cropKey: String { "sensor.crop_\(name)" }
            var sensorKey: String { "sensor.\(name)" }
            var unit: String { name == "width" ? "columns" : "rows" }
        }
        let axes = [
            Axis(name: "width", sensor: sensor.width, offset: cropX, crop: cropWidth, input: input.width),
            Axis(name: "height", sensor: sensor.height, offset: cropY, crop: cropHeight, input: input.height),
        ]
        var factor = downsample
        if factor == 0 {
            for axis in axes {
                let region = axis.crop != 0 ? axis.crop : axis.sensor
                if region < axis.input {
                    let key = axis.crop != 0 ? axis.cropKey : axis.sensorKey
                    let what = axis.crop != 0 ? "the crop has" : "the \(sensor) sensor has"
                    throw fail(key, "\(what) \(region) \(axis.unit), fewer than the model's \(input) input needs "
                                    + "(\(axis.input))")
                }
            }
            factor = axes.map { ($0.crop != 0 ? $0.crop : $0.sensor) / $0.input }.min()!
        }
        var rectangle: [(offset: Int, size: Int)] = []
        for axis in axes {
            if axis.crop == 0 {
                let needed = factor * axis.input
                guard needed <= axis.sensor else {
                    throw fail(axis.sensor < axis.input ? axis.sensorKey : "sensor.downsample",
                               "a factor of \(factor) needs \(factor) x \(axis.input) = \(needed) \(axis.unit) for the "
                                   + "model's \(input) input; the \(sensor) sensor has \(axis.sensor)")
                }
                rectangle.append(((axis.sensor - needed) / 2, needed))
            } else {
                let produced = (axis.crop + factor - 1) / factor
                guard produced == axis.input else {
                    throw fail(axis.cropKey,
                               "\(axis.crop) \(axis.unit) downsampled by \(factor) give \(produced); the model's "
                                   + "\(input) input needs \(axis.input) (use \(factor * axis.input), or 0 for a "
                                   + "centred crop)")
                }
                guard axis.offset + axis.crop <= axis.sensor else {
                    throw fail(axis.offset == 0 ? axis.cropKey : axis.offsetKey,
                               "\(axis.unit) \(axis.offset)..<\(axis.offset + axis.crop) lie outside the \(sensor) "
                                   + "sensor")
                }
                rectangle.append((axis.offset, axis.crop))
            }
        }
        let wholeSensor = rectangle[0] == (0, sensor.width) && rectangle[1] == (0, sensor.height)
        let crop = wholeSensor
            ? nil
            : PixelRectangle(x: rectangle[0].offset, y: rectangle[1].offset, width: rectangle[0].size,
                             height: rectangle[1].size)
        let configuration = SpikeFrameConfiguration(
            sensor: sensor, binWidth: Int64(network.binWidthMicroseconds), crop: crop, downsample: factor,
            polarity: polarity)
        do {
            try configuration.validate()
        } catch {
            let key = switch error.parameter {
            case "sensor": "sensor.width"
            case "downsample": "sensor.downsample"
            case "binWidth": "model.path"
            default: "sensor.crop_width"
            }
            throw fail(key, "\(error.parameter) \(error.message)")
        }
        guard configuration.outputWidth == input.width, configuration.outputHeight == input.height,
              configuration.channelCount == input.channels else {
            throw fail("sensor.downsample",
                       "the frames would be \(configuration.channelCount)x\(configuration.outputHeight)x"
                           + "\(configuration.outputWidth), the model takes \(input)")
        }
        return configuration
    }
}
