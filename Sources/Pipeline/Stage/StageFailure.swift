/// A stage failed for one file: the path, the stage and what went wrong (decision D6).
public struct StageFailure: Error, Sendable, CustomStringConvertible {
    public var stage: String
    public var path: [UInt8]
    public var message: String

    public init(stage: String, path: [UInt8], message: String) {
        self.stage = stage
        self.path = path
        self.message = message
    }

    public init(stage: String, path: [UInt8], underlying: any Error) {
        self.init(stage: stage, path: path, message: String(describing: underlying))
    }

    /// `PATH: stage STAGE: message`, or without `PATH: ` when the path is not known here.
    public var description: String {
        (path.isEmpty ? "" : "\(String(decoding: path, as: UTF8.self)): ") + "stage \(stage): \(message)"
    }
}
