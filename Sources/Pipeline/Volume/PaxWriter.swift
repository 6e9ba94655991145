#if canImport(Glibc)
import Glibc
#endif

/// Appends members to one new volume file in POSIX pax format (GNU tar reads it).
///
/// Each member is a pax extended header (`x`), a ustar header and the data padded to 512 bytes. Small writes are
/// gathered in memory and written in large pieces; `sync()` (and `close()`) write them out and `fsync` the file, so
/// a caller marks members done in the catalog only after `sync()` returned.
///
/// Single-threaded use: one thread owns a writer. After an I/O error the writer refuses further work (the volume's
/// tail is then unknown); a member refused for what it describes (bad name, socket, ...) leaves it usable.
final class PaxWriter {
    let path: String
    private var fd: FileDescriptor
    /// Logical end of the volume: where the next header goes.
    private(set) var end: UInt64 = 0
    /// Bytes not yet written; they belong at `end - pending.count`.
    private var pending: [UInt8] = []
    /// Headers of the member being built (reused).
    var headers: [UInt8] = []
    var scratch: [UInt8] = []
    private var open: OpenMember?
    private var failure: String?
    private var closed = false

    private static let pendingCapacity = 1 << 20
    /// Pieces at least this long bypass `pending`.
    private static let directThreshold = 1 << 18
    private static let zeros = [UInt8](repeating: 0, count: 1024)

    /// A streaming member between `beginMember` and `finishMember`.
    private struct OpenMember {
        var location: MemberLocation
        var sizeValueOffset: UInt64
        var ustarOffset: UInt64
        var ustarBlock: [UInt8]
        var mapLength: UInt64
        var sparse: SparseCursor?
        var written: UInt64 = 0
        /// Where the values of the member's own records are, so `finishMember(patching:)` can fill them in.
        var recordValues: [String: (offset: UInt64, length: Int)] = [:]
    }

    /// Where the data of a sparse member has got to: segment `index`, `remaining` bytes of it still to come.
    private struct SparseCursor {
        var lengths: [UInt64]
        var index = 0
        var remaining: UInt64

        init(lengths: [UInt64]) {
            self.lengths = lengths
            remaining = lengths.first ?? 0
        }

        var total: UInt64 { lengths.reduce(0, +) }
        var complete: Bool { index >= lengths.count }
    }

    /// Creates the volume file (it must not exist) with exactly `mode`, whatever the umask.
    public init(path: String, mode: UInt32) throws(VolumeError) {
        self.path = path
        guard mode & ~0o7777 == 0 else {
            throw VolumeError(path: path, message: "volume mode \(String(mode, radix: 8)) is not a permission mode")
        }
        let descriptor: FileDescriptor
        do {
            descriptor = try FileDescriptor.open(path, O_CREAT | O_EXCL | O_WRONLY, mode: mode_t(mode))
        } catch {
            throw VolumeError(path: path, message: error.message("cannot create volume"))
        }
        do {
            _ = try SystemCall.retrying { fchmod(descriptor.rawValue, mode_t(mode)) }
        } catch {
            try? descriptor.close()
            unlink(path)
            throw VolumeError(path: path, message: error.message("cannot set volume mode \(String(mode, radix: 8))"))
        }
        // Make the new directory entry durable too, so a catalog that names the volume never outlives it.
        var parent = path
        if let slash = parent.utf8.lastIndex(of: PaxFormat.slash) {
            parent = slash == parent.utf8.startIndex ? "/" : String(parent[..<slash])
        } else {
            parent = "."
        }
        do {
            let directory = try FileDescriptor.open(parent, O_RDONLY | O_DIRECTORY)
            try directory.closeAfter { () throws(Errno) in try directory.sync() }
        } catch {
            try? descriptor.close()
            unlink(path)
            throw VolumeError(path: path, message: error.message("cannot fsync the volume's directory \(parent)"))
        }
        fd = descriptor
        pending.reserveCapacity(PaxWriter.pendingCapacity)
        headers.reserveCapacity(4096)
    }

    deinit {
        if !closed {
            if open == nil && failure == nil { try? flushPending() }
            try? fd.close()
        }
    }

    /// False once an I/O error left the volume's tail unknown (a refused member leaves the writer usable).
    var isUsable: Bool { failure == nil && !closed }

    /// Current end of the volume (the offset the next member's header gets).
    public var offset: UInt64 { end }

    // MARK: - Members

