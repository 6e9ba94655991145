#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A compiled POSIX extended regular expression (glibc `regcomp`/`regexec`), unanchored search.
///
/// This is what the File Daemon applies to `Regex`, `RegexDir` and `RegexFile` patterns (section 4.5): the pattern
/// is compiled with `REG_EXTENDED | REG_NOSUB`, plus `REG_ICASE` for `IgnoreCase = yes`, and a path matches when
/// the expression matches anywhere in it (use `^` and `$` to anchor).
///
/// Paths are handed to `regexec` with `REG_STARTEND`, so they need no NUL terminator and matching neither copies
/// nor allocates. The character semantics are those of the process locale's `LC_CTYPE` (the "C" locale unless the
/// program calls `setlocale`: one byte is one character, and `REG_ICASE` folds ASCII letters only).
///
/// Thread safety: glibc's `regexec` does not modify the compiled `regex_t` in a way visible to other callers; it
/// takes a lock inside the compiled pattern for the duration of a search, so concurrent `matches` calls on one
/// instance are safe (they are serialised per instance). Nothing mutates the `regex_t` between `init` and `deinit`,
/// hence `@unchecked Sendable`.
final class POSIXRegex: @unchecked Sendable {
    /// The pattern exactly as given.
    public let pattern: [UInt8]
    /// Whether the pattern was compiled with `REG_ICASE`.
    public let ignoreCase: Bool

    private let compiled: UnsafeMutablePointer<regex_t>

    /// Compiles `pattern` as a POSIX extended regular expression.
    ///
    /// A NUL byte in `pattern` ends it, as it would for the C library.
    /// - Parameters:
    ///   - pattern: The expression, as raw bytes.
    ///   - ignoreCase: Compile with `REG_ICASE`.
    /// - Throws: `RegexError` carrying glibc's `regerror` text when the pattern does not compile.
    public init(_ pattern: [UInt8], ignoreCase: Bool = false) throws(RegexError) {
        let compiled = UnsafeMutablePointer<regex_t>.allocate(capacity: 1)
        compiled.initialize(to: regex_t())
        var flags = REG_EXTENDED | REG_NOSUB
        if ignoreCase { flags |= REG_ICASE }
        var cPattern = pattern.map { CChar(bitPattern: $0) }
        cPattern.append(0)
        let status = regcomp(compiled, cPattern, flags)
        guard status == 0 else {
            let message = Self.message(for: status, compiled: compiled)
            // glibc releases its own allocations when regcomp fails; only our storage is left to free.
            compiled.deallocate()
            throw RegexError(pattern: String(decoding: pattern, as: UTF8.self), message: message)
        }
        self.pattern = pattern
        self.ignoreCase = ignoreCase
        self.compiled = compiled
    }

    deinit {
        regfree(compiled)
        compiled.deallocate()
    }

    /// Whether the expression matches somewhere in `path`.
    public func matches(_ path: [UInt8]) -> Bool {
        path.withUnsafeBufferPointer { matches($0) }
    }

    /// Whether the expression matches somewhere in `path` (not NUL-terminated), without allocating.
    ///
    /// Paths longer than `Int32.max` bytes (beyond `regoff_t`) never match.
    public func matches(_ path: UnsafeBufferPointer<UInt8>) -> Bool {
        guard path.count <= Int(Int32.max) else { return false }
        // REG_STARTEND: glibc searches bytes [rm_so, rm_eo) of the buffer and reads no terminator.
        var bounds = regmatch_t(rm_so: 0, rm_eo: regoff_t(path.count))
        guard let base = path.baseAddress else {
            return Self.emptyString.withUnsafeBufferPointer { empty in
                regexec(compiled, empty.baseAddress, 1, &bounds, REG_STARTEND) == 0
            }
        }
        return base.withMemoryRebound(to: CChar.self, capacity: path.count) { start in
            regexec(compiled, start, 1, &bounds, REG_STARTEND) == 0
        }
    }

    /// A terminated empty string for the empty path (an empty buffer may have no base address).
    private static let emptyString: [CChar] = [0]

    private static func message(for status: Int32, compiled: UnsafePointer<regex_t>) -> String {
        let size = regerror(status, compiled, nil, 0)
        guard size > 0 else { return "regcomp error \(status)" }
        var buffer = [CChar](repeating: 0, count: size)
        regerror(status, compiled, &buffer, size)
        let bytes = buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }
        return String(decoding: bytes, as: UTF8.self)
    }
}

/// A regular expression that glibc's `regcomp` rejected.
struct RegexError: Error, Sendable, CustomStringConvertible {
    /// The offending pattern (bytes that are not UTF-8 are shown as U+FFFD).
    public var pattern: String
    /// glibc's explanation, from `regerror` (for example `Unmatched ( or \(`).
    public var message: String

    public init(pattern: String, message: String) {
        self.pattern = pattern
        self.message = message
    }

    /// `invalid regular expression "pattern": message`.
    public var description: String { "invalid regular expression \"\(pattern)\": \(message)" }
}
