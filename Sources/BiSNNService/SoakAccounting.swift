/// Everything a soak observed, and the accounting that turns it into a ``SoakReport``: each sensor's traffic
/// as sent against bisnnd's final status, predictions against its `decisions`, injected rejections against its
/// `malformed` maps; every difference explained by a reason or counted as unaccounted.
struct SoakObservations {
    /// What the soak sent on one sensor's topic.
    struct Sent {
        /// Messages, injected malformed ones included.
        var messages = 0
        /// Events in valid messages.
        var events = 0
        /// Publisher restarts made.
        var restarts = 0
    }

    var run: SoakReport.Run
    /// Per sensor name.
    var sent: [String: Sent] = [:]
    /// Rejections injected (``SoakInjection/Tally``).
    var injected: SoakInjection.Tally = [:]
    /// bisnnd's last status message.
    var status: StatusMessage?
    /// What the subscriber saw.
    var seen = SoakCollector.Snapshot()
    /// `bisnnd_published_dropped_total` at the end.
    var outputDropped: Int?
    var faults: [SoakFaultRecord] = []
    var memory = SoakReport.Memory()
    /// When sending began, in the subscriber's arrival times (seconds).
    var sendOffset = 0.0
    var daemon = SoakReport.Daemon()
    /// Whether each sensor's last decision (of its final END) arrived.
    var finalDecisionsArrived = false
    /// Why the run stopped early, if it did.
    var failure: String?

