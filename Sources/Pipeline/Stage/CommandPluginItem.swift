/// One item a command plugin (an Include-level `Plugin =`, D1) produced at backup: what the walk would have
/// found for a file. The stage that produced it keeps its bytes and metadata under the item's file index and
/// takes it over in its decision hook, so the item then goes through the chain of the Include's Options block
/// that matches its name and is stored, cataloged and restored like a file.
public struct CommandPluginItem: Sendable {
    public var path: [UInt8]
    public var kind: EntryKind
    public var stat: FileStat
    /// Symlink target.
    public var linkTarget: [UInt8]?

    public init(path: [UInt8], kind: EntryKind, stat: FileStat, linkTarget: [UInt8]? = nil) {
        self.path = path
        self.kind = kind
        self.stat = stat
        self.linkTarget = linkTarget
    }
}
