extension RestoreJob {
    /// Bareos sends restore objects (a command plugin's FT_RESTORE_FIRST items) to the plugin before any file of a
    /// restore: the selected entries with a chain whose stage claims them (`Stage.isRestoreObject`) are read and
    /// verified against the catalog's source SHA-256 here, then handed to that stage (`restoreObject`). In the file
    /// pass the same stage then writes nothing for them. A failure is a problem of that entry; the restore goes on.
    /// Only called when a job of the restore ran command plugins (job data `host.command_plugins`).
    func deliverRestoreObjects(_ plan: RestorePlan, environment: RestoreEnvironment) throws {
        var volumes = VolumeReaders(paths: volumePaths)
        var decoder: MemberDecoder?
        try forEachBatch(of: plan, including: { $0.kind == .file && $0.chained }, copies: true) { batch in
            for record in batch where !record.chain.isEmpty {
                if cancellation.isCancelled { return }
                let item = RestoreItem(record)
                let chain: StageChain
                do {
                    chain = try builder.chain(for: record.chain)
                } catch {
                    continue  // the file pass reports a chain that cannot be built
                }
                guard let stage = chain.stages.first(where: { $0.isRestoreObject(item) }) else { continue }
                do {
                    if decoder == nil {
                        decoder = try MemberDecoder(builder: builder, chunkSize: settings.chunkSize, cancellation: cancellation)
                    }
                    let (reader, member, location) = try volumes.member(of: record)
                    var data: [UInt8] = []
                    let digest = try decoder!.decode(
                        record, reader: reader, member: member, location: location, context: environment.context
                    ) { bytes, _ in data.append(contentsOf: bytes) }
                    guard digest == record.sourceSHA256 else {
                        problem(record.path, "restore object: SHA-256 of the restored bytes does not match the catalog")
                        continue
                    }
                    try stage.restoreObject(item, data: data, context: environment.context)
                } catch {
                    problem(record.path, "restore object: \(error)")
                }
            }
        }
    }
}
