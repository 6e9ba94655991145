/// Bareos' wildcard matching on bytes (flags none, or CASEFOLD when IgnoreCase).
///
/// The pattern language is the one the File Daemon applies to `Wild`, `WildDir`, `WildFile` and `Exclude { File = }`
/// patterns (section 4.4):
///
/// - The whole path must match (anchored at both ends).
/// - `*` matches any sequence of bytes, **including `/`**; `?` matches any single byte, including `/`.
///   There is no special rule for a leading dot.
/// - `[...]` is a set of bytes with ranges (`a-z`); `[!...]` and `[^...]` negate it; a `]` written first is a
///   member; `\` escapes the next byte inside the set. There are no POSIX classes (`[[:alpha:]]` is an ordinary
///   set). A `[` without its closing `]` is a literal `[`.
/// - Outside sets, `\x` matches `x` literally; a lone backslash at the end of the pattern matches a backslash.
/// - With `caseFold`, ASCII upper-case letters are lower-cased in the pattern, the path and the ends of ranges.
/// - A pattern with 64 or more `*` groups that are not at the very end never matches (Bareos' recursion limit).
///
/// Paths and patterns are raw bytes; a NUL byte in the pattern ends it, as in C. Ranges compare bytes as unsigned
/// values. The pattern is compiled once in `init`; matching never allocates and runs in
/// O(path length × pattern length) time at worst, whatever the number of stars.
public struct Wildcard: Sendable, Hashable {
    /// The pattern exactly as given.
    public let pattern: [UInt8]
    /// Whether ASCII letters compare case-insensitively (`IgnoreCase = yes`).
    let caseFold: Bool

    private let program: Program

    /// Compiles `pattern`.
    ///
    /// Every byte sequence is a valid pattern, so this never fails.
    /// - Parameters:
    ///   - pattern: The wildcard, as raw bytes.
    ///   - caseFold: Fold ASCII upper-case letters to lower case before comparing.
    public init(_ pattern: [UInt8], caseFold: Bool = false) {
        self.pattern = pattern
        self.caseFold = caseFold
        self.program = Program(compiling: pattern, caseFold: caseFold)
    }

    /// Whether the whole of `path` matches the pattern.
    public func matches(_ path: [UInt8]) -> Bool {
        path.withUnsafeBufferPointer { matches($0) }
    }

    /// Whether the whole of `path` matches the pattern, without allocating (the walker's hot path).
    public func matches(_ path: UnsafeBufferPointer<UInt8>) -> Bool {
        program.run(path)
    }

    public static func == (lhs: Wildcard, rhs: Wildcard) -> Bool {
        lhs.caseFold == rhs.caseFold && lhs.pattern == rhs.pattern
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(pattern)
        hasher.combine(caseFold)
    }
}

// MARK: - Compiled form

extension Wildcard {
    /// One element of a compiled segment; each consumes exactly one byte (stars separate segments).
    fileprivate enum Token: Sendable {
        /// A byte, already case-folded when folding is on.
        case byte(UInt8)
        /// `?`
        case any
        /// A `[...]` set: index into `Program.sets`.
        case set(Int)
    }

    /// A 256-bit membership table, indexed by the (folded) path byte.
    fileprivate struct ByteSet: Sendable {
        var words: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)

        @inline(__always)
        func contains(_ byte: UInt8) -> Bool {
            let bit = UInt64(1) &<< UInt64(byte & 63)
            switch byte >> 6 {
            case 0: return words.0 & bit != 0
            case 1: return words.1 & bit != 0
            case 2: return words.2 & bit != 0
            default: return words.3 & bit != 0
            }
        }

        mutating func insert(_ byte: UInt8) {
            let bit = UInt64(1) &<< UInt64(byte & 63)
            switch byte >> 6 {
            case 0: words.0 |= bit
            case 1: words.1 |= bit
            case 2: words.2 |= bit
            default: words.3 |= bit
            }
        }

