/// An immutable hash table from byte strings to lists of integers, looked up with bytes in place.
///
/// Lookups hash the probe bytes (FNV-1a), probe linearly and compare bytes: no `String`, no array, no
/// allocation per lookup. Keys and values live in two flat arrays; a lookup returns the range of a
/// key's values, read with `value(at:)`.
struct ByteKeyIndex: Sendable {
    private struct Slot: Sendable {
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

    /// The range of `key`'s values (empty when the key is absent).
    @inline(__always)
    func lookup(_ key: UnsafeRawBufferPointer) -> Range<Int> {
        let hash = Self.hash(key)
        var position = Int(truncatingIfNeeded: hash) & mask
        while let slot = slots[position] {
            if slot.hash == hash && Int(slot.keyCount) == key.count {
                let start = Int(slot.keyStart)
                let matches = keyBytes.withUnsafeBytes { stored in
                    UnsafeRawBufferPointer(rebasing: stored[start..<(start + key.count)]).elementsEqual(key)
                }
                if matches { return Int(slot.valueStart)..<Int(slot.valueStart + slot.valueCount) }
            }
            position = (position + 1) & mask
        }
        return 0..<0
    }

    @inline(__always)
    func value(at index: Int) -> Int { values[index] }

    @inline(__always)
    static func hash(_ bytes: UnsafeRawBufferPointer) -> UInt64 {
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        for byte in bytes {
            hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01B3
        }
        return hash
    }
}
