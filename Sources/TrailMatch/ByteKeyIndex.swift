/// An immutable hash table from byte strings to lists of integers, looked up with bytes in place.
///
/// Built once per rule set; `RecordMatcher` pools the indexes of all fields and looks keys up there
/// through raw buffers: hash the probe bytes (FNV-1a), probe linearly, compare bytes — no `String`, no
/// array, no allocation per lookup.
struct ByteKeyIndex: Sendable {
    struct Slot: Sendable {
        var hash: UInt64
        var keyStart: Int32
        var keyCount: Int32
        var valueStart: Int32
        var valueCount: Int32
    }

    private let slots: [Slot?]
    private let keyBytes: [UInt8]
    private let values: [Int]
    private let mask: Int

    // The storage, for `RecordMatcher` to copy into buffers it owns.
    var slotsForCompilation: [Slot?] { slots }
    var keyBytesForCompilation: [UInt8] { keyBytes }
    var valuesForCompilation: [Int] { values }
    var maskForCompilation: Int { mask }

    init(_ entries: [[UInt8]: [Int]]) {
        var size = 8
        while size < entries.count * 2 { size *= 2 }
        var slots = [Slot?](repeating: nil, count: size)
        var keyBytes: [UInt8] = []
        var values: [Int] = []
        // Sorted insertion keeps the layout deterministic.
        for (key, keyValues) in entries.sorted(by: { $0.key.lexicographicallyPrecedes($1.key) }) {
            let hash = key.withUnsafeBytes(Self.hash)
            var position = Int(truncatingIfNeeded: hash) & (size - 1)
            while slots[position] != nil { position = (position + 1) & (size - 1) }
            slots[position] = Slot(
                hash: hash, keyStart: Int32(keyBytes.count), keyCount: Int32(key.count),
                valueStart: Int32(values.count), valueCount: Int32(keyValues.count))
            keyBytes.append(contentsOf: key)
            values.append(contentsOf: keyValues)
        }
        self.slots = slots
        self.keyBytes = keyBytes
        self.values = values
        mask = size - 1
    }

    @inline(__always)
    static func hash(_ bytes: UnsafeRawBufferPointer) -> UInt64 {
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        for byte in bytes {
            hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01B3
        }
        return hash
    }
}
