/// A growable byte buffer holding the path being visited, always NUL-terminated so that any suffix of it can be
/// handed to a system call. Names are appended and truncated in place: no allocation per entry.
///
/// `base` may move when the buffer grows, so pointers into it are valid only until the next `append`.
final class PathBuffer {
    private(set) var base: UnsafeMutablePointer<UInt8>
    private(set) var count = 0
    private var capacity: Int

    init(capacity: Int = 4096) {
        self.capacity = capacity
        base = .allocate(capacity: capacity)
        base[0] = 0
    }

    deinit { base.deallocate() }

    /// The current path, without the terminating NUL.
    var bytes: UnsafeBufferPointer<UInt8> { UnsafeBufferPointer(start: base, count: count) }

    /// A copy of the current path.
    var array: [UInt8] { Array(bytes) }

    /// A copy of the first `length` bytes.
    func prefix(_ length: Int) -> [UInt8] { Array(UnsafeBufferPointer(start: base, count: length)) }

    func reset<C: Collection>(to path: C) where C.Element == UInt8 {
        count = 0
        append(path)
    }

    func append<C: Collection>(_ bytes: C) where C.Element == UInt8 {
        reserve(bytes.count)
        for byte in bytes {
            base[count] = byte
            count += 1
        }
        base[count] = 0
    }

    func append(_ bytes: UnsafePointer<UInt8>, count length: Int) {
        reserve(length)
        (base + count).update(from: bytes, count: length)
        count += length
        base[count] = 0
    }

    func append(byte: UInt8) {
        reserve(1)
        base[count] = byte
        count += 1
        base[count] = 0
    }

    func truncate(to length: Int) {
        precondition(length <= count)
        count = length
        base[count] = 0
    }

    private func reserve(_ extra: Int) {
        let needed = count + extra + 1
        guard needed > capacity else { return }
        var newCapacity = capacity * 2
        while newCapacity < needed { newCapacity *= 2 }
        let newBase = UnsafeMutablePointer<UInt8>.allocate(capacity: newCapacity)
        newBase.update(from: base, count: count + 1)
        base.deallocate()
        base = newBase
        capacity = newCapacity
    }
}

@available(*, unavailable)
extension PathBuffer: Sendable {}
