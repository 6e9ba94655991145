
internal import CLibcrypto
internal import CSQLite
internal import CXXHash
internal import CZlib

/// The versions of the C libraries this build runs with (as loaded, not as compiled against), for
/// `optionhost --version` and bug reports. Stages adds the ones only it links (Python, libmagic).
public enum LinkedLibraries {
    /// `(name, version)` pairs, in a fixed order.
    public static var versions: [(name: String, version: String)] {
        let xxhash = XXH_versionNumber()
        return [
            ("SQLite", String(cString: sqlite3_libversion())),
            ("OpenSSL", String(cString: OpenSSL_version(Int32(OPENSSL_VERSION))).replacingPrefix("OpenSSL ")),
            ("zlib", String(cString: zlibVersion())),
            ("xxHash", "\(xxhash / 10000).\(xxhash / 100 % 100).\(xxhash % 100)"),
        ]
    }
}

extension String {
    fileprivate func replacingPrefix(_ prefix: String) -> String {
        hasPrefix(prefix) ? String(dropFirst(prefix.count)) : self
    }
}
