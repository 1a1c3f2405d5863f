import Foundation

/// Runs `body(worker)` for workers `0..<count` at once, one thread each (libdispatch's concurrentPerform may
/// stay on one thread on a busy machine), the calling thread being worker 0, and returns when all are done.
func runParallel(workers count: Int, _ body: @escaping @Sendable (Int) -> Void) {
    let group = DispatchGroup()
    for worker in 1..<max(count, 1) {
        group.enter()
        Thread {
            body(worker)
            group.leave()
        }.start()
    }
    body(0)
    group.wait()
}