    /// Writes header(s), data and padding of a member whose data is in memory (`data.count` must equal
    /// `member.size`; for a sparse file the data is the segments' bytes, and the writer puts the map in front).
    public func append(_ member: VolumeMember, data: UnsafeRawBufferPointer) throws(VolumeError) -> MemberLocation {
        try checkUsable()
        guard member.size == UInt64(data.count) else {
            throw refusal(member, "its size \(member.size) differs from the \(data.count) data bytes given")
        }
        let plan = try buildHeaders(member, dataSize: UInt64(data.count))
        let headerOffset = end
        try headers.withVolumeBytes { (bytes) throws(VolumeError) in try emit(bytes) }
        let dataOffset = end
        if let lengths = plan.segmentLengths {
            var cursor = SparseCursor(lengths: lengths)
            try emitSparse(data, cursor: &cursor)
        } else {
            try emit(data)
        }
        try emitPadding(for: plan.storedSize ?? 0)
        return MemberLocation(headerOffset: headerOffset, dataOffset: dataOffset)
    }

    /// Starts a member whose stored size is not known yet: its headers carry a size placeholder (a zero-padded
    /// 20-digit pax `size` record and the ustar size field) that `finishMember()` patches. `member.size` is ignored.
    func beginMember(_ member: VolumeMember) throws(VolumeError) -> MemberLocation {
        try checkUsable()
        guard member.kind == .file else { throw refusal(member, "only regular files are written in pieces") }
        let plan = try buildHeaders(member, dataSize: nil)
        let headerOffset = end
        let ustarBlock = Array(headers[plan.ustarIndex..<(plan.ustarIndex + PaxFormat.blockSize)])
        try headers.withVolumeBytes { (bytes) throws(VolumeError) in try emit(bytes) }
        let location = MemberLocation(headerOffset: headerOffset, dataOffset: end)
        open = OpenMember(
            location: location, sizeValueOffset: headerOffset + UInt64(plan.sizeValueIndex ?? 0),
            ustarOffset: headerOffset + UInt64(plan.ustarIndex), ustarBlock: ustarBlock, mapLength: plan.mapLength,
            sparse: plan.segmentLengths.map { SparseCursor(lengths: $0) },
            recordValues: PaxWriter.recordValueOffsets(member.records, in: headers, base: headerOffset,
                limit: plan.ustarIndex))
        return location
    }

    /// Appends data to the member started by `beginMember`.
    public func write(_ data: UnsafeRawBufferPointer) throws(VolumeError) {
        try checkUsable(streaming: true)
        guard var member = open else { throw VolumeError(path: path, offset: end, message: "no member is open") }
        if var cursor = member.sparse {
            guard member.written + UInt64(data.count) <= cursor.total else {
                throw VolumeError(
                    path: path, offset: member.location.headerOffset,
                    message: "more data than the sparse segments hold (\(cursor.total) bytes)")
            }
            try emitSparse(data, cursor: &cursor)
            member.sparse = cursor
        } else {
            try emit(data)
        }
        member.written += UInt64(data.count)
        open = member
    }

    /// Finds the value of each of our records in the built headers (before the ustar header at `limit`).
    private static func recordValueOffsets(
        _ records: [VolumeMember.Record], in headers: [UInt8], base: UInt64, limit: Int
    ) -> [String: (offset: UInt64, length: Int)] {
        var result: [String: (offset: UInt64, length: Int)] = [:]
        for record in records {
            let needle = Array(" \(record.key)=".utf8)
            // The placeholders are the last records of the header, after every name and value a user controls,
            // so the last occurrence is the right one even if a file name contains the same text.
            guard let range = PaxWriter.lastRange(of: needle, in: headers[0..<limit]) else { continue }
            result[record.key] = (base + UInt64(range.upperBound), record.value.count)
        }
        return result
    }

    private static func lastRange(of needle: [UInt8], in haystack: ArraySlice<UInt8>) -> Range<Int>? {
        guard needle.count <= haystack.count else { return nil }
        var start = haystack.endIndex - needle.count
        while start >= haystack.startIndex {
            if haystack[start..<(start + needle.count)].elementsEqual(needle) { return start..<(start + needle.count) }
            start -= 1
        }
        return nil
    }

    /// Ends the member started by `beginMember` like `finishMember()`, first overwriting the values of some of its
    /// own records (written with placeholders of the same length, e.g. digests known only after the data).
    func finishMember(patching records: [VolumeMember.Record]) throws(VolumeError) -> UInt64 {
        try checkUsable(streaming: true)
        guard let member = open else { throw VolumeError(path: path, offset: end, message: "no member is open") }
        for record in records {
            guard let place = member.recordValues[record.key], place.length == record.value.count else {
                throw VolumeError(
                    path: path, offset: member.location.headerOffset,
                    message: "record \(record.key) has no placeholder of \(record.value.count) bytes to patch")
            }
            try record.value.withVolumeBytes { (bytes) throws(VolumeError) in try patch(bytes, at: place.offset) }
        }
        return try finishMember()
    }

