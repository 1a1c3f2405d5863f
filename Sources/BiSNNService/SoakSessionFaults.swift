import EventStream
import Foundation
import ZeroMQ

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The faults of a soak (``SoakFault``) as a ``SoakSession`` starts them, follows those that take time, and
/// records each (``SoakFaultRecord``).
extension SoakSession {

    func faultLength(_ kind: SoakFault) -> Duration {
        switch kind {
        case .overload: settings.overloadLength
        case .subscriberGap: settings.subscriberGapLength + settings.statusInterval * 2
        case .publisherRestart, .reload: settings.statusInterval * 4
        default: .zero
        }
    }

    func record(
        _ kind: SoakFault, _ observations: inout SoakObservations, at: ContinuousClock.Instant, seconds: Double = 0,
        sensor: String? = nil, detail: String, ok: Bool, progress: (String) -> Void
    ) {
        let entry = SoakFaultRecord(
            kind: kind, atSeconds: self.seconds(since: sendStart, at), seconds: seconds, sensor: sensor, detail: detail,
            ok: ok, residentBytes: daemon.residentMemory().current)
        observations.faults.append(entry)
        progress("soak: " + String(format: "%.1f s", entry.atSeconds) + ": \(kind.title)" + (ok ? "" : " FAILED")
            + ": \(detail) [bisnnd resident \(entry.residentBytes >> 20) MiB]")
    }

    func startFault(
        _ kind: SoakFault, _ observations: inout SoakObservations, now: ContinuousClock.Instant,
        progress: (String) -> Void
    ) throws {
        switch kind {
        case .publisherRestart:
            let sensor = streams.filter { $0.restarts == 0 }.isEmpty
                ? Int(random.nextInt(below: streams.count))
                : streams.indices.first { streams[$0].restarts == 0 }!
            active = .restart(sensor: sensor, since: now)
        case .subscriberGap:
            collector.requestGap(settings.subscriberGapLength)
            active = .gap(since: now)
        case .reload:
            let before = metrics.scrape()
            daemon.send(SIGHUP)
            active = .reload(
                since: now, okBefore: before.map { Int($0[Self.reloadsOK] ?? 0) },
                refusedBefore: before.map { Int($0[Self.reloadsRefused] ?? 0) }, nextCheck: now + .milliseconds(100))
        case .malformedBurst:
            try malformedBurst(&observations, now: now, progress: progress)
        case .overload:
            multiplier = settings.overloadFactor
            for i in streams.indices { streams[i].reanchor(at: now, recordings) }
            active = .overload(
                since: now, until: now + settings.overloadLength, eventsBefore: streams.reduce(0) { $0 + $1.sentEvents })
        case .evt3Cut:
            try evt3Cut(&observations, now: now, progress: progress)
        }
    }

    static let reloadsOK = "bisnnd_reloads_total{result=\"ok\"}"
    static let reloadsRefused = "bisnnd_reloads_total{result=\"refused\"}"

