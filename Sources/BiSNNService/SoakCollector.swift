import Foundation
import Synchronization
import ZeroMQ

/// The soak's subscriber: a SUB socket on a thread of its own (never a Swift concurrency thread) that
/// receives every prediction and status message bisnnd publishes, keeps the predictions' latencies, counts
/// them per sensor, and keeps the latest status.
///
/// It also runs the ``SoakFault/subscriberGap`` fault: asked to, it closes its socket, waits, opens a new one,
/// and measures what the gap cost from the first status message that arrives afterwards. A status message is
/// published after every prediction counted in it, on the same socket, so when one arrives every prediction
/// it counts has arrived or is lost: `decisions - received` per sensor is exact at that moment. The gap lost
/// the growth of that figure from the last status before the gap to the first after it.
final class SoakCollector: Sendable {
    /// What one subscriber gap cost.
    struct Gap: Sendable {
        /// When the socket was closed, reopened, and the first status after it arrived.
        var closedAt: ContinuousClock.Instant
        var reopenedAt: ContinuousClock.Instant
        var statusAt: ContinuousClock.Instant
        /// Predictions lost, per sensor.
        var lost: [String: Int]
    }

    /// What the collector has seen.
    struct Snapshot: Sendable {
        /// Predictions received, per sensor.
        var received: [String: Int] = [:]
        /// The `seq` of each sensor's latest prediction.
        var lastSequence: [String: UInt64] = [:]
        /// Every prediction's `latency_us`, in arrival order, and when it arrived (seconds since the origin).
        var latencies: [Int64] = []
        var arrivals: [Double] = []
        /// Predictions with `complete: false` (a message lost or rejected in their span, a restart, shed frames).
        var incomplete = 0
        /// Messages that were neither a prediction nor a status message the collector could read.
        var unreadable = 0
        /// The latest status message and when it arrived.
        var status: StatusMessage?
        var statusAt: ContinuousClock.Instant?
        /// Status messages received.
        var statuses = 0
        /// Subscriber gaps done.
        var gaps: [Gap] = []
        /// Whether a gap is asked for or under way (until its first status message).
        var gapActive = false
        /// The socket could not be (re)opened.
        var failure: String?
    }

    private struct State {
        var seen = Snapshot()
        /// `decisions - received` per sensor at the latest status message.
        var loss: [String: Int] = [:]
        var gapRequest: Duration?
        /// A gap whose socket is open again, waiting for its first status message: when it closed and
        /// reopened, and `loss` when it closed.
        var reopened: (closedAt: ContinuousClock.Instant, reopenedAt: ContinuousClock.Instant, lossBefore: [String: Int])?
    }

    /// The fields of a prediction the soak reads (the rest may change without concerning it).
    private struct PredictionFields: Decodable {
        var sensor: String
        var seq: UInt64
        var latency_us: Int64
        var complete: Bool?
    }

    private let state = Mutex(State())
    private let done = Atomic(false)
    private let finished = Atomic(false)
    private let origin: ContinuousClock.Instant

    /// Starts the collector's thread, subscribed to everything at `endpoint`; arrival times count from `origin`.
    init(context: ZMQContext, endpoint: String, origin: ContinuousClock.Instant) throws {
        self.origin = origin
        let first = try Self.open(context: context, endpoint: endpoint)
        let handoff = SocketHandoff(first)
        let thread = Thread { [self] in
            run(first: handoff.take(), context: context, endpoint: endpoint)
            finished.store(true, ordering: .releasing)
        }
        thread.name = "soak-collector"
        thread.start()
    }

    /// A SUB socket subscribed to everything, connected to `endpoint`, whose receives give up after 50 ms.
    private static func open(context: ZMQContext, endpoint: String) throws(ZMQError) -> ZMQSocket {
        let socket = try ZMQSocket(.sub, context: context)
        try socket.setReceiveTimeout(.milliseconds(50))
        try socket.setReceiveHighWaterMark(1_000_000)
        try socket.subscribe()
        try socket.connect(endpoint)
        return socket
    }

    private func run(first: ZMQSocket, context: ZMQContext, endpoint: String) {
        var socket: ZMQSocket? = first
        defer { socket?.close(linger: .zero) }
        while !done.load(ordering: .relaxed) {
            if let length = state.withLock({ state -> Duration? in
                defer { state.gapRequest = nil }
                return state.gapRequest
            }) {
                socket?.close(linger: .zero)
                socket = nil
                let closedAt = ContinuousClock.now
                let lossBefore = state.withLock { $0.loss }
                while ContinuousClock.now < closedAt + length, !done.load(ordering: .relaxed) {
                    Thread.sleep(forTimeInterval: 0.01)
                }
                do {
                    socket = try Self.open(context: context, endpoint: endpoint)
                } catch {
                    state.withLock { $0.seen.failure = "cannot reopen the subscriber: \(error)" }
                    return
                }
                let reopenedAt = ContinuousClock.now
                state.withLock { $0.reopened = (closedAt, reopenedAt, lossBefore) }
            }
            guard let socket, let parts = try? socket.receive(), parts.count == 2 else { continue }
            take(parts, at: .now)
        }
    }

