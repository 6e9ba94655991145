/// A SQLite result code, primary or extended, as an open set of named values.
///
/// Primary codes are the low 8 bits of extended codes: `ResultCode.busySnapshot.primary == .busy`.
/// Use it in `switch` or `catch` through `~=`:
///
/// ```swift
/// do { try catalog.insert(files: batch, messages: []) }
/// catch ResultCode.busy { … }
/// ```
///
/// Related SQLite documentation: <https://www.sqlite.org/rescode.html>
public struct ResultCode: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: Int32

    public init(rawValue: Int32) {
        self.rawValue = rawValue
    }

    /// The primary code (the low 8 bits).
    public var primary: ResultCode { ResultCode(rawValue: rawValue & 0xFF) }

    public static let ok = ResultCode(rawValue: 0)
    public static let error = ResultCode(rawValue: 1)
    public static let `internal` = ResultCode(rawValue: 2)
    static let permission = ResultCode(rawValue: 3)
    static let abort = ResultCode(rawValue: 4)
    public static let busy = ResultCode(rawValue: 5)
    public static let locked = ResultCode(rawValue: 6)
    static let noMemory = ResultCode(rawValue: 7)
    static let readOnly = ResultCode(rawValue: 8)
    static let interrupt = ResultCode(rawValue: 9)
    static let ioError = ResultCode(rawValue: 10)
    public static let corrupt = ResultCode(rawValue: 11)
    public static let notFound = ResultCode(rawValue: 12)
    public static let full = ResultCode(rawValue: 13)
    static let cantOpen = ResultCode(rawValue: 14)
    public static let `protocol` = ResultCode(rawValue: 15)
    static let schema = ResultCode(rawValue: 17)
    static let tooBig = ResultCode(rawValue: 18)
    static let constraint = ResultCode(rawValue: 19)
    public static let mismatch = ResultCode(rawValue: 20)
    public static let misuse = ResultCode(rawValue: 21)
    public static let range = ResultCode(rawValue: 25)
    public static let notADatabase = ResultCode(rawValue: 26)
    public static let row = ResultCode(rawValue: 100)
    public static let done = ResultCode(rawValue: 101)

    /// `SQLITE_BUSY_SNAPSHOT`: a WAL read transaction cannot be upgraded to a write transaction.
    static let busySnapshot = ResultCode(rawValue: 5 | (2 << 8))
    /// `SQLITE_CONSTRAINT_FOREIGNKEY`.
    static let constraintForeignKey = ResultCode(rawValue: 19 | (3 << 8))
    /// `SQLITE_CONSTRAINT_PRIMARYKEY`.
    static let constraintPrimaryKey = ResultCode(rawValue: 19 | (6 << 8))
    /// `SQLITE_CONSTRAINT_UNIQUE`.
    static let constraintUnique = ResultCode(rawValue: 19 | (8 << 8))

    /// The C name of the primary code, e.g. `SQLITE_BUSY`, then the number for extended codes.
    public var description: String {
        let names: [Int32: String] = [
            0: "SQLITE_OK", 1: "SQLITE_ERROR", 2: "SQLITE_INTERNAL", 3: "SQLITE_PERM", 4: "SQLITE_ABORT",
            5: "SQLITE_BUSY", 6: "SQLITE_LOCKED", 7: "SQLITE_NOMEM", 8: "SQLITE_READONLY", 9: "SQLITE_INTERRUPT",
            10: "SQLITE_IOERR", 11: "SQLITE_CORRUPT", 12: "SQLITE_NOTFOUND", 13: "SQLITE_FULL", 14: "SQLITE_CANTOPEN",
            15: "SQLITE_PROTOCOL", 16: "SQLITE_EMPTY", 17: "SQLITE_SCHEMA", 18: "SQLITE_TOOBIG",
            19: "SQLITE_CONSTRAINT", 20: "SQLITE_MISMATCH", 21: "SQLITE_MISUSE", 22: "SQLITE_NOLFS",
            23: "SQLITE_AUTH", 24: "SQLITE_FORMAT", 25: "SQLITE_RANGE", 26: "SQLITE_NOTADB", 27: "SQLITE_NOTICE",
            28: "SQLITE_WARNING", 100: "SQLITE_ROW", 101: "SQLITE_DONE",
        ]
        let name = names[rawValue & 0xFF] ?? "SQLite code"
        return rawValue > 0xFF ? "\(name) (extended \(rawValue))" : name
    }

    /// Matches an error against a code: a primary code matches every extended code under it,
    /// an extended code only itself.
    public static func ~= (pattern: ResultCode, error: any Error) -> Bool {
        guard let error = error as? CatalogError else { return false }
        if pattern.rawValue > 0xFF { return pattern == error.extendedCode }
        return pattern == error.code
    }
}
