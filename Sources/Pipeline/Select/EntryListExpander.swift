#if canImport(Glibc)
    import Glibc
#endif

/// Resolves the special forms of `File =` entries (section 2.4) into literal entries, at job start.
///
/// - `<path`: each line of the file is an entry. Bareos' Director reads it; lines that themselves start with `<`
///   or `|` are expanded once more, as the File Daemon would.
/// - `|command`: each line the command prints is an entry (the same re-expansion of `<`/`|` lines).
/// - `\<path`, `\|command`: the same, done on the client in Bareos; the lines produced are taken literally.
/// - Any other value starting with `\`: that one backslash is removed (`\\srv` reaches the walk as `\srv`).
///
/// Lines lose trailing blanks, CR and LF (tabs are kept); empty lines are dropped. Every entry and pattern also
/// loses trailing blanks/CR/LF, as Bareos' Director-to-File-Daemon protocol does. Commands run as `/bin/sh -c`.
/// This host is Director and File Daemon at once, so both kinds read the local file system.
enum EntryListExpander {
    static func expand(_ entries: [FileEntry]) throws(SelectionError) -> [[UInt8]] {
        var result: [[UInt8]] = []
        for entry in entries {
            let value = entry.value
            switch value.first {
            case UInt8(ascii: "<"):
                for line in try readList(value.dropFirst(), at: entry.location) {
                    try expandClientSide(line, at: entry.location, into: &result)
                }
            case UInt8(ascii: "|"):
                for line in try runCommand(value.dropFirst(), at: entry.location) {
                    try expandClientSide(line, at: entry.location, into: &result)
                }
            case UInt8(ascii: "\\"):
                try expandClientSide(stripTrailingJunk(value.dropFirst()), at: entry.location, into: &result)
            default:
                result.append(stripTrailingJunk(value[...]))
            }
        }
        return result
    }

    /// The File Daemon's half: `<path` and `|command` are expanded, anything else is literal.
    private static func expandClientSide(
        _ value: [UInt8], at location: SourceLocation, into result: inout [[UInt8]]
    ) throws(SelectionError) {
        switch value.first {
        case UInt8(ascii: "<"): result += try readList(value.dropFirst(), at: location)
        case UInt8(ascii: "|"): result += try runCommand(value.dropFirst(), at: location)
        default: result.append(value)
        }
    }

    /// The entries listed in a file, one a line.
    static func readList(_ path: ArraySlice<UInt8>, at location: SourceLocation) throws(SelectionError) -> [[UInt8]] {
        let fd = SelectIO.withCString(path) { open($0, O_RDONLY | O_CLOEXEC) }
        guard fd >= 0 else {
            throw SelectionError(
                "cannot read file list \"\(SelectIO.display(path))\": \(SelectIO.errorText(errno))", at: location)
        }
        defer { close(fd) }
        guard let data = SelectIO.readAll(fd: fd) else {
            throw SelectionError(
                "cannot read file list \"\(SelectIO.display(path))\": \(SelectIO.errorText(errno))", at: location)
        }
        return lines(of: data)
    }

    /// The lines a shell command prints on standard output; a non-zero exit fails the job.
    static func runCommand(_ command: ArraySlice<UInt8>, at location: SourceLocation) throws(SelectionError)
        -> [[UInt8]]
    {
        do {
            return lines(of: try CommandRunner.run(command))
        } catch {
            throw SelectionError("command \"\(SelectIO.display(command))\" \(error.message)", at: location)
        }
    }

    /// Splits on LF, strips trailing blanks/CR from each line, drops empty lines.
    static func lines(of data: [UInt8]) -> [[UInt8]] {
        data.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: true)
            .map { stripTrailingJunk($0) }
            .filter { !$0.isEmpty }
    }

    /// Removes trailing blanks, CR and LF (not tabs).
    static func stripTrailingJunk(_ bytes: ArraySlice<UInt8>) -> [UInt8] {
        var end = bytes.endIndex
        while end > bytes.startIndex {
            let byte = bytes[end - 1]
            guard byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\r") || byte == UInt8(ascii: "\n") else { break }
            end -= 1
        }
        return Array(bytes[bytes.startIndex..<end])
    }
}
