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
public final class PaxWriter {
    let path: String
    private var fd: Int32
    /// Logical end of the volume: where the next header goes.
    private var end: UInt64 = 0
    /// Bytes not yet written; they belong at `end - pending.count`.
    private var pending: [UInt8] = []
    /// Headers of the member being built (reused).
    private var headers: [UInt8] = []
    private var scratch: [UInt8] = []
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

    /// Where the pieces of a member's headers landed in `headers`.
    private struct HeaderPlan {
        var sizeValueIndex: Int?
        var ustarIndex: Int
        var mapLength: UInt64
        /// Lengths of the non-empty segments of a sparse member.
        var segmentLengths: [UInt64]?
        /// Bytes after the headers (sparse map included) once all data is written.
        var storedSize: UInt64?
    }

    /// Creates the volume file (it must not exist) with exactly `mode`, whatever the umask.
    public init(path: String, mode: UInt32) throws(VolumeError) {
        self.path = path
        guard mode & ~0o7777 == 0 else {
            throw VolumeError(path: path, message: "volume mode \(String(mode, radix: 8)) is not a permission mode")
        }
        let descriptor = Glibc.open(path, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, mode_t(mode))
        guard descriptor >= 0 else {
            throw VolumeError(path: path, message: "cannot create volume: \(PaxWriter.errnoText())")
        }
        guard fchmod(descriptor, mode_t(mode)) == 0 else {
            let text = PaxWriter.errnoText()
            Glibc.close(descriptor)
            unlink(path)
            throw VolumeError(path: path, message: "cannot set volume mode \(String(mode, radix: 8)): \(text)")
        }
        // Make the new directory entry durable too, so a catalog that names the volume never outlives it.
        var parent = path
        if let slash = parent.utf8.lastIndex(of: PaxFormat.slash) {
            parent = slash == parent.utf8.startIndex ? "/" : String(parent[..<slash])
        } else {
            parent = "."
        }
        let directory = Glibc.open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard directory >= 0, fsync(directory) == 0 else {
            let text = PaxWriter.errnoText()
            if directory >= 0 { Glibc.close(directory) }
            Glibc.close(descriptor)
            unlink(path)
            throw VolumeError(path: path, message: "cannot fsync the volume's directory \(parent): \(text)")
        }
        Glibc.close(directory)
        fd = descriptor
        pending.reserveCapacity(PaxWriter.pendingCapacity)
        headers.reserveCapacity(4096)
    }

    deinit {
        if !closed {
            if open == nil && failure == nil { try? flushPending() }
            Glibc.close(fd)
        }
    }

