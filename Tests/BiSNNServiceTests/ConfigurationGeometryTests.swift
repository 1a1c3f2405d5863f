import BiSNN
import EventStream
import Testing

@testable import BiSNNService

/// How `sensor.*` maps a sensor onto a model's input (`ServiceConfiguration.Sensor.frameConfiguration`).
struct ConfigurationGeometryTests {
    static func network(_ input: InputGeometry) -> NetworkDescription {
        .mlp(input: input, hiddenSizes: [4], classNames: ["a", "b"], weightKind: .bernoulli)
    }

    static func sensor(
        _ width: Int, _ height: Int, crop: (x: Int, y: Int, width: Int, height: Int) = (0, 0, 0, 0), downsample: Int = 0
    ) -> ServiceConfiguration.Sensor {
        var sensor = ServiceConfiguration.Sensor()
        sensor.width = width
        sensor.height = height
        (sensor.cropX, sensor.cropY, sensor.cropWidth, sensor.cropHeight) = crop
        sensor.downsample = downsample
        return sensor
    }

    /// The examples of the trainer's rule (`LabelledDataset.frameConfiguration(for:sensor:)`): with every
    /// `sensor.*` key automatic the service maps a sensor the same way.
    @Test func automaticMappingIsTheTrainersRule() throws {
        let cases: [(sensor: (Int, Int), input: Int, factor: Int, crop: PixelRectangle?)] = [
            ((34, 34), 34, 1, nil),
            ((128, 128), 32, 4, nil),
            ((128, 128), 64, 2, nil),
            ((346, 260), 64, 4, PixelRectangle(x: 45, y: 2, width: 256, height: 256)),
            ((100, 50), 32, 1, PixelRectangle(x: 34, y: 9, width: 32, height: 32)),
        ]
        for c in cases {
            let input = InputGeometry(channels: 2, height: c.input, width: c.input)
            let frames = try Self.sensor(c.sensor.0, c.sensor.1).frameConfiguration(for: Self.network(input))
            #expect(frames.downsample == c.factor, "\(c.sensor)")
            #expect(frames.crop == c.crop, "\(c.sensor)")
            #expect(frames.outputWidth == c.input && frames.outputHeight == c.input)
            #expect(frames.polarity == .split)
            #expect(frames.binWidth == 1_000)
        }
    }

    @Test func zeroSizeTakesTheModelsOrTheAnnouncedGeometry() throws {
        let input = InputGeometry(channels: 1, height: 32, width: 48)
        let own = try Self.sensor(0, 0).frameConfiguration(for: Self.network(input))
        #expect(own.sensor == SensorGeometry(width: 48, height: 32))
        #expect(own.downsample == 1 && own.crop == nil && own.polarity == .merged)
        let announced = try Self.sensor(0, 0).frameConfiguration(
            for: Self.network(input), announced: SensorGeometry(width: 96, height: 64))
        #expect(announced.sensor == SensorGeometry(width: 96, height: 64))
        #expect(announced.downsample == 2)
        let fixed = try Self.sensor(192, 0).frameConfiguration(
            for: Self.network(input), announced: SensorGeometry(width: 96, height: 64))
        #expect(fixed.sensor == SensorGeometry(width: 192, height: 64))
        #expect(fixed.downsample == 2)  // 64 rows allow 2
        #expect(fixed.crop == PixelRectangle(x: 48, y: 0, width: 96, height: 64))
    }

    @Test func explicitDownsampleCentresTheCrop() throws {
        let input = InputGeometry(channels: 2, height: 32, width: 32)
        let frames = try Self.sensor(128, 128, downsample: 2).frameConfiguration(for: Self.network(input))
        #expect(frames.downsample == 2)
        #expect(frames.crop == PixelRectangle(x: 32, y: 32, width: 64, height: 64))
    }

    @Test func explicitCropChoosesTheFactor() throws {
        let input = InputGeometry(channels: 2, height: 32, width: 32)
        let frames = try Self.sensor(346, 260, crop: (10, 20, 96, 96)).frameConfiguration(for: Self.network(input))
        #expect(frames.downsample == 3)
        #expect(frames.crop == PixelRectangle(x: 10, y: 20, width: 96, height: 96))
        // 94 columns through 3 still make ceil(94 / 3) = 32.
        let ragged = try Self.sensor(346, 260, crop: (0, 0, 94, 96), downsample: 3)
            .frameConfiguration(for: Self.network(input))
        #expect(ragged.outputWidth == 32)
    }

    @Test func impossibleMappingsNameTheirKey() throws {
        let input = InputGeometry(channels: 2, height: 34, width: 34)
        let cases: [(ServiceConfiguration.Sensor, String)] = [
            (Self.sensor(20, 40), "sensor.width"),
            (Self.sensor(40, 20), "sensor.height"),
            (Self.sensor(128, 128, crop: (0, 0, 100, 0)), "sensor.crop_width"),
            (Self.sensor(128, 128, crop: (0, 0, 0, 20)), "sensor.crop_height"),
            (Self.sensor(128, 128, downsample: 4), "sensor.downsample"),
            (Self.sensor(20, 20, downsample: 1), "sensor.width"),
            (Self.sensor(128, 128, crop: (100, 0, 68, 68), downsample: 2), "sensor.crop_x"),
            (Self.sensor(128, 128, crop: (0, 0, 68, 68), downsample: 1), "sensor.crop_width"),
        ]
        for (sensor, key) in cases {
            let errorResult = ConfigurationFixtures.error {
                _ = try sensor.frameConfiguration(for: Self.network(input))
            }
            let error = try #require(errorResult)
            #expect(error.key == key, "\(sensor): \(error)")
            #expect(error.code == .invalidValue)
        }
        let threeChannelsResult = ConfigurationFixtures.error {
            _ = try Self.sensor(0, 0).frameConfiguration(for: Self.network(InputGeometry(channels: 3, height: 8, width: 8)))
        }
        let threeChannels = try #require(threeChannelsResult)
        #expect(threeChannels.key == "model.path")
        #expect(threeChannels.code == .invalidModel)
    }
}
