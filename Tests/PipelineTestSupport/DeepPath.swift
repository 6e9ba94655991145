#if canImport(Glibc)
import Glibc
#endif

/// Trees deeper than PATH_MAX, made one directory at a time with mkdirat/openat (no path-based call reaches them).
public enum DeepPath {
    /// Makes `depth` nested directories named `component` under `root` and, in the deepest one, the file `name`
    /// holding `contents`. Returns whether every step succeeded.
    @discardableResult
    public static func makeFile(under root: String, component: String, depth: Int, name: String, contents: [UInt8]) -> Bool {
        var fd = open(root, O_RDONLY | O_DIRECTORY)
        for _ in 0..<depth {
            guard fd >= 0, mkdirat(fd, component, 0o755) == 0 else { return false }
            let next = openat(fd, component, O_RDONLY | O_DIRECTORY)
            close(fd)
            fd = next
        }
        guard fd >= 0 else { return false }
        defer { close(fd) }
        let file = openat(fd, name, O_CREAT | O_WRONLY, 0o644)
        guard file >= 0 else { return false }
        defer { close(file) }
        return contents.withUnsafeBytes { write(file, $0.baseAddress, contents.count) } == contents.count
    }
}
