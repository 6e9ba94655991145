#if canImport(Glibc)
import Glibc
#endif

/// What `check` can tell about a FileSet without running it: patterns that can never match (Bareos matches
/// Wild and Regex patterns against the absolute path), `File =` entries missing on this host, and Options blocks
/// that an earlier block of the same Include always decides before them. Each is a warning at the place that
/// says it (the `File =` entry; the Options block of the pattern, since patterns keep no location of their own).
public enum FileSetLint {
    public static func warnings(_ configuration: Configuration) -> [ConfigWarning] {
        var warnings: [ConfigWarning] = []
        for fileSet in configuration.fileSets.values.sorted(by: { $0.location.description < $1.location.description }) {
            for include in fileSet.includes {
                // In file order, as a reader goes through the Include.
                let found = missingFiles(include, fileSet: fileSet.name) + neverMatching(include) + shadowed(include)
                warnings += found.enumerated().sorted {
                    let (a, b) = ($0.element.location, $1.element.location)
                    return (a?.line ?? 0, a?.column ?? 0, $0.offset) < (b?.line ?? 0, b?.column ?? 0, $1.offset)
                }.map(\.element)
            }
        }
        return warnings
    }

    /// `File =` entries that name nothing on this host (program `|` and list `<` entries are not paths).
    static func missingFiles(_ include: Include, fileSet: String) -> [ConfigWarning] {
        include.files.compactMap { entry in
            guard let first = entry.value.first, first != UInt8(ascii: "|"), first != UInt8(ascii: "<"),
                first != UInt8(ascii: "\\")
            else { return nil }
            do throws(Errno) {
                _ = try SystemCall.status(of: entry.text, followLinks: false)
                return nil
            } catch where error == Errno.notFound {
                return ConfigWarning(
                    "File = \"\(entry.text)\" of FileSet \"\(fileSet)\" does not exist on this host (a backup "
                        + "reports it as an error)", at: entry.location)
            } catch {
                return nil  // exists but cannot be examined: the backup says why
            }
        }
    }

    /// Wild patterns that start with a literal other than `/`, and `^`-anchored regexes whose first character is a
    /// letter or digit: no absolute path can match them.
    static func neverMatching(_ include: Include) -> [ConfigWarning] {
        var warnings: [ConfigWarning] = []
        for block in include.options where !block.synthesized {
            let wilds = [("Wild", block.wild), ("Wild Dir", block.wildDir), ("Wild File", block.wildFile)]
            for (directive, patterns) in wilds {
                for pattern in patterns where wildNeverMatches(pattern) {
                    let text = String(decoding: pattern, as: UTF8.self)
                    warnings.append(
                        ConfigWarning(
                            "\(directive) = \"\(text)\" can never match: Bareos matches patterns against the absolute "
                                + "path (did you mean \"*/\(text)\" or \"/\(text)\"?)", at: block.location))
                }
            }
            let regexes = [("Regex", block.regex), ("Regex Dir", block.regexDir), ("Regex File", block.regexFile)]
            for (directive, patterns) in regexes {
                for pattern in patterns where regexNeverMatches(pattern) {
                    warnings.append(
                        ConfigWarning(
                            "\(directive) = \"\(String(decoding: pattern, as: UTF8.self))\" can never match: it is "
                                + "anchored with ^ to a path that does not start with /, and every path does",
                            at: block.location))
                }
            }
        }
        return warnings
    }

    static func wildNeverMatches(_ pattern: [UInt8]) -> Bool {
        guard let first = pattern.first else { return false }
        return !"*?[\\/".utf8.contains(first)
    }

    static func regexNeverMatches(_ pattern: [UInt8]) -> Bool {
        guard pattern.count > 1, pattern[0] == UInt8(ascii: "^") else { return false }
        let next = pattern[1]
        return (next >= UInt8(ascii: "a") && next <= UInt8(ascii: "z")) || (next >= UInt8(ascii: "A") && next <= UInt8(ascii: "Z"))
            || (next >= UInt8(ascii: "0") && next <= UInt8(ascii: "9"))
    }

    /// Blocks that never decide: after an `Exclude = yes` block without patterns (it rejects whatever reaches it),
    /// after a block with `Wild = "*"`, or whose every pattern an earlier block has too (as the same directive or
    /// as the path-wide `Wild`/`Regex`). The first block with a hit decides (Bareos), so these never do.
    static func shadowed(_ include: Include) -> [ConfigWarning] {
        var warnings: [ConfigWarning] = []
        let blocks = include.options.filter { !$0.synthesized }
        for (position, block) in blocks.enumerated() where position > 0 && block.hasPatterns {
            for earlier in blocks[..<position] {
                let reason: String?
                if earlier.exclude && !earlier.hasPatterns {
                    reason = "is an Exclude = yes block without patterns, which rejects every entry that reaches it"
                } else if earlier.wild.contains(Array("*".utf8)) {
                    reason = "has Wild = \"*\", which matches every entry first"
                } else if covers(earlier, block) {
                    reason = "has every pattern of this block, and is tried first"
                } else {
                    reason = nil
                }
                if let reason {
                    warnings.append(
                        ConfigWarning(
                            "this Options block never applies: the block at \(earlier.location) \(reason)",
                            at: block.location))
                    break
                }
            }
        }
        return warnings
    }

    /// Whether each pattern of `later` is in `earlier` as the same directive or as the path-wide one.
    private static func covers(_ earlier: OptionsBlock, _ later: OptionsBlock) -> Bool {
        func has(_ pattern: [UInt8], in own: [[UInt8]], or wide: [[UInt8]]) -> Bool {
            own.contains(pattern) || wide.contains(pattern)
        }
        return later.wild.allSatisfy { earlier.wild.contains($0) }
            && later.wildDir.allSatisfy { has($0, in: earlier.wildDir, or: earlier.wild) }
            && later.wildFile.allSatisfy { has($0, in: earlier.wildFile, or: earlier.wild) }
            && later.regex.allSatisfy { earlier.regex.contains($0) }
            && later.regexDir.allSatisfy { has($0, in: earlier.regexDir, or: earlier.regex) }
            && later.regexFile.allSatisfy { has($0, in: earlier.regexFile, or: earlier.regex) }
    }
}