    /// Appends a pax global header (`g`) that holds only our records, packed in a `comment` (a job label at the
    /// start of a volume, a job trailer at its end). Readers, GNU tar included, apply nothing from it.
    /// - Returns: the header's offset.
    @discardableResult
    func appendGlobalHeader(records: [VolumeMember.Record]) throws(VolumeError) -> UInt64 {
        try checkUsable()
        guard open == nil else { throw VolumeError(path: path, offset: end, message: "a member is still open") }
        scratch.removeAll(keepingCapacity: true)
        for record in records {
            guard record.key.hasPrefix(VolumeMember.recordPrefix), !record.key.utf8.contains(UInt8(ascii: "=")) else {
                throw VolumeError(path: path, offset: end, message: "record key \"\(record.key)\" is not one of ours")
            }
            PaxFormat.appendRecord(key: record.key.utf8, value: record.value, to: &scratch)
        }
        headers.removeAll(keepingCapacity: true)
        headers.append(contentsOf: repeatElement(0, count: PaxFormat.blockSize))
        PaxFormat.appendRecord(key: "comment".utf8, value: scratch, to: &headers)
        let recordsLength = headers.count - PaxFormat.blockSize
        headers.append(contentsOf: repeatElement(0, count: Int(PaxFormat.padded(UInt64(headers.count))) - headers.count))
        putUstar(
            at: 0, name: Array("OptionPipelineLabel".utf8)[...], prefix: [][...], mode: 0o644, uid: 0, gid: 0,
            size: UInt64(recordsLength), mtime: 0, typeflag: PaxFormat.Typeflag.global, linkName: [], userName: [],
            groupName: [], deviceMajor: 0, deviceMinor: 0)
        let offset = end
        try headers.withVolumeBytes { (bytes) throws(VolumeError) in try emit(bytes) }
        return offset
    }

    /// Writes out gathered data without waiting for the disk (another descriptor may `fsync` the file then).
    public func flush() throws(VolumeError) {
        try checkUsable(streaming: true)
        try flushPending()
    }

    /// Ends the member started by `beginMember`: patches its size into the headers and pads the data.
    /// Returns the number of data bytes written (the member's `size`).
    func finishMember() throws(VolumeError) -> UInt64 {
        try checkUsable(streaming: true)
        guard var member = open else { throw VolumeError(path: path, offset: end, message: "no member is open") }
        var stored = member.mapLength + member.written
        if let cursor = member.sparse {
            guard cursor.complete else {
                throw VolumeError(
                    path: path, offset: member.location.headerOffset,
                    message: "the sparse segments hold \(cursor.total) bytes but \(member.written) were written")
            }
            stored = member.mapLength + PaxFormat.sparseStoredLength(cursor.lengths)
        }
        scratch.removeAll(keepingCapacity: true)
        PaxFormat.appendDecimal(stored, to: &scratch, width: PaxFormat.patchableSizeDigits)
        try scratch.withVolumeBytes { (bytes) throws(VolumeError) in try patch(bytes, at: member.sizeValueOffset) }
        PaxFormat.putOctal(
            stored <= PaxFormat.maxOctal11 ? stored : 0, PaxFormat.sizeField, into: &member.ustarBlock, base: 0)
        PaxFormat.putChecksum(into: &member.ustarBlock, base: 0)
        try member.ustarBlock.withVolumeBytes { (bytes) throws(VolumeError) in
            try patch(bytes, at: member.ustarOffset)
        }
        try emitPadding(for: stored)
        open = nil
        return member.written
    }

    /// Drops the member started by `beginMember` (e.g. its source failed while read): the volume ends again where
    /// the member's headers began.
    func abandonMember() throws(VolumeError) {
        try checkUsable(streaming: true)
        guard let member = open else { throw VolumeError(path: path, offset: end, message: "no member is open") }
        let start = member.location.headerOffset
        let pendingStart = end - UInt64(pending.count)
        if start >= pendingStart {
            pending.removeLast(Int(end - start))
        } else {
            pending.removeAll(keepingCapacity: true)
            do {
                _ = try SystemCall.retrying { ftruncate(fd.rawValue, off_t(start)) }
            } catch {
                throw ioFailure(error, "cannot truncate an abandoned member", at: start)
            }
        }
        end = start
        open = nil
    }