        mutating func invert() {
            words = (~words.0, ~words.1, ~words.2, ~words.3)
        }
    }

    /// The pattern split at its stars: `head * middle[0] * middle[1] * ... * tail`.
    ///
    /// Each segment is a run of one-byte tokens, so it matches a fixed number of bytes. The head must match at the
    /// start of the path, the tail at its end, and the middle segments in order, without overlap, in between;
    /// taking the leftmost place for each middle segment is always right, which is what keeps matching linear in
    /// the number of segments instead of exponential in the number of stars.
    fileprivate struct Program: Sendable {
        /// One-byte tokens of all segments, in pattern order (stars removed).
        var tokens: [Token] = []
        var sets: [ByteSet] = []
        /// Token ranges of the segments between stars.
        var middle: [Range<Int>] = []
        var head: Range<Int> = 0..<0
        var tail: Range<Int> = 0..<0
        var hasStar = false
        /// Set when Bareos' recursion limit makes the pattern unmatchable.
        var neverMatches = false
        var caseFold: Bool

        /// Bareos gives up (no match) when matching needs a 65th level of recursion, i.e. when it reaches the
        /// 64th `*` group that is followed by more pattern.
        static let maxInnerStars = 63

        init(compiling pattern: [UInt8], caseFold: Bool) {
            self.caseFold = caseFold
            let end = pattern.firstIndex(of: 0) ?? pattern.count
            var segments: [Range<Int>] = []
            var segmentStart = 0
            var index = 0
            while index < end {
                let byte = pattern[index]
                index += 1
                switch byte {
                case UInt8(ascii: "*"):
                    while index < end && pattern[index] == UInt8(ascii: "*") { index += 1 }
                    segments.append(segmentStart..<tokens.count)
                    segmentStart = tokens.count
                case UInt8(ascii: "?"):
                    tokens.append(.any)
                case UInt8(ascii: "["):
                    if let (set, next) = Self.parseSet(pattern, from: index, end: end, caseFold: caseFold) {
                        tokens.append(.set(sets.count))
                        sets.append(set)
                        index = next
                    } else {
                        tokens.append(.byte(UInt8(ascii: "[")))
                    }
                case UInt8(ascii: "\\"):
                    if index < end {
                        tokens.append(.byte(Self.fold(pattern[index], caseFold)))
                        index += 1
                    } else {
                        tokens.append(.byte(UInt8(ascii: "\\")))
                    }
                default:
                    tokens.append(.byte(Self.fold(byte, caseFold)))
                }
            }
            segments.append(segmentStart..<tokens.count)
            hasStar = segments.count > 1
            head = segments[0]
            tail = segments[segments.count - 1]
            if hasStar {
                middle = Array(segments[1..<(segments.count - 1)])
                // Stars that are not at the very end of the pattern: every segment boundary except a trailing one.
                let innerStars = tail.isEmpty ? segments.count - 2 : segments.count - 1
                neverMatches = innerStars > Self.maxInnerStars
            }
        }

        @inline(__always)
        static func fold(_ byte: UInt8, _ caseFold: Bool) -> UInt8 {
            caseFold && byte &- UInt8(ascii: "A") < 26 ? byte | 0x20 : byte
        }

        /// Parses a set whose `[` is just before `start`. Returns nil when the set is not terminated (the `[` is
        /// then literal), otherwise the members (in the folded domain) and the index after the closing `]`.
        static func parseSet(
            _ pattern: [UInt8], from start: Int, end: Int, caseFold: Bool
        ) -> (ByteSet, Int)? {
            var index = start
            func next() -> UInt8? {
                guard index < end else { return nil }
                defer { index += 1 }
                return pattern[index]
            }
            var set = ByteSet()
            var negate = false
            if index < end && (pattern[index] == UInt8(ascii: "!") || pattern[index] == UInt8(ascii: "^")) {
                negate = true
                index += 1
            }
            // The first member is taken as is, so a leading `]` is a member rather than the terminator.
            var member = next()
            repeat {
                if member == UInt8(ascii: "\\") { member = next() }
                guard let low = member else { return nil }
                let lowFolded = fold(low, caseFold)
                if index + 1 < end && pattern[index] == UInt8(ascii: "-") && pattern[index + 1] != UInt8(ascii: "]") {
                    index += 1
                    var high = next()
                    if high == UInt8(ascii: "\\") { high = next() }
                    guard let high else { return nil }
                    let highFolded = fold(high, caseFold)
                    if lowFolded <= highFolded {
                        for byte in lowFolded...highFolded { set.insert(byte) }
                    }
                } else {
                    set.insert(lowFolded)
                }
                member = next()
            } while member != UInt8(ascii: "]")
            if negate { set.invert() }
            return (set, index)
        }

        func run(_ path: UnsafeBufferPointer<UInt8>) -> Bool {
            if neverMatches { return false }
            return tokens.withUnsafeBufferPointer { tokens in
                sets.withUnsafeBufferPointer { sets in
                    let matcher = Matcher(tokens: tokens, sets: sets, caseFold: caseFold)
                    guard hasStar else {
                        return path.count == tokens.count && matcher.segment(0..<tokens.count, matchesAt: 0, in: path)
                    }
                    // Cheap length and anchor checks first: most paths fail on the tail (e.g. `*.tmp`).
                    guard path.count >= tokens.count else { return false }
                    let tailStart = path.count - tail.count
                    guard matcher.segment(tail, matchesAt: tailStart, in: path),
                        matcher.segment(head, matchesAt: 0, in: path)
                    else { return false }
                    var position = head.count
                    for segment in middle {
                        let lastStart = tailStart - segment.count
                        var found = false
                        while position <= lastStart {
                            if matcher.segment(segment, matchesAt: position, in: path) {
                                found = true
                                break
                            }
                            position += 1
                        }
                        if !found { return false }
                        position += segment.count
                    }
                    return true
                }
            }
        }
    }

    /// Borrowed views of a program's tables for the duration of one match.
    fileprivate struct Matcher {
        let tokens: UnsafeBufferPointer<Token>
        let sets: UnsafeBufferPointer<ByteSet>
        let caseFold: Bool

        /// Whether the one-byte tokens `segment` match `path` starting at `start` (caller ensures it fits).
        @inline(__always)
        func segment(_ segment: Range<Int>, matchesAt start: Int, in path: UnsafeBufferPointer<UInt8>) -> Bool {
            var offset = start
            for index in segment {
                let byte = Program.fold(path[offset], caseFold)
                switch tokens[index] {
                case .byte(let expected):
                    if byte != expected { return false }
                case .any:
                    break
                case .set(let set):
                    if !sets[set].contains(byte) { return false }
                }
                offset += 1
            }
            return true
        }
    }
}
