/// Bareos' File Daemon file selection for one FileSet (section 4 of the FileSet reference).
///
/// ```
/// for each Include, in order
///   for each File entry (after <file / |command expansion), in order
///     lstat ── fails ──────────────────────────────────▶ problem (error)
///       │ top level: FS Type of the last block ── unlisted ▶ problem (info), skipped
///       │ regular file: Size of the last block ── no match ▶ skipped silently
///       ▼
///     directory ── Exclude Dir Containing marker ───────▶ skipped with its subtree
///       │ decide() (not for top level) ── reject ────────▶ skipped with its subtree
///       │ Recurse = no / other device with One FS / unlisted FS Type ▶ entry only (note), even if unchanged
///       ▼ children, then the directory entry itself (not if unchanged: ChangeTest)
///     other ── decide() (not for top level) ── reject ──▶ skipped
///       │ unchanged since the previous backup (ChangeTest) ▶ skipped
///       │ HardLinks = yes, nlink > 1, inode seen ───────▶ .hardLink entry to the first name
///       ▼ socket ▶ problem (info); anything else ▶ entry
/// ```
///
/// Names are bytes end to end. The walk uses `openat`/`fstatat` relative to open directory descriptors, one reusable
/// path buffer, and keeps at most `maxOpenDirectories` descriptors open however deep the tree.
///
/// Deliberate choices where Bareos is accidental (see `docs/` "Differences from Bareos"): top-level entries take the
/// last block's options; HardLinks is read from the block that decided the entry; a hard link is recorded only
/// when its first name was actually selected.
///
/// A selector holds only compiled, immutable data: it is `Sendable`, and each `run` is independent (a run may
/// happen on a dedicated thread while another uses the same selector).
public final class FileSelector: Sendable {
    let fileSet: FileSet
    let includes: [CompiledInclude]
    /// Directory descriptors a walk keeps open at once (at least 2); deeper directories are closed and reopened
    /// on the way back up.
    let maxOpenDirectories: Int

    /// Compiles the FileSet's patterns.
    ///
    /// - Parameter chains: `chains[i][b]` is the stage chain of Options block `b` of Include `i`, already expanded
    ///   by the caller (D1); nil uses each block's `Plugin =` strings.
    /// - Throws: `SelectionError` for a regular expression that does not compile, naming its Options block.
    public convenience init(fileSet: FileSet, chains: [[[String]]]? = nil) throws(SelectionError) {
        try self.init(fileSet: fileSet, chains: chains, maxOpenDirectories: 128)
    }

    init(fileSet: FileSet, chains: [[[String]]]?, maxOpenDirectories: Int) throws(SelectionError) {
        self.fileSet = fileSet
        self.maxOpenDirectories = max(2, maxOpenDirectories)
        var compiled: [CompiledInclude] = []
        for (index, include) in fileSet.includes.enumerated() {
            let includeChains = chains.flatMap { index < $0.count ? $0[index] : nil }
            compiled.append(try CompiledInclude(include, index: index, chains: includeChains))
        }
        includes = compiled
    }

    /// Expands the `<file`, `\<file`, `|command`, `\|command` entries of every Include and Exclude block, then walks.
    ///
    /// `body` is called synchronously for each event, in traversal order; a directory's own entry comes after
    /// its contents (as Bareos sends it). An error thrown by `body` stops the walk and is rethrown.
    ///
    /// `changes` selects what an Incremental or Differential leaves out (`ChangeTest`); the default emits every
    /// selected entry (a Full, `estimate`).
    /// - Throws: `SelectionError` when an entry list cannot be expanded (before any event), or what `body` throws.
    public func run(changes: ChangeTest = .all, _ body: (SelectionEvent) throws -> Void) throws {
        var topEntries: [[[UInt8]]] = []
        for include in includes {
            topEntries.append(try EntryListExpander.expand(include.files))
        }
        var excludePatterns: [[UInt8]] = []
        for exclude in fileSet.excludes {
            excludePatterns += try EntryListExpander.expand(exclude.files)
        }
        try withoutActuallyEscaping(body) { emit in
            let walk = SelectionRun(
                includes: includes, topEntries: topEntries, excludePatterns: excludePatterns,
                maxOpenDirectories: maxOpenDirectories, changes: changes, emit: emit)
            defer { walk.closeAll() }
            try walk.walk()
        }
    }
}
