import Pipeline

/// A native stage's string checked against the options the stage knows: `name:key=value:key=value`.
///
/// Items are split by `PluginString.options` (on `:` not preceded by a backslash; `\:` is a literal colon). Every
/// problem is a `StageOptions.Problem` naming the stage and the option, so `check` can print it as it is:
///
/// ```swift
/// let options = try StageOptions("checksum:log=/var/log/%j.sha256", valid: ["algorithm", "log", "format"])
/// let log = try options.required("log")
/// let format = try options.choice("format", ["sha256sum", "hashdeep", "jsonl"], default: "sha256sum")
/// ```
///
/// A key listed in `repeatable` may be given several times (`gpg:recipient=a:recipient=b`); ``all(_:)`` returns
/// its values in order.
public struct StageOptions: Sendable {
    /// A stage string the stage cannot run with.
    public struct Problem: Error, Sendable, Equatable, CustomStringConvertible {
        public var stage: String
        public var message: String

        public init(stage: String, message: String) {
            self.stage = stage
            self.message = message
        }

        public var description: String { "stage \"\(stage)\": \(message)" }
    }

    /// The stage name (the text before the first `:`).
    public let stage: String
    private let values: [String: [String]]

    /// Parses `string`; an unknown key, a key given twice (unless it is `repeatable`) or an item without a value
    /// (`key`, `key=`) is a problem.
    public init(_ string: String, valid: [String], repeatable: [String] = []) throws(Problem) {
        stage = PluginString.name(string)
        var values: [String: [String]] = [:]
        for (key, value) in PluginString.options(string) {
            let known = "valid options: " + valid.joined(separator: ", ")
            guard valid.contains(key) else {
                throw Problem(stage: stage, message: "unknown option \"\(key)\" (\(known))")
            }
            guard values[key] == nil || repeatable.contains(key) else {
                throw Problem(stage: stage, message: "option \(key)= is given twice")
            }
            guard !value.isEmpty else {
                throw Problem(stage: stage, message: "option \(key) needs a value (\(key)=...)")
            }
            values[key, default: []].append(value)
        }
        self.values = values
    }

    /// The value of `key` (the first, for a repeatable key), nil when it is not given.
    public subscript(_ key: String) -> String? { values[key]?.first }

    /// Every value of `key`, in the order given (empty when it is not given).
    public func all(_ key: String) -> [String] { values[key] ?? [] }

    /// The value of `key`; a problem naming the option when it is missing.
    public func required(_ key: String, purpose: String) throws(Problem) -> String {
        guard let value = self[key] else {
            throw Problem(stage: stage, message: "option \(key)= is required (\(purpose))")
        }
        return value
    }

    /// `yes`, `no`, `true`, `false` (any case); `default` when the option is not given.
    public func bool(_ key: String, default defaultValue: Bool) throws(Problem) -> Bool {
        guard let value = self[key] else { return defaultValue }
        switch value.lowercased() {
        case "yes", "true": return true
        case "no", "false": return false
        default:
            throw Problem(stage: stage, message: "option \(key)=\(value) is not a boolean (yes, no, true, false)")
        }
    }

    /// One of `choices` (any case, returned as written in `choices`); `default` when the option is not given.
    public func choice(_ key: String, _ choices: [String], default defaultValue: String) throws(Problem) -> String {
        guard let value = self[key] else { return defaultValue }
        guard let match = choices.first(where: { $0.lowercased() == value.lowercased() }) else {
            throw Problem(
                stage: stage,
                message: "option \(key)=\(value) is not one of " + choices.joined(separator: ", "))
        }
        return match
    }
}
