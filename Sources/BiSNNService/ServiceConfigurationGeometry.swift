import BiSNN
import EventStream

extension ServiceConfiguration.Sensor {
    /// How this sensor's events are binned into the input frames of `network`, or an error naming the
    /// `sensor.*` key that cannot map onto the model's input: BiSNN's ``SensorMapping`` rule, the keys
    /// passed as they are and the sensor size resolved first.
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
        let input = network.input
        let mapping = SensorMapping(
            sensor: SensorGeometry(
                width: width != 0 ? width : announced?.width ?? input.width,
                height: height != 0 ? height : announced?.height ?? input.height),
            cropX: cropX, cropY: cropY, cropWidth: cropWidth, cropHeight: cropHeight, downsample: downsample)
        do {
            return try mapping.frameConfiguration(for: network)
        } catch {
            let (code, key): (ConfigurationError.Code, String) = switch error.field {
            case .sensorWidth: (.invalidValue, "sensor.width")
            case .sensorHeight: (.invalidValue, "sensor.height")
            case .cropX: (.invalidValue, "sensor.crop_x")
            case .cropY: (.invalidValue, "sensor.crop_y")
            case .cropWidth: (.invalidValue, "sensor.crop_width")
            case .cropHeight: (.invalidValue, "sensor.crop_height")
            case .downsample: (.invalidValue, "sensor.downsample")
            case .binWidth: (.invalidValue, "model.path")
            default: (.invalidModel, "model.path")  // .channels, .input: the model's input cannot be fed
            }
            throw ConfigurationError(code, key: key, error.reason)
        }
    }
}
