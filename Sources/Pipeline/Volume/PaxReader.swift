#if canImport(Glibc)
import Glibc
#endif

/// Reads a volume: in order with `next()` (catalog rebuild, verify) or one member at a known header offset (restore).
///
/// Names are returned as stored (bytes, not checked); use `MemberName.safeComponents` before turning one into a
/// path. Besides our own volumes it reads what GNU tar writes in pax, ustar and GNU format ('g' global headers,
/// 'L'/'K' long names), except the old GNU sparse formats.
final class PaxReader {
    let path: String
    private let fd: FileDescriptor
    private let fileSize: UInt64
    /// Header offset of the member `next()` returns.
    private var position: UInt64 = 0
    private var finished = false
    /// Records of 'g' headers seen by `next()`; they apply to every later member.
    private var globalRecords: [(key: [UInt8], value: [UInt8])] = []
    /// Our records from global headers met so far by `next()` (job labels and trailers), in volume order.
    public private(set) var labels: [[VolumeMember.Record]] = []
    /// A window of the file kept for header reads: `windowLength` bytes from `windowStart` (the buffer may be
    /// longer).
    private var window: [UInt8] = []
    private var windowStart: UInt64 = 0
    private var windowLength = 0

    private static let windowSize = 32 * 1024
    /// Upper bound for one extended header, long name or sparse map (against corrupt sizes).
    private static let maxMetadataSize: UInt64 = 64 << 20

    public init(path: String) throws(VolumeError) {
        self.path = path
        let descriptor: FileDescriptor
        do {
            descriptor = try FileDescriptor.open(path, O_RDONLY)
        } catch {
            throw VolumeError(path: path, message: error.message("cannot open volume"))
        }
        let info: stat
        do {
            info = try descriptor.status()
        } catch {
            try? descriptor.close()
            throw VolumeError(path: path, message: error.message("cannot stat volume"))
        }
        fd = descriptor
        fileSize = UInt64(clamping: info.st_size)
    }

    deinit { try? fd.close() }

    /// The next member and where it is, skipping the previous member's data; nil at the end blocks or at the end
    /// of the file. A damaged header (bad checksum, malformed records, data past the end of the file) throws.
    public func next() throws(VolumeError) -> (VolumeMember, MemberLocation)? {
        guard !finished else { return nil }
        guard let parsed = try parse(at: position, global: true) else {
            finished = true
            return nil
        }
        position = parsed.nextHeader
        return (parsed.member, parsed.location)
    }

    /// The member whose first header is at `headerOffset` (a `MemberLocation.headerOffset`). With
    /// `ourRecords` false the member's `OPTIONPIPELINE.*` records are skipped, not decoded: restore and verify
    /// take those values from the catalog, and decoding them was a tenth of a small file's restore.
    public func member(at headerOffset: UInt64, ourRecords: Bool = true) throws(VolumeError) -> (VolumeMember, MemberLocation) {
        guard headerOffset % UInt64(PaxFormat.blockSize) == 0 else {
            throw VolumeError(path: path, offset: headerOffset, message: "not a header offset (not a multiple of 512)")
        }
        guard let parsed = try parse(at: headerOffset, global: false, ourRecords: ourRecords) else {
            throw VolumeError(path: path, offset: headerOffset, message: "no member here (end of archive)")
        }
        return (parsed.member, parsed.location)
    }

