/// Applying `Keyword = value` lines to an Options block, with Bareos' accepted values (section 3).
extension OptionsBlock {
    /// Why a value was refused; rendered by the parser with the keyword and the value.
    struct ValueProblem: Error {
        var expected: String

        func message(for keyword: String, value: String) -> String {
            "invalid value \"\(value)\" for \(keyword): expected \(expected)"
        }
    }

    /// Every Options keyword, normalised (lower case, blanks removed).
    static let keywords: Set<String> = [
        "compression", "signature", "onefs", "recurse", "sparse", "hardlinks", "readfifo", "replace", "portable",
        "mtimeonly", "keepatime", "exclude", "aclsupport", "ignorecase", "hfsplussupport", "noatime",
        "enhancedwild", "checkfilechanges", "honornodumpflag", "xattrsupport", "autoexclude", "forceencryption",
        "size", "shadowing", "strippath", "accurate", "verify", "plugin", "fstype", "drivetype", "meta", "wild",
        "wilddir", "wildfile", "regex", "regexdir", "regexfile",
    ]

    /// Options keywords that this build parses but does not act on yet: `check` warns once per keyword.
    /// Selection (patterns, Exclude, IgnoreCase, Recurse, One FS, FS Type, Size, Hard Links, Read Fifo, Plugin)
    /// is applied by the FileSet engine. `Sparse` is listed because holes are always kept (found with SEEK_HOLE),
    /// whatever it says.
    /// Backup applies Signature, Compression, No Atime, Acl Support, Xattr Support, Accurate and Mtime Only as well.
    static let notAppliedKeywords: [String: String] = [
        "sparse": "Sparse", "portable": "Portable", "readfifo": "Read Fifo",
        "keepatime": "Keep Atime",
        "enhancedwild": "Enhanced Wild", "checkfilechanges": "Check File Changes",
        "honornodumpflag": "Honor No Dump Flag", "hfsplussupport": "Hfs Plus Support",
        "autoexclude": "Auto Exclude",
        "forceencryption": "Force Encryption", "shadowing": "Shadowing", "strippath": "Strip Path",
        "verify": "Verify", "drivetype": "Drive Type", "meta": "Meta",
        "replace": "Replace",
    ]

    private static let accurateLetters = Set("ipnugsamcd51A")
    private static let verifyLetters = Set("ipnugsamcd51")
    private static let driveTypes: Set<String> = ["removable", "fixed", "remote", "cdrom", "ramdisk"]

    /// Options booleans accept only yes/no (case-insensitive).
    private static func flag(_ text: String) throws(ValueProblem) -> Bool {
        switch text.lowercased() {
        case "yes": return true
        case "no": return false
        default: throw ValueProblem(expected: "yes or no")
        }
    }

    /// Bareos keeps one code per "on" value: once a block sets the non-default value, a later line with the
    /// default does not undo it (`Recurse = no` then `Recurse = yes` still means no recursion).
    private static func set(_ flag: inout Bool, default defaultValue: Bool, to value: Bool) {
        if value != defaultValue { flag = value }
    }