    /// False once an I/O error left the volume's tail unknown (a refused member leaves the writer usable).
    public var isUsable: Bool { failure == nil && !closed }

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
    public func beginMember(_ member: VolumeMember) throws(VolumeError) -> MemberLocation {
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
    public func finishMember(patching records: [VolumeMember.Record]) throws(VolumeError) -> UInt64 {
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
    public func appendGlobalHeader(records: [VolumeMember.Record]) throws(VolumeError) -> UInt64 {
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
    public func finishMember() throws(VolumeError) -> UInt64 {
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
    public func abandonMember() throws(VolumeError) {
        try checkUsable(streaming: true)
        guard let member = open else { throw VolumeError(path: path, offset: end, message: "no member is open") }
        let start = member.location.headerOffset
        let pendingStart = end - UInt64(pending.count)
        if start >= pendingStart {
            pending.removeLast(Int(end - start))
        } else {
            pending.removeAll(keepingCapacity: true)
            guard ftruncate(fd, off_t(start)) == 0 else {
                failure = "cannot truncate an abandoned member: \(PaxWriter.errnoText())"
                throw VolumeError(path: path, offset: start, message: failure!)
            }
        }
        end = start
        open = nil
    }

    /// Writes out gathered data and `fsync`s the volume.
    public func sync() throws(VolumeError) {
        try checkUsable(streaming: true)
        try flushPending()
        guard fsync(fd) == 0 else { throw ioFailure("cannot fsync", at: end) }
    }

    /// Writes the two zero blocks that end an archive, `fsync`s and closes the volume.
    public func close() throws(VolumeError) {
        try checkUsable()
        try emitRaw(PaxWriter.zeros.count)
        try flushPending()
        guard fsync(fd) == 0 else { throw ioFailure("cannot fsync", at: end) }
        closed = true
        guard Glibc.close(fd) == 0 else { throw VolumeError(path: path, message: "cannot close: \(PaxWriter.errnoText())") }
    }

    // MARK: - Headers

    private func refusal(_ member: VolumeMember, _ text: String) -> VolumeError {
        VolumeError(path: path, offset: end, message: "member \(MemberName.display(member.name)): \(text)")
    }

    /// Validates `member` and fills `headers` with its extended header, ustar header and (sparse) map.
    /// `dataSize` nil: streaming member with a patchable size.
    private func buildHeaders(_ member: VolumeMember, dataSize: UInt64?) throws(VolumeError) -> HeaderPlan {
        var name = member.name
        if member.kind == .directory {
            while name.count > 1 && name.last == PaxFormat.slash { name.removeLast() }
        }
        if let problem = PaxWriter.memberNameProblem(name) { throw refusal(member, problem) }
        let typeflag: UInt8
        switch member.kind {
        case .file: typeflag = PaxFormat.Typeflag.regular
        case .directory: typeflag = PaxFormat.Typeflag.directory
        case .symlink: typeflag = PaxFormat.Typeflag.symlink
        case .hardLink: typeflag = PaxFormat.Typeflag.hardLink
        case .fifo: typeflag = PaxFormat.Typeflag.fifo
        case .charDevice: typeflag = PaxFormat.Typeflag.charDevice
        case .blockDevice: typeflag = PaxFormat.Typeflag.blockDevice
        case .socket: throw refusal(member, "sockets cannot be stored in a volume")
        }
        if member.kind != .file, dataSize ?? 0 != 0 { throw refusal(member, "only regular files have data") }
        if member.sparse != nil && member.kind != .file { throw refusal(member, "only regular files can be sparse") }
        switch member.kind {
        case .symlink, .hardLink:
            guard let target = member.linkTarget, !target.isEmpty, !target.contains(0) else {
                throw refusal(member, "a link needs a target without NUL bytes")
            }
            if member.kind == .hardLink, let problem = PaxWriter.memberNameProblem(target) {
                throw refusal(member, "hard link target: " + problem)
            }
        default:
            if member.linkTarget != nil { throw refusal(member, "only links have a link target") }
        }
        guard member.mode & ~0o7777 == 0 else {
            throw refusal(member, "mode \(String(member.mode, radix: 8)) has more than permission bits")
        }
        let isDevice = member.kind == .charDevice || member.kind == .blockDevice
        if isDevice,
            UInt64(member.deviceMajor) > PaxFormat.maxOctal7 || UInt64(member.deviceMinor) > PaxFormat.maxOctal7
        {
            throw refusal(member, "device number \(member.deviceMajor),\(member.deviceMinor) does not fit ustar")
        }
        for time in [member.mtime, member.atime, member.ctime] {
            if let time, time.nanoseconds < 0 || time.nanoseconds >= 1_000_000_000 {
                throw refusal(member, "nanoseconds \(time.nanoseconds) out of range")
            }
        }

        // Sparse map (GNU sparse 1.0): count, then offset and length of each segment, one number a line, padded to
        // 512. A last zero-length segment at the real size makes GNU tar give the file its full length.
        var map: [UInt8] = []
        if let sparse = member.sparse {
            var segments = sparse.segments.filter { $0.length > 0 }
            var previousEnd: UInt64 = 0
            for segment in segments {
                let (segmentEnd, overflow) = segment.offset.addingReportingOverflow(segment.length)
                guard segment.offset >= previousEnd, !overflow, segmentEnd <= sparse.realSize else {
                    throw refusal(member, "sparse segments must ascend, not overlap and end within the real size")
                }
                previousEnd = segmentEnd
            }
            if let dataSize, dataSize != sparse.dataSize {
                throw refusal(member, "the sparse segments hold \(sparse.dataSize) bytes but \(dataSize) were given")
            }
            segments.append(.init(offset: sparse.realSize, length: 0))
            PaxFormat.appendDecimal(UInt64(segments.count), to: &map)
            map.append(UInt8(ascii: "\n"))
            for segment in segments {
                PaxFormat.appendDecimal(segment.offset, to: &map)
                map.append(UInt8(ascii: "\n"))
                PaxFormat.appendDecimal(segment.length, to: &map)
                map.append(UInt8(ascii: "\n"))
            }
            map.append(contentsOf: repeatElement(0, count: Int(PaxFormat.padded(UInt64(map.count))) - map.count))
        }
        let mapLength = UInt64(map.count)
        let segmentLengths = member.sparse.map { $0.segments.map(\.length).filter { $0 > 0 } }
        let storedSize = dataSize.map { size in
            mapLength + (segmentLengths.map { PaxFormat.sparseStoredLength($0) } ?? size)
        }

        var userName: [UInt8] = []
        var groupName: [UInt8] = []
        if let name = member.userName { userName = Array(name.utf8) }
        if let name = member.groupName { groupName = Array(name.utf8) }
        guard !userName.contains(0), !groupName.contains(0) else { throw refusal(member, "owner names contain NUL") }

        // Records.
        headers.removeAll(keepingCapacity: true)
        headers.append(contentsOf: repeatElement(0, count: PaxFormat.blockSize))
        let binary = !PaxFormat.isValidUTF8(name) || !PaxFormat.isValidUTF8(member.linkTarget ?? [])
        if binary { PaxFormat.appendRecord(key: "hdrcharset".utf8, value: "BINARY".utf8, to: &headers) }
        var fullName = name
        if member.kind == .directory && fullName.last != PaxFormat.slash { fullName.append(PaxFormat.slash) }
        if member.sparse == nil {
            PaxFormat.appendRecord(key: "path".utf8, value: fullName, to: &headers)
        }
        if let target = member.linkTarget { PaxFormat.appendRecord(key: "linkpath".utf8, value: target, to: &headers) }
        var sizeValueIndex: Int?
        if let storedSize {
            if storedSize > PaxFormat.maxOctal11 {
                scratch.removeAll(keepingCapacity: true)
                PaxFormat.appendDecimal(storedSize, to: &scratch)
                PaxFormat.appendRecord(key: "size".utf8, value: scratch, to: &headers)
            }
        } else {
            scratch.removeAll(keepingCapacity: true)
            scratch.append(contentsOf: repeatElement(UInt8(ascii: "0"), count: PaxFormat.patchableSizeDigits))
            PaxFormat.appendRecord(key: "size".utf8, value: scratch, to: &headers)
            sizeValueIndex = headers.count - 1 - PaxFormat.patchableSizeDigits
        }
        for (key, id) in [("uid", member.uid), ("gid", member.gid)] where UInt64(id) > PaxFormat.maxOctal7 {
            scratch.removeAll(keepingCapacity: true)
            PaxFormat.appendDecimal(UInt64(id), to: &scratch)
            PaxFormat.appendRecord(key: key.utf8, value: scratch, to: &headers)
        }
        for (key, owner) in [("uname", userName), ("gname", groupName)]
        where owner.count >= PaxFormat.unameField.width || owner.contains(where: { $0 >= 0x80 }) {
            PaxFormat.appendRecord(key: key.utf8, value: owner, to: &headers)
        }
        for (key, time) in [("mtime", member.mtime), ("atime", member.atime), ("ctime", member.ctime)] {
            guard let time else { continue }
            scratch.removeAll(keepingCapacity: true)
            PaxFormat.appendTime(time, to: &scratch)
            PaxFormat.appendRecord(key: key.utf8, value: scratch, to: &headers)
        }
        if let sparse = member.sparse {
            PaxFormat.appendRecord(key: "GNU.sparse.major".utf8, value: "1".utf8, to: &headers)
            PaxFormat.appendRecord(key: "GNU.sparse.minor".utf8, value: "0".utf8, to: &headers)
            PaxFormat.appendRecord(key: "GNU.sparse.name".utf8, value: name, to: &headers)
            scratch.removeAll(keepingCapacity: true)
            PaxFormat.appendDecimal(sparse.realSize, to: &scratch)
            PaxFormat.appendRecord(key: "GNU.sparse.realsize".utf8, value: scratch, to: &headers)
        }
        for (key, acl) in [("SCHILY.acl.access", member.aclAccess), ("SCHILY.acl.default", member.aclDefault)] {
            guard let acl else { continue }
            guard !acl.utf8.contains(0), let value = PaxFormat.aclRecordValue(acl) else {
                throw refusal(member, "ACL text \"\(acl)\" has no entries or contains NUL")
            }
            PaxFormat.appendRecord(key: key.utf8, value: value, to: &headers)
        }
        for xattr in member.xattrs {
            guard !xattr.name.isEmpty, !xattr.name.contains(0), !xattr.name.contains(UInt8(ascii: "\n")) else {
                throw refusal(member, "extended attribute name is empty or contains NUL or newline")
            }
            scratch.removeAll(keepingCapacity: true)
            scratch.append(contentsOf: PaxFormat.xattrKeyPrefix)
            PaxFormat.appendEncodedXattrName(xattr.name, to: &scratch)
            PaxFormat.appendRecord(key: scratch, value: xattr.value, to: &headers)
        }
        // Our records travel inside one POSIX `comment` record (readers must ignore comments; GNU tar warns about
        // every unknown keyword, but not about this one), as records of the same "LEN KEY=VALUE\n" form.
        if !member.records.isEmpty {
            scratch.removeAll(keepingCapacity: true)
            for record in member.records {
                let key = record.key.utf8
                guard record.key.hasPrefix(VolumeMember.recordPrefix), key.count > VolumeMember.recordPrefix.utf8.count,
                    !key.contains(UInt8(ascii: "=")), !key.contains(0), !key.contains(UInt8(ascii: "\n"))
                else {
                    throw refusal(
                        member, "record key \"\(record.key)\" must start with \(VolumeMember.recordPrefix) and hold no =")
                }
                PaxFormat.appendRecord(key: key, value: record.value, to: &scratch)
            }
            PaxFormat.appendRecord(key: "comment".utf8, value: scratch, to: &headers)
        }
        let recordsLength = headers.count - PaxFormat.blockSize
        headers.append(contentsOf: repeatElement(0, count: Int(PaxFormat.padded(UInt64(headers.count))) - headers.count))

        // The extended header's own ustar header.
        let baseName = PaxFormat.baseName(name)
        scratch.removeAll(keepingCapacity: true)
        scratch.append(contentsOf: "PaxHeaders/".utf8)
        scratch.append(contentsOf: baseName.prefix(PaxFormat.nameField.width - scratch.count))
        let clampedMtime = UInt64(clamping: max(0, member.mtime.seconds))
        putUstar(
            at: 0, name: scratch[...], prefix: [][...], mode: 0o644, uid: 0, gid: 0, size: UInt64(recordsLength),
            mtime: min(clampedMtime, PaxFormat.maxOctal11), typeflag: PaxFormat.Typeflag.extended, linkName: [],
            userName: [], groupName: [], deviceMajor: 0, deviceMinor: 0)

        // The member's ustar header: what fits; the records override the rest.
        var ustarName = fullName
        if member.sparse != nil {
            ustarName = []
            if let slash = name.lastIndex(of: PaxFormat.slash) {
                ustarName.append(contentsOf: name[..<slash])
            } else {
                ustarName.append(PaxFormat.dot)
            }
            ustarName.append(contentsOf: "/GNUSparseFile.0/".utf8)
            ustarName.append(contentsOf: baseName)
        }
        let split = PaxFormat.splitUstarName(ustarName) ?? ([][...], ustarName.prefix(PaxFormat.nameField.width))
        let ustarIndex = headers.count
        headers.append(contentsOf: repeatElement(0, count: PaxFormat.blockSize))
        let fits = { (owner: [UInt8]) in
            owner.count < PaxFormat.unameField.width && !owner.contains(where: { $0 >= 0x80 }) ? owner : []
        }
        putUstar(
            at: ustarIndex, name: split.name, prefix: split.prefix, mode: member.mode,
            uid: UInt64(member.uid) <= PaxFormat.maxOctal7 ? UInt64(member.uid) : 0,
            gid: UInt64(member.gid) <= PaxFormat.maxOctal7 ? UInt64(member.gid) : 0,
            size: storedSize.map { $0 <= PaxFormat.maxOctal11 ? $0 : 0 } ?? 0,
            mtime: member.mtime.seconds >= 0 && UInt64(member.mtime.seconds) <= PaxFormat.maxOctal11 ? clampedMtime : 0,
            typeflag: typeflag, linkName: member.linkTarget ?? [], userName: fits(userName),
            groupName: fits(groupName), deviceMajor: isDevice ? UInt64(member.deviceMajor) : 0,
            deviceMinor: isDevice ? UInt64(member.deviceMinor) : 0)
        headers.append(contentsOf: map)
        return HeaderPlan(
            sizeValueIndex: sizeValueIndex, ustarIndex: ustarIndex, mapLength: mapLength,
            segmentLengths: segmentLengths, storedSize: storedSize)
    }

    private func putUstar(
        at base: Int, name: ArraySlice<UInt8>, prefix: ArraySlice<UInt8>, mode: UInt32, uid: UInt64, gid: UInt64,
        size: UInt64, mtime: UInt64, typeflag: UInt8, linkName: [UInt8], userName: [UInt8], groupName: [UInt8],
        deviceMajor: UInt64, deviceMinor: UInt64
    ) {
        PaxFormat.putBytes(name, PaxFormat.nameField, into: &headers, base: base)
        PaxFormat.putOctal(UInt64(mode), PaxFormat.modeField, into: &headers, base: base)
        PaxFormat.putOctal(uid, PaxFormat.uidField, into: &headers, base: base)
        PaxFormat.putOctal(gid, PaxFormat.gidField, into: &headers, base: base)
        PaxFormat.putOctal(size, PaxFormat.sizeField, into: &headers, base: base)
        PaxFormat.putOctal(mtime, PaxFormat.mtimeField, into: &headers, base: base)
        headers[base + PaxFormat.typeflagOffset] = typeflag
        PaxFormat.putBytes(linkName, PaxFormat.linkNameField, into: &headers, base: base)
        PaxFormat.putBytes("ustar\0".utf8, PaxFormat.magicField, into: &headers, base: base)
        PaxFormat.putBytes("00".utf8, PaxFormat.versionField, into: &headers, base: base)
        PaxFormat.putBytes(userName, PaxFormat.unameField, into: &headers, base: base)
        PaxFormat.putBytes(groupName, PaxFormat.gnameField, into: &headers, base: base)
        PaxFormat.putOctal(deviceMajor, PaxFormat.devMajorField, into: &headers, base: base)
        PaxFormat.putOctal(deviceMinor, PaxFormat.devMinorField, into: &headers, base: base)
        PaxFormat.putBytes(prefix, PaxFormat.prefixField, into: &headers, base: base)
        PaxFormat.putChecksum(into: &headers, base: base)
    }

    /// Why `name` cannot be a member name (absolute, a ".." component, empty, NUL), or nil.
    static func memberNameProblem(_ name: [UInt8]) -> String? {
        if name.isEmpty { return "the name is empty" }
        if name.first == PaxFormat.slash { return "the name is absolute (strip the leading \"/\")" }
        if name.contains(0) { return "the name contains a NUL byte" }
        if name.split(separator: PaxFormat.slash, omittingEmptySubsequences: true).contains(where: {
            $0.count == 2 && $0.first == PaxFormat.dot && $0.last == PaxFormat.dot
        }) {
            return "the name has a \"..\" component"
        }
        return nil
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

    private func ioFailure(_ what: String, at offset: UInt64) -> VolumeError {
        let text = "\(what): \(PaxWriter.errnoText())"
        failure = text
        return VolumeError(path: path, offset: offset, message: text)
    }

    private static func errnoText() -> String { String(cString: strerror(errno)) }

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
        var done = 0
        while done < bytes.count {
            let count = pwrite(fd, bytes.baseAddress! + done, bytes.count - done, off_t(offset + UInt64(done)))
            if count < 0 {
                if errno == EINTR { continue }
                throw ioFailure("cannot write", at: offset + UInt64(done))
            }
            done += count
        }
    }
}
