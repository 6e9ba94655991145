#if canImport(Glibc)
    import Glibc
#endif

/// MD5 (RFC 1321) in Swift, for the one place the product needs MD5 as an identifier rather than for security:
/// the FileSet identity Bareos defines as an MD5. An OpenSSL in FIPS mode refuses MD5; the identity must still be
/// computed, the same on every host, so `FileSetIdentity` falls back to this. Not fast, never used for data.
struct PortableMD5 {
    private var state: (UInt32, UInt32, UInt32, UInt32) = (0x6745_2301, 0xEFCD_AB89, 0x98BA_DCFE, 0x1032_5476)
    private var pending: [UInt8] = []
    private var length: UInt64 = 0

    /// Per-round left rotations, four per round.
    private static let shifts: [UInt32] = [7, 12, 17, 22, 5, 9, 14, 20, 4, 11, 16, 23, 6, 10, 15, 21]
    /// floor(abs(sin(i + 1)) * 2^32) for i in 0..<64.
    private static let sines: [UInt32] = (0..<64).map { UInt32(truncatingIfNeeded: Int64((abs(sin(Double($0 + 1))) * 4_294_967_296).rounded(.down))) }

    mutating func update(_ bytes: some Collection<UInt8>) {
        length &+= UInt64(bytes.count)
        pending.append(contentsOf: bytes)
        var start = 0
        while pending.count - start >= 64 {
            block(pending[start..<start + 64])
            start += 64
        }
        pending.removeFirst(start)
    }

    mutating func finalize() -> [UInt8] {
        let bits = length &* 8
        var tail: [UInt8] = [0x80]
        while (pending.count + tail.count) % 64 != 56 { tail.append(0) }
        for index in 0..<8 { tail.append(UInt8(truncatingIfNeeded: bits >> (8 * UInt64(index)))) }
        let saved = length
        update(tail)
        length = saved
        var out: [UInt8] = []
        for word in [state.0, state.1, state.2, state.3] {
            for index in 0..<4 { out.append(UInt8(truncatingIfNeeded: word >> (8 * UInt32(index)))) }
        }
        return out
    }

    private mutating func block(_ chunk: ArraySlice<UInt8>) {
        var words = [UInt32](repeating: 0, count: 16)
        let base = chunk.startIndex
        for index in 0..<16 {
            let offset = base + index * 4
            words[index] =
                UInt32(chunk[offset]) | UInt32(chunk[offset + 1]) << 8 | UInt32(chunk[offset + 2]) << 16
                | UInt32(chunk[offset + 3]) << 24
        }
        var (a, b, c, d) = state
        for step in 0..<64 {
            let mixed: UInt32
            let word: Int
            switch step / 16 {
            case 0:
                mixed = (b & c) | (~b & d)
                word = step
            case 1:
                mixed = (d & b) | (~d & c)
                word = (5 * step + 1) % 16
            case 2:
                mixed = b ^ c ^ d
                word = (3 * step + 5) % 16
            default:
                mixed = c ^ (b | ~d)
                word = (7 * step) % 16
            }
            let shift = Self.shifts[(step / 16) * 4 + step % 4]
            let sum = a &+ mixed &+ Self.sines[step] &+ words[word]
            (a, d, c) = (d, c, b)
            b = b &+ (sum << shift | sum >> (32 - shift))
        }
        state = (state.0 &+ a, state.1 &+ b, state.2 &+ c, state.3 &+ d)
    }
}
