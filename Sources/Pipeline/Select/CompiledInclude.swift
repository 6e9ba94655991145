/// An Include ready for the walk: patterns compiled once, Include-wide values fixed (section 4.2 step 1).
final class CompiledInclude: Sendable {
    let index: Int
    let files: [FileEntry]
    let excludeDirContaining: [[UInt8]]
    /// The Options blocks in config order; never empty (an Include without one gets Bareos' default block).
    let blocks: [CompiledBlock]
    /// `Size` of the last block, and only of the last block (Bareos quirk, section 4.6).
    let sizeMatch: OptionsBlock.SizeMatch?
    /// No block has a pattern or `Exclude = yes`: every entry is accepted by the blocks without matching.
    let blocksAcceptEverything: Bool
    /// `Accurate =` letters of the last block that has them, else Bareos' default `mcs` (section 4.6).
    let accurateLetters: [UInt8]

    var lastBlockIndex: Int { blocks.count - 1 }

    init(_ include: Include, index: Int, chains: [[String]]?) throws(SelectionError) {
        self.index = index
        files = include.files
        excludeDirContaining = include.excludeDirContaining
        var options = include.options
        if options.isEmpty {
            var synthesized = OptionsBlock(index: 0, location: include.location)
            synthesized.synthesized = true
            options = [synthesized]
        }
        var blocks: [CompiledBlock] = []
        for (position, block) in options.enumerated() {
            let chain =
                chains.flatMap { position < $0.count ? $0[position] : nil } ?? block.plugins.map(\.string)
            blocks.append(try CompiledBlock(block, chain: chain))
        }
        self.blocks = blocks
        sizeMatch = options[options.count - 1].size
        blocksAcceptEverything = blocks.allSatisfy { !$0.hasPatterns && !$0.exclude }
        accurateLetters = Array((options.last { $0.accurate != nil }?.accurate ?? "mcs").utf8)
    }

    enum Decision: Equatable {
        /// Save it; `block` is the Options block that matched, nil when none did.
        case accept(block: Int?)
        case reject
    }

    /// Bareos' per-entry decision for a non-top-level path (section 4.3): the first block with a hit decides; an
    /// `Exclude = yes` block without patterns rejects whatever reaches it; with no verdict the Exclude{} patterns
    /// are tried; otherwise the entry is accepted with no block.
    func decide(
        _ path: UnsafeBufferPointer<UInt8>, isDirectory: Bool, excludes: [Wildcard]
    ) -> Decision {
        if !blocksAcceptEverything {
            for (position, block) in blocks.enumerated() {
                if block.hits(path, isDirectory: isDirectory) {
                    return block.exclude ? .reject : .accept(block: position)
                }
                if block.exclude && !block.hasPatterns { return .reject }
            }
        }
        for pattern in excludes where pattern.matches(path) {
            return .reject
        }
        return .accept(block: nil)
    }
}

/// One Options block with its patterns compiled.
final class CompiledBlock: Sendable {
    private let wildDir: [Wildcard]
    private let wildFile: [Wildcard]
    private let wild: [Wildcard]
    private let regexDir: [POSIXRegex]
    private let regexFile: [POSIXRegex]
    private let regex: [POSIXRegex]
    let exclude: Bool
    let hasPatterns: Bool
    let recurse: Bool
    let oneFS: Bool
    let fsTypes: [String]
    let hardLinks: Bool
    /// `MtimeOnly = yes`: the Incremental/Differential test ignores ctime.
    let mtimeOnly: Bool
    let chain: [String]

    init(_ block: OptionsBlock, chain: [String]) throws(SelectionError) {
        let fold = block.ignoreCase
        func wildcards(_ patterns: [[UInt8]]) -> [Wildcard] {
            patterns.map { Wildcard(EntryListExpander.stripTrailingJunk($0[...]), caseFold: fold) }
        }
        func regexes(_ patterns: [[UInt8]], _ directive: String) throws(SelectionError) -> [POSIXRegex] {
            var compiled: [POSIXRegex] = []
            for raw in patterns {
                let pattern = EntryListExpander.stripTrailingJunk(raw[...])
                do {
                    compiled.append(try POSIXRegex(pattern, ignoreCase: fold))
                } catch {
                    throw SelectionError(
                        "invalid regular expression \"\(SelectIO.display(pattern))\" in \(directive): \(error.message)",
                        at: block.location)
                }
            }
            return compiled
        }
        wildDir = wildcards(block.wildDir)
        wildFile = wildcards(block.wildFile)
        wild = wildcards(block.wild)
        regexDir = try regexes(block.regexDir, "RegexDir")
        regexFile = try regexes(block.regexFile, "RegexFile")
        regex = try regexes(block.regex, "Regex")
        exclude = block.exclude
        hasPatterns = block.hasPatterns
        recurse = block.recurse
        oneFS = block.oneFS
        fsTypes = block.fsTypes
        hardLinks = block.hardLinks
        mtimeOnly = block.mtimeOnly
        self.chain = chain
    }

    /// Whether any pattern of this block matches, tried in Bareos' order: WildDir/WildFile, Wild,
    /// RegexDir/RegexFile, Regex. (Within a block the order cannot change the verdict, only the cost.)
    func hits(_ path: UnsafeBufferPointer<UInt8>, isDirectory: Bool) -> Bool {
        guard hasPatterns else { return false }
        for pattern in isDirectory ? wildDir : wildFile where pattern.matches(path) { return true }
        for pattern in wild where pattern.matches(path) { return true }
        for pattern in isDirectory ? regexDir : regexFile where pattern.matches(path) { return true }
        for pattern in regex where pattern.matches(path) { return true }
        return false
    }
}
