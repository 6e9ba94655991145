/// Our `Archive` resource (decision D4): where volumes are written.
///
/// ```
/// Archive {
///   Name = LocalDisk
///   Directory = /var/backups/optionpipeline
///   Maximum Volume Bytes = 4g
///   Volume Mode = 0600
/// }
/// ```
public struct ArchiveResource: Sendable {
    public var name: String
    public var description: String?
    public var directory: String
    /// A volume is closed once it reaches this size (a file is never split, so a volume may exceed it).
    public var maximumVolumeBytes: UInt64?
    public var volumeMode: UInt32
    public var location: SourceLocation

    public init(name: String, directory: String, location: SourceLocation) {
        self.name = name
        self.description = nil
        self.directory = directory
        self.maximumVolumeBytes = nil
        self.volumeMode = 0o600
        self.location = location
    }
}
