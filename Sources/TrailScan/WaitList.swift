internal import Dispatch

/// Threads waiting for an event that another thread announces, kept inside the state a lock guards.
///
/// A thread told to wait enlists a semaphore of its own in the same critical section that tells it to
/// wait, and waits on it after leaving; the thread that changes the state takes the whole list in its
/// critical section and signals each semaphore after leaving. A signal sent before the wait is kept
/// by the semaphore, and no thread can take another's wake-up — as it could with one shared semaphore
/// and a count, when a thread woken and told to wait again consumed the signal meant for the next —
/// so none is lost.
struct WaitList: Sendable {
    private var waiting: [DispatchSemaphore] = []

    /// A new semaphore for the calling thread to wait on once it has left the lock.
    mutating func enlist() -> DispatchSemaphore {
        let wakeUp = DispatchSemaphore(value: 0)
        waiting.append(wakeUp)
        return wakeUp
    }

    /// Empties the list; call `wake` on the result after leaving the lock.
    mutating func takeAll() -> Waiters {
        defer { waiting = [] }
        return Waiters(semaphores: waiting)
    }

    /// The threads taken from a list, to wake outside the lock.
    struct Waiters: Sendable {
        fileprivate let semaphores: [DispatchSemaphore]

        func wake() {
            for semaphore in semaphores { semaphore.signal() }
        }
    }
}
