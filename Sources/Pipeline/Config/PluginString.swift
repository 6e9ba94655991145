/// Splitting `Plugin =` strings the way Bareos does (`bareos-python-fd-api.md` sections 1.2 and 1.3).
public enum PluginString {
    /// A problem with a plugin string, reported as Bareos words it.
    public struct Problem: Error, Sendable, CustomStringConvertible {
        public var message: String
        public var description: String { message }
    }

    /// What the python-fd plugin extracts from its string: the two keys it consumes and the option string the
    /// Python module receives in `load_bareos_plugin()` and `parse_plugin_definition()`.
    public struct PythonDefinition: Sendable, Equatable {
        public var modulePath: String?
        public var moduleName: String?
        /// `key=value` items other than module_path/module_name, `:`-separated, with a trailing `:` when not empty.
        public var options: String
    }

    /// The plugin name: the text before the first `:`, or the whole string when it has no `:`.
    public static func name(_ string: String) -> String {
        guard let colon = string.firstIndex(of: ":") else { return string }
        return String(string[..<colon])
    }

    /// Checks the name part: a string with a blank but no `:` is a "malformed plugin command" in Bareos.
    public static func validateName(_ string: String) throws(Problem) {
        if !string.contains(":") && string.contains(" ") {
            throw Problem(message: "malformed plugin command \"\(string)\": no ':' after the plugin name")
        }
        if name(string).isEmpty {
            throw Problem(message: "plugin string \"\(string)\" has an empty plugin name")
        }
    }

    /// True when a plugin name reaches the python-fd plugin: `python3`, or `python` (the name minus its last
    /// character, a rule Bareos keeps so that python2-era backups restore).
    public static func isPython(_ string: String) -> Bool {
        let name = name(string)
        return name == "python3" || name == "python"
    }

    /// `NAME` for `pipeline:NAME`, nil for any other string.
    static func pipelineName(_ string: String) -> String? {
        guard name(string) == "pipeline", let colon = string.firstIndex(of: ":") else { return nil }
        return String(string[string.index(after: colon)...])
    }

    /// Splits a python-fd plugin string exactly as Bareos' C side does (section 1.3, quirks included).
    /// Returns nil for the special string `*all*`, which the plugin skips.
    public static func pythonDefinition(_ string: String) throws(Problem) -> PythonDefinition? {
        if string == "*all*" { return nil }
        var definition = PythonDefinition(modulePath: nil, moduleName: nil, options: "")
        var items: [String] = []
        for (key, value) in try pythonItems(string) {
            let keyText = key.lowercased()
            if "module_path".hasPrefix(keyText) {
                definition.modulePath = stripBackslashes(value)
            } else if "module_name".hasPrefix(keyText) {
                definition.moduleName = stripBackslashes(value)
            } else {
                items.append(key + "=" + String(decoding: value, as: UTF8.self))
            }
        }
        if !items.isEmpty { definition.options = items.joined(separator: ":") + ":" }
        return definition
    }

    /// The `key=value` items after the plugin name, split as Bareos' python-fd and python-dir plugins split them:
    /// a key runs to the next `=` anywhere in the rest (so an item without `=` merges into the next key), a value
    /// to the next `:` not preceded by a backslash. A string without `:`, or whose rest has no `=`, is refused.
    static func pythonItems(_ string: String) throws(Problem) -> [(key: String, value: [UInt8])] {
        let bytes = Array(string.utf8)
        guard let colon = bytes.firstIndex(of: UInt8(ascii: ":")) else {
            throw Problem(message: "illegal plugin definition \"\(string)\": no ':' after the plugin name")
        }
        var rest = bytes[(colon + 1)...]
        var items: [(key: String, value: [UInt8])] = []
        while !rest.isEmpty {
            guard let equals = rest.firstIndex(of: UInt8(ascii: "=")) else {
                throw Problem(
                    message: "illegal argument \"\(String(decoding: rest, as: UTF8.self))\" without value in "
                        + "plugin definition \"\(string)\"")
            }
            var end = equals + 1
            while end < rest.endIndex {
                if rest[end] == UInt8(ascii: ":") && rest[end - 1] != UInt8(ascii: "\\") { break }
                end += 1
            }
            let key = String(decoding: rest[rest.startIndex..<equals], as: UTF8.self)
            items.append((key, Array(rest[(equals + 1)..<end])))
            rest = end < rest.endIndex ? rest[(end + 1)...] : []
        }
        return items
    }

    /// Bareos removes backslashes from module_path/module_name in place without re-terminating the string, so
    /// every removed backslash leaves one stale character of the original at the end (`x\:y` becomes `x:yy`).
    static func stripBackslashes(_ value: [UInt8]) -> String {
        let kept = value.filter { $0 != UInt8(ascii: "\\") }
        let removed = value.count - kept.count
        return String(decoding: kept + value.suffix(removed), as: UTF8.self)
    }

    /// `key=value` items of a native stage string (`checksum:log=/x:algo=sha256`): split on `:` not preceded by
    /// a backslash, backslashes before `:` removed; an item without `=` has an empty value.
    public static func options(_ string: String) -> [(key: String, value: String)] {
        guard let colon = string.firstIndex(of: ":") else { return [] }
        var items: [(String, String)] = []
        var current = ""
        var escaped = false
        func flush() {
            guard !current.isEmpty else { return }
            if let equals = current.firstIndex(of: "=") {
                items.append((String(current[..<equals]), String(current[current.index(after: equals)...])))
            } else {
                items.append((current, ""))
            }
            current = ""
        }
        for char in string[string.index(after: colon)...] {
            if escaped {
                if char != ":" { current.append("\\") }
                current.append(char)
                escaped = false
            } else if char == "\\" {
                escaped = true
            } else if char == ":" {
                flush()
            } else {
                current.append(char)
            }
        }
        if escaped { current.append("\\") }
        flush()
        return items
    }
}
