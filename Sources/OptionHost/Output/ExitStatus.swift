import ArgumentParser

/// Exit codes of decision D5.
enum ExitStatus {
    /// Success.
    static let success = ExitCode(0)
    /// The job finished but some files failed or were skipped with warnings.
    static let warnings = ExitCode(1)
    /// Usage or configuration error.
    static let usage = ExitCode(2)
    /// The job failed or was cancelled.
    static let jobFailed = ExitCode(3)
    /// `verify` found a mismatch.
    static let mismatch = ExitCode(4)
}
