/// FileSet, Include, Exclude and Options blocks (sections 2 and 3 of `bareos-conf-fileset.md`).
extension ConfigParser {
    /// Options keywords whose value may start on the line after `=` (section 1.5).
    private static let nextLineOptionKeywords: Set<String> = [
        "wild", "wilddir", "wildfile", "regex", "regexdir", "regexfile", "fstype", "drivetype", "meta",
    ]

    /// Options keywords Bareos refuses inside an Options block.
    private static let forbiddenOptionKeywords: [String: String] = [
        "encryption": "Encryption", "basejob": "BaseJob", "excludedircontaining": "Exclude Dir Containing",
    ]

    func parseFileSet(at location: SourceLocation) throws(ConfigError) -> FileSet {
        var fileSet = FileSet(name: "", location: location)
        var nameLocation: SourceLocation?
        while true {
            let keyword = try next(skipEndOfLine: true)
            switch keyword.kind {
            case .endBlock:
                guard nameLocation != nil else { throw error("FileSet resource has no Name", at: location) }
                return fileSet
            case .endOfFile:
                throw error("unexpected end of file inside a FileSet resource: missing '}'", at: keyword.location)
            case .identifier:
                break
            default:
                throw error("expected a FileSet directive, got \(keyword.described)", at: keyword.location)
            }
            switch ConfigParser.normalize(keyword) {
            case "name":
                try expectEquals(after: keyword)
                let token = try nameValue(for: keyword)
                if nameLocation != nil { throw error("Name given twice in this FileSet resource", at: keyword.location) }
                nameLocation = token.location
                fileSet.name = token.text
                try skipRestOfLine()
            case "description":
                try expectEquals(after: keyword)
                fileSet.description = try value(for: keyword, sameLine: true).text
                try skipRestOfLine()
            case "include":
                try expectBlockStart(after: keyword)
                fileSet.includes.append(try parseInclude(at: keyword.location))
                try skipRestOfLine()
            case "exclude":
                try expectBlockStart(after: keyword)
                fileSet.excludes.append(try parseExclude(at: keyword.location))
                try skipRestOfLine()
            case "ignorefilesetchanges":
                try expectEquals(after: keyword)
                fileSet.ignoreFileSetChanges = try resourceBool(for: keyword)
                try skipRestOfLine()
            case "enablevss":
                try expectEquals(after: keyword)
                fileSet.enableVSS = try resourceBool(for: keyword)
                warnings.append(
                    ConfigWarning("Enable VSS is parsed and kept but not applied (Windows only)", at: keyword.location))
                try skipRestOfLine()
            default:
                throw error("unknown FileSet directive \"\(keyword.text)\"", at: keyword.location)
            }
        }
    }

    /// A resource name value: identifier or string (a bare number is refused, as in Bareos).
    func nameValue(for keyword: ConfigToken) throws(ConfigError) -> ConfigToken {
        let token = try value(for: keyword, sameLine: true)
        if token.kind == .number {
            throw error("expected a name, got number \(token.text) (quote it: \"\(token.text)\")", at: token.location)
        }
        if let problem = ConfigParser.nameProblem(token.text) { throw error(problem, at: token.location) }
        return token
    }

    /// A FileSet- or Job-level boolean: yes/no; true/false and quoted "1"/"0" with a deprecation warning.
    func resourceBool(for keyword: ConfigToken) throws(ConfigError) -> Bool {
        let token = try value(for: keyword, sameLine: true)
        if let result = try ConfigParser.resourceBool(
            token.text, quoted: token.kind == .quotedString, number: token.kind == .number, keyword: keyword.text,
            location: token.location, warnings: &warnings)
        {
            return result
        }
        throw error("expected yes or no for \(keyword.text), got \(token.described)", at: token.location)
    }

    /// Shared by FileSet and Job parsing; nil when the text is not a boolean.
    static func resourceBool(
        _ text: String, quoted: Bool, number: Bool, keyword: String, location: SourceLocation,
        warnings: inout [ConfigWarning]
    ) throws(ConfigError) -> Bool? {
        if number { return nil }
        switch text.lowercased() {
        case "yes": return true
        case "no": return false
        case "true", "false":
            warnings.append(
                ConfigWarning("\(keyword) = \(text) is deprecated; write yes or no", at: location))
            return text.lowercased() == "true"
        case "1" where quoted, "0" where quoted:
            warnings.append(
                ConfigWarning("\(keyword) = \"\(text)\" is deprecated; write yes or no", at: location))
            return text == "1"
        default:
            return nil
        }
    }

