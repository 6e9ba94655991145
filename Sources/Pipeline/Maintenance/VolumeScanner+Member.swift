/// One member of a volume into its `files` row: the ustar/pax header gives the stat fields, our records
/// (`PipelineRecords.Member`) the catalog fields; what older volumes lack is inferred.
extension VolumeScanner {
    /// The `files` row of one member.
    func fileRecord(
        _ member: VolumeMember, location: MemberLocation, volumeID: Int64, jobID: JobID, state: inout JobState,
        volume: String
    ) throws -> FileRecord {
        let fields: PipelineRecords.Member
        do {
            fields = try state.decoder.decode(member.records)
        } catch {
            throw ScanError("\(volume) at offset \(location.headerOffset): \(error)")
        }
        if let job = fields.jobID, job != jobID.rawValue {
            throw ScanError(
                "\(volume) at offset \(location.headerOffset): member of JobId \(job) in a volume of JobId \(jobID)")
        }
        let size = fields.size
        var record = FileRecord(jobID: jobID, fileIndex: 0, path: [], kind: member.kind)
        record.device = fields.device ?? 0
        record.inode = fields.inode ?? 0
        record.nlink = fields.nlink ?? 0
        record.sourceSHA256 = fields.sourceSHA256
        record.storedSHA256 = fields.storedSHA256
        record.signatureAlgorithm = fields.signatureAlgorithm
        record.signature = fields.signature
        record.chain = fields.chain
        record.stageMetadata = fields.stageMetadata
        record.block = fields.block
        record.compression = fields.compression

        // File index: recorded, or the next one after the previous member's.
        if let index = fields.fileIndex {
            guard index > state.lastIndex else {
                throw ScanError(
                    "\(volume) at offset \(location.headerOffset): file index \(index) does not follow "
                        + "\(state.lastIndex) (members out of order)")
            }
            record.fileIndex = index
        } else {
            guard state.lastIndex < Int64.max else { throw ScanError("\(volume): file index out of range") }
            record.fileIndex = state.lastIndex + 1
            state.inferred += 1
        }
        state.lastIndex = record.fileIndex

        // Original path: recorded, or the member name made absolute (without the suffix of its last stage).
        if let path = fields.path {
            record.path = path
        } else {
            var name = member.name
            if let suffix = VolumeMember.memberSuffix(of: record) {
                if name.count > suffix.count && name.suffix(suffix.count).elementsEqual(suffix) {
                    name.removeLast(suffix.count)
                }
            }
            record.path = name == [UInt8(ascii: ".")] ? [UInt8(ascii: "/")] : [UInt8(ascii: "/")] + name
        }

        record.mode = VolumeScanner.typeBits(member.kind) | member.mode
        record.uid = member.uid
        record.gid = member.gid
        record.userName = member.userName
        record.groupName = member.groupName
        record.mtime = member.mtime
        record.atime = member.atime ?? FileStat.Timestamp(seconds: 0, nanoseconds: 0)
        record.ctime = member.ctime ?? FileStat.Timestamp(seconds: 0, nanoseconds: 0)
        switch member.kind {
        case .file:
            record.size = size ?? member.sparse?.realSize ?? member.size
        case .symlink:
            record.linkTarget = member.linkTarget
            record.size = size ?? UInt64(member.linkTarget?.count ?? 0)
        case .hardLink:
            // The volume names the first name as a member name (no leading "/", maybe with a codec suffix); our
            // link record has its original path.
            record.linkTarget = fields.link ?? member.linkTarget.map { [UInt8(ascii: "/")] + $0 }
            record.size = size ?? 0
        case .charDevice, .blockDevice:
            let major = UInt64(member.deviceMajor)
            let minor = UInt64(member.deviceMinor)
            record.rdev = ((major & 0xfff) << 8) | (minor & 0xff) | ((minor & ~0xff) << 12) | ((major & ~0xfff) << 32)
            record.size = size ?? 0
        default:
            record.size = size ?? 0
        }
        record.sparse = member.sparse != nil
        record.volumeID = volumeID
        record.headerOffset = Int64(location.headerOffset)
        record.dataOffset = Int64(location.dataOffset)
        record.storedLength = Int64(member.size)
        return record
    }

    /// The `st_mode` file-type bits of a member kind (a hard link is taken as a regular file until its first
    /// name is known).
    static func typeBits(_ kind: EntryKind) -> UInt32 {
        switch kind {
        case .file, .hardLink: return FileMode.regular
        case .directory: return FileMode.directory
        case .symlink: return FileMode.symlink
        case .fifo: return FileMode.fifo
        case .socket: return FileMode.socket
        case .charDevice: return FileMode.charDevice
        case .blockDevice: return FileMode.blockDevice
        }
    }
}
