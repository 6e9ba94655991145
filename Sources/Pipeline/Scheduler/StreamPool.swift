/// The threads that read and transform streamed files, so that compression or encryption of N large files uses
/// N cores instead of the volume writer's one.
///
/// The writer submits the streamed files of the batch it is writing a few files ahead of the one it appends
/// (`window`), in walk order, and takes each file's chunks in that order: member order in the volume is the
/// order the writer takes files, whatever thread finishes first. Pool threads take files first come, first
/// served, so the oldest file the writer waits for is always being produced (no deadlock however the per-file
/// queues fill). Files a stage took over (a Python plugin's `plugin_io`) go to one serial lane instead: a plugin
/// sees one file open at a time, as Bareos opens them.
///
/// Memory: at most `window` files are in flight, each with at most `chunksPerFile + 2` chunk buffers; what a file
/// produces beyond that before its turn goes to its spill file in `spillDirectory` (see `StreamedFile`).
final class StreamPool: Sendable {
    struct Task: Sendable {
        var request: StreamRequest
        var file: StreamedFile
    }

    private let parallel: BoundedQueue<Task>
    private let serial: BoundedQueue<Task>
    private let threads: [WorkerThread]
    /// Streamed files the writer may have submitted and not yet written.
    let window: Int
    let chunkSize: Int
    let chunksPerFile: Int
    let spillDirectory: String

    /// Starts `threads` parallel producers and the serial lane.
    /// - Throws: `ThreadStartError` when a thread cannot start (the ones started are stopped first).
    init(
        threads count: Int, chunkSize: Int, chunksPerFile: Int, spillDirectory: String, context: StageContext,
        jobID: JobID, cancellation: CancellationFlag, progress: ProgressCounters,
        statistics: (@Sendable (JobStatistics) -> Void)? = nil
    ) throws(ThreadStartError) {
        window = count + 1
        self.chunkSize = chunkSize
        self.chunksPerFile = chunksPerFile
        self.spillDirectory = spillDirectory
        // The writer never has more than `window` files submitted, so a submit never waits.
        let parallel = BoundedQueue<Task>(capacity: count + 1)
        let serial = BoundedQueue<Task>(capacity: count + 1)
        self.parallel = parallel
        self.serial = serial
        var started: [WorkerThread] = []
        do {
            for (index, queue) in (Array(repeating: parallel, count: count) + [serial]).enumerated() {
                let name = index < count ? "op-stream\(index)" : "op-stream-io"
                started.append(
                    try WorkerThread(name: name) {
                        let producer: StreamProducer
                        do {
                            producer = try StreamProducer(
                                context: context, jobID: jobID, cancellation: cancellation, chunkSize: chunkSize,
                                progress: progress, collectStatistics: statistics != nil)
                        } catch {
                            // The job cannot hash what it streams: it stops with the reason; files queued here
                            // are abandoned, so the writer does not wait for them.
                            cancellation.cancel(reason: "\(error)")
                            while let task = queue.take() { task.file.abandon(reason: "\(error)") }
                            return
                        }
                        while let task = queue.take() {
                            producer.produce(task.request, into: task.file)
                        }
                        // This thread's statistics go to the job once, when it ends.
                        if let statistics, let counted = producer.statistics { statistics(counted) }
                    })
            }
        } catch {
            parallel.close()
            serial.close()
            for thread in started { thread.join() }
            throw error
        }
        threads = started
    }

    /// Starts producing `request`; the writer takes its events from the returned file.
    func submit(_ request: StreamRequest) -> StreamedFile {
        let file = StreamedFile(chunkSize: chunkSize, buffers: chunksPerFile + 2, spillDirectory: spillDirectory)
        let queue = request.sourceStage == nil ? parallel : serial
        if !queue.put(Task(request: request, file: file)) {
            file.abandon(reason: "cancelled")
        }
        return file
    }

    /// Ends the threads once the files submitted are produced (the writer has taken or abandoned them all).
    func close() {
        parallel.close()
        serial.close()
        for thread in threads { thread.join() }
    }
}
