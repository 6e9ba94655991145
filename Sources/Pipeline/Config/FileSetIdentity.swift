/// How the catalog identifies a FileSet version (section 2.6): MD5 over the raw strings of every `File =` and
/// `Plugin =` entry (Include and Exclude blocks, config order, no separators), before `<`/`|` expansion.
/// Options, Exclude Dir Containing and Description do not count.
public enum FileSetIdentity {
    /// Lower-case hex MD5.
    public static func digest(_ fileSet: FileSet) -> String {
        // Not yet a job error: an OpenSSL in FIPS mode refuses MD5 and this stops the process. The callers
        // (BackupJob's label, LevelDecision.resolve, restore's FileSet lookup) are to take a throwing digest.
        let digester = try! Digester(.md5)
        for include in fileSet.includes {
            for file in include.files { digester.update(file.value) }
            for plugin in include.plugins { digester.update(Array(plugin.string.utf8)) }
        }
        for exclude in fileSet.excludes {
            for file in exclude.files { digester.update(file.value) }
        }
        return Hex.encode(digester.finalize())
    }
}
