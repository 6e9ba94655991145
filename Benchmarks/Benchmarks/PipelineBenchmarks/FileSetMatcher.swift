import Pipeline

/// Bareos' per-entry FileSet decision over generated paths: a FileSet in the shape of a home-directory backup
/// (exclusions by WildDir and WildFile, a Regex block, an include block, the catch-all last block and an Exclude),
/// so that a path goes through several blocks before one decides.
struct FileSetMatcher {
    private let selector: FileSelector
    private let paths: [(path: [UInt8], isDirectory: Bool)]
    private let excludes: [Wildcard]

    static let config = """
        FileSet {
          Name = home
          Include {
            Options {
              WildDir = "*/.cache"; WildDir = "*/node_modules"; WildFile = "*.tmp"; WildFile = "*~"; Exclude = yes
            }
            Options { Regex = "^/home/[^/]+/Downloads/.*\\\\.(iso|img)$"; Exclude = yes }
            Options { Signature = SHA256; Wild = "*.jpg"; Wild = "*.png"; Wild = "*.pdf"; Compression = LZ4 }
            Options { Signature = SHA256 }
            File = /home
          }
          Exclude { File = /home/*/.local/share/Trash }
        }
        """

    init() throws {
        let configuration = try Configuration.parse(text: Self.config)
        guard let fileSet = configuration.fileSets["home"] else { throw BenchSetupError("no FileSet in the config") }
        selector = try FileSelector(fileSet: fileSet)
        excludes = [Wildcard(Array("/home/*/.local/share/Trash".utf8))]
        let leaves = [
            "Documents/report-%d.pdf", "Pictures/2026/img_%d.jpg", "src/project/Sources/File%d.swift",
            "src/web/node_modules/pkg%d/index.js", ".cache/thumbnails/%d.png", "notes/%d.txt~",
            "Downloads/disk%d.iso", "Music/track%d.flac",
        ]
        var paths: [(path: [UInt8], isDirectory: Bool)] = []
        for index in 0..<1000 {
            let leaf = leaves[index % leaves.count].replacingOccurrences(of: "%d", with: String(index))
            paths.append((Array("/home/user\(index % 7)/\(leaf)".utf8), index % 10 == 0))
        }
        self.paths = paths
    }

    /// The decision for generated path number `index` (paths repeat every 1,000).
    func match(_ index: Int) -> FileSelector.PathMatch {
        let entry = paths[index % paths.count]
        return selector.match(entry.path, isDirectory: entry.isDirectory, excludePatterns: excludes)
    }
}
