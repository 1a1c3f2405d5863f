import ArgumentParser
import BiSNNService
import EventStream

/// `bisnn replay FILE|DIR`: sends recordings to `bisnnd` as event messages (docs/protocol.md), paced in
/// real time, faster, or as fast as possible. How recordings become messages (segments, time line,
/// encodings) is ``RecordingReplayer``'s; this command loads them in order, paces and sends.
struct ReplayCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "replay",
        abstract: "Send recordings to bisnnd as event messages, in real time or faster.",
        discussion: """
            FILE is one recording; DIR is every recording in it, in the order of its labels.csv when it has \
            one, else in natural order of the file names (2.bin before 10.bin).

            With --segments, each recording is one segment: START on its first message, END on its last, so \
            a service in segment mode publishes one prediction per recording. Without it, the recordings make \
            one continuous stream: START on the very first message only, no END, and each recording after the \
            first shifted in time to begin 1 µs after the previous one's last event.

            Native messages keep each recording's own timestamps with time base 0 (below 2^32 µs), as \
            `bisnn eval` sees them. With --encoding evt2|evt3, a Prophesee .raw file of that encoding is \
            forwarded word for word (after its % header); other recordings are encoded. (A continuous stream \
            of several recordings encodes them all: the words of several files cannot continue one time line.)

            Messages carry at most --max-events events (forwarded EVT: words) and, when paced, about 1 ms of \
            wall-clock time each (1 ms x speed of sensor time). Sequence numbers start at 0.

            By default replay connects a PUSH socket to the service's PULL (input.pull_bind). With --bind it \
            binds a PUB socket for a service that connects to its sensors (input.sub_connect) and waits up to \
            --subscriber-wait seconds for a subscriber first: a PUB drops messages until one has subscribed.

            For a service with security.curve.enabled, --curve-server-key names its public key file and \
            --curve-key this client's secret key file (see bisnn keygen); without them, or with a key the \
            service does not allow, nothing gets through and sends time out.
            """)

    @Argument(help: "A recording, or a folder of recordings.")
    var path: String

    @Option(help: "Where to send: the service's input.pull_bind (connect PUSH), or with --bind the endpoint to bind.")
    var endpoint = "tcp://127.0.0.1:5555"

    @Option(help: "The sensor name: topic events/<sensor>.")
    var sensor: String

    @Option(help: "Payload encoding: native, evt2 or evt3.")
    var encoding: EncodingChoice = .native

    @Option(help: "Speed: a factor of real time (1 = real time, the default; 10 = ten times faster), or max.", transform: parseSpeed)
    var speed: ReplaySpeed = .times(1)

    @Flag(help: "One START ... END segment per recording (one prediction each in segment mode).")
    var segments = false

    @Option(help: "Most events per message (forwarded EVT words: words per message).")
    var maxEvents = RecordingReplayer.defaultMaximumEvents

    @Flag(help: "Bind a PUB socket at --endpoint for a service that connects to it (input.sub_connect), instead of connecting PUSH.")
    var bind = false

    @Option(help: "With --bind: seconds to wait for a subscriber before sending (a PUB drops messages until one subscribes).")
    var subscriberWait = 2.0

    @Option(help: "Seconds a message may wait for the service to take it before replay gives up.")
    var sendTimeout = 10.0

    @OptionGroup var recording: RecordingOptions

    @OptionGroup var curve: CurveClientOptions

    enum EncodingChoice: String, ExpressibleByArgument, CaseIterable {
        case native, evt2, evt3

        var encoding: EventEncoding {
            switch self {
            case .native: .native
            case .evt2: .evt2
            case .evt3: .evt3
            }
        }
    }

    static func parseSpeed(_ text: String) throws -> ReplaySpeed {
        guard let speed = ReplaySpeed(text) else {
            throw ValidationError("--speed must be a positive number or max, not \(text)")
        }
        return speed
    }

    func validate() throws {
        guard SensorName(sensor) != nil else {
            throw ValidationError("--sensor must be 1 to 64 characters of A-Z a-z 0-9 . _ -, not \"\(sensor)\"")
        }
        guard maxEvents > 0, maxEvents <= 1 << 20 else { throw ValidationError("--max-events must be in 1...1048576") }
        guard sendTimeout > 0, subscriberWait >= 0 else {
            throw ValidationError("--send-timeout must be positive and --subscriber-wait not negative")
        }
        if bind && curve.serverKeyFile != nil {
            throw ValidationError("--bind cannot be used with CURVE: replay would be the CURVE server")
        }
    }

    func run() throws {
        let playlist = try ReplayPlaylist.resolve(path)
        let sensorName = SensorName(sensor)!
        let settings = RecordingReplayer.Settings(
            sensor: sensorName, encoding: encoding.encoding, segments: segments, maximumEvents: maxEvents,
            maximumSpan: speed.sensorMicroseconds(inWallMicroseconds: 1_000))
        var replayer = RecordingReplayer(settings: settings, recordingCount: playlist.files.count)
        let socket = try EventSenderSocket(
            endpoint: endpoint, bind: bind, sensor: sensorName, sendTimeout: .seconds(sendTimeout),
            subscriberWait: .seconds(subscriberWait), curve: try curve.keys())
        var summary = ReplaySummary()
        let started = ContinuousClock.now
        do {
            try replay(playlist, with: &replayer, to: socket, summary: &summary)
        } catch {
            socket.close(flushing: false)
            throw error
        }
        summary.seconds = (ContinuousClock.now - started) / .seconds(1)
        socket.close(flushing: true)
        print("replayed \(summary.text) to \(endpoint) as \(sensor)")
    }

    /// Loads, paces and sends the recordings one after the other.
    func replay(
        _ playlist: ReplayPlaylist, with replayer: inout RecordingReplayer, to socket: EventSenderSocket,
        summary: inout ReplaySummary
    ) throws {
        var pacer = ReplayPacer(speed: speed)
        let keepingWords = encoding == .native ? nil : encoding.encoding
        for file in playlist.files {
            let loaded = try ReplayRecording.load(
                file, format: recording.format.format, geometry: recording.geometry, keepingWords: keepingWords)
            let messages = try replayer.messages(for: loaded)
            pacer.beginRecording(at: messages.startTime)
            for message in messages.messages {
                pacer.waitUntilDue(message.sensorTime)
                try socket.send(message.frames)
            }
            summary.add(messages)
        }
    }
}
