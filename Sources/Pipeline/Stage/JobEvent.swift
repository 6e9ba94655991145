/// Job-level events, delivered to every stage of every chain in the order they happen.
public enum JobEvent: Sendable, Equatable {
    /// Before any file is read (a failure here fails the job before reading, D6).
    case jobStarted
    /// After the last entry of the FileSet was offered to the chains.
    case fileSetEnded
    /// At the very end, with the job's outcome.
    case jobEnded(succeeded: Bool)
}
