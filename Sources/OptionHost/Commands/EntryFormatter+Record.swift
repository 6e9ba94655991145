import Pipeline

extension EntryFormatter {
    /// A `list files` line: like the estimate listing, plus the entry's status and, for failures, the reason.
    func line(_ record: FileRecord) -> [UInt8] {
        var text = EntryFormatter.modeString(record.mode, kind: record.kind) + " "
        text += EntryFormatter.pad(String(record.nlink), 3, right: true) + " "
        text += EntryFormatter.pad(record.userName ?? String(record.uid), 8) + " "
        text += EntryFormatter.pad(record.groupName ?? String(record.gid), 8) + " "
        text += EntryFormatter.pad(String(record.size), 12, right: true) + " "
        text += EntryFormatter.time(record.mtime.seconds) + "  "
        var bytes = Array(text.utf8) + TerminalText.escape(record.path)
        if let target = record.linkTarget {
            bytes += Array((record.kind == .hardLink ? " => " : " -> ").utf8) + TerminalText.escape(target)
        }
        var suffix = "  [\(record.status.rawValue)"
        if !record.chain.isEmpty { suffix += "; chain " + record.chain.joined(separator: " | ") }
        if let compression = record.compression { suffix += "; \(compression)" }
        suffix += "]"
        if var error = record.error {
            // The chain is printed already: a failure of its only stage need not repeat the (long) plugin string.
            if record.chain.count == 1, error.hasPrefix("stage \(record.chain[0]): ") {
                error = "stage failed: " + error.dropFirst("stage \(record.chain[0]): ".count)
            }
            suffix += " (\(TerminalText.escape(error)))"
        }
        return bytes + Array(suffix.utf8) + [UInt8(ascii: "\n")]
    }
}
