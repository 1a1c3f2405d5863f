import BiSNN
import EventStream
import Testing

/// The rule that maps a sensor onto a network's input (``SensorMapping``), shared by the trainer and the
/// service.
struct SensorMappingTests {
    static func network(_ input: InputGeometry, binWidth: Int = 1_000) -> NetworkDescription {
        var network = NetworkDescription.mlp(
            input: input, hiddenSizes: [4], classNames: ["a", "b"], weightKind: .bernoulli)
        network.binWidthMicroseconds = binWidth
        return network
    }

    static func mapping(
        _ width: Int, _ height: Int, crop: (x: Int, y: Int, width: Int, height: Int) = (0, 0, 0, 0),
        downsample: Int = 0
    ) -> SensorMapping {
        SensorMapping(
            sensor: SensorGeometry(width: width, height: height), cropX: crop.x, cropY: crop.y,
            cropWidth: crop.width, cropHeight: crop.height, downsample: downsample)
    }

    /// The field of the error `mapping` throws for `input`, or nil when it maps.
    static func failure(_ mapping: SensorMapping, _ input: InputGeometry) -> SensorMappingError? {
        do {
            _ = try mapping.frameConfiguration(for: network(input))
            return nil
        } catch {
            return error
        }
    }

    /// The documented examples: 34x34 → 34x34; 128x128 → 32x32 through 4 and 64x64 through 2; 346x260 →
    /// 64x64 through 4 from the centred 256x256.
    @Test func automaticExamples() throws {
        let cases: [(sensor: (Int, Int), input: Int, factor: Int, crop: PixelRectangle?)] = [
            ((34, 34), 34, 1, nil),
            ((128, 128), 32, 4, nil),
            ((128, 128), 64, 2, nil),
            ((128, 128), 34, 3, PixelRectangle(x: 13, y: 13, width: 102, height: 102)),
            ((346, 260), 64, 4, PixelRectangle(x: 45, y: 2, width: 256, height: 256)),
            ((100, 50), 32, 1, PixelRectangle(x: 34, y: 9, width: 32, height: 32)),
        ]
        for c in cases {
            let input = InputGeometry(channels: 2, height: c.input, width: c.input)
            let frames = try Self.mapping(c.sensor.0, c.sensor.1).frameConfiguration(
                for: Self.network(input, binWidth: 5_000))
            #expect(frames.sensor == SensorGeometry(width: c.sensor.0, height: c.sensor.1))
            #expect(frames.downsample == c.factor, "\(c.sensor)")
            #expect(frames.crop == c.crop, "\(c.sensor)")
            #expect(frames.outputWidth == c.input && frames.outputHeight == c.input)
            #expect(frames.polarity == .split && frames.kind == .binary)
            #expect(frames.refractoryPeriod == nil && frames.backgroundActivityWindow == nil)
            #expect(frames.binWidth == 5_000)
        }
        let nmnist = try Self.mapping(34, 34).frameConfiguration(for: Self.network(.nmnist))
        #expect(nmnist == SpikeFrameConfiguration.nmnist(binWidth: 1_000))
    }

    @Test func oneChannelMergesThePolarities() throws {
        let frames = try Self.mapping(128, 128).frameConfiguration(
            for: Self.network(InputGeometry(channels: 1, height: 64, width: 64)))
        #expect(frames.polarity == .merged && frames.downsample == 2 && frames.inputCount == 64 * 64)
    }

    /// Non-square inputs: each axis allows its own factor and the smaller wins.
    @Test func theSmallerAxisFactorWins() throws {
        let input = InputGeometry(channels: 1, height: 32, width: 48)
        let frames = try Self.mapping(192, 64).frameConfiguration(for: Self.network(input))
        #expect(frames.downsample == 2)
        #expect(frames.crop == PixelRectangle(x: 48, y: 0, width: 96, height: 64))
    }

    @Test func explicitDownsampleCentresTheCrop() throws {
        let input = InputGeometry(channels: 2, height: 32, width: 32)
        let frames = try Self.mapping(128, 128, downsample: 2).frameConfiguration(for: Self.network(input))
        #expect(frames.downsample == 2)
        #expect(frames.crop == PixelRectangle(x: 32, y: 32, width: 64, height: 64))
    }

    @Test func explicitCropChoosesTheFactor() throws {
        let input = InputGeometry(channels: 2, height: 32, width: 32)
        let frames = try Self.mapping(346, 260, crop: (10, 20, 96, 96)).frameConfiguration(for: Self.network(input))
        #expect(frames.downsample == 3)
        #expect(frames.crop == PixelRectangle(x: 10, y: 20, width: 96, height: 96))
        // 94 columns through 3 still make ceil(94 / 3) = 32.
        let ragged = try Self.mapping(346, 260, crop: (0, 0, 94, 96), downsample: 3)
            .frameConfiguration(for: Self.network(input))
        #expect(ragged.outputWidth == 32)
        // A crop that is the whole sensor is no crop.
        let whole = try Self.mapping(64, 64, crop: (0, 0, 64, 64)).frameConfiguration(for: Self.network(input))
        #expect(whole.crop == nil && whole.downsample == 2)
    }

    @Test func impossibleMappingsNameTheirField() {
        let input = InputGeometry(channels: 2, height: 34, width: 34)
        let cases: [(SensorMapping, SensorMappingError.Field)] = [
            (Self.mapping(20, 40), .sensorWidth),
            (Self.mapping(40, 20), .sensorHeight),
            (Self.mapping(128, 128, crop: (0, 0, 100, 0)), .cropWidth),
            (Self.mapping(128, 128, crop: (0, 0, 0, 20)), .cropHeight),
            (Self.mapping(128, 128, downsample: 4), .downsample),
            (Self.mapping(20, 20, downsample: 1), .sensorWidth),
            (Self.mapping(128, 128, crop: (100, 0, 68, 68), downsample: 2), .cropX),
            (Self.mapping(128, 128, crop: (0, 100, 68, 68), downsample: 2), .cropY),
            (Self.mapping(128, 128, crop: (0, 0, 68, 68), downsample: 1), .cropWidth),
            (Self.mapping(0, 34), .sensorWidth),
            (Self.mapping(70_000, 34), .sensorWidth),
        ]
        for (mapping, field) in cases {
            let error = Self.failure(mapping, input)
            #expect(error?.field == field, "\(mapping): \(String(describing: error))")
            #expect(error.map { !$0.reason.isEmpty } == true)
        }
        let threeChannels = Self.failure(Self.mapping(8, 8), InputGeometry(channels: 3, height: 8, width: 8))
        #expect(threeChannels?.field == .channels)
        #expect(threeChannels?.reason.contains("3 channels") == true)
        let empty = Self.failure(Self.mapping(8, 8), InputGeometry(channels: 2, height: 0, width: 8))
        #expect(empty?.field == .input)
        let noBins = Self.failure(Self.mapping(34, 34), .nmnist)
        #expect(noBins == nil)
        do {
            _ = try Self.mapping(34, 34).frameConfiguration(for: Self.network(.nmnist, binWidth: 0))
            Issue.record("a bin width of 0 was accepted")
        } catch {
            #expect(error.field == .binWidth)
        }
    }

    @Test func reasonsSayWhyInWords() {
        let error = Self.failure(Self.mapping(20, 40), .nmnist)
        #expect(error?.description == "sensorWidth: the 20x40 sensor has 20 columns, fewer than the model's "
                    + "2x34x34 input needs (34)")
    }
}
