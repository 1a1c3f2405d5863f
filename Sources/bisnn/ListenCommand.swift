import ArgumentParser
import BiSNNService
import ZeroMQ

/// `bisnn listen`: subscribes to a service's predictions (and status) and prints them as they arrive.
struct ListenCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "listen",
        abstract: "Print bisnnd's predictions (and status) as they arrive.",
        discussion: """
            Connects a SUB socket to the service's output.pub_bind and subscribes to predictions/ (or, with \
            --sensor, predictions/<sensor>, comparing topics exactly so that cam1 does not match cam10). \
            Prints a table, or with --json each message's JSON as received, one a line. For a service with \
            security.curve.enabled, give --curve-server-key and --curve-key (see bisnn keygen).
            """)

    @Option(help: "The service's output.pub_bind endpoint.")
    var endpoint = "tcp://127.0.0.1:5556"

    @Option(help: "Only this sensor's predictions.")
    var sensor: String?

    @Flag(help: "Print each message's JSON as received, one a line, instead of a table.")
    var json = false

    @Flag(help: "Also print status messages.")
    var status = false

    @Option(help: "Exit after this many predictions.")
    var count: Int?

    @Option(help: "Exit with status 1 when this many seconds pass without a prediction (status messages do not count).")
    var timeout: Double?

    @OptionGroup var curve: CurveClientOptions

    func validate() throws {
        if let sensor, SensorName(sensor) == nil {
            throw ValidationError("--sensor must be 1 to 64 characters of A-Z a-z 0-9 . _ -, not \"\(sensor)\"")
        }
        if let count, count <= 0 { throw ValidationError("--count must be positive") }
        if let timeout, !(timeout > 0) { throw ValidationError("--timeout must be positive") }
    }

    func run() throws {
        let context: ZMQContext
        let socket: ZMQSocket
        let keys = try curve.keys()
        do {
            context = try ZMQContext()
            socket = try ZMQSocket(.sub, context: context)
            try keys?.apply(to: socket)
            try socket.subscribe(Array((PredictionMessage.topicPrefix + (sensor ?? "")).utf8))
            if status { try socket.subscribe(Array(StatusMessage.topicPrefix.utf8)) }
        } catch {
            throw EndpointError("cannot open a socket: \(error)")
        }
        defer {
            socket.close()
            context.close()
        }
        do {
            try socket.connect(endpoint)
        } catch {
            throw EndpointError("cannot connect to \(endpoint): \(error.code)")
        }
        var table = PredictionTable()
        var predictions = 0
        // --timeout counts from the start and from each prediction printed: status messages and messages skipped
        // (another sensor's, malformed ones) do not extend it, so a service that stopped deciding is noticed.
        var deadline = timeout.map { ContinuousClock.now + .seconds($0) }
        while count.map({ predictions < $0 }) ?? true {
            var shown = Shown.skipped
            do {
                try socket.setReceiveTimeout(deadline.map { max(.milliseconds(1), $0 - ContinuousClock.now) })
                if let frames = try socket.receive() { shown = show(frames, table: &table) }
            } catch {
                throw EndpointError("receiving from \(endpoint) failed: \(error.code)")
            }
            switch shown {
            case .prediction:
                predictions += 1
                deadline = timeout.map { ContinuousClock.now + .seconds($0) }
            case .status, .skipped:
                if let deadline, ContinuousClock.now >= deadline {
                    LineOutput.standardError("bisnn listen: no prediction from \(endpoint) within \(timeout ?? 0) s")
                    throw ExitCode.failure
                }
            }
        }
    }

    /// What ``show(_:table:)`` did with a message.
    enum Shown {
        case prediction, status, skipped
    }

    /// Prints one received message if it is a prediction of the sensor asked for, or (with `--status`) a
    /// status; warns about a malformed one on standard error.
    func show(_ frames: [[UInt8]], table: inout PredictionTable) -> Shown {
        guard frames.count == 2 else { return .skipped }
        let topic = frames[0], body = frames[1]
        let name = String(decoding: topic, as: UTF8.self)
        if topic.starts(with: Array(PredictionMessage.topicPrefix.utf8)) {
            // ZeroMQ matches prefixes: predictions/cam1 also delivers predictions/cam10.
            if let sensor, name != PredictionMessage.topicPrefix + sensor { return .skipped }
            if json {
                LineOutput.standardOutput(String(decoding: body, as: UTF8.self))
            } else {
                do {
                    let message = try PredictionMessage.decode(json: body)
                    for line in table.lines(for: message) { LineOutput.standardOutput(line) }
                } catch {
                    LineOutput.standardError("bisnn listen: \(name): not a prediction: \(error)")
                    return .skipped
                }
            }
            return .prediction
        }
        guard status, topic.starts(with: Array(StatusMessage.topicPrefix.utf8)) else { return .skipped }
        if json {
            LineOutput.standardOutput(String(decoding: body, as: UTF8.self))
        } else {
            do {
                LineOutput.standardOutput(PredictionTable.statusLine(try StatusMessage.decode(json: body)))
            } catch {
                LineOutput.standardError("bisnn listen: \(name): not a status message: \(error)")
                return .skipped
            }
        }
        return .status
    }
}
