import EventStream

/// How a sensor's pixel array maps onto a network's input: which part of the sensor is kept (the crop), by
/// what integer factor it is downsampled, and how polarities become channels. The one rule the trainer and
/// the service share.
///
/// - Downsampling factor: ``downsample``, or when 0 the largest integer factor `f` for which the downsampled
///   region still covers the input: `f = min(regionWidth / inputWidth, regionHeight / inputHeight)`, the
///   region being the explicit crop or else the whole sensor; that is the least reduction that makes it fit.
/// - Crop: ``cropX``, ``cropY``, ``cropWidth``, ``cropHeight``; a width (height) of 0 is the centred
///   `f * inputWidth` columns (`f * inputHeight` rows), with an offset of 0. An explicit crop must give
///   exactly the input's size after downsampling (`ceil(cropWidth / f) == inputWidth`) and lie on the sensor.
///   A crop that is the whole sensor is no crop (`nil`).
/// - Bins are the network's bin width; frames are binary, without filters. 2 input channels split the
///   polarities (OFF in channel 0, ON in channel 1), 1 merges them.
///
/// With everything automatic (the default), 34x34 feeds a 34x34 input as it is, 128x128 feeds 32x32 through
/// a factor of 4 and 64x64 through 2, and 346x260 feeds 64x64 through 4 from the centred 256x256 pixels.
public struct SensorMapping: Sendable, Hashable {
    /// The sensor's pixel array.
    public var sensor: SensorGeometry
    /// Left column of the crop; must be 0 when ``cropWidth`` is 0 (a centred crop).
    public var cropX: Int
    /// Top row of the crop; must be 0 when ``cropHeight`` is 0 (a centred crop).
    public var cropY: Int
    /// Crop width in sensor pixels; 0: centred, as wide as the input needs after downsampling.
    public var cropWidth: Int
    /// Crop height in sensor pixels; 0: centred, as high as the input needs after downsampling.
    public var cropHeight: Int
    /// Sensor pixels per input pixel in each direction; 0: the largest factor whose downsampled region still
    /// covers the input.
    public var downsample: Int

    /// A mapping of `sensor`; the defaults (0) are automatic: the centred crop through the largest factor.
    public init(
        sensor: SensorGeometry, cropX: Int = 0, cropY: Int = 0, cropWidth: Int = 0, cropHeight: Int = 0,
        downsample: Int = 0
    ) {
        self.sensor = sensor
        self.cropX = cropX
        self.cropY = cropY
        self.cropWidth = cropWidth
        self.cropHeight = cropHeight
        self.downsample = downsample
    }

    /// How this sensor's events are binned into the input frames of `network` (see ``SensorMapping``).
    ///
    /// - Throws: ``SensorMappingError`` naming the parameter that cannot map onto the input: the sensor or
    ///   the crop smaller than the input, a factor too large for the sensor, a crop that does not downsample
    ///   to the input's size or lies off the sensor, unsupported channels, or a parameter the binner rejects.
    public func frameConfiguration(
        for network: NetworkDescription
    ) throws(SensorMappingError) -> SpikeFrameConfiguration {
        let input = network.input
        let polarity: SpikeFrameConfiguration.PolarityChannels
        switch input.channels {
        case 2: polarity = .split
        case 1: polarity = .merged
        default:
            throw SensorMappingError(
                .channels,
                "the model's input has \(input.channels) channels; 1 (merged polarity) or 2 (split) are supported")
        }
        guard input.width >= 1, input.height >= 1 else {
            throw SensorMappingError(.input, "the model's \(input) input has no pixels")
        }

        // One axis: the factor it allows (for the automatic factor), and its crop once the factor is known.
        struct Axis {
            var sensor: Int
            var offset: Int
            var crop: Int  // 0: automatic
            var input: Int
            var sensorField: SensorMappingError.Field
            var offsetField: SensorMappingError.Field
            var cropField: SensorMappingError.Field
            var unit: String
        }
        let axes = [
            Axis(sensor: sensor.width, offset: cropX, crop: cropWidth, input: input.width, sensorField: .sensorWidth,
                 offsetField: .cropX, cropField: .cropWidth, unit: "columns"),
            Axis(sensor: sensor.height, offset: cropY, crop: cropHeight, input: input.height,
                 sensorField: .sensorHeight, offsetField: .cropY, cropField: .cropHeight, unit: "rows"),
        ]
        var factor = downsample
        if factor == 0 {
            for axis in axes {
                let region = axis.crop != 0 ? axis.crop : axis.sensor
                if region < axis.input {
                    let field = axis.crop != 0 ? axis.cropField : axis.sensorField
                    let what = axis.crop != 0 ? "the crop has" : "the \(sensor) sensor has"
                    throw SensorMappingError(
                        field, "\(what) \(region) \(axis.unit), fewer than the model's \(input) input needs "
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
                    throw SensorMappingError(
                        axis.sensor < axis.input ? axis.sensorField : .downsample,
                        "a factor of \(factor) needs \(factor) x \(axis.input) = \(needed) \(axis.unit) for the "
                            + "model's \(input) input; the \(sensor) sensor has \(axis.sensor)")
                }
                rectangle.append(((axis.sensor - needed) / 2, needed))
            } else {
                let produced = (axis.crop + factor - 1) / factor
                guard produced == axis.input else {
                    throw SensorMappingError(
                        axis.cropField,
                        "\(axis.crop) \(axis.unit) downsampled by \(factor) give \(produced); the model's "
                            + "\(input) input needs \(axis.input) (use \(factor * axis.input), or 0 for a "
                            + "centred crop)")
                }
                guard axis.offset + axis.crop <= axis.sensor else {
                    throw SensorMappingError(
                        axis.offset == 0 ? axis.cropField : axis.offsetField,
                        "\(axis.unit) \(axis.offset)..<\(axis.offset + axis.crop) lie outside the \(sensor) sensor")
                }
                rectangle.append((axis.offset, axis.crop))
            }
        }
        let wholeSensor = rectangle[0] == (0, sensor.width) && rectangle[1] == (0, sensor.height)
        let crop = wholeSensor
            ? nil
            : PixelRectangle(
                x: rectangle[0].offset, y: rectangle[1].offset, width: rectangle[0].size, height: rectangle[1].size)
        let configuration = SpikeFrameConfiguration(
            sensor: sensor, binWidth: Int64(network.binWidthMicroseconds), crop: crop, downsample: factor,
            polarity: polarity)
        do {
            try configuration.validate()
        } catch {
            let field: SensorMappingError.Field = switch error.parameter {
            case "sensor": .sensorWidth
            case "downsample": .downsample
            case "binWidth": .binWidth
            default: .cropWidth
            }
            throw SensorMappingError(field, "\(error.parameter) \(error.message)")
        }
        guard configuration.outputWidth == input.width, configuration.outputHeight == input.height,
              configuration.channelCount == input.channels else {
            throw SensorMappingError(
                .downsample,
                "the frames would be \(configuration.channelCount)x\(configuration.outputHeight)x"
                    + "\(configuration.outputWidth), the model takes \(input)")
        }
        return configuration
    }
}