    func advanceFault(_ observations: inout SoakObservations, now: ContinuousClock.Instant, progress: (String) -> Void) throws {
        switch active {
        case .restart(let sensor, let since):
            if streams[sensor].midSegment, streams[sensor].sequence >= 2 {
                try restart(sensor, &observations, requested: since, progress: progress)
                active = nil
            } else if now - since > .seconds(30) {
                record(
                    .publisherRestart, &observations, at: since, sensor: streams[sensor].name.rawValue,
                    detail: "the sensor was never in the middle of a segment within 30 s", ok: false, progress: progress)
                active = nil
            }
        case .gap(let since):
            if !collector.gapActive {
                let seen = collector.snapshot
                if let gap = seen.gaps.last {
                    let lost = gap.lost.values.reduce(0, +)
                    record(
                        .subscriberGap, &observations, at: since,
                        seconds: SensorPipelines.seconds(gap.reopenedAt - gap.closedAt),
                        detail: "subscriber away " + String(format: "%.2f s", SensorPipelines.seconds(gap.reopenedAt - gap.closedAt))
                            + ": \(lost) predictions lost (published while it was away; counted at the first status "
                            + "after it, " + String(format: "%.2f s", SensorPipelines.seconds(gap.statusAt - gap.reopenedAt))
                            + " after reconnecting)",
                        ok: lost >= 0, progress: progress)
                } else {
                    record(.subscriberGap, &observations, at: since, detail: seen.failure ?? "no gap was made", ok: false,
                           progress: progress)
                }
                active = nil
            } else if now - since > .seconds(30) {
                record(.subscriberGap, &observations, at: since, detail: "no status message within 30 s of the gap",
                       ok: false, progress: progress)
                active = nil
                throw Stop(description: "the subscriber got no status after its gap")
            }
        case .reload(let since, let okBefore, let refusedBefore, let nextCheck):
            guard now >= nextCheck else { return }
            let samples = metrics.scrape()
            let ok = samples.map { Int($0[Self.reloadsOK] ?? 0) }
            let refused = samples.map { Int($0[Self.reloadsRefused] ?? 0) }
            let took = SensorPipelines.seconds(now - since)
            if let ok, ok > (okBefore ?? 0) {
                record(.reload, &observations, at: since, seconds: took,
                       detail: "SIGHUP; reload applied (bisnnd_reloads_total ok \(ok))", ok: true, progress: progress)
                active = nil
            } else if let refused, refused > (refusedBefore ?? 0) {
                record(.reload, &observations, at: since, seconds: took, detail: "SIGHUP; reload refused", ok: false,
                       progress: progress)
                active = nil
            } else if now - since > .seconds(15) {
                record(.reload, &observations, at: since, seconds: took,
                       detail: "SIGHUP; no reload counted in bisnnd_reloads_total within 15 s", ok: false,
                       progress: progress)
                active = nil
            } else {
                active = .reload(since: since, okBefore: okBefore, refusedBefore: refusedBefore,
                                 nextCheck: now + .milliseconds(100))
            }
        case .overload(let since, let until, let eventsBefore):
            guard now >= until else { return }
            multiplier = 1
            for i in streams.indices { streams[i].reanchor(at: now, recordings) }
            let events = streams.reduce(0) { $0 + $1.sentEvents } - eventsBefore
            let took = SensorPipelines.seconds(now - since)
            record(
                .overload, &observations, at: since, seconds: took,
                detail: "\(events) events in " + String(format: "%.1f s", took) + ": "
                    + String(format: "%.0f", Double(events) / max(took, 1e-9)) + " events/s, asked "
                    + String(format: "%.0f", settings.eventsPerSecond * settings.overloadFactor),
                ok: true, progress: progress)
            active = nil
        case nil:
            break
        }
    }

    /// Messages each sensor's topic carried so far.
    func sentCounts() -> [String: Int] {
        var counts: [String: Int] = [:]
        for stream in streams { counts[stream.name.rawValue] = stream.sentMessages }
        if evt3Sent.messages > 0 { counts[SoakSettings.evt3Sensor.rawValue] = evt3Sent.messages }
        return counts
    }

    /// Waits (sending nothing) until a status message shows every message sent as counted; the status, or nil
    /// after `limit`.
    func barrier(within limit: Duration) -> StatusMessage? {
        let expected = sentCounts()
        return collector.waitForStatus(after: .now, within: limit) { status in
            expected.allSatisfy { status.sensors[$0.key]?.messages == $0.value }
        }
    }

    func restart(
        _ index: Int, _ observations: inout SoakObservations, requested: ContinuousClock.Instant,
        progress: (String) -> Void
    ) throws {
        let began = ContinuousClock.now
        let name = streams[index].name.rawValue
        let counted = barrier(within: .seconds(15)) != nil
        let before = streams[index].sequence
        sockets[index].close(linger: .zero)
        sockets[index] = try Self.connect(context: context, endpoint: daemon.inputEndpoint)
        streams[index].sequence = 0
        streams[index].restarts += 1
        let now = ContinuousClock.now
        for i in streams.indices { streams[i].reanchor(at: now, recordings) }
        record(
            .publisherRestart, &observations, at: began, seconds: SensorPipelines.seconds(now - began), sensor: name,
            detail: "\(name): socket closed and reopened mid-segment; sequence \(before) -> 0 without START "
                + (counted ? "(every message sent before was counted: "
                    + String(format: "%.2f s", SensorPipelines.seconds(now - began)) + " without sending)"
                    : "(bisnnd had not counted every message within 15 s: some may be lost)"),
            ok: counted, progress: progress)
    }