    /// Writes out gathered data and `fsync`s the volume.
    public func sync() throws(VolumeError) {
        try checkUsable(streaming: true)
        try flushPending()
        do { try fd.sync() } catch { throw ioFailure(error, "cannot fsync", at: end) }
    }

    /// Writes the two zero blocks that end an archive, `fsync`s and closes the volume.
    public func close() throws(VolumeError) {
        try checkUsable()
        try emitRaw(PaxWriter.zeros.count)
        try flushPending()
        do { try fd.sync() } catch { throw ioFailure(error, "cannot fsync", at: end) }
        closed = true
        do { try fd.close() } catch { throw VolumeError(path: path, message: error.message("cannot close")) }
    }

    // MARK: - Output

    private func checkUsable(streaming: Bool = false) throws(VolumeError) {
        if closed { throw VolumeError(path: path, message: "the volume is closed") }
        if let failure { throw VolumeError(path: path, offset: end, message: "unusable after an earlier error: \(failure)") }
        if !streaming, let open {
            throw VolumeError(
                path: path, offset: open.location.headerOffset, message: "a member written in pieces is still open")
        }
    }

    /// An I/O error: the volume's tail is unknown from here on, so the writer refuses further work.
    private func ioFailure(_ error: Errno, _ what: String, at offset: UInt64) -> VolumeError {
        let text = error.message(what)
        failure = text
        return VolumeError(path: path, offset: offset, message: text)
    }

    private func emit(_ bytes: UnsafeRawBufferPointer) throws(VolumeError) {
        if bytes.count >= PaxWriter.directThreshold {
            try flushPending()
            try writeAll(bytes, at: end)
            end += UInt64(bytes.count)
            return
        }
        if pending.count + bytes.count > PaxWriter.pendingCapacity { try flushPending() }
        pending.append(contentsOf: bytes)
        end += UInt64(bytes.count)
    }

    /// Appends `count` zero bytes (at most 1024).
    private func emitRaw(_ count: Int) throws(VolumeError) {
        try PaxWriter.zeros.withVolumeBytes { (zeros) throws(VolumeError) in
            try emit(UnsafeRawBufferPointer(rebasing: zeros[0..<count]))
        }
    }

    private func emitPadding(for length: UInt64) throws(VolumeError) {
        let padding = Int(PaxFormat.padded(length) - length)
        if padding > 0 { try emitRaw(padding) }
    }

    /// Emits segment bytes of a sparse member, padding each finished segment but the last to 512 bytes.
    private func emitSparse(_ data: UnsafeRawBufferPointer, cursor: inout SparseCursor) throws(VolumeError) {
        var position = 0
        while true {
            while cursor.remaining == 0 && !cursor.complete {
                if cursor.index < cursor.lengths.count - 1 { try emitPadding(for: cursor.lengths[cursor.index]) }
                cursor.index += 1
                cursor.remaining = cursor.complete ? 0 : cursor.lengths[cursor.index]
            }
            guard position < data.count else { return }
            let count = Int(min(UInt64(data.count - position), cursor.remaining))
            guard count > 0 else {
                throw VolumeError(path: path, offset: end, message: "more data than the sparse segments hold")
            }
            try emit(UnsafeRawBufferPointer(rebasing: data[position..<(position + count)]))
            position += count
            cursor.remaining -= UInt64(count)
        }
    }

    private func flushPending() throws(VolumeError) {
        guard !pending.isEmpty else { return }
        let start = end - UInt64(pending.count)
        try pending.withVolumeBytes { (bytes) throws(VolumeError) in try writeAll(bytes, at: start) }
        pending.removeAll(keepingCapacity: true)
    }

    /// Overwrites bytes already emitted (in `pending` or in the file).
    private func patch(_ bytes: UnsafeRawBufferPointer, at offset: UInt64) throws(VolumeError) {
        let pendingStart = end - UInt64(pending.count)
        var index = 0
        if offset < pendingStart {
            let onDisk = Int(min(UInt64(bytes.count), pendingStart - offset))
            try writeAll(UnsafeRawBufferPointer(rebasing: bytes[0..<onDisk]), at: offset)
            index = onDisk
        }
        while index < bytes.count {
            pending[Int(offset + UInt64(index) - pendingStart)] = bytes[index]
            index += 1
        }
    }

    private func writeAll(_ bytes: UnsafeRawBufferPointer, at offset: UInt64) throws(VolumeError) {
        do {
            try fd.writeAll(bytes, at: offset)
        } catch {
            throw ioFailure(error, "cannot write", at: offset)
        }
    }
}