    /// A `File =`/`Plugin =` value: may start on the next line; an unquoted value may not contain a backslash.
    private func entryValue(for keyword: ConfigToken) throws(ConfigError) -> ConfigToken {
        let token = try value(for: keyword, sameLine: false)
        if token.kind != .quotedString, token.bytes.contains(UInt8(ascii: "\\")) {
            throw error(
                "backslash in an unquoted \(keyword.text) value; use forward slashes or quote the value",
                at: token.location)
        }
        return token
    }

    private func parseInclude(at location: SourceLocation) throws(ConfigError) -> Include {
        var include = Include(location: location)
        while true {
            let keyword = try next(skipEndOfLine: true)
            switch keyword.kind {
            case .endBlock:
                if include.options.isEmpty {
                    var block = OptionsBlock(index: 0, location: location)
                    block.synthesized = true
                    include.options.append(block)
                }
                return include
            case .endOfFile:
                throw error("unexpected end of file inside an Include block: missing '}'", at: keyword.location)
            case .identifier:
                break
            default:
                throw error("expected an Include directive, got \(keyword.described)", at: keyword.location)
            }
            switch ConfigParser.normalize(keyword) {
            case "file":
                try expectEquals(after: keyword)
                let token = try entryValue(for: keyword)
                include.files.append(FileEntry(value: token.bytes, location: token.location))
                try skipRestOfLine()
            case "plugin":
                try expectEquals(after: keyword)
                let token = try entryValue(for: keyword)
                include.plugins.append(PluginEntry(string: token.text, location: token.location))
                try skipRestOfLine()
            case "excludedircontaining":
                try expectEquals(after: keyword)
                let token = try value(for: keyword, sameLine: true)
                if token.bytes.count > 127 {
                    throw error("Exclude Dir Containing name is longer than 127 bytes", at: token.location)
                }
                include.excludeDirContaining.append(token.bytes)
                try skipRestOfLine()
            case "options":
                try expectBlockStart(after: keyword)
                include.options.append(try parseOptions(index: include.options.count, at: keyword.location))
            default:
                throw error("\"\(keyword.text)\" is not allowed in an Include block", at: keyword.location)
            }
        }
    }

    private func parseExclude(at location: SourceLocation) throws(ConfigError) -> ExcludeBlock {
        var exclude = ExcludeBlock(location: location)
        while true {
            let keyword = try next(skipEndOfLine: true)
            switch keyword.kind {
            case .endBlock:
                return exclude
            case .endOfFile:
                throw error("unexpected end of file inside an Exclude block: missing '}'", at: keyword.location)
            case .identifier:
                break
            default:
                throw error("expected File = in an Exclude block, got \(keyword.described)", at: keyword.location)
            }
            guard ConfigParser.normalize(keyword) == "file" else {
                throw error(
                    "\"\(keyword.text)\" is not allowed in an Exclude block (only File =)", at: keyword.location)
            }
            try expectEquals(after: keyword)
            let token = try entryValue(for: keyword)
            exclude.files.append(FileEntry(value: token.bytes, location: token.location))
            try skipRestOfLine()
        }
    }

    // MARK: - Options

    private func parseOptions(index: Int, at location: SourceLocation) throws(ConfigError) -> OptionsBlock {
        var block = OptionsBlock(index: index, location: location)
        while true {
            let keyword = try next(skipEndOfLine: true)
            switch keyword.kind {
            case .endBlock:
                return block
            case .endOfFile:
                throw error("unexpected end of file inside an Options block: missing '}'", at: keyword.location)
            case .identifier:
                break
            default:
                throw error("expected an Options directive, got \(keyword.described)", at: keyword.location)
            }
            let key = ConfigParser.normalize(keyword)
            if let spelled = ConfigParser.forbiddenOptionKeywords[key] {
                throw error("\(spelled) is not permitted in an Options block", at: keyword.location)
            }
            guard OptionsBlock.keywords.contains(key) else {
                throw error("unknown Options directive \"\(keyword.text)\"", at: keyword.location)
            }
            try expectEquals(after: keyword)
            optionKeywordUses.append((key, keyword.text, keyword.location))
            let sameLine = !ConfigParser.nextLineOptionKeywords.contains(key)
            let token = try value(for: keyword, sameLine: sameLine, stringMode: true)
            do {
                try block.apply(key: key, value: token.bytes, at: token.location)
            } catch let problem {
                throw error(problem.message(for: keyword.text, value: token.text), at: token.location)
            }
            if key.hasPrefix("regex") {
                // Regular expressions are validated when the configuration is loaded, as the Director does.
                do {
                    _ = try POSIXRegex(token.bytes)
                } catch {
                    throw self.error("invalid regular expression \"\(token.text)\": \(error.message)", at: token.location)
                }
            }
            try skipRestOfLine()
        }
    }
}
