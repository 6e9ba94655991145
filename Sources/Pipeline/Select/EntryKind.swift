/// What a selected directory entry is, as `lstat` reports it (symbolic links are never followed).
///
/// `.hardLink` never comes from the file system: it marks a later name of an inode that was already selected under
/// another name while `HardLinks = yes` (the entry's `linkTarget` is that first name).
public enum EntryKind: String, Sendable {
    case file
    case directory
    case symlink
    case hardLink = "hardlink"
    case fifo
    case socket
    case charDevice = "chardev"
    case blockDevice = "blockdev"
}

extension EntryKind {
    /// The kind for a full `st_mode`; nil for a file type Linux does not have.
    init?(mode: UInt32) {
        switch mode & FileMode.typeMask {
        case FileMode.regular: self = .file
        case FileMode.directory: self = .directory
        case FileMode.symlink: self = .symlink
        case FileMode.fifo: self = .fifo
        case FileMode.socket: self = .socket
        case FileMode.charDevice: self = .charDevice
        case FileMode.blockDevice: self = .blockDevice
        default: return nil
        }
    }
}

/// The file-type bits of `st_mode` (identical on every Linux architecture).
enum FileMode {
    static let typeMask: UInt32 = 0o170000
    static let socket: UInt32 = 0o140000
    static let symlink: UInt32 = 0o120000
    static let regular: UInt32 = 0o100000
    static let blockDevice: UInt32 = 0o060000
    static let directory: UInt32 = 0o040000
    static let charDevice: UInt32 = 0o020000
    static let fifo: UInt32 = 0o010000
}
