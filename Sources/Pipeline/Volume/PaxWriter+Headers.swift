/// Building a member's headers: the pax extended header with its records (ours inside one `comment`), the ustar
/// header with what fits, and the GNU sparse map; every check on what a member may describe is here.
extension PaxWriter {
    /// Where the pieces of a member's headers landed in `headers`.
    struct HeaderPlan {
        var sizeValueIndex: Int?
        var ustarIndex: Int
        var mapLength: UInt64
        /// Lengths of the non-empty segments of a sparse member.
        var segmentLengths: [UInt64]?
        /// Bytes after the headers (sparse map included) once all data is written.
        var storedSize: UInt64?
    }

    // MARK: - Headers

    func refusal(_ member: VolumeMember, _ text: String) -> VolumeError {
        VolumeError(path: path, offset: end, message: "member \(MemberName.display(member.name)): \(text)")
    }

    /// Validates `member` and fills `headers` with its extended header, ustar header and (sparse) map.
    /// `dataSize` nil: streaming member with a patchable size.
    func buildHeaders(_ member: VolumeMember, dataSize: UInt64?) throws(VolumeError) -> HeaderPlan {
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
                // One pass over the key's bytes (three generic `contains` were a visible part of a small file's header).
                var keyText = record.key
                let clean = keyText.withUTF8 { bytes in
                    !bytes.contains { $0 == UInt8(ascii: "=") || $0 == 0 || $0 == UInt8(ascii: "\n") }
                }
                guard record.key.hasPrefix(VolumeMember.recordPrefix), key.count > VolumeMember.recordPrefix.utf8.count,
                    clean
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

    func putUstar(
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
}
