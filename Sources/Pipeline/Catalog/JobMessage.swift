/// One row of the `job_messages` table: a warning, an error or a note of a job, in the order it was written.
public struct JobMessage: Sendable, Hashable {
    public typealias Timestamp = FileStat.Timestamp

    public var jobID: JobID
    public var time: Timestamp
    /// `info`, `warning`, `error` or `debug`.
    public var severity: String
    /// The stage string the message comes from, if a stage raised it.
    public var stage: String?
    /// The entry it is about, as bytes.
    public var path: [UInt8]?
    public var text: String

    public init(
        jobID: JobID, time: Timestamp, severity: String, stage: String? = nil, path: [UInt8]? = nil, text: String
    ) {
        self.jobID = jobID
        self.time = time
        self.severity = severity
        self.stage = stage
        self.path = path
        self.text = text
    }
}
