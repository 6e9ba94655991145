/// Building volume members from selected entries, with the `OPTIONPIPELINE.*` records (encoded by
/// `PipelineRecords`) that let `scan` rebuild a catalog from volumes alone.
extension VolumeMember {
    /// The catalog key holding the SHA-256 of a member's extended attributes and ACLs (absent when it has none).
    static let metadataDigestKey = "host.metadata_sha256"

    /// The catalog key naming the stage that took a file over at backup (its bytes are what that stage produced,
    /// not the file's content).
    static let sourceStageKey = "host.source_stage"

    /// SHA-256 (hex) over the member's xattrs (sorted by name) and ACL texts: restore and verify compare it with the
    /// catalog, since these come from the volume header, which no data digest covers. Nil when there are none.
    var metadataDigest: String? {
        guard !xattrs.isEmpty || aclAccess != nil || aclDefault != nil else { return nil }
        // Where libcrypto refuses, the value names that instead: it then matches no catalog value, so restore
        // and verify report the metadata as not verified rather than the backup stopping here.
        let unavailable = "unavailable: libcrypto refused SHA-256"
        guard let digester = try? Digester(.sha256) else { return unavailable }
        func field(_ bytes: [UInt8]) {
            var length = UInt64(bytes.count).bigEndian
            withUnsafeBytes(of: &length) { digester.update($0) }
            digester.update(bytes)
        }
        for xattr in xattrs.sorted(by: { $0.name.lexicographicallyPrecedes($1.name) }) {
            field(Array("xattr".utf8))
            field(xattr.name)
            field(xattr.value)
        }
        if let acl = aclAccess { field(Array("acl.access".utf8)); field(Array(acl.utf8)) }
        if let acl = aclDefault { field(Array("acl.default".utf8)); field(Array(acl.utf8)) }
        return (try? digester.finalize()).map { Hex.encode($0) } ?? unavailable
    }

    /// Whether the member's xattrs and ACLs are the ones the catalog recorded.
    func metadataMatches(_ record: FileRecord) -> Bool {
        let digest = metadataDigest
        return digest == record.stageMetadata[VolumeMember.metadataDigestKey] && digest?.hasPrefix("unavailable") != true
    }

    /// Member name for an absolute or relative path: the leading `/` is dropped (as tar does); `/` itself is `.`.
    static func memberName(_ path: [UInt8]) -> [UInt8] {
        var start = 0
        while start < path.count && path[start] == UInt8(ascii: "/") { start += 1 }
        return start == path.count ? [UInt8(ascii: ".")] : Array(path[start...])
    }

    static func forEntry(_ item: FileItem, names: OwnerNames, block: OptionsBlock) -> VolumeMember {
        let stat = item.stat
        var member = VolumeMember(
            name: memberName(item.path), kind: item.kind, mode: stat.mode & 0o7777, uid: stat.uid, gid: stat.gid,
            userName: names.user(stat.uid), groupName: names.group(stat.gid), size: 0, mtime: stat.mtime,
            atime: stat.atime, ctime: stat.ctime)
        switch item.kind {
        case .symlink:
            member.linkTarget = item.entry.linkTarget
        case .hardLink:
            member.linkTarget = item.entry.linkTarget.map(memberName)
        case .charDevice, .blockDevice:
            member.deviceMajor = UInt32((stat.rdev >> 8) & 0xfff) | UInt32((stat.rdev >> 32) & ~0xfff)
            member.deviceMinor = UInt32(stat.rdev & 0xff) | UInt32((stat.rdev >> 12) & ~0xff)
        default:
            break
        }
        if item.kind != .symlink && item.kind != .hardLink {
            if block.xattrSupport || block.aclSupport {
                let (xattrs, hasACL) = FileReader.extendedAttributes(item.path)
                if block.xattrSupport { member.xattrs = xattrs.map { Xattr(name: $0.name, value: $0.value) } }
                if block.aclSupport && hasACL {
                    member.aclAccess = ACLText.read(item.path, defaultACL: false)
                    if item.kind == .directory { member.aclDefault = ACLText.read(item.path, defaultACL: true) }
                }
            }
        }
        return member
    }

    /// After transforms: the member gets the suffix of the last transforming stage (`.gz`, `.lz4`, `.gpg`), so
    /// `tar -xf` followed by `gunzip`/`lz4 -d`/`gpg --decrypt` gives the original back; a compressed member records
    /// its codec. A suffix other than the codec's is recorded in the file's stage metadata
    /// (`host.member_suffix`), so `verify` and `scan` know the name to expect.
    mutating func applyTransforms(suffix: String?, compression: OptionsBlock.Compression?, record: inout FileRecord) {
        if let compression {
            records.append(PipelineRecords.compression("\(compression)"))
        }
        guard let suffix else { return }
        name += Array(suffix.utf8)
        if suffix != compression.map(CompressionStage.memberSuffix) {
            record.stageMetadata[VolumeMember.memberSuffixKey] = suffix
        }
    }

    /// Stage metadata key of a member-name suffix that is not the compression's (`.gpg`).
    static let memberSuffixKey = "host.member_suffix"

    /// The suffix the member of `record` carries after its name (`.gz`, `.gpg`), if any.
    static func memberSuffix(of record: FileRecord) -> [UInt8]? {
        if let suffix = record.stageMetadata[memberSuffixKey] { return Array(suffix.utf8) }
        return record.compression.flatMap(CompressionStage.parse).map { Array(CompressionStage.memberSuffix($0).utf8) }
    }

    /// The global header that follows a streamed member whose stage metadata changed after its header was
    /// written (see `PipelineRecords.lateMetadata`).
    static func lateMetadataRecords(_ record: FileRecord) -> [Record] { PipelineRecords.lateMetadata(record) }

    /// Label records of job data (`StageContext.recordJobData`): the key follows the prefix, the value is raw bytes.
    static let jobDataPrefix = PipelineRecords.Key.jobDataPrefix

    /// The compression recorded on this member, if any.
    var compressionName: String? { PipelineRecords.compressionName(records) }

    /// Our records for the catalog fields a volume scan needs (see `PipelineRecords.member`).
    static func catalogRecords(_ record: FileRecord, jobID: JobID) -> [Record] {
        PipelineRecords.member(record, jobID: jobID)
    }

    /// Placeholders for the digest records of a streamed member (see `PipelineRecords.digestPlaceholders`).
    static func digestPlaceholders(signature: DigestAlgorithm?) -> [Record] {
        PipelineRecords.digestPlaceholders(signature: signature)
    }

    /// The digest records of a finished member (same keys and lengths as `digestPlaceholders`).
    static func digestRecords(_ record: FileRecord) -> [Record] { PipelineRecords.digests(record) }
}
