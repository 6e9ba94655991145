import Pipeline

/// A stage whose configuration can only be checked against this host's state (a keyring, a directory), more than
/// its creation checks: `optionhost check` calls `validate()` after creating it, and a backup does the same
/// checks at job start. Reads, never writes.
public protocol StageValidation: Stage {
    func validate() throws
}
