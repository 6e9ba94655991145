/// A command a Job runs before or after itself: Bareos' `RunScript { }` block, or one of its short forms
/// `Run Before Job`, `Run After Job`, `Run After Failed Job`.
///
/// Bareos' defaults: `RunsOnSuccess = yes`, `RunsOnFailure = no`, `FailJobOnError = yes`; a block without
/// `RunsWhen` never runs (Bareos' `Never`), which `check` warns about. `Run Before Job = CMD` is
/// `RunsWhen = Before` with the defaults, `Run After Job` is `RunsWhen = After` with them, and
/// `Run After Failed Job` is `RunsWhen = After`, `RunsOnSuccess = no`, `RunsOnFailure = yes`.
public struct RunScript: Sendable, Equatable {
    public enum When: String, Sendable, CaseIterable {
        case never = "Never", before = "Before", after = "After", always = "Always"
    }

    public var when: When
    public var runsOnSuccess: Bool
    public var runsOnFailure: Bool
    public var failJobOnError: Bool
    /// The `Command =` lines of the block, in order (Bareos runs each).
    public var commands: [String]
    public var location: SourceLocation

    public init(
        when: When, runsOnSuccess: Bool = true, runsOnFailure: Bool = false, failJobOnError: Bool = true,
        commands: [String], location: SourceLocation
    ) {
        self.when = when
        self.runsOnSuccess = runsOnSuccess
        self.runsOnFailure = runsOnFailure
        self.failJobOnError = failJobOnError
        self.commands = commands
        self.location = location
    }

    /// Whether the script runs at `moment` (`.before` or `.after`) of a job that has (after) succeeded or not.
    /// Before the job, success is what is known: nothing has failed yet.
    public func runs(at moment: When, succeeded: Bool) -> Bool {
        guard when == moment || when == .always else { return false }
        return succeeded ? runsOnSuccess : runsOnFailure
    }

    /// The directives a `RunScript { }` block may hold (lower case, blanks removed).
    static let blockKeys: Set<String> = [
        "runswhen", "runsonsuccess", "runsonfailure", "failjobonerror", "command", "runsonclient",
    ]

    /// The short forms, by their lower-cased keyword.
    static func shortForm(_ key: String, command: String, location: SourceLocation) -> RunScript? {
        switch key {
        case "runbeforejob": return RunScript(when: .before, commands: [command], location: location)
        case "runafterjob": return RunScript(when: .after, commands: [command], location: location)
        case "runafterfailedjob":
            return RunScript(when: .after, runsOnSuccess: false, runsOnFailure: true, commands: [command], location: location)
        default: return nil
        }
    }
}
