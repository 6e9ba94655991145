/// Scanning volumes into an EXISTING catalog (a shared PostgreSQL catalog cannot be replaced by a new file): the
/// volumes' jobs are added, all of them or none.
extension VolumeScanner {
    /// Scans `volumes` into `catalog`, adding their jobs under their JobIds in ONE transaction
    /// (``DatabaseCatalog/inOneTransaction(_:)``): a damaged volume, a conflict or a lost connection leaves the
    /// catalog as it was.
    ///
    /// Every job is checked against the catalog before anything is written
    /// (``DatabaseCatalog/scanPlace(of:name:start:client:)``):
    /// - no row with its JobId: the job is added (with the client its label names);
    /// - the same job (same name and start time, and the same client where both the row and the label name one)
    ///   that did not finish (`R`, `f`, `A`), e.g. one whose connection was lost: its rows are replaced by what its
    ///   volumes hold (the rebuilt row gets the label's client, or keeps the old row's when the label, of a volume
    ///   written before labels named it, has none; its job message says what was replaced). A job still marked
    ///   `R` whose Job lock (``DatabaseCatalog/tryLockJob(_:client:)``, keyed by Job name and client) another
    ///   session holds may still be running: refused. The lock is then held by this connection until it is closed;
    /// - the same job, finished (`T`, `W`): refused, or left as it is with `skipFinished`;
    /// - another job under that JobId (volumes of another catalog; or the same name and start time but another
    ///   client): refused, naming both.
    ///
    /// On SQLite the caller holds the catalog's ``JobLock`` (no job runs), and a job still marked `R` lost its
    /// process.
    public static func scan(
        volumes: [String], into catalog: DatabaseCatalog, skipFinished: Bool = false,
        progress: ProgressCounters = ProgressCounters()
    ) throws -> Result {
        let started = Clock.monotonic()
        let scanner = VolumeScanner(volumes: volumes, catalog: catalog, progress: progress)
        var plan: [(volumes: [Volume], replacing: JobRecord?)] = []
        var skipped: [JobRecord] = []
        for group in try scanner.groupedVolumes() {
            let label = group[0].label
            let scanned = "JobId \(label.jobID) (\(label.name), started \(HumanTime.local(label.start)))"
            let place = try catalog.scanPlace(
                of: label.jobID, name: label.name, start: label.start, client: label.clientName)
            switch place {
            case .absent:
                plan.append((group, nil))
            case .unfinished(let row):
                // A job marked `f` or `A` recorded its own end (or was marked failed under its lock): no process
                // writes it. One marked `R` may still run: its process holds the Job lock.
                if row.status == .running, try !catalog.tryLockJob(row.name, client: row.clientName ?? "") {
                    throw ScanError(
                        "\(scanned) is still marked running and Job \"\(row.name)\" of client "
                            + "\"\(row.clientName ?? "")\" is running (another session holds its Job lock): scan its "
                            + "volumes after that job ended; nothing was scanned")
                }
                plan.append((group, row))
            case .finished(let row):
                guard skipFinished else {
                    throw ScanError(
                        "\(scanned) is already in the catalog \(catalog.path) and finished (status "
                            + "\(row.status.rawValue)): scan adds jobs the catalog lacks and replaces jobs that did "
                            + "not finish; skip finished ones with --skip-finished; nothing was scanned")
                }
                skipped.append(row)
            case .foreign(let row):
                // Name the clients too when they are what differs (the same name and start time otherwise).
                let clients = row.clientName != nil && label.clientName != nil && row.clientName != label.clientName
                func client(_ name: String?) -> String { clients ? ", client \(name ?? "")" : "" }
                throw ScanError(
                    "JobId \(label.jobID) of the catalog \(catalog.path) is another job (\(row.name)"
                        + "\(client(row.clientName)), started \(HumanTime.local(row.startTime))) than the one "
                        + "\(group[0].path) holds (\(label.name)\(client(label.clientName)), started "
                        + "\(HumanTime.local(label.start))): the volumes come from another catalog; nothing was "
                        + "scanned")
            }
        }
        scanner.startProgress(plan.map(\.volumes))
        let jobs = try catalog.inOneTransaction { () throws -> [JobResult] in
            var jobs: [JobResult] = []
            for (group, replacing) in plan {
                let removed = try replacing.map { try catalog.removeForRebuild($0.id) }
                jobs.append(try scanner.scanJob(group, replacing: replacing, removed: removed))
            }
            return jobs
        }
        return Result(jobs: jobs, wallSeconds: Clock.monotonic() - started, skipped: skipped)
    }
}
