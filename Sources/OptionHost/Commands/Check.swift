import ArgumentParser
import Pipeline
import Stages

#if canImport(Glibc)
import Glibc
#endif

extension OptionHost {
    /// `optionhost check CONFIG`: parse, resolve and report.
    struct Check: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check a configuration: print a summary of its resources and every warning.",
            discussion: """
                Errors are printed as file:line:col: message, with the line and a caret, and exit with 2.
                """
        )

        @OptionGroup var options: ConfigOptions

        func run() throws {
            let configuration = try options.load()
            let errors = Check.stageErrors(configuration)
            if !errors.isEmpty {
                options.report(errors)
                throw ExitStatus.usage
            }
            let warnings =
                configuration.warnings + Check.stageWarnings(configuration) + Check.directorWarnings(configuration)
                + FileSetLint.warnings(configuration)
            if options.json {
                printJSON(configuration, warnings: warnings)
            } else {
                printText(configuration, warnings: warnings)
            }
            ByteWriter.standardOutput.flush()
        }

        /// Native stages whose options cannot work (a bad value, an unknown user for `owner`, a `gpg` recipient
        /// missing from the keyring or expired, ...): each is created as a backup would create it (creating reads
        /// nothing and starts nothing) and validated (`StageValidation`), and what it refuses is an error at the
        /// string's `file:line:col`. Python strings are checked by `stageWarnings` without importing.
        static func stageErrors(_ configuration: Configuration) -> [ConfigError] {
            var errors: [ConfigError] = []
            for entry in stageEntries(configuration) where !PluginString.isPython(entry.string) {
                guard case .available = StageRegistry.availability(of: entry.string) else { continue }
                do {
                    let stage = try StageRegistry.makeStage(entry.string)
                    try (stage as? any StageValidation)?.validate()
                } catch {
                    errors.append(ConfigError.afterParsing("\(error)", at: entry.location))
                }
            }
            return errors
        }

        /// Every stage string of the FileSets' Options blocks and of the Pipelines, in file order, and the Python
        /// command plugins (Include level), which run as stages too.
        static func stageEntries(_ configuration: Configuration) -> [PluginEntry] {
            var entries: [PluginEntry] = []
            for fileSet in configuration.fileSets.values.sorted(by: { $0.location.description < $1.location.description }) {
                for include in fileSet.includes {
                    for block in include.options { entries += block.plugins }
                    entries += include.plugins.filter { PluginString.isPython($0.string) }
                }
            }
            for pipeline in configuration.pipelines.values.sorted(by: { $0.location.description < $1.location.description }) {
                entries += pipeline.stages
            }
            return entries
        }

        /// Warnings about stage strings: malformed, unknown or not available in this build.
        static func stageWarnings(_ configuration: Configuration) -> [ConfigWarning] {
            var warnings: [ConfigWarning] = []
            for entry in stageEntries(configuration) {
                do {
                    try PluginString.validateName(entry.string)
                } catch {
                    warnings.append(ConfigWarning(error.message, at: entry.location))
                    continue
                }
                let name = PluginString.name(entry.string)
                switch StageRegistry.availability(of: entry.string) {
                case .available, .pipelineReference:
                    break
                case .notYetAvailable(let purpose):
                    warnings.append(
                        ConfigWarning(
                            "stage \"\(name)\" (\(purpose)) is not available in this build yet; a backup will refuse it",
                            at: entry.location))
                case .unknown:
                    let known = StageRegistry.knownNames.joined(separator: ", ")
                    warnings.append(
                        ConfigWarning(
                            "unknown stage \"\(name)\" (known: \(known), pipeline:NAME); a backup will refuse it",
                            at: entry.location))
                }
                if PluginString.isPython(entry.string) {
                    do {
                        let definition = try PluginString.pythonDefinition(entry.string)
                        if let definition, definition.moduleName == nil {
                            warnings.append(ConfigWarning("python plugin string has no module_name", at: entry.location))
                        } else if let definition, let problem = Check.moduleProblem(definition) {
                            warnings.append(ConfigWarning(problem, at: entry.location))
                        }
                        if let definition, let problem = Check.writableByOthers(definition) {
                            warnings.append(ConfigWarning(problem, at: entry.location))
                        }
                    } catch {
                        warnings.append(ConfigWarning(error.message, at: entry.location))
                    }
                }
            }
            return warnings
        }

        /// Warnings about the Jobs' `Dir Plugin Options` (the reader refused what python-dir would): a module that
        /// is not in its `module_path`, a `module_path` anyone can write to. Without importing anything.
        static func directorWarnings(_ configuration: Configuration) -> [ConfigWarning] {
            var warnings: [ConfigWarning] = []
            for job in configuration.jobs.values.sorted(by: { $0.location.description < $1.location.description }) {
                warnings += directorWarnings(job)
            }
            return warnings
        }

        /// The `Dir Plugin Options` warnings of one Job (`backup` prints the world-writable ones before it starts).
        static func directorWarnings(_ job: Job, writableOnly: Bool = false) -> [ConfigWarning] {
            var warnings: [ConfigWarning] = []
            for entry in job.dirPluginOptions {
                guard let definition = try? PluginString.directorDefinition(entry.string) else { continue }
                if !writableOnly, let problem = moduleProblem(definition) {
                    warnings.append(ConfigWarning(problem, at: entry.location))
                }
                if let problem = writableByOthers(definition) { warnings.append(ConfigWarning(problem, at: entry.location)) }
            }
            return warnings
        }

        /// Without importing anything: a `module_path` that is no directory, or one that does not hold the module
        /// (`NAME.py`, a package directory `NAME/`, or `NAME*.so`/`.pyc`; the import at job start may still find it in
        /// the Plugin Directory or Python's own path).
        static func moduleProblem(_ definition: PluginString.PythonDefinition) -> String? {
            guard let path = definition.modulePath, let module = definition.moduleName else { return nil }
            var info = stat()
            guard stat(path, &info) == 0, (info.st_mode & S_IFMT) == S_IFDIR else {
                return "module_path \"\(path)\" is not a directory"
            }
            let top = String(module.prefix { $0 != "." })
            // NAME.py, or a package directory (with or without __init__.py: namespace packages import too).
            var entry = stat()
            if access(path + "/" + top + ".py", F_OK) == 0
                || (stat(path + "/" + top, &entry) == 0 && (entry.st_mode & S_IFMT) == S_IFDIR)
            {
                return nil
            }
            if let directory = opendir(path) {
                defer { closedir(directory) }
                while let entry = readdir(directory) {
                    let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
                    if name.hasPrefix(top + ".") && (name.hasSuffix(".so") || name.hasSuffix(".pyc")) { return nil }
                }
            }
            return "module \"\(module)\" is not in module_path \"\(path)\"; the job must find it in the Plugin Directory "
                + "or Python's own path"
        }

        /// A `module_path` directory any local user may write to: whoever writes there chooses the code a job
        /// imports and runs, with the rights of the backup (often root). The sticky bit does not help: it stops
        /// others from removing entries, not from adding a module of the name the job imports.
        static func writableByOthers(_ definition: PluginString.PythonDefinition) -> String? {
            guard let path = definition.modulePath else { return nil }
            var info = stat()
            guard stat(path, &info) == 0, (info.st_mode & S_IFMT) == S_IFDIR, info.st_mode & S_IWOTH != 0 else {
                return nil
            }
            let mode = String(info.st_mode & 0o7777, radix: 8)
            return "module_path \"\(path)\" is world-writable (mode \(mode)): any local user can put code there that "
                + "the job imports and runs; make it writable by its owner only"
        }

        /// The world-writable `module_path` warnings of the Python stage strings a backup of `fileSet` runs
        /// (its Options blocks' strings, with `pipeline:NAME` expanded).
        static func writableModulePathWarnings(_ fileSet: FileSet, in configuration: Configuration) -> [ConfigWarning] {
            let entries = fileSet.includes.flatMap { $0.options.flatMap(\.plugins) }
            var seen: Set<String> = []
            var warnings: [ConfigWarning] = []
            for entry in (try? configuration.expandedChain(entries)) ?? entries where PluginString.isPython(entry.string) {
                guard let definition = try? PluginString.pythonDefinition(entry.string),
                    let problem = Check.writableByOthers(definition), seen.insert(problem).inserted
                else { continue }
                warnings.append(ConfigWarning(problem, at: entry.location))
            }
            return warnings
        }

        private func counts(_ configuration: Configuration) -> [(String, [String])] {
            var byType: [String: [String]] = [:]
            var order: [String] = []
            for resource in configuration.resources {
                if byType[resource.type] == nil { order.append(resource.type) }
                byType[resource.type, default: []].append(resource.name)
            }
            return order.map { ($0, byType[$0]!) }
        }

        private func printText(_ configuration: Configuration, warnings: [ConfigWarning]) {
            let out = ByteWriter.standardOutput
            let fileCount = configuration.files.filter { !$0.hasPrefix("@|") }.count
            out.line("Configuration \(options.config): OK (\(fileCount) file\(fileCount == 1 ? "" : "s") read)")
            for (type, names) in counts(configuration) {
                out.line("  \(type): \(names.count) (\(names.joined(separator: ", ")))")
            }
            for name in configuration.jobs.keys.sorted() {
                let job = configuration.jobs[name]!
                var parts = ["type \(job.type?.rawValue ?? "-")", "level \(job.effectiveLevel.rawValue)"]
                if let fileSet = job.fileSet { parts.append("FileSet \(fileSet)") }
                if let jobDefs = job.jobDefs { parts.append("JobDefs \(jobDefs)") }
                if let catalog = job.catalog { parts.append("Catalog \(catalog)") }
                if let archive = job.archive { parts.append("Archive \(archive)") }
                out.line("  Job \(name): " + parts.joined(separator: ", "))
            }
            if warnings.isEmpty {
                out.line("No warnings.")
            } else {
                out.line("\(warnings.count) warning\(warnings.count == 1 ? "" : "s"):")
                for warning in warnings { out.line(TerminalText.escapeKeepingNewlines(warning.description)) }
            }
        }

        private func printJSON(_ configuration: Configuration, warnings: [ConfigWarning]) {
            let out = ByteWriter.standardOutput
            for warning in warnings {
                out.write(ConfigOptions.jsonLine(type: "warning", at: warning.location, message: warning.message).line)
            }
            var summary = JSONLine()
            summary.add("type", "summary")
            summary.add("status", "ok")
            summary.add("files", configuration.files)
            for (type, names) in counts(configuration) {
                summary.add(type.lowercased(), names)
            }
            summary.add("warnings", warnings.count)
            out.write(summary.line)
        }
    }
}