    /// The report.
    func report() -> SoakReport {
        let status = status ?? StatusMessage(service: "", version: "", time: 0, uptimeSeconds: 0, model: "", sensors: [:])
        var gapLoss: [String: Int] = [:]
        for gap in seen.gaps { for (sensor, lost) in gap.lost { gapLoss[sensor, default: 0] += lost } }

        var accounts: [SoakReport.SensorAccount] = []
        var losses = SoakReport.Losses()
        let names = Set(sent.keys).union(status.sensors.keys).sorted()
        for name in names {
            let tally = sent[name] ?? Sent()
            let entry = status.sensors[name] ?? StatusMessage.SensorStatus()
            var account = SoakReport.SensorAccount(sensor: name)
            account.sentMessages = tally.messages
            account.countedMessages = entry.messages
            account.lostMessages = Int(clamping: entry.lostMessages)
            account.sequenceGaps = entry.sequenceGaps
            account.restarts = entry.restarts
            account.expectedRestarts = tally.restarts
            account.rejectedMessages = entry.malformed.values.reduce(0, +)
            let injectedHere = injected[name] ?? [:]
            account.injectedRejections = injectedHere.values.reduce(0, +)
            account.sentEvents = tally.events
            account.acceptedEvents = entry.events
            account.lateEvents = entry.lateEvents
            account.unsyncedEvents = entry.unsyncedEvents
            account.frames = entry.frames
            account.shedFrames = entry.shedFrames
            account.decisionsPublished = entry.decisions
            account.decisionsReceived = seen.received[name, default: 0]
            account.decisionsLostInGaps = gapLoss[name, default: 0]
            account.decisionsLostOtherwise =
                account.decisionsPublished - account.decisionsReceived - account.decisionsLostInGaps

            // Messages: every one sent was counted, or is missing in a sequence gap.
            account.unaccountedMessages = abs(account.sentMessages - account.countedMessages - account.lostMessages)
            // Events: accepted, late or dropped resynchronising, unless valid messages were lost or rejected
            // (then by difference).
            let rejectedValid = Set(entry.malformed.keys).union(injectedHere.keys).reduce(0) {
                $0 + max(0, entry.malformed[$1, default: 0] - injectedHere[$1, default: 0])
            }
            let missing = account.sentEvents - account.acceptedEvents - account.lateEvents - account.unsyncedEvents
            if missing > 0, account.lostMessages > 0 || rejectedValid > 0 {
                account.eventsInLostMessages = missing
            } else {
                account.unaccountedEvents = abs(missing)
            }
            losses.rejectedValidMessages += rejectedValid
            accounts.append(account)
        }

        var total = SoakReport.SensorAccount(sensor: "total")
        for a in accounts {
            total.sentMessages += a.sentMessages
            total.countedMessages += a.countedMessages
            total.lostMessages += a.lostMessages
            total.sequenceGaps += a.sequenceGaps
            total.restarts += a.restarts
            total.expectedRestarts += a.expectedRestarts
            total.rejectedMessages += a.rejectedMessages
            total.injectedRejections += a.injectedRejections
            total.sentEvents += a.sentEvents
            total.acceptedEvents += a.acceptedEvents
            total.lateEvents += a.lateEvents
            total.unsyncedEvents += a.unsyncedEvents
            total.eventsInLostMessages += a.eventsInLostMessages
            total.frames += a.frames
            total.shedFrames += a.shedFrames
            total.decisionsPublished += a.decisionsPublished
            total.decisionsReceived += a.decisionsReceived
            total.decisionsLostInGaps += a.decisionsLostInGaps
            total.decisionsLostOtherwise += a.decisionsLostOtherwise
            total.unaccountedMessages += a.unaccountedMessages
            total.unaccountedEvents += a.unaccountedEvents
        }

        // Rejections: exactly the injected ones, place by place and reason by reason.
        var rejections: [SoakReport.Rejection] = []
        var places = Set(injected.keys).union(status.sensors.keys)
        places.insert(SoakInjection.topLevel)
        for place in places.sorted() {
            let counted = place == SoakInjection.topLevel ? status.malformed : status.sensors[place]?.malformed ?? [:]
            let expected = injected[place] ?? [:]
            for reason in Set(counted.keys).union(expected.keys).sorted() {
                rejections.append(SoakReport.Rejection(
                    place: place == SoakInjection.topLevel ? "(top level)" : place, reason: reason,
                    injected: expected[reason, default: 0], counted: counted[reason, default: 0]))
            }
        }
        let topLevelCounted = status.malformed.values.reduce(0, +)
        let topLevelExpected = (injected[SoakInjection.topLevel] ?? [:]).values.reduce(0, +)
        losses.rejectedValidMessages += rejections.filter { $0.place == "(top level)" }
            .reduce(0) { $0 + max(0, $1.counted - $1.injected) }
        losses.unaccountedRejections = rejections.reduce(0) { $0 + abs($1.counted - $1.injected) }

        losses.rejectedMessages = total.rejectedMessages + topLevelCounted
        losses.lateEvents = total.lateEvents
        losses.unsyncedEvents = total.unsyncedEvents
        losses.sequenceGaps = total.sequenceGaps
        losses.lostMessages = total.lostMessages
        losses.eventsInLostMessages = total.eventsInLostMessages
        losses.shedFrames = total.shedFrames
        losses.predictionsLostInGaps = total.decisionsLostInGaps
        losses.outputQueueDropped = outputDropped
        losses.unaccountedMessages = total.unaccountedMessages
        losses.unaccountedEvents = total.unaccountedEvents
        // Predictions lost outside the gaps are explained by the output queue's drops (which count status
        // messages too, so they can only explain, never demand, a loss).
        let otherwise = total.decisionsLostOtherwise
        losses.unaccountedDecisions = otherwise >= 0 ? otherwise - min(otherwise, outputDropped ?? 0) : -otherwise

        // Latency: everything received, and what arrived outside the faults (each from its start to a second
        // after its end), in seconds since sending began.
        let arrivals = seen.arrivals.map { $0 - sendOffset }
        let latency = SoakReport.Latency(seen.latencies, arrivals: arrivals)
        let windows = faults.map { $0.atSeconds...($0.atSeconds + $0.seconds + 1) }
        var steady: [Int64] = [], steadyArrivals: [Double] = []
        steady.reserveCapacity(seen.latencies.count)
        steadyArrivals.reserveCapacity(seen.latencies.count)
        for (i, value) in seen.latencies.enumerated() where !windows.contains(where: { $0.contains(arrivals[i]) }) {
            steady.append(value)
            steadyArrivals.append(arrivals[i])
        }

        var daemon = daemon
        var checks: [SoakReport.Check] = []
        func check(_ name: String, _ ok: Bool, _ detail: String) {
            checks.append(SoakReport.Check(name: name, ok: ok, detail: detail))
        }
        if let failure { check("run", false, failure) }
        check(
            "messages", total.unaccountedMessages == 0,
            "\(total.sentMessages) sent, \(total.countedMessages) counted, \(total.lostMessages) in sequence gaps, "
                + "\(total.unaccountedMessages) unaccounted")
        check(
            "events", total.unaccountedEvents == 0,
            "\(total.sentEvents) sent, \(total.acceptedEvents) accepted, \(total.lateEvents) late, "
                + "\(total.unsyncedEvents) unsynced, "
                + "\(total.eventsInLostMessages) in lost or rejected messages, \(total.unaccountedEvents) unaccounted")
        check(
            "rejections", losses.unaccountedRejections == 0,
            "\(rejections.reduce(0) { $0 + $1.counted }) counted, \(topLevelExpected + total.injectedRejections) "
                + "injected, \(losses.unaccountedRejections) differing")
        check(
            "decisions", losses.unaccountedDecisions == 0 && finalDecisionsArrived,
            "\(total.decisionsPublished) published, \(total.decisionsReceived) received, "
                + "\(total.decisionsLostInGaps) lost while unsubscribed, \(outputDropped.map(String.init) ?? "?") "
                + "dropped by the output queue, \(losses.unaccountedDecisions) unaccounted"
                + (finalDecisionsArrived ? "" : "; the final decisions did not all arrive"))
        check(
            "restarts", total.restarts == total.expectedRestarts,
            "\(total.expectedRestarts) publisher restarts made, \(total.restarts) seen by bisnnd")
        let failedFaults = faults.filter { !$0.ok }
        check(
            "faults", failedFaults.isEmpty,
            "\(faults.count) run, \(failedFaults.count) failed"
                + (failedFaults.isEmpty ? "" : ": " + failedFaults.map { $0.kind.title }.joined(separator: ", ")))
        let sampled = memory.middleBytes > 0 && memory.endBytes > 0
        check(
            "memory", sampled && memory.ok,
            sampled
                ? "end \(memory.endBytes >> 20) MiB, limit \(memory.limitBytes >> 20) MiB (middle "
                    + "\(memory.middleBytes >> 20) MiB, VmHWM then \(memory.middlePeakBytes >> 20) MiB)"
                : "no middle or end sample (bisnnd was gone)")
        let exitedCleanly = !daemon.diedEarly && !daemon.killed && daemon.exitStatus == 0 && !daemon.signalled
        let ending = daemon.exitStatus.map { "\(daemon.signalled ? "signal" : "exit status") \($0)" } ?? "still running"
        check(
            "bisnnd", exitedCleanly,
            daemon.diedEarly
                ? "ended during the run (\(ending))"
                : daemon.killed ? "did not stop within 30 s of SIGTERM; killed" : "\(ending) after SIGTERM")
        let passed = checks.allSatisfy(\.ok)
        if passed { daemon.logTail = [] }

        return SoakReport(
            run: run, sensors: accounts, total: total, rejections: rejections, losses: losses, faults: faults,
            memory: memory, latency: latency, steadyLatency: SoakReport.Latency(steady, arrivals: steadyArrivals),
            incompleteDecisions: seen.incomplete, statusMessages: seen.statuses, daemon: daemon, checks: checks,
            passed: passed)
    }
}
