extension FileSelector {
    /// The Options block a command plugin's item takes (D1): the first block of Include `includeIndex` whose
    /// patterns match the item's name (a block with `Exclude = yes` does not exclude plugin items, as in Bareos,
    /// which never matches them), else the Include's last block. `blockIndex` is nil when no pattern matched.
    public func commandItemBlock(
        includeIndex: Int, path: [UInt8], isDirectory: Bool
    ) -> (blockIndex: Int?, effectiveBlockIndex: Int, chain: [String]) {
        let include = includes[includeIndex]
        let matched = path.withUnsafeBufferPointer { name in
            include.blocks.indices.first { !include.blocks[$0].exclude && include.blocks[$0].hits(name, isDirectory: isDirectory) }
        }
        let effective = matched ?? include.lastBlockIndex
        return (matched, effective, include.blocks[effective].chain)
    }
}