    func malformedBurst(
        _ observations: inout SoakObservations, now: ContinuousClock.Instant, progress: (String) -> Void
    ) throws {
        let tracked = streams.indices.filter { streams[$0].sentMessages > 0 }
        guard let index = tracked.isEmpty ? nil : tracked[random.nextInt(below: tracked.count)] else {
            record(.malformedBurst, &observations, at: now, detail: "no sensor had sent yet", ok: false, progress: progress)
            return
        }
        let name = streams[index].name.rawValue
        let (width, height) = SoakInjection.geometry(ofHeader: streams[index].recording(recordings).messages[0].header)
        let counts = (0..<4).map { _ in 1 + random.nextInt(below: 4) }
        enum Kind { case magic, frames, coordinates, name }
        var kinds = Array(repeating: Kind.magic, count: counts[0]) + Array(repeating: Kind.frames, count: counts[1])
            + Array(repeating: Kind.coordinates, count: counts[2]) + Array(repeating: Kind.name, count: counts[3])
        kinds.shuffle(using: &random)
        let topic = streams[index].topic
        for kind in kinds {
            let sequence = streams[index].sequence
            switch kind {
            case .magic:
                try push(SoakInjection.badMagic(topic: topic, sequence: sequence, width: width, height: height),
                         on: sockets[index])
                streams[index].sentMessages += 1
                observations.injected[name, default: [:]]["magic", default: 0] += 1
            case .frames:
                try push(SoakInjection.missingFrame(topic: topic, sequence: sequence, width: width, height: height),
                         on: sockets[index])
                observations.injected[SoakInjection.topLevel, default: [:]]["frame_count", default: 0] += 1
            case .coordinates:
                try push(SoakInjection.offSensor(
                    topic: topic, sequence: sequence, width: width, height: height,
                    time: streams[index].sensorTime(recordings)), on: sockets[index])
                streams[index].sequence &+= 1
                streams[index].sentMessages += 1
                observations.injected[name, default: [:]]["coordinates", default: 0] += 1
            case .name:
                try push(SoakInjection.badSensorName(width: width, height: height), on: sockets[index])
                observations.injected[SoakInjection.topLevel, default: [:]]["sensor_name", default: 0] += 1
            }
        }
        record(
            .malformedBurst, &observations, at: now, sensor: name,
            detail: "\(counts[0]) bad magic and \(counts[2]) off-sensor coordinates on \(name), \(counts[1]) of two "
                + "frames and \(counts[3]) with an invalid sensor name (top level)",
            ok: true, progress: progress)
    }

    func evt3Cut(_ observations: inout SoakObservations, now: ContinuousClock.Instant, progress: (String) -> Void) throws {
        let sensor = SoakSettings.evt3Sensor
        var chosen: (path: String, messages: RecordingMessages)?
        for _ in 0..<20 {
            let path = recordings.recordings[random.nextInt(below: recordings.recordings.count)].path
            guard let recording = try? ReplayRecording.load(path),
                  let messages = SoakInjection.evt3Messages(recording, sensor: sensor, sequence: evt3Sequence),
                  messages.messages.count >= 2
            else { continue }
            chosen = (path, messages)
            break
        }
        guard let (path, cut) = chosen else {
            record(.evt3Cut, &observations, at: now, detail: "no recording could be encoded as EVT 3.0 in 20 tries",
                   ok: false, progress: progress)
            return
        }
        let middle = cut.messages.count / 2
        for (i, message) in cut.messages.enumerated() {
            if i == middle {
                try push(SoakInjection.cutMidWord(message.frames), on: auxiliary)
                evt3Sent.messages += 1
                observations.injected[sensor.rawValue, default: [:]]["count_mismatch", default: 0] += 1
            }
            try push(message.frames, on: auxiliary)
            evt3Sent.messages += 1
            evt3Sent.events += message.events
        }
        evt3Sequence &+= UInt64(cut.messages.count)
        record(
            .evt3Cut, &observations, at: now, sensor: sensor.rawValue,
            detail: "\((path as NSString).lastPathComponent) as \(cut.messages.count) EVT 3.0 messages on "
                + "\(sensor.rawValue); message \(middle) first sent one byte short, then whole",
            ok: true, progress: progress)
    }
}
