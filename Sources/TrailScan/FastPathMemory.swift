internal import Synchronization

/// The decoded bytes that all workers together may hold through the whole-object fast path at once.
///
/// The fast path inflates an object in one piece, so a worker's window briefly holds the whole decoded
/// object (up to `ObjectScanner.wholeOutputLimit`) instead of a record or two. Two workers on local
/// files can afford that; the sixty-odd workers that keep S3 GETs in flight could not, all at once.
/// A worker takes the object's room from here before inflating and gives it back once the window is
/// drained and shrunk; when the room is not available it streams the object with zlib instead, which
/// needs no more than the largest record. Taking never waits, so no worker can block another.
final class FastPathMemory: Sendable {
    /// All there is to take.
    let total: Int
    private let available: Mutex<Int>

    init(bytes: Int) {
        total = bytes
        available = Mutex(bytes)
    }

    /// Takes `bytes` if that many are available.
    func take(_ bytes: Int) -> Bool {
        available.withLock { available in
            guard available >= bytes else { return false }
            available -= bytes
            return true
        }
    }

    /// Gives back what `take` took.
    func give(_ bytes: Int) {
        available.withLock { $0 += bytes }
    }
}
