/// Command plugins: Include-level `Plugin =` strings (D1). A Python one runs as a stage built from its string (one
/// instance per string, D3, loaded at job start with the other stages); after the file walk its loop produces one
/// item at a time (`Stage.nextCommandItem`), which the walk hands on like an entry it found, with the chain of the
/// Include's Options block that matches the item's name, the command plugin's stage first (it takes the item over:
/// its bytes are what `plugin_io` gave).
extension BackupJob {
    /// Refuses command plugins this host cannot run (bpipe, C plugins: anything but `python:`/`python3:`), before
    /// anything is created or read.
    func checkCommandPlugins() throws {
        for include in fileSet.includes {
            for plugin in include.plugins where !PluginString.isPython(plugin.string) {
                throw BackupError(
                    "\(plugin.location): FileSet \"\(fileSet.name)\" has Include-level Plugin \""
                        + "\(PluginString.name(plugin.string))\", a Bareos command plugin this host does not run "
                        + "(only python3: command plugins run here)")
            }
        }
    }

    /// Job data key naming the command plugins a backup ran (one string a line): a restore looks for restore
    /// objects only among the files of jobs that have it.
    static let commandPluginsKey = "host.command_plugins"

    /// The job datum that says this backup runs command plugins (none when it runs none).
    func commandPluginJobData() -> [JobDatum] {
        let strings = fileSet.includes.flatMap { $0.plugins.map(\.string) }
        guard !strings.isEmpty else { return [] }
        return [JobDatum(key: Self.commandPluginsKey, value: Array(strings.joined(separator: "\n").utf8))]
    }

    /// Creates the command plugins' stages with the others, so that they load at job start (D3, D6).
    func prepareCommandPlugins() throws {
        for include in fileSet.includes {
            for plugin in include.plugins { _ = try builder.chain(for: [plugin.string]) }
        }
    }

    /// Runs every command plugin's loop, Include by Include, in the order of the `Plugin =` lines; `add` hands each
    /// item to the workers as an entry. A plugin string in several Includes runs its loop once per Include, as
    /// Bareos sends the backup command once per Plugin line.
    func runCommandPlugins(
        selector: FileSelector, context: StageContext, nextIndex: () -> Int64,
        _ add: (SelectionEvent) throws -> Void
    ) throws {
        for (includeIndex, include) in fileSet.includes.enumerated() {
            for plugin in include.plugins {
                let stage = try builder.chain(for: [plugin.string]).stages[0]
                while true {
                    if cancellation.isCancelled { throw Cancelled() }
                    if fatalMessage != nil { return }
                    let item: CommandPluginItem?
                    do {
                        item = try stage.nextCommandItem(includeIndex: includeIndex, fileIndex: nextIndex(), context: context)
                    } catch {
                        fail("\(plugin.location): command plugin \(plugin.string): \(error)")
                        return
                    }
                    guard let item else { break }
                    let placement = selector.commandItemBlock(
                        includeIndex: includeIndex, path: item.path, isDirectory: item.kind == .directory)
                    // Accurate: the plugin accounts for this path now; what it does not produce goes to check_file.
                    item.path.withUnsafeBufferPointer { accurateState?.mark($0) }
                    try add(
                        .entry(
                            SelectedEntry(
                                path: item.path, kind: item.kind, stat: item.stat, linkTarget: item.linkTarget,
                                includeIndex: includeIndex, blockIndex: placement.blockIndex,
                                effectiveBlockIndex: placement.effectiveBlockIndex, isTopLevel: false,
                                chain: [plugin.string] + placement.chain)))
                }
            }
        }
    }
}
