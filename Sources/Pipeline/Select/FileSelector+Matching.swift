extension FileSelector {
    /// What the walk would decide for one path below an Include's `File =` entries (not a top-level entry itself).
    public enum PathMatch: Sendable, Equatable {
        /// Selected; `block` is the Options block that matched, nil when none did (the last block's options apply).
        case accepted(block: Int?)
        case rejected
    }

    /// Bareos' per-entry decision for `path` in Include `include`, without touching the file system: the Options
    /// blocks' patterns in order, then the FileSet's `Exclude { File = }` patterns. The walk makes the same call
    /// for every entry below a top-level `File =`; this entry point exists so that the matching alone can be
    /// measured (`Benchmarks/Benchmarks/PipelineBenchmarks`) and checked without a tree on disk.
    ///
    /// - Parameter excludePatterns: the Exclude patterns, already expanded (nil: the FileSet's plain `File =`
    ///   strings of its Exclude blocks; `<file` and `|command` entries are expanded by `run` only).
    public func match(
        _ path: [UInt8], isDirectory: Bool, include: Int = 0, excludePatterns: [Wildcard]? = nil
    ) -> PathMatch {
        let excludes = excludePatterns ?? plainExcludePatterns()
        return path.withUnsafeBufferPointer { bytes in
            switch includes[include].decide(bytes, isDirectory: isDirectory, excludes: excludes) {
            case .accept(let block): return .accepted(block: block)
            case .reject: return .rejected
            }
        }
    }

    /// The Exclude blocks' `File =` strings that need no expansion (not `<file` or `|command`), as wildcards.
    private func plainExcludePatterns() -> [Wildcard] {
        var patterns: [Wildcard] = []
        for exclude in fileSet.excludes {
            for entry in exclude.files {
                let first = entry.value.first
                if first != UInt8(ascii: "<") && first != UInt8(ascii: "|") { patterns.append(Wildcard(entry.value)) }
            }
        }
        return patterns
    }
}
