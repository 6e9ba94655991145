/// A problem of the `gpg` stage that is not one of GPGME's or of the OpenPGP code: key sets and job keys.
public struct GPGStageError: Error, Sendable, CustomStringConvertible {
    public var message: String

    public init(_ message: String) {
        self.message = message
    }

    public var description: String { message }
}