    mutating func apply(key: String, value bytes: [UInt8], at valueLocation: SourceLocation) throws(ValueProblem) {
        let text = String(decoding: bytes, as: UTF8.self)
        switch key {
        case "compression":
            compression = try OptionsBlock.compression(text)
        case "signature":
            guard let signature = Signature.allCases.first(where: { $0.rawValue.lowercased() == text.lowercased() })
            else { throw ValueProblem(expected: "MD5, SHA1, SHA256, SHA512 or XXH128") }
            do {
                try Digester.checkAvailable(DigestAlgorithm(signature))
            } catch {
                throw ValueProblem(expected: "a digest this host can compute (\(error))")
            }
            if !signatures.contains(signature) { signatures.append(signature) }
        case "onefs": OptionsBlock.set(&oneFS, default: true, to: try OptionsBlock.flag(text))
        case "recurse": OptionsBlock.set(&recurse, default: true, to: try OptionsBlock.flag(text))
        case "sparse": OptionsBlock.set(&sparse, default: false, to: try OptionsBlock.flag(text))
        case "hardlinks": OptionsBlock.set(&hardLinks, default: false, to: try OptionsBlock.flag(text))
        case "readfifo": OptionsBlock.set(&readFifo, default: false, to: try OptionsBlock.flag(text))
        case "portable": OptionsBlock.set(&portable, default: false, to: try OptionsBlock.flag(text))
        case "mtimeonly": OptionsBlock.set(&mtimeOnly, default: false, to: try OptionsBlock.flag(text))
        case "keepatime": OptionsBlock.set(&keepAtime, default: false, to: try OptionsBlock.flag(text))
        case "exclude": OptionsBlock.set(&exclude, default: false, to: try OptionsBlock.flag(text))
        case "aclsupport": OptionsBlock.set(&aclSupport, default: true, to: try OptionsBlock.flag(text))
        case "ignorecase": OptionsBlock.set(&ignoreCase, default: false, to: try OptionsBlock.flag(text))
        case "hfsplussupport": OptionsBlock.set(&hfsPlusSupport, default: false, to: try OptionsBlock.flag(text))
        case "noatime": OptionsBlock.set(&noAtime, default: false, to: try OptionsBlock.flag(text))
        case "enhancedwild":
            // Bareos maps this keyword to the No Atime code; basename matching is never enabled.
            let on = try OptionsBlock.flag(text)
            enhancedWild = on
            OptionsBlock.set(&noAtime, default: false, to: on)
        case "checkfilechanges":
            OptionsBlock.set(&checkFileChanges, default: false, to: try OptionsBlock.flag(text))
        case "honornodumpflag": OptionsBlock.set(&honorNoDumpFlag, default: false, to: try OptionsBlock.flag(text))
        case "xattrsupport": OptionsBlock.set(&xattrSupport, default: true, to: try OptionsBlock.flag(text))
        case "autoexclude": OptionsBlock.set(&autoExclude, default: true, to: try OptionsBlock.flag(text))
        case "forceencryption": OptionsBlock.set(&forceEncryption, default: false, to: try OptionsBlock.flag(text))
        case "replace":
            guard let value = Replace(rawValue: text.lowercased()) else {
                throw ValueProblem(expected: "always, ifnewer, ifolder or never")
            }
            replace = value
        case "shadowing":
            guard let value = Shadowing(rawValue: text.lowercased()) else {
                throw ValueProblem(expected: "none, localwarn, localremove, globalwarn or globalremove")
            }
            shadowing = value
        case "size":
            guard let match = ConfigValues.sizeMatch(text) else {
                throw ValueProblem(expected: "a size such as 10k, <1m, >2g or 1m-10m (units k kb m mb g gb ...)")
            }
            size = match
        case "strippath":
            guard let count = Int(text), count >= 0 else { throw ValueProblem(expected: "a non-negative integer") }
            stripPath = count
        case "accurate":
            guard !text.isEmpty, text.allSatisfy({ OptionsBlock.accurateLetters.contains($0) }) else {
                throw ValueProblem(expected: "letters from i p n u g s a m c d 5 1 A")
            }
            accurate = text
        case "verify":
            guard !text.isEmpty, text.allSatisfy({ OptionsBlock.verifyLetters.contains($0) }) else {
                throw ValueProblem(expected: "letters from i p n u g s a m c d 5 1")
            }
            verify = (verify ?? "") + text
        case "plugin":
            plugins.append(PluginEntry(string: text, location: valueLocation))
        case "fstype": fsTypes.append(text)
        case "drivetype":
            guard OptionsBlock.driveTypes.contains(text.lowercased()) else {
                throw ValueProblem(expected: "removable, fixed, remote, cdrom or ramdisk")
            }
            driveTypes.append(text.lowercased())
        case "meta": meta.append(text)
        case "wild": wild.append(bytes)
        case "wilddir": wildDir.append(bytes)
        case "wildfile": wildFile.append(bytes)
        case "regex": regex.append(bytes)
        case "regexdir": regexDir.append(bytes)
        case "regexfile": regexFile.append(bytes)
        default:
            throw ValueProblem(expected: "a known Options directive")
        }
    }

    private static func compression(_ text: String) throws(ValueProblem) -> Compression {
        let lower = text.lowercased()
        switch lower {
        case "gzip": return .gzip(level: 6)
        case "lzo": return .lzo
        case "lzfast": return .lzfast
        case "lz4": return .lz4
        case "lz4hc": return .lz4hc
        default:
            if lower.hasPrefix("gzip"), lower.count == 5, let level = Int(lower.dropFirst(4)), (1...9).contains(level) {
                return .gzip(level: level)
            }
            throw ValueProblem(expected: "GZIP, GZIP1 to GZIP9, LZO, LZFAST, LZ4 or LZ4HC")
        }
    }
}
