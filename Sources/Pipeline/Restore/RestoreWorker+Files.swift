#if canImport(Glibc)
import Glibc
#endif

/// Regular files: created unnamed (`O_TMPFILE`) in their directory, written, verified and given their metadata,
/// then linked to their final name — one directory update per file, and no name ever shows unverified bytes.
extension RestoreWorker {
    /// Restores one regular file; false when `--replace` kept the existing one.
    func restoreFile(_ record: FileRecord, components: [[UInt8]]) throws -> Bool {
        let parent = FileDescriptor(rawValue: try target.parent(of: components))
        let name = components.last!
        // Only a policy that may keep the existing file looks first (saves decoding what would be thrown away);
        // the default, always, does not stat a name that is almost never there.
        if settings.replace != .always, let existing = try? parent.status(of: name), !mayReplace(existing, with: record) {
            return notReplaced(record)
        }
        let (reader, member, location) = try volumes.member(of: record)
        if let delivered = try restoreThroughSink(record, reader: reader, member: member, location: location) {
            return delivered
        }
        let directory = components.dropLast()
        var temporary: [UInt8]?
        var fd: FileDescriptor?
        if settings.unnamedFiles && unnamedRefusedIn != directory {
            do {
                fd = try parent.createUnnamedFile(mode: 0o600)
            } catch where error == .notSupported || error == .isDirectory {
                unnamedRefusedIn = directory  // this file system has no O_TMPFILE: the temporary-name path
            } catch {
                throw RestoreError("cannot create a file in the target directory", error)
            }
        }
        if fd == nil {
            let name = temporaryName(record, in: parent, directory: directory)
            do {
                fd = try FileDescriptor.open(name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, mode: 0o600, in: parent)
            } catch {
                throw RestoreError("cannot create a temporary file in the target directory", error)
            }
            temporary = name
        }
        let file = fd!
        var named = false
        defer {
            _ = try? file.close()
            // A temporary name left behind by a failure goes; an unnamed file vanishes with its descriptor.
            if let temporary, !named { try? parent.unlink(temporary) }
        }
        var written: UInt64 = 0
        let digest: [UInt8]
        do {
            digest = try decoder.decode(
                record, reader: reader, member: member, location: location, context: environment.context,
                holes: member.sparse != nil
            ) { bytes, offset in
                try file.writeAll(bytes, at: offset)
                written += UInt64(bytes.count)
                // Chunk by chunk, so progress moves inside a large file.
                environment.progress.bytes.add(UInt64(bytes.count), ordering: .relaxed)
            }
            if let sparse = member.sparse { try file.truncate(to: sparse.realSize) }
        } catch let error as Errno {
            throw RestoreError("write error", error)
        }
        guard digest == record.sourceSHA256 else {
            throw RestoreError(
                "SHA-256 of the restored bytes does not match the catalog (\(Hex.encode(digest)) ≠ "
                    + "\(record.sourceSHA256.map(Hex.encode) ?? "none")); the file was not restored")
        }
        applyMetadata(fd: file.rawValue, record: record, member: member, path: record.path)
        settings.beforeNaming?(record.path)
        if let temporary {
            named = try place(temporary, as: name, in: parent, record: record)
        } else {
            named = try link(file, as: name, in: parent, directory: directory, record: record)
        }
        guard named else { return notReplaced(record) }
        if !environment.linkTargets.isEmpty && environment.linkTargets.contains(record.path) {
            outcome.writtenFiles.insert(record.path)
        }
        outcome.counts.filesStored += 1
        outcome.counts.bytesRead += written
        environment.progress.files.add(1, ordering: .relaxed)
        return true
    }

    /// Gives a verified unnamed file its final name; false when `--replace` keeps an entry that is there (also
    /// one that appeared while the file was written: `linkat` never replaces).
    private func link(
        _ file: FileDescriptor, as name: [UInt8], in parent: FileDescriptor, directory: ArraySlice<[UInt8]>,
        record: FileRecord
    ) throws -> Bool {
        do {
            try file.link(as: name, in: parent)
            return true
        } catch .exists {
            guard mayReplaceNow(name, in: parent, record: record) else { return false }
        } catch {
            throw RestoreError("cannot move the restored file into place", error)
        }
        // Replacing: a temporary name first, then one rename over the existing entry.
        let temporary = temporaryName(record, in: parent, directory: directory)
        do {
            try file.link(as: temporary, in: parent)
        } catch {
            throw RestoreError("cannot move the restored file into place", error)
        }
        return try place(temporary, as: name, in: parent, record: record)
    }

    /// Whether the entry that is under `name` now may be replaced.
    private func mayReplaceNow(_ name: [UInt8], in parent: FileDescriptor, record: FileRecord) -> Bool {
        switch settings.replace {
        case .always: return true
        case .never: return false
        case .ifnewer, .ifolder:
            guard let existing = try? parent.status(of: name) else { return true }
            return mayReplace(existing, with: record)
        }
    }

    /// Moves a finished entry from its temporary name to `name`: a rename, or with `--replace never` a link
    /// (which never replaces) and the temporary name's removal. False when never kept an existing entry; the
    /// temporary name is removed whatever happens.
    func place(_ temporary: [UInt8], as name: [UInt8], in parent: FileDescriptor, record: FileRecord) throws -> Bool {
        do {
            if settings.replace == .never {
                try parent.link(temporary, to: name, in: parent)
                try? parent.unlink(temporary)
            } else {
                try parent.rename(temporary, to: name)
            }
            return true
        } catch {
            try? parent.unlink(temporary)
            if error == .exists && settings.replace == .never { return false }
            throw RestoreError(
                record.kind == .file ? "cannot move the restored file into place" : "cannot move the restored entry into place",
                error)
        }
    }

    /// A stage that took the file over at backup gets the verified bytes itself (D2): nil when no stage of the
    /// file's chain opens a sink for it.
    private func restoreThroughSink(
        _ record: FileRecord, reader: PaxReader, member: VolumeMember, location: MemberLocation
    ) throws -> Bool? {
        guard !record.chain.isEmpty else { return nil }
        let chain = try environment.builder.chain(for: record.chain)
        let item = RestoreItem(record)
        let root = Array(target.root.utf8)
        let output = root + (record.path.first == UInt8(ascii: "/") ? [] : [UInt8(ascii: "/")]) + record.path
        let context = environment.context
        for stage in chain.stages {
            guard let sink = try stage.openRestoreSink(for: item, outputPath: output, context: context) else {
                continue
            }
            let digest = try decoder.decode(record, reader: reader, member: member, location: location, context: context) {
                _, _ in
            }
            guard digest == record.sourceSHA256 else {
                try? sink.close(success: false)
                throw RestoreError("SHA-256 of the restored bytes does not match the catalog")
            }
            let delivered: [UInt8]
            do {
                delivered = try decoder.decode(
                    record, reader: reader, member: member, location: location, context: context
                ) { bytes, _ in try sink.write(bytes) }
            } catch {
                try? sink.close(success: false)  // the stage closes what it opened
                throw error
            }
            guard delivered == record.sourceSHA256 else {
                try? sink.close(success: false)
                throw RestoreError("the bytes handed to the stage did not verify on the second read")
            }
            try sink.close(success: true)
            outcome.counts.filesStored += 1
            outcome.counts.bytesRead += record.size
            return true
        }
        return nil
    }
}
