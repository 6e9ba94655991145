/// How the catalog identifies a FileSet version (section 2.6): MD5 over the raw strings of every `File =` and
/// `Plugin =` entry (Include and Exclude blocks, config order, no separators), before `<`/`|` expansion.
/// Options, Exclude Dir Containing and Description do not count.
public enum FileSetIdentity {
    /// Lower-case hex MD5.
    public static func digest(_ fileSet: FileSet) -> String {
        var strings: [[UInt8]] = []
        for include in fileSet.includes {
            for file in include.files { strings.append(file.value) }
            for plugin in include.plugins { strings.append(Array(plugin.string.utf8)) }
        }
        for exclude in fileSet.excludes {
            for file in exclude.files { strings.append(file.value) }
        }
        // The identity is a name, not a protection: where OpenSSL refuses MD5 (FIPS mode) the Swift MD5 gives
        // the same value, so a job never stops over it and hosts agree.
        if let digester = try? Digester(.md5) {
            for string in strings { digester.update(string) }
            if let digest = try? digester.finalize() { return Hex.encode(digest) }
        }
        var md5 = PortableMD5()
        for string in strings { md5.update(string) }
        return Hex.encode(md5.finalize())
    }
}