    private func take(_ parts: [[UInt8]], at now: ContinuousClock.Instant) {
        let topic = parts[0]
        if topic.starts(with: Array(PredictionMessage.topicPrefix.utf8)) {
            guard let fields = try? JSONDecoder().decode(PredictionFields.self, from: Data(parts[1])) else {
                state.withLock { $0.seen.unreadable += 1 }
                return
            }
            let at = SensorPipelines.seconds(now - origin)
            state.withLock { state in
                state.seen.received[fields.sensor, default: 0] += 1
                state.seen.lastSequence[fields.sensor] = fields.seq
                state.seen.latencies.append(fields.latency_us)
                state.seen.arrivals.append(at)
                if fields.complete == false { state.seen.incomplete += 1 }
            }
        } else if topic.starts(with: Array(StatusMessage.topicPrefix.utf8)),
                  let status = try? StatusMessage.decode(json: parts[1]) {
            state.withLock { state in
                var loss: [String: Int] = [:]
                for (sensor, entry) in status.sensors {
                    loss[sensor] = entry.decisions - state.seen.received[sensor, default: 0]
                }
                if let gap = state.reopened {
                    // The first status after a gap: the gap lost the growth of `decisions - received` since
                    // the last status before it.
                    var lost: [String: Int] = [:]
                    for (sensor, after) in loss { lost[sensor] = after - gap.lossBefore[sensor, default: 0] }
                    state.seen.gaps.append(
                        Gap(closedAt: gap.closedAt, reopenedAt: gap.reopenedAt, statusAt: now, lost: lost))
                    state.reopened = nil
                    state.seen.gapActive = false
                }
                state.loss = loss
                state.seen.status = status
                state.seen.statusAt = now
                state.seen.statuses += 1
            }
        } else {
            state.withLock { $0.seen.unreadable += 1 }
        }
    }

    /// Asks for a subscriber gap of `length`; ``snapshot`` shows it active until the first status after it.
    func requestGap(_ length: Duration) {
        state.withLock {
            $0.gapRequest = length
            $0.seen.gapActive = true
        }
    }

    /// What has been seen so far.
    var snapshot: Snapshot { state.withLock { $0.seen } }

    /// Whether a gap is asked for or under way.
    var gapActive: Bool { state.withLock { $0.seen.gapActive } }

    /// The latest status that arrived after `instant` and satisfies `done`, waiting up to `limit`; nil after that.
    /// Blocks the calling thread (never call it from Swift concurrency).
    func waitForStatus(
        after instant: ContinuousClock.Instant, within limit: Duration, until done: (StatusMessage) -> Bool = { _ in true }
    ) -> StatusMessage? {
        let deadline = ContinuousClock.now + limit
        while ContinuousClock.now < deadline {
            let latest = state.withLock { state -> StatusMessage? in
                guard let at = state.seen.statusAt, at > instant else { return nil }
                return state.seen.status
            }
            if let latest, done(latest) { return latest }
            Thread.sleep(forTimeInterval: 0.005)
        }
        return nil
    }

    /// Waits up to `limit` until each sensor's latest prediction has the `seq` given; whether they all did.
    func waitForPredictions(_ finals: [String: UInt64], within limit: Duration) -> Bool {
        let deadline = ContinuousClock.now + limit
        while ContinuousClock.now < deadline {
            let arrived = state.withLock { state in
                finals.allSatisfy { state.seen.lastSequence[$0.key] == $0.value }
            }
            if arrived { return true }
            Thread.sleep(forTimeInterval: 0.005)
        }
        return false
    }

    /// Stops the thread and waits (up to 5 s) for it to close its socket.
    func stop() {
        done.store(true, ordering: .relaxed)
        let deadline = ContinuousClock.now + .seconds(5)
        while !finished.load(ordering: .acquiring), ContinuousClock.now < deadline { Thread.sleep(forTimeInterval: 0.005) }
    }
}

/// Hands the first socket to the collector's thread, which alone uses it from then on.
private final class SocketHandoff: @unchecked Sendable {
    private var socket: ZMQSocket?
    init(_ socket: ZMQSocket) { self.socket = socket }
    func take() -> ZMQSocket {
        defer { socket = nil }
        return socket!
    }
}
