/// One directory entry the FileSet selects for saving, with the Options block whose settings apply to it.
public struct SelectedEntry: Sendable {
    /// Absolute path as raw bytes (names are bytes, D7); no trailing slash except for `/` itself.
    public var path: [UInt8]
    public var kind: EntryKind
    public var stat: FileStat
    /// The target of a symbolic link (`readlink`), or for `.hardLink` the first name under which the inode was
    /// selected.
    public var linkTarget: [UInt8]?
    /// Index of the Include the entry came from.
    public var includeIndex: Int
    /// The Options block that gave the accept verdict; nil when no block matched or for a top-level entry.
    public var blockIndex: Int?
    /// The block whose options apply: `blockIndex`, else the Include's last block (Bareos' rule; top-level entries
    /// also take the last block, the documented approximation of Bareos' "current options").
    public var effectiveBlockIndex: Int
    /// True for an entry named by a `File =` line (after `<file`/`|command` expansion); such entries bypass matching.
    public var isTopLevel: Bool
    /// The stage chain of `effectiveBlockIndex` (D1).
    public var chain: [String]
    /// Why a directory was saved without its contents, e.g. `not descended: Recurse = no`.
    public var note: String?

    public init(
        path: [UInt8], kind: EntryKind, stat: FileStat, linkTarget: [UInt8]? = nil, includeIndex: Int,
        blockIndex: Int?, effectiveBlockIndex: Int, isTopLevel: Bool, chain: [String], note: String? = nil
    ) {
        self.path = path
        self.kind = kind
        self.stat = stat
        self.linkTarget = linkTarget
        self.includeIndex = includeIndex
        self.blockIndex = blockIndex
        self.effectiveBlockIndex = effectiveBlockIndex
        self.isTopLevel = isTopLevel
        self.chain = chain
        self.note = note
    }
}
