/// What a stage may need from the job when it is created: set by the command from the Job resource and the
/// command line. Creating a stage reads nothing and starts nothing (a Python plugin loads at job start), so
/// `check` creates every stage of a configuration to validate its options.
public struct StageEnvironment: Sendable {
    /// How Python plugin stages run (Plugin Directory, call timeout, Accurate, Fd Plugin Options).
    public var python: PythonPluginSettings
    /// Restore: the file whose first line is the passphrase of the secret key that decrypts `gpg` job keys
    /// (`--passphrase-file`, loopback pinentry); nil: gpg-agent asks or uses its cache (D5).
    public var passphraseFile: String?
    /// Restore: the GnuPG home to use instead of a `gpg` stage's `keyring=` (which names a directory of the host
    /// that made the backup); nil keeps the stage's own.
    public var keyring: String?

    /// The stage is made to restore files: what only a backup uses (user names to resolve, maps to read) is not
    /// checked, so a restore on another host, or after a user was deleted, is not refused for it.
    public var forRestore: Bool

    public init(
        python: PythonPluginSettings = PythonPluginSettings(), passphraseFile: String? = nil, keyring: String? = nil,
        forRestore: Bool = false
    ) {
        self.keyring = keyring
        self.forRestore = forRestore
        self.python = python
        self.passphraseFile = passphraseFile
    }
}
