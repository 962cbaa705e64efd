/// A sequence of items that is discovered by running tasks, handed out in the order a single worker
/// running every task depth-first would produce — however many workers run the tasks, in whatever
/// order they finish.
///
/// The sequence is a row of slots, each a task or an item. Running a task (listing a prefix, reading
/// a folder) replaces its slot, in place, with what it found: items and further tasks, in order. Items
/// are handed out from the front only, so an item is never handed out before everything that precedes
/// it in the order has been found; tasks can be taken from anywhere, earliest first, so idle workers
/// list ahead while the front is being listed.
///
/// A plain value: the caller serializes access (a lock) and runs the tasks outside it.
public struct OrderedExpansion<Task, Item> {
    /// What a task found, in order.
    public enum Found {
        case task(Task)
        case item(Item)
    }

    fileprivate enum Slot {
        case task(Task, id: Int, taken: Bool)
        case item(Item)
    }

    /// Slots from `head` on are live; those before it were handed out (a head index, not
    /// `removeFirst`, keeps taking O(1)).
    private var slots: [Slot]
    private var head = 0
    private var nextID = 0
    /// Tasks taken and neither completed nor abandoned.
    public private(set) var inFlight = 0

    public init(_ found: [Found] = []) {
        slots = []
        slots.reserveCapacity(found.count)
        for entry in found { slots.append(slot(entry)) }
    }

    /// Nothing left to take and nothing being run.
    public var isFinished: Bool { head == slots.count }

    /// The next item, if the front of the sequence is one.
    public mutating func takeItem() -> Item? {
        guard head < slots.count, case .item(let item) = slots[head] else { return nil }
        head += 1
        if head == slots.count {
            slots.removeAll(keepingCapacity: true)
            head = 0
        } else if head >= 4096 && head * 2 >= slots.count {
            slots.removeFirst(head)  // drop what was handed out, now and then
            head = 0
        }
        return item
    }

    /// The earliest task nobody has taken, if any.
    public mutating func takeTask() -> (ExpansionTicket, Task)? {
        var index = head
        while index < slots.count {
            if case .task(let task, let id, false) = slots[index] {
                slots[index] = .task(task, id: id, taken: true)
                inFlight += 1
                return (ExpansionTicket(id: id), task)
            }
            index += 1
        }
        return nil
    }

    /// Replaces a taken task by what it found (nothing, for a task that failed or found nothing).
    public mutating func complete(_ ticket: ExpansionTicket, found: [Found]) {
        guard let index = position(of: ticket) else { preconditionFailure("completed a task that is not in flight") }
        inFlight -= 1
        slots.replaceSubrange(index...index, with: found.map { slot($0) })
        if head == slots.count {
            slots.removeAll(keepingCapacity: true)
            head = 0
        }
    }

    private func position(of ticket: ExpansionTicket) -> Int? {
        var index = head
        while index < slots.count {
            if case .task(_, let id, true) = slots[index], id == ticket.id { return index }
            index += 1
        }
        return nil
    }

    private mutating func slot(_ found: Found) -> Slot {
        switch found {
        case .item(let item):
            return .item(item)
        case .task(let task):
            nextID += 1
            return .task(task, id: nextID, taken: false)
        }
    }
}

extension OrderedExpansion: Sendable where Task: Sendable, Item: Sendable {}
extension OrderedExpansion.Found: Sendable where Task: Sendable, Item: Sendable {}

/// Names a task taken from an `OrderedExpansion`, to complete it.
public struct ExpansionTicket: Equatable, Sendable {
    let id: Int
}
extension OrderedExpansion.Slot: Sendable where Task: Sendable, Item: Sendable {}
