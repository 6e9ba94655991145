#if canImport(Glibc)
import Glibc
#endif

/// `@file` includes: the pattern expanded (glob), each file read and pushed on the lexer's stack of sources.
extension ConfigLexer {
    /// Maximum nesting of `@` includes; deeper nesting is reported as an error rather than exhausting memory.
    static let maximumIncludeDepth = 64

    func include(_ nameBytes: [UInt8], at location: SourceLocation) throws(ConfigError) {
        let name = String(decoding: nameBytes, as: UTF8.self)
        func fail(_ message: String) -> ConfigError {
            ConfigError(message, at: location, lineText: lineText(for: location))
        }
        guard !name.isEmpty else { throw fail("'@' without a file name") }
        if inputs.count >= ConfigLexer.maximumIncludeDepth {
            throw fail("includes nested more than \(ConfigLexer.maximumIncludeDepth) deep at @\(name)")
        }
        if name.hasPrefix("|") {
            let command = String(name.dropFirst())
            let output: [UInt8]
            do {
                output = try CommandRunner.run(command)
            } catch {
                throw fail("@|\(command): command \(error.message)")
            }
            inputs.append(Input(name: "@|\(command)", identity: nil, bytes: output))
            filesRead.append("@|\(command)")
            return
        }
        let including = location.file
        let paths = try expandIncludePattern(name, includedFrom: including, fail: fail)
        // Bareos pushes every match on a stack, so the matches are read last-first.
        for path in paths {
            let identity = ConfigLexer.canonicalPath(path)
            if let cycleStart = inputs.firstIndex(where: { $0.identity == identity }) {
                let chain = inputs[cycleStart...].map(\.name) + [path]
                throw fail("include cycle: \(chain.joined(separator: " -> "))")
            }
            let bytes: [UInt8]
            do {
                bytes = try ConfigLexer.readFile(path, includedFrom: location)
            } catch {
                throw fail(error.message)
            }
            inputs.append(Input(name: path, identity: identity, bytes: bytes))
            filesRead.append(path)
        }
    }

    /// Resolves an include name to the files to read, in the order they are pushed (so the last is read first).
    func expandIncludePattern(
        _ name: String, includedFrom: String, fail: (String) -> ConfigError
    ) throws(ConfigError) -> [String] {
        // As in Bareos, only `*` and `?` make a name a pattern that may match nothing.
        let isPattern = name.contains("*") || name.contains("?")
        // Relative names: Bareos resolves them against the working directory; we also try the including
        // file's directory (documented difference), so a config tree can be moved as a whole.
        var candidates = [name]
        if !name.hasPrefix("/"), let slash = includedFrom.lastIndex(of: "/") {
            candidates.append(String(includedFrom[...slash]) + name)
        }
        for candidate in candidates {
            let matches = ConfigLexer.glob(candidate)
            if !matches.isEmpty { return isPattern ? matches : [matches[0]] }
        }
        if isPattern { return [] }
        throw fail("cannot open included config file \(name): No such file or directory")
    }

    static func glob(_ pattern: String) -> [String] {
        var result = glob_t()
        defer { globfree(&result) }
        guard Glibc.glob(pattern, 0, nil, &result) == 0 else { return [] }
        var paths: [String] = []
        for index in 0..<Int(result.gl_pathc) {
            if let cString = result.gl_pathv[index] { paths.append(String(cString: cString)) }
        }
        return paths
    }

    static func canonicalPath(_ path: String) -> String {
        guard let resolved = realpath(path, nil) else { return path }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    static func readFile(_ path: String, includedFrom: SourceLocation?) throws(ConfigError) -> [UInt8] {
        let file: FileDescriptor
        do {
            file = try FileDescriptor.open(path, O_RDONLY)
        } catch {
            throw ConfigError(error.message("cannot open config file \(path)"))
        }
        do {
            return try file.closeAfter { () throws(Errno) in
                // read(2) on a directory fails with EISDIR: the same message.
                if let info = try? file.status(), (info.st_mode & S_IFMT) == S_IFDIR { throw Errno.isDirectory }
                return try file.readAll()
            }
        } catch {
            throw ConfigError(error.message("cannot read config file \(path)"))
        }
    }
}
