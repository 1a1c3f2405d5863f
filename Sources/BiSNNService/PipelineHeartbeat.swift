import Synchronization

/// Whether the pipeline is alive, for the systemd watchdog: the service pings `WATCHDOG=1` only while
/// ``isHealthy(since:)`` holds, so a pipeline stuck in a call stops the pings and systemd restarts the service.
///
/// Work on the pipelines is bracketed by ``beginWork()`` and ``endWork()``; ``progress()`` is called after each
/// unit of work (a message, a tick). The pipeline is healthy when no work is under way (it waits for input) or
/// when some unit finished since the previous check.
final class PipelineHeartbeat: Sendable {
    private let progressCount = Atomic<Int>(0)
    private let working = Atomic<Int>(0)

    /// A heartbeat with no work under way.
    init() {}

    /// A call into the pipelines starts.
    func beginWork() { working.add(1, ordering: .relaxed) }

    /// A call into the pipelines ended.
    func endWork() {
        working.subtract(1, ordering: .relaxed)
        progress()
    }

    /// One unit of work finished.
    func progress() { progressCount.add(1, ordering: .relaxed) }

    /// The progress count, to pass to the next ``isHealthy(since:)``.
    var count: Int { progressCount.load(ordering: .relaxed) }

    /// Whether the pipeline is waiting for input, or made progress since the count was `previous`.
    func isHealthy(since previous: Int) -> Bool {
        working.load(ordering: .relaxed) == 0 || progressCount.load(ordering: .relaxed) != previous
    }
}
