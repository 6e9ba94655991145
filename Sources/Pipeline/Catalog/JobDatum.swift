/// One item a stage keeps with a job (`StageContext.recordJobData`): a key named after the stage (`gpg.jobkey.ID`)
/// and opaque bytes. The catalog's `job_data` table and every volume's label (`OPTIONPIPELINE.jobdata.KEY`) hold it.
public struct JobDatum: Sendable, Equatable {
    public var key: String
    public var value: [UInt8]

    public init(key: String, value: [UInt8]) {
        self.key = key
        self.value = value
    }
}
