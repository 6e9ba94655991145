/// Why a restore, or one entry of it, failed. Per-entry errors become job messages (the entry is counted as
/// failed, the job goes on: exit code 1); errors thrown out of ``RestoreJob/run()`` fail the job (exit code 3).
public struct RestoreError: Error, Sendable, CustomStringConvertible {
    public var message: String
    public var description: String { message }

    public init(_ message: String) { self.message = message }

    /// "what: reason" for a failed system call.
    init(_ what: String, _ code: Errno) { self.message = code.message(what) }
}
