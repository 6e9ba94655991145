/// Reading `RunScript { }` blocks and the `Run Before Job` / `Run After Job` / `Run After Failed Job` short forms
/// of a Job (Bareos' semantics, see `RunScript`).
extension ConfigurationBuilder {
    /// The RunScript of one Job directive; nil for any other directive.
    mutating func runScript(_ directive: Directive) throws(ConfigError) -> RunScript? {
        if let short = RunScript.shortForm(directive.key, command: directive.value, location: directive.location) {
            guard !directive.value.isEmpty else {
                throw error("\(directive.keyword) needs a command", at: directive.valueLocation)
            }
            return short
        }
        guard directive.key == "runscript" else { return nil }
        guard let children = directive.children else {
            throw error("RunScript takes a block: write 'RunScript {' without '='", at: directive.location)
        }
        var script = RunScript(when: .never, commands: [], location: directive.location)
        var sawWhen = false
        for child in children {
            switch child.key {
            case "runswhen":
                guard let when = RunScript.When.allCases.first(where: { $0.rawValue.lowercased() == child.value.lowercased() })
                else {
                    throw error(
                        "invalid RunsWhen \"\(child.value)\": expected Before, After, Always or Never",
                        at: child.valueLocation)
                }
                script.when = when
                sawWhen = true
            case "runsonsuccess": script.runsOnSuccess = try bool(child)
            case "runsonfailure": script.runsOnFailure = try bool(child)
            case "failjobonerror": script.failJobOnError = try bool(child)
            // The Director and the client are this host: a script runs here either way.
            case "runsonclient": _ = try bool(child)
            case "command":
                guard !child.value.isEmpty else { throw error("Command needs a value", at: child.valueLocation) }
                script.commands.append(child.value)
            case "console":
                throw error(
                    "RunScript Console (a bconsole command) is not supported by this host; use Command", at: child.location)
            default:
                throw error(
                    "unknown RunScript directive \(child.keyword) (known: RunsWhen, RunsOnSuccess, RunsOnFailure, "
                        + "FailJobOnError, RunsOnClient, Command)",
                    at: child.location)
            }
        }
        if script.commands.isEmpty {
            throw error("RunScript has no Command", at: directive.location)
        }
        if !sawWhen {
            warnings.append(
                ConfigWarning("RunScript without RunsWhen never runs (Bareos' default is Never)", at: directive.location))
        }
        return script
    }

    /// A positive time value (`Plugin Call Timeout`, `Run Script Timeout`), in seconds.
    func seconds(_ directive: Directive, _ name: String, _ examples: String) throws(ConfigError) -> UInt64 {
        guard let seconds = ConfigValues.time(directive.value), seconds > 0 else {
            throw error(
                "invalid \(name) \"\(directive.value)\": expected a time such as \(examples)", at: directive.valueLocation)
        }
        return seconds
    }

    /// A keyword value of a Job directive (any case), or an error at the value naming the ones it may be.
    func choice<T: RawRepresentable<String>>(
        _ directive: Directive, _ name: String, _ expected: String
    ) throws(ConfigError) -> T {
        guard let value = T(rawValue: directive.value.lowercased()) else {
            throw error("invalid \(name) \"\(directive.value)\": expected \(expected)", at: directive.valueLocation)
        }
        return value
    }

    /// A yes/no value of a Job directive (`true`/`false` and quoted `"1"`/`"0"` with a deprecation warning).
    mutating func bool(_ directive: Directive) throws(ConfigError) -> Bool {
        guard
            let value = try ConfigParser.resourceBool(
                directive.value, quoted: directive.firstValueQuoted, number: directive.firstValueIsNumber,
                keyword: directive.keyword, location: directive.valueLocation, warnings: &warnings)
        else {
            throw error("expected yes or no for \(directive.keyword), got \"\(directive.value)\"", at: directive.valueLocation)
        }
        return value
    }
}
