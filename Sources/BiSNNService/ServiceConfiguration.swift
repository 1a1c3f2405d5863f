import BiSNN
import Logging

/// Everything `bisnnd` is told by its configuration file and environment, with the documented defaults.
///
/// A plain value: ``init()`` is the default configuration, ``load(file:environment:)`` reads and checks one
/// (every value range-checked, unknown keys refused), and ``LoadedServiceConfiguration/load(file:environment:)``
/// also loads the model and maps the sensor onto it, which is what the daemon does at start and on SIGHUP.
/// The properties mirror the YAML keys (`decisions.window_ms` is `decisions.windowMilliseconds`); the list of
/// keys is ``keys``, and `config/bisnnd.yaml` documents each of them.
public struct ServiceConfiguration: Sendable, Hashable {
    /// `service.*`: the daemon's identity and timing.
    public var service = Service()
    /// `model.*`: the model file and how its predictions are made.
    public var model = Model()
    /// `input.*`: where event packets arrive.
    public var input = Input()
    /// `output.*`: where predictions and status are published.
    public var output = Output()
    /// `decisions.*`: when a prediction is made.
    public var decisions = Decisions()
    /// `sensor.*`: the expected sensor and how its pixels map onto the model's input.
    public var sensor = Sensor()
    /// `metrics.*`: the Prometheus endpoint.
    public var metrics = Metrics()
    /// `log.*`: log level and format.
    public var log = Log()
    /// `security.*`: CURVE encryption and client authentication (``Security``).
    public var security = Security()

    /// The default configuration (every key at its documented default).
    public init() {}

    /// `service.*`.
    public struct Service: Sendable, Hashable {
        /// `service.name`: names this daemon in its status topic `status/<name>` and in logs.
        public var name = "bisnnd"
        /// `service.status_interval_s`: seconds between status messages (and systemd STATUS= updates).
        public var statusIntervalSeconds = 5.0
        /// `service.stop_timeout_s`: seconds a graceful stop may take before pipelines are abandoned.
        public var stopTimeoutSeconds = 10.0

        /// ``statusIntervalSeconds`` as a duration.
        public var statusInterval: Duration { .milliseconds(Int64((statusIntervalSeconds * 1000).rounded())) }
        /// ``stopTimeoutSeconds`` as a duration.
        public var stopTimeout: Duration { .milliseconds(Int64((stopTimeoutSeconds * 1000).rounded())) }
    }

    /// `model.*`.
    public struct Model: Sendable, Hashable {
        /// `model.predictor`: an ensemble of posterior draws or the posterior's mode.
        public enum Predictor: String, Sendable, Hashable, CaseIterable {
            /// ``ensembleSize`` draws from a Bernoulli model's posterior.
            case ensemble
            /// One network, the signs of the stored weights (works for every model kind).
            case mode
        }

        /// `model.path`: the model file; a relative path is taken from the working directory.
        public var path = "models/bisnn-default.safetensors"
        /// `model.predictor`.
        public var predictor = Predictor.ensemble
        /// `model.ensemble_size`: draws of an ensemble, 1...64.
        public var ensembleSize = 10
        /// `model.seed`: seed of the ensemble's draws (the same seed gives the same networks).
        public var seed: UInt64 = 1
        /// `model.abstain.*`.
        public var abstain = Abstain()

        /// `model.abstain.*`: when a decision is "unknown".
        public struct Abstain: Sendable, Hashable {
            /// `model.abstain.min_confidence`: abstain below this confidence, 0...1 (0 never abstains).
            public var minConfidence = 0.0
            /// `model.abstain.max_mutual_information`: abstain above this mutual information in nats
            /// (0 never abstains).
            public var maxMutualInformation = 0.0
        }

        /// The predictor ``EnsemblePredictor`` is built with.
        public var predictorKind: PredictorKind {
            switch predictor {
            case .ensemble: .ensemble(size: ensembleSize, seed: seed)
            case .mode: .mode
            }
        }

        /// The abstention rule of ``abstain`` (0 meaning "never" for either bound).
        public var abstentionRule: AbstentionRule {
            AbstentionRule(
                minimumConfidence: abstain.minConfidence,
                maximumMutualInformation: abstain.maxMutualInformation == 0 ? .infinity : abstain.maxMutualInformation)
        }
    }

    /// `input.*`.
    public struct Input: Sendable, Hashable {
        /// `input.pull_bind`: endpoints the service binds PULL sockets on (sensors PUSH to them).
        public var pullBind = [Endpoint(transport: .tcp, address: "127.0.0.1:5555")]
        /// `input.sub_connect`: sensor PUB endpoints the service connects SUB sockets to.
        public var subConnect: [Endpoint] = []
        /// `input.receive_hwm`: messages queued per input socket before ZeroMQ drops or blocks (ZMQ_RCVHWM).
        public var receiveHighWaterMark = 1000
        /// `input.max_message_bytes`: largest message accepted; larger ones drop the connection
        /// (ZMQ_MAXMSGSIZE).
        public var maxMessageBytes = 16 << 20
        /// `input.max_sensors`: distinct sensors served at once; packets from more are rejected.
        public var maxSensors = 64
        /// `input.max_message_events`: most events one message may decode to; more are refused
        /// (`too_many_events`) before decoding, which bounds the memory one message takes.
        public var maxMessageEvents = SensorEventDecoder.defaultMaximumEvents
        /// `input.queue_bytes`: most bytes of received messages waiting inside the service before it stops
        /// reading its sockets (then ZeroMQ's high-water marks apply).
        public var queueBytes = 64 << 20
    }

