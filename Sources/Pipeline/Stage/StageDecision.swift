/// A stage's answer for one entry, the way a Bareos option plugin answers `handle_backup_file`.
///
/// An error is not a decision: a decision hook throws, and the file is recorded as failed (decision D6).
public enum StageDecision: Sendable, Equatable {
    /// `bRC_Core`: the host keeps handling the entry (reads the bytes itself).
    case core
    /// `bRC_Skip`: the entry is not stored; later stages are not called for it.
    case skip(reason: String?)
    /// `bRC_OK`: the stage takes over the I/O and becomes the byte source of the rest of the chain.
    case takeOver

    public static let skip = StageDecision.skip(reason: nil)
}
