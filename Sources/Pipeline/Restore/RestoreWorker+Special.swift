#if canImport(Glibc)
import Glibc
#endif

/// Links, fifos and devices: made under a temporary name, given their metadata, then moved to their final name
/// (see ``RestoreWorker/place(_:as:in:record:)``).
extension RestoreWorker {
    /// Restores a link, fifo or device; false when `--replace` kept the existing entry.
    func restoreSpecial(_ record: FileRecord, components: [[UInt8]]) throws -> Bool {
        var parent = try target.parent(of: components)
        let name = components.last!
        if settings.replace != .always, let existing = try? FileDescriptor(rawValue: parent).status(of: name),
            !mayReplace(existing, with: record)
        {
            return notReplaced(record)
        }
        let temporary = temporaryName(record, in: FileDescriptor(rawValue: parent), directory: components.dropLast())
        var created: Int32
        var withMetadata = true
        switch record.kind {
        case .symlink:
            guard let link = record.linkTarget else { throw RestoreError("symbolic link without a target") }
            created = FileReader.withCPath(link) { linkTarget in
                FileReader.withCPath(temporary) { symlinkat(linkTarget, parent, $0) }
            }
        case .hardLink:
            (created, parent) = try linkToFirstName(record, components: components, temporary: temporary)
            withMetadata = false
        case .fifo:
            created = FileReader.withCPath(temporary) { mkfifoat(parent, $0, record.mode & 0o7777) }
        case .charDevice, .blockDevice:
            let type: UInt32 = record.kind == .charDevice ? S_IFCHR : S_IFBLK
            created = FileReader.withCPath(temporary) {
                mknodat(parent, $0, type | (record.mode & 0o7777), dev_t(record.rdev))
            }
        default:
            return false
        }
        if created != 0 {
            let code = Errno.current
            if record.kind == .hardLink {
                let first = String(decoding: record.linkTarget ?? [], as: UTF8.self)
                throw RestoreError("cannot create the hard link to \(first)", code)
            }
            throw RestoreError("cannot create \(record.kind.rawValue)", code)
        }
        if withMetadata { applyMetadata(temporary, in: parent, record: record) }
        let placed = try place(temporary, as: name, in: FileDescriptor(rawValue: parent), record: record)
        return placed ? true : notReplaced(record)
    }

    /// Links the hard link's first name (a file this run wrote and verified, reached inside the restore tree
    /// without following symlinks) under `temporary`: the `linkat` result and the link's parent directory.
    private func linkToFirstName(_ record: FileRecord, components: [[UInt8]], temporary: [UInt8]) throws
        -> (Int32, Int32)
    {
        guard let link = record.linkTarget else { throw RestoreError("hard link without a target") }
        // Only a file this run wrote (and verified) may be linked: never one that was already there.
        guard outcome.writtenFiles.contains(link) else {
            throw RestoreError("not linked: its first name \(String(decoding: link, as: UTF8.self)) was not restored by this run")
        }
        let targetComponents = try MemberName.safeComponents(VolumeMember.memberName(link))
        var fd = target.rootFD
        for component in targetComponents.dropLast() {
            let next = try target.openDirectory(component, in: fd, create: false)
            if fd != target.rootFD { close(fd) }
            fd = next
        }
        defer { if fd != target.rootFD { close(fd) } }
        target.invalidate()
        let parent = try target.parent(of: components)
        let created = FileReader.withCPath(targetComponents.last!) { from in
            FileReader.withCPath(temporary) { linkat(fd, from, parent, $0, 0) }
        }
        return (created, parent)
    }

    /// Owner (as root), mode and times of an entry under its temporary name, never following a symlink someone
    /// swapped in for it.
    private func applyMetadata(_ temporary: [UInt8], in parent: Int32, record: FileRecord) {
        FileReader.withCPath(temporary) { path in
            if environment.isRoot { _ = fchownat(parent, path, record.uid, record.gid, AT_SYMLINK_NOFOLLOW) }
            if record.kind != .symlink { _ = fchmodat(parent, path, record.mode & 0o7777, AT_SYMLINK_NOFOLLOW) }
            var times = [RestoreWorker.timespec(record.atime), RestoreWorker.timespec(record.mtime)]
            _ = utimensat(parent, path, &times, AT_SYMLINK_NOFOLLOW)
        }
    }
}