    /// `output.*`.
    public struct Output: Sendable, Hashable {
        /// `output.pub_bind`: endpoint of the PUB socket predictions and status are published on.
        public var pubBind = Endpoint(transport: .tcp, address: "127.0.0.1:5556")
        /// `output.send_hwm`: messages queued per subscriber before ZeroMQ drops (ZMQ_SNDHWM).
        public var sendHighWaterMark = 1000
    }

    /// `decisions.*`.
    public struct Decisions: Sendable, Hashable {
        /// `decisions.mode`: when predictions are made.
        public enum Mode: String, Sendable, Hashable, CaseIterable {
            /// One prediction per segment of activity, when the sensor goes idle for ``idleResetMilliseconds``.
            case segment
            /// A prediction every ``intervalMilliseconds`` over the last ``windowMilliseconds``.
            case window
        }

        /// `decisions.mode`.
        public var mode = Mode.segment
        /// `decisions.window_ms`: length of the window a windowed prediction covers.
        public var windowMilliseconds = 300
        /// `decisions.interval_ms`: time between windowed predictions.
        public var intervalMilliseconds = 100
        /// `decisions.idle_reset_ms`: a sensor silent this long ends its segment and resets its networks.
        public var idleResetMilliseconds = 1000

        /// ``windowMilliseconds`` as a duration.
        public var window: Duration { .milliseconds(windowMilliseconds) }
        /// ``intervalMilliseconds`` as a duration.
        public var interval: Duration { .milliseconds(intervalMilliseconds) }
        /// ``idleResetMilliseconds`` as a duration.
        public var idleReset: Duration { .milliseconds(idleResetMilliseconds) }
    }

    /// `sensor.*`: see ``frameConfiguration(for:)`` for how these map a sensor onto the model's input.
    public struct Sensor: Sendable, Hashable {
        /// `sensor.width`: expected sensor width in pixels (0: the model's input width).
        public var width = 0
        /// `sensor.height`: expected sensor height in pixels (0: the model's input height).
        public var height = 0
        /// `sensor.crop_x`: left column of the crop (must be 0 when ``cropWidth`` is 0).
        public var cropX = 0
        /// `sensor.crop_y`: top row of the crop (must be 0 when ``cropHeight`` is 0).
        public var cropY = 0
        /// `sensor.crop_width`: crop width in sensor pixels (0: centred, as wide as the model needs after
        /// downsampling).
        public var cropWidth = 0
        /// `sensor.crop_height`: crop height in sensor pixels (0: centred, as high as the model needs).
        public var cropHeight = 0
        /// `sensor.downsample`: sensor pixels per input pixel in each direction (0: the largest factor whose
        /// downsampled crop still covers the model's input).
        public var downsample = 0
        /// `sensor.queue_frames`: most spike frames binned per sensor before they are stepped through the networks
        /// (``SensorPipeline`` bins a message's events in slices of at most this many bins).
        public var queueFrames = 1000
        /// `sensor.max_lag_ms`: a message processed more than this many milliseconds after it was received has
        /// its spike frames shed (binned, not stepped) so the service catches up; 0 never sheds.
        public var maxLagMilliseconds = 1000

        /// ``maxLagMilliseconds`` as a duration; nil when shedding is off.
        public var maxLag: Duration? { maxLagMilliseconds > 0 ? .milliseconds(maxLagMilliseconds) : nil }
    }

    /// `metrics.*`.
    public struct Metrics: Sendable, Hashable {
        /// `metrics.enabled`: serve Prometheus metrics over HTTP.
        public var enabled = false
        /// `metrics.listen`: address and port of the metrics endpoint.
        public var listen = ListenAddress(host: "127.0.0.1", port: 9464)
    }

    /// `log.*`.
    public struct Log: Sendable, Hashable {
        /// `log.format`: how log lines are written to standard error.
        public enum Format: String, Sendable, Hashable, CaseIterable {
            /// journald's `<N>` priority prefixes when standard error is the journal (`JOURNAL_STREAM`),
            /// timestamped lines otherwise.
            case auto
            /// Always `<N>` priority prefixes, no timestamp (journald adds its own).
            case journald
            /// Always timestamped lines.
            case plain
        }

        /// `log.level`: the least severe level logged.
        public var level = Logger.Level.info
        /// `log.format`.
        public var format = Format.auto
    }
}
