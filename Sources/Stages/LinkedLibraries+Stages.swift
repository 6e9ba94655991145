import BareosFD
internal import CMagic
import Pipeline

extension LinkedLibraries {
    /// The libraries of ``versions`` plus those the stages link: the embedded Python and libmagic.
    public static var allVersions: [(name: String, version: String)] {
        let magic = magic_version()
        return versions + [("Python", String(String(cString: opfd_python_version()).prefix { $0 != " " })), ("libmagic", "\(magic / 100).\(magic % 100)")]
    }
}