    /// Reads the stored data of a member (`member.size` bytes at `location.dataOffset`) in chunks of at most
    /// `chunkSize` bytes, calling `body` with each; the chunk memory is reused between calls.
    func readData(
        of member: VolumeMember, at location: MemberLocation, chunkSize: Int = 1 << 20,
        _ body: (UnsafeRawBufferPointer) throws -> Void
    ) throws {
        // The pieces to read: the whole data, or each segment of a sparse file (every segment but the last is
        // padded to 512 bytes in the volume).
        var lengths = [member.size]
        var storedLength = member.size
        if let sparse = member.sparse {
            lengths = sparse.segments.map(\.length).filter { $0 > 0 }
            guard lengths.reduce(0, PaxFormat.saturatingSum) == member.size else {
                throw VolumeError(
                    path: path, offset: location.headerOffset,
                    message: "the sparse segments do not hold the member's \(member.size) bytes")
            }
            storedLength = PaxFormat.sparseStoredLength(lengths)
        }
        let dataEnd = PaxFormat.saturatingSum(location.dataOffset, storedLength)
        guard dataEnd <= fileSize else {
            throw VolumeError(
                path: path, offset: location.dataOffset,
                message: "member data (\(storedLength) bytes) runs past the end of the volume (\(fileSize) bytes)")
        }
        // Everything below lies within the file, so no sum overflows.
        var pieces: [(offset: UInt64, length: UInt64)] = []
        var pieceOffset = location.dataOffset
        for length in lengths {
            pieces.append((pieceOffset, length))
            pieceOffset += min(PaxFormat.padded(length), fileSize - pieceOffset)
        }
        guard member.size > 0 else { return }
        // Data that the header read already brought into the window is handed over from there: for small
        // members one read serves the headers and data of several, instead of two reads per member.
        if member.sparse == nil, member.size <= UInt64(max(chunkSize, 1)), location.dataOffset >= windowStart,
            location.dataOffset + member.size <= windowStart + UInt64(windowLength)
        {
            let start = Int(location.dataOffset - windowStart)
            try window.withUnsafeBytes { all in
                try body(UnsafeRawBufferPointer(rebasing: all[start..<(start + Int(member.size))]))
            }
            return
        }
        let capacity = Int(min(UInt64(max(chunkSize, 1)), member.size))
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: capacity, alignment: 16)
        defer { buffer.deallocate() }
        for piece in pieces {
            var offset = piece.offset
            let end = piece.offset + piece.length
            while offset < end {
                let count = Int(min(UInt64(capacity), end - offset))
                let chunk = UnsafeMutableRawBufferPointer(rebasing: buffer[0..<count])
                try readFully(into: chunk, at: offset)
                try body(UnsafeRawBufferPointer(chunk))
                offset += UInt64(count)
            }
        }
    }

    // MARK: - Parsing

    private typealias Record = (key: ArraySlice<UInt8>, value: ArraySlice<UInt8>)

    private struct Parsed {
        var member: VolumeMember
        var location: MemberLocation
        var nextHeader: UInt64
    }

    private func corrupt(_ offset: UInt64, _ text: String) -> VolumeError {
        VolumeError(path: path, offset: offset, message: text)
    }

    /// Parses the headers of one member starting at `start`; nil at an end block or at the end of the file.
    /// `global`: 'g' headers update `globalRecords` (sequential reading).
    private func parse(at start: UInt64, global: Bool, ourRecords: Bool = true) throws(VolumeError) -> Parsed? {
        // Records are slices of the header window until the member is built (no copy per record).
        var records: [Record] = global ? globalRecords.map { (key: $0.key[...], value: $0.value[...]) } : []
        var longName: [UInt8]?
        var longLink: [UInt8]?
        var memberStart = start
        var current = start
        while true {
            if current >= fileSize {
                if current == memberStart && current == fileSize { return nil }
                throw corrupt(current, "the volume ends inside a member's headers (truncated)")
            }
            guard fileSize - current >= UInt64(PaxFormat.blockSize) else {
                throw corrupt(current, "the volume ends inside a header block (truncated)")
            }
            let block = try bytes(at: current, count: PaxFormat.blockSize)
            if block.allSatisfy({ $0 == 0 }) {
                if current == memberStart { return nil }
                throw corrupt(current, "an end block follows an extended header")
            }
            try verifyChecksum(block, at: current)
            let sizeStart = block.startIndex + PaxFormat.sizeField.offset
            guard let rawSize = PaxFormat.parseNumber(block[sizeStart..<(sizeStart + PaxFormat.sizeField.width)]),
                rawSize >= 0
            else {
                throw corrupt(current, "the header's size field is not a number")
            }
            let typeflag = block[block.startIndex + PaxFormat.typeflagOffset]
            let dataStart = current + UInt64(PaxFormat.blockSize)
            switch typeflag {
            case PaxFormat.Typeflag.extended, PaxFormat.Typeflag.global, PaxFormat.Typeflag.gnuLongName,
                PaxFormat.Typeflag.gnuLongLink:
                let size = UInt64(rawSize)
                guard size <= PaxReader.maxMetadataSize else {
                    throw corrupt(current, "extended header of \(size) bytes is too large")
                }
                guard dataStart + size <= fileSize else {
                    throw corrupt(current, "the volume ends inside an extended header (truncated)")
                }
                let data = try bytes(at: dataStart, count: Int(size))
                let next = dataStart + PaxFormat.padded(size)
                if typeflag == PaxFormat.Typeflag.gnuLongName || typeflag == PaxFormat.Typeflag.gnuLongLink {
                    let text = Array(data.prefix { $0 != 0 })
                    if typeflag == PaxFormat.Typeflag.gnuLongName { longName = text } else { longLink = text }
                } else {
                    guard let parsed = PaxFormat.parseRecords(data) else {
                        throw corrupt(current, "malformed extended header records")
                    }
                    var pairs = parsed
                    if typeflag == PaxFormat.Typeflag.global {
                        // Our job labels and trailers are global headers holding only a comment with our records:
                        // kept apart (`labels`), never applied to the members that follow.
                        if let comment = pairs.first(where: { $0.key == PaxReader.commentKey }),
                            let nested = PaxFormat.parseRecords(comment.value[...]),
                            nested.allSatisfy({ $0.key.starts(with: PaxReader.ourPrefix) })
                        {
                            if global {
                                labels.append(
                                    nested.map {
                                        VolumeMember.Record(key: String(decoding: $0.key, as: UTF8.self), value: Array($0.value))
                                    })
                            }
                            pairs.removeAll { $0.key == PaxReader.commentKey }
                        }
                        if global { globalRecords.append(contentsOf: pairs.map { (key: Array($0.key), value: Array($0.value)) }) }
                        if current == memberStart { memberStart = next }
                    }
                    records.append(contentsOf: pairs)
                }
                current = next
                continue
            default:
                return try finishMember(
                    block: block, headerOffset: memberStart, at: current, storedSize: UInt64(rawSize),
                    records: records, longName: longName, longLink: longLink, ourRecords: ourRecords)
            }
        }
    }

    private func verifyChecksum(_ block: ArraySlice<UInt8>, at offset: UInt64) throws(VolumeError) {
        let field = block.startIndex + PaxFormat.checksumField.offset
        guard let stored = PaxFormat.parseNumber(block[field..<(field + PaxFormat.checksumField.width)]) else {
            throw corrupt(offset, "header checksum field is not a number")
        }
        // Sum with the checksum field counted as spaces; old writers summed signed bytes, which is only worked
        // out when the unsigned sum does not match (a plain loop the compiler vectorizes: this runs per member).
        let checksumRange = PaxFormat.checksumField.offset..<(PaxFormat.checksumField.offset + 8)
        let unsigned = block.withUnsafeBufferPointer { bytes -> Int64 in
            var total: UInt32 = 0
            for byte in bytes { total &+= UInt32(byte) }
            var field: UInt32 = 0
            for index in checksumRange { field &+= UInt32(bytes[index]) }
            return Int64(total) - Int64(field) + 8 * 32
        }
        if stored == unsigned { return }
        let signed = block.withUnsafeBufferPointer { bytes -> Int64 in
            var sum: Int64 = 0
            for index in 0..<bytes.count {
                sum += checksumRange.contains(index) ? 32 : Int64(Int8(bitPattern: bytes[index]))
            }
            return sum
        }
        guard stored == signed else {
            throw corrupt(offset, "header checksum mismatch (stored \(stored), computed \(unsigned))")
        }
    }

    private func finishMember(
        block: ArraySlice<UInt8>, headerOffset: UInt64, at offset: UInt64, storedSize headerSize: UInt64,
        records: [Record], longName: [UInt8]?, longLink: [UInt8]?, ourRecords: Bool
    ) throws(VolumeError) -> Parsed {
        func field(_ spec: (offset: Int, width: Int)) -> ArraySlice<UInt8> {
            block[(block.startIndex + spec.offset)..<(block.startIndex + spec.offset + spec.width)]
        }
        func text(_ spec: (offset: Int, width: Int)) -> [UInt8] { Array(field(spec).prefix { $0 != 0 }) }
        func number(_ spec: (offset: Int, width: Int), _ what: String) throws(VolumeError) -> Int64 {
            guard let value = PaxFormat.parseNumber(field(spec)) else {
                throw corrupt(offset, "the header's \(what) field is not a number")
            }
            return value
        }

        let typeflag = block[block.startIndex + PaxFormat.typeflagOffset]
        let magic = field(PaxFormat.magicField)
        let isUstar = magic.elementsEqual("ustar\0".utf8)
        var name = text(PaxFormat.nameField)
        if isUstar {
            let prefix = text(PaxFormat.prefixField)
            if !prefix.isEmpty { name = prefix + [PaxFormat.slash] + name }
        }
        if let longName { name = longName }
        var linkTarget = longLink ?? text(PaxFormat.linkNameField)

        var kind: EntryKind
        switch typeflag {
        case PaxFormat.Typeflag.regular, PaxFormat.Typeflag.regularOld, PaxFormat.Typeflag.contiguous:
            kind = name.last == PaxFormat.slash && typeflag == PaxFormat.Typeflag.regularOld ? .directory : .file
        case PaxFormat.Typeflag.hardLink: kind = .hardLink
        case PaxFormat.Typeflag.symlink: kind = .symlink
        case PaxFormat.Typeflag.charDevice: kind = .charDevice
        case PaxFormat.Typeflag.blockDevice: kind = .blockDevice
        case PaxFormat.Typeflag.directory: kind = .directory
        case PaxFormat.Typeflag.fifo: kind = .fifo
        default:
            let shown = typeflag >= 0x20 && typeflag < 0x7f ? "'\(Character(Unicode.Scalar(typeflag)))'" : "\(typeflag)"
            throw corrupt(offset, "unsupported header type \(shown)")
        }

        var member = VolumeMember(name: [], kind: kind)
        member.mode = UInt32(try number(PaxFormat.modeField, "mode") & 0o7777)
        member.uid = UInt32(clamping: try number(PaxFormat.uidField, "uid"))
        member.gid = UInt32(clamping: try number(PaxFormat.gidField, "gid"))
        member.mtime = FileStat.Timestamp(seconds: try number(PaxFormat.mtimeField, "mtime"), nanoseconds: 0)
        let userName = text(PaxFormat.unameField)
        let groupName = text(PaxFormat.gnameField)
        if !userName.isEmpty { member.userName = String(decoding: userName, as: UTF8.self) }
        if !groupName.isEmpty { member.groupName = String(decoding: groupName, as: UTF8.self) }
        if kind == .charDevice || kind == .blockDevice, isUstar || magic.elementsEqual("ustar ".utf8) {
            member.deviceMajor = UInt32(clamping: try number(PaxFormat.devMajorField, "devmajor"))
            member.deviceMinor = UInt32(clamping: try number(PaxFormat.devMinorField, "devminor"))
        }

        var storedSize = headerSize
        var sparseMajor: UInt64?
        var sparseMinor: UInt64?
        var sparseName: [UInt8]?
        var realSize: UInt64?
        var xattrIndex: [[UInt8]: Int] = [:]
        for (key, value) in records {
            func bad(_ what: String) -> VolumeError {
                corrupt(headerOffset, "bad \(what) record \"\(String(decoding: value.prefix(40), as: UTF8.self))\"")
            }
            switch key {
            case Key.path: name = Array(value)
            case Key.linkpath: linkTarget = Array(value)
            case Key.size:
                guard let size = PaxFormat.parseDecimal(value) else { throw bad("size") }
                storedSize = size
            case Key.uid:
                guard let id = PaxFormat.parseDecimal(value), id <= UInt32.max else { throw bad("uid") }
                member.uid = UInt32(id)
            case Key.gid:
                guard let id = PaxFormat.parseDecimal(value), id <= UInt32.max else { throw bad("gid") }
                member.gid = UInt32(id)
            case Key.uname: member.userName = String(decoding: value, as: UTF8.self)
            case Key.gname: member.groupName = String(decoding: value, as: UTF8.self)
            case Key.mtime:
                guard let time = PaxFormat.parseTime(value) else { throw bad("mtime") }
                member.mtime = time
            case Key.atime:
                guard let time = PaxFormat.parseTime(value) else { throw bad("atime") }
                member.atime = time
            case Key.ctime:
                guard let time = PaxFormat.parseTime(value) else { throw bad("ctime") }
                member.ctime = time
            case Key.sparseMajor: sparseMajor = PaxFormat.parseDecimal(value)
            case Key.sparseMinor: sparseMinor = PaxFormat.parseDecimal(value)
            case Key.sparseName: sparseName = Array(value)
            case Key.sparseRealSize:
                guard let size = PaxFormat.parseDecimal(value) else { throw bad("GNU.sparse.realsize") }
                realSize = size
            case Key.sparseSize, Key.sparseMap, Key.sparseNumBlocks:
                if sparseMajor == nil {
                    throw corrupt(headerOffset, "GNU sparse format 0.x is not supported (only 1.0)")
                }
            case Key.aclAccess: member.aclAccess = PaxFormat.aclText(value)
            case Key.aclDefault: member.aclDefault = PaxFormat.aclText(value)
            default:
                if key.starts(with: PaxFormat.xattrKeyPrefix) {
                    let xattrName = PaxFormat.decodeXattrName(key.dropFirst(PaxFormat.xattrKeyPrefix.count))
                    if let index = xattrIndex[xattrName] {
                        member.xattrs[index].value = Array(value)
                    } else {
                        xattrIndex[xattrName] = member.xattrs.count
                        member.xattrs.append(.init(name: xattrName, value: Array(value)))
                    }
                } else if !ourRecords {
                    continue
                } else if key.starts(with: PaxReader.ourPrefix) {
                    member.records.append(.init(key: String(decoding: key, as: UTF8.self), value: Array(value)))
                } else if key == PaxReader.commentKey, let nested = PaxFormat.parseRecords(value),
                    nested.allSatisfy({ $0.key.starts(with: PaxReader.ourPrefix) })
                {
                    // Our records, packed into a comment by the writer.
                    for (nestedKey, nestedValue) in nested {
                        member.records.append(
                            .init(key: String(decoding: nestedKey, as: UTF8.self), value: Array(nestedValue)))
                    }
                }
            }
        }

        let dataStart = offset + UInt64(PaxFormat.blockSize)
        let dataEnd = PaxFormat.saturatingSum(dataStart, PaxFormat.padded(storedSize))
        guard dataEnd <= fileSize else {
            throw corrupt(
                headerOffset, "member data (\(storedSize) bytes at \(dataStart)) runs past the end of the volume (truncated)")
        }
        var dataOffset = dataStart
        if let sparseMajor {
            guard sparseMajor == 1 && (sparseMinor ?? 0) == 0 else {
                throw corrupt(headerOffset, "GNU sparse format \(sparseMajor).\(sparseMinor ?? 0) is not supported")
            }
            if let sparseName { name = sparseName }
            let (layout, mapLength) = try readSparseMap(at: dataStart, storedSize: storedSize, headerOffset: headerOffset)
            let expected = PaxFormat.sparseStoredLength(layout.segments.map(\.length))
            guard storedSize - mapLength == expected else {
                throw corrupt(
                    headerOffset,
                    "sparse map needs \(expected) data bytes after the map but the member holds \(storedSize - mapLength)")
            }
            let dataSize = layout.dataSize
            let lastEnd = layout.segments.last.map { $0.offset + $0.length } ?? 0
            // Sizes must fit a file offset (off_t): a crafted map must not make a reader hash 2^64 zeros.
            guard lastEnd <= UInt64(Int64.max), (realSize ?? 0) <= UInt64(Int64.max) else {
                throw corrupt(headerOffset, "sparse file size beyond what a file can hold")
            }
            member.sparse = .init(realSize: max(realSize ?? lastEnd, lastEnd), segments: layout.segments)
            dataOffset += mapLength
            storedSize = dataSize
        }

        if kind == .directory {
            while name.count > 1 && name.last == PaxFormat.slash { name.removeLast() }
        }
        member.name = name
        if kind == .symlink || kind == .hardLink { member.linkTarget = linkTarget }
        member.size = storedSize
        return Parsed(
            member: member, location: MemberLocation(headerOffset: headerOffset, dataOffset: dataOffset),
            nextHeader: dataEnd)
    }

    /// Record keys the reader interprets.
    private enum Key {
        static let path = Array("path".utf8)[...]
        static let linkpath = Array("linkpath".utf8)[...]
        static let size = Array("size".utf8)[...]
        static let uid = Array("uid".utf8)[...]
        static let gid = Array("gid".utf8)[...]
        static let uname = Array("uname".utf8)[...]
        static let gname = Array("gname".utf8)[...]
        static let mtime = Array("mtime".utf8)[...]
        static let atime = Array("atime".utf8)[...]
        static let ctime = Array("ctime".utf8)[...]
        static let sparseMajor = Array("GNU.sparse.major".utf8)[...]
        static let sparseMinor = Array("GNU.sparse.minor".utf8)[...]
        static let sparseName = Array("GNU.sparse.name".utf8)[...]
        static let sparseRealSize = Array("GNU.sparse.realsize".utf8)[...]
        static let sparseSize = Array("GNU.sparse.size".utf8)[...]
        static let sparseMap = Array("GNU.sparse.map".utf8)[...]
        static let sparseNumBlocks = Array("GNU.sparse.numblocks".utf8)[...]
        static let aclAccess = Array("SCHILY.acl.access".utf8)[...]
        static let aclDefault = Array("SCHILY.acl.default".utf8)[...]
    }

    private static let ourPrefix = Array(VolumeMember.recordPrefix.utf8)
    private static let commentKey = Array("comment".utf8)[...]

    /// Parses a GNU sparse 1.0 map (decimal numbers, one a line, padded to 512) at the start of a member's data.
    private func readSparseMap(
        at start: UInt64, storedSize: UInt64, headerOffset: UInt64
    ) throws(VolumeError) -> (VolumeMember.SparseLayout, UInt64) {
        var numbers: [UInt64] = []
        var expected: UInt64?
        var current: UInt64 = 0
        var digits = 0
        var consumed: UInt64 = 0
        // Complete once the count and that many offset/length pairs are read.
        func complete() -> Bool {
            guard let expected, numbers.count % 2 == 1 else { return false }
            return UInt64(numbers.count / 2) == expected
        }
        while !complete() {
            guard consumed + UInt64(PaxFormat.blockSize) <= storedSize, consumed < PaxReader.maxMetadataSize else {
                throw corrupt(headerOffset, "the sparse map is longer than the member")
            }
            let block = try bytes(at: start + consumed, count: PaxFormat.blockSize)
            consumed += UInt64(PaxFormat.blockSize)
            for byte in block {
                if complete() { break }
                if byte == UInt8(ascii: "\n") {
                    guard digits > 0 else { throw corrupt(headerOffset, "empty number in the sparse map") }
                    numbers.append(current)
                    if numbers.count == 1 { expected = current }
                    current = 0
                    digits = 0
                } else if byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") {
                    let (times, overflow1) = current.multipliedReportingOverflow(by: 10)
                    let (sum, overflow2) = times.addingReportingOverflow(UInt64(byte - UInt8(ascii: "0")))
                    guard !overflow1, !overflow2 else { throw corrupt(headerOffset, "number too large in sparse map") }
                    current = sum
                    digits += 1
                } else {
                    throw corrupt(headerOffset, "unexpected byte \(byte) in the sparse map")
                }
            }
        }
        var segments: [VolumeMember.SparseLayout.Segment] = []
        var previousEnd: UInt64 = 0
        var index = 1
        while index + 1 < numbers.count {
            let segment = VolumeMember.SparseLayout.Segment(offset: numbers[index], length: numbers[index + 1])
            let (segmentEnd, overflow) = segment.offset.addingReportingOverflow(segment.length)
            guard !overflow, segment.offset >= previousEnd else {
                throw corrupt(headerOffset, "sparse map segments overlap or do not ascend")
            }
            previousEnd = segmentEnd
            if segment.length > 0 { segments.append(segment) }
            index += 2
        }
        return (VolumeMember.SparseLayout(realSize: previousEnd, segments: segments), consumed)
    }

    // MARK: - I/O

    /// `count` bytes at `offset` (which the caller checked lie within the file), through the header window.
    private func bytes(at offset: UInt64, count: Int) throws(VolumeError) -> ArraySlice<UInt8> {
        if offset < windowStart || offset + UInt64(count) > windowStart + UInt64(windowLength) {
            let length = Int(min(UInt64(max(count, PaxReader.windowSize)), fileSize - offset))
            guard length >= count else { throw corrupt(offset, "the volume ends early (truncated)") }
            if window.count < length { window = [UInt8](repeating: 0, count: length) }
            windowLength = 0
            try window.withMutableVolumeBytes { (buffer) throws(VolumeError) in
                try readFully(into: UnsafeMutableRawBufferPointer(rebasing: buffer[0..<length]), at: offset)
            }
            windowStart = offset
            windowLength = length
        }
        let start = Int(offset - windowStart)
        return window[start..<(start + count)]
    }

    private func readFully(into buffer: UnsafeMutableRawBufferPointer, at offset: UInt64) throws(VolumeError) {
        var done = 0
        while done < buffer.count {
            let count: Int
            do {
                count = try fd.read(
                    at: offset + UInt64(done), into: UnsafeMutableRawBufferPointer(rebasing: buffer[done...]))
            } catch {
                throw VolumeError(path: path, offset: offset + UInt64(done), message: error.message("cannot read"))
            }
            if count == 0 {
                throw VolumeError(path: path, offset: offset + UInt64(done), message: "the volume ends early (truncated)")
            }
            done += count
        }
    }
}
