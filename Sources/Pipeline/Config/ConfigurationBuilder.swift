/// Turns parsed resources into a `Configuration`: interprets Job, JobDefs, Catalog, Archive and Pipeline,
/// resolves `JobDefs` inheritance and references, and collects the "parsed but not applied" warnings.
struct ConfigurationBuilder {
    private let parser: ConfigParser
    var warnings: [ConfigWarning]

    /// Bareos resource types this host keeps but does not run (decision D4).
    static let keptOnlyTypes: Set<String> = [
        "Director", "Client", "Storage", "Schedule", "Pool", "Messages", "Counter", "Console", "Profile", "User",
    ]

    /// Job directives this host applies; any other Job directive gets one "not applied" warning per keyword.
    private static let appliedJobKeys: Set<String> = [
        "name", "type", "level", "fileset", "jobdefs", "accurate", "catalog", "archive", "stageerrorpolicy", "client",
        "description", "plugindirectory", "plugincalltimeout", "pluginisolation", "fdpluginoptions", "dirpluginoptions",
        "runscript", "runbeforejob", "runafterjob", "runafterfailedjob", "runscripttimeout",
    ]

    init(parser: ConfigParser) {
        self.parser = parser
        self.warnings = parser.warnings
    }

    func error(_ message: String, at location: SourceLocation) -> ConfigError {
        parser.error(message, at: location)
    }

    mutating func build() throws(ConfigError) -> Configuration {
        try checkDuplicates()
        var fileSets: [String: FileSet] = [:]
        for fileSet in parser.fileSets { fileSets[fileSet.name] = fileSet }

        var pipelines: [String: PipelineResource] = [:]
        var archives: [String: ArchiveResource] = [:]
        var catalogs: [String: CatalogResource] = [:]
        var rawJobs: [Resource] = []
        var rawJobDefs: [String: Resource] = [:]
        var keptOnly: [String: [String]] = [:]
        for resource in parser.resources {
            switch resource.type {
            case "Pipeline": pipelines[resource.name] = try pipeline(resource)
            case "Archive": archives[resource.name] = try archive(resource)
            case "Catalog": catalogs[resource.name] = try catalog(resource)
            case "Job": rawJobs.append(resource)
            case "JobDefs": rawJobDefs[resource.name] = resource
            case "FileSet": break
            default: keptOnly[resource.type, default: []].append(resource.name)
            }
        }
        for type in keptOnly.keys.sorted() {
            let names = keptOnly[type]!
            let first = parser.resources.first { $0.type == type }!
            warnings.append(
                ConfigWarning(
                    "\(type) \(names.count == 1 ? "resource" : "resources") "
                        + names.map { "\"\($0)\"" }.joined(separator: ", ")
                        + " parsed and kept; this host does not run \(type) resources",
                    at: first.location))
        }

        var jobDefs: [String: Job] = [:]
        for (name, resource) in rawJobDefs {
            let directives = try inheritedDirectives(resource, jobDefs: rawJobDefs, seen: [])
            jobDefs[name] = try job(resource, directives: directives, isTemplate: true)
        }
        var jobs: [String: Job] = [:]
        for resource in rawJobs {
            let directives = try inheritedDirectives(resource, jobDefs: rawJobDefs, seen: [])
            let job = try job(resource, directives: directives, isTemplate: false)
            try checkReferences(job, fileSets: fileSets, catalogs: catalogs, archives: archives)
            jobs[job.name] = job
        }
        warnNotAppliedJobDirectives(rawJobs + rawJobDefs.values.sorted { $0.location.description < $1.location.description })

        for fileSet in parser.fileSets {
            try checkFileSet(fileSet, pipelines: pipelines)
        }
        warnNotAppliedOptions()
        for resource in parser.resources where resource.type == "Pipeline" {
            _ = try ConfigurationBuilder.expand(
                pipelines[resource.name]!.stages, pipelines: pipelines, parser: parser, active: [resource.name])
        }

        return Configuration(
            files: parser.lexer.filesRead, resources: parser.resources, fileSets: fileSets, jobs: jobs,
            jobDefs: jobDefs, catalogs: catalogs, archives: archives, pipelines: pipelines, warnings: warnings)
    }

    // MARK: - Duplicates

    private func checkDuplicates() throws(ConfigError) {
        var seen: [String: SourceLocation] = [:]
        for resource in parser.resources {
            let key = resource.type + "\u{0}" + resource.name
            if let first = seen[key] {
                throw error(
                    "\(resource.type) \"\(resource.name)\" is defined twice (first at \(first))",
                    at: resource.location)
            }
            seen[key] = resource.location
        }
    }

    // MARK: - Jobs

    /// The job's own directives after those inherited from its JobDefs (the job's own win).
    private func inheritedDirectives(
        _ resource: Resource, jobDefs: [String: Resource], seen: Set<String>
    ) throws(ConfigError) -> [Directive] {
        guard let reference = resource.directives.last(where: { $0.key == "jobdefs" }) else {
            return resource.directives
        }
        guard let template = jobDefs[reference.value] else {
            throw error("JobDefs \"\(reference.value)\" is not defined", at: reference.valueLocation)
        }
        if seen.contains(template.name) || template.name == resource.name && resource.type == "JobDefs" {
            throw error("JobDefs \"\(reference.value)\" inherits from itself", at: reference.valueLocation)
        }
        let inherited = try inheritedDirectives(
            template, jobDefs: jobDefs, seen: seen.union([resource.type == "JobDefs" ? resource.name : ""]))
        let own = Set(resource.directives.map(\.key))
        return inherited.filter { !own.contains($0.key) && $0.key != "name" && $0.key != "jobdefs" }
            + resource.directives
    }

    private mutating func job(
        _ resource: Resource, directives: [Directive], isTemplate: Bool
    ) throws(ConfigError) -> Job {
        var job = Job(name: resource.name, location: resource.location)
        job.directives = directives
        for directive in directives {
            switch directive.key {
            case "type":
                guard let type = Job.JobType.allCases.first(where: { $0.rawValue.lowercased() == directive.value.lowercased() })
                else {
                    throw error(
                        "invalid Job Type \"\(directive.value)\": expected "
                            + Job.JobType.allCases.map(\.rawValue).joined(separator: ", "),
                        at: directive.valueLocation)
                }
                job.type = type
            case "level":
                guard let level = Job.Level.allCases.first(where: { $0.rawValue.lowercased() == directive.value.lowercased() })
                else {
                    throw error(
                        "invalid Level \"\(directive.value)\": expected Full, Incremental, Differential, VirtualFull, Base",
                        at: directive.valueLocation)
                }
                job.level = level
            case "fileset": job.fileSet = directive.value
            case "jobdefs": job.jobDefs = directive.value
            case "catalog": job.catalog = directive.value
            case "archive": job.archive = directive.value
            case "client": job.client = directive.value
            case "accurate": job.accurate = try bool(directive)
            case "stageerrorpolicy": job.stageErrorPolicy = try choice(directive, "Stage Error Policy", "continue or fail")
            case "plugindirectory": job.pluginDirectory = directive.value
            case "plugincalltimeout": job.pluginCallTimeout = try seconds(directive, "Plugin Call Timeout", "30 s or 5 min")
            case "pluginisolation": job.pluginIsolation = try choice(directive, "Plugin Isolation", "inprocess or process")
            case "fdpluginoptions": job.fdPluginOptions.append(directive.value)
            case "dirpluginoptions":
                do {
                    _ = try PluginString.directorDefinition(directive.value)
                } catch {
                    throw self.error("invalid Dir Plugin Options: \(error.message)", at: directive.valueLocation)
                }
                job.dirPluginOptions.append(PluginEntry(string: directive.value, location: directive.valueLocation))
            case "runscripttimeout": job.runScriptTimeout = try seconds(directive, "Run Script Timeout", "30s or \"5 min\"")
            default:
                if let script = try runScript(directive) { job.runScripts.append(script) }
            }
        }
        if !isTemplate && job.type == nil {
            throw error("Job \"\(job.name)\" has no Type (set it here or in its JobDefs)", at: resource.location)
        }
        return job
    }

    private func checkReferences(
        _ job: Job, fileSets: [String: FileSet], catalogs: [String: CatalogResource],
        archives: [String: ArchiveResource]
    ) throws(ConfigError) {
        func location(_ key: String) -> SourceLocation {
            job.directives.last { $0.key == key }?.valueLocation ?? job.location
        }
        if let name = job.fileSet, fileSets[name] == nil {
            throw error("FileSet \"\(name)\" named by Job \"\(job.name)\" is not defined", at: location("fileset"))
        }
        if let name = job.catalog, catalogs[name] == nil {
            throw error("Catalog \"\(name)\" named by Job \"\(job.name)\" is not defined", at: location("catalog"))
        }
        if let name = job.archive, archives[name] == nil {
            throw error("Archive \"\(name)\" named by Job \"\(job.name)\" is not defined", at: location("archive"))
        }
        if job.type == .backup && job.fileSet == nil {
            throw error("Backup Job \"\(job.name)\" has no FileSet", at: job.location)
        }
    }

    private mutating func warnNotAppliedJobDirectives(_ resources: [Resource]) {
        var firstSeen: [String: (keyword: String, location: SourceLocation, count: Int)] = [:]
        var order: [String] = []
        for resource in resources {
            for directive in resource.directives where !ConfigurationBuilder.appliedJobKeys.contains(directive.key) {
                if var entry = firstSeen[directive.key] {
                    entry.count += 1
                    firstSeen[directive.key] = entry
                } else {
                    firstSeen[directive.key] = (directive.keyword, directive.location, 1)
                    order.append(directive.key)
                }
            }
        }
        for key in order {
            let entry = firstSeen[key]!
            let times = entry.count == 1 ? "" : " (\(entry.count) times)"
            warnings.append(
                ConfigWarning(
                    "Job directive \(entry.keyword)\(times) is parsed and kept but not applied by this host",
                    at: entry.location))
        }
    }

    // MARK: - Catalog, Archive, Pipeline

    private mutating func catalog(_ resource: Resource) throws(ConfigError) -> CatalogResource {
        let driver = resource.directive("dbdriver")
        var result = CatalogResource(
            name: resource.name, driver: driver?.value, databaseName: resource.directive("dbname")?.value,
            location: resource.location)
        var applied = ["name", "description", "dbdriver", "dbname"]
        if result.isPostgreSQL {
            // Every command works on both drivers, so a PostgreSQL Catalog gets no warning.
            applied += Self.postgreSQLKeys
            result.postgreSQL = try postgreSQL(resource)
        } else if driver == nil {
            warnings.append(
                ConfigWarning(
                    "Catalog \"\(resource.name)\" has no DB Driver; this host needs DB Driver = sqlite3 and "
                        + "DB Name = PATH to use it",
                    at: resource.location))
        } else if let driver, driver.value.lowercased() != "sqlite3" {
            warnings.append(
                ConfigWarning(
                    "Catalog \"\(resource.name)\": DB Driver = \(driver.value) is not supported by this host "
                        + "(sqlite3 or postgresql); jobs using it will fail",
                    at: driver.valueLocation))
        }
        for directive in resource.directives where !applied.contains(directive.key) {
            warnings.append(
                ConfigWarning(
                    "Catalog directive \(directive.keyword) is parsed and kept but not applied by this host",
                    at: directive.location))
        }
        return result
    }

    /// The directives a PostgreSQL Catalog applies besides `DB Name`.
    private static let postgreSQLKeys = ["dbaddress", "dbport", "dbuser", "dbpassword"]

    /// `DB Name` (required), `DB Address`, `DB Port` (1-65535), `DB User`, `DB Password` of a PostgreSQL Catalog.
    private func postgreSQL(_ resource: Resource) throws(ConfigError) -> PostgreSQLSettings {
        guard let name = resource.directive("dbname")?.value, !name.isEmpty else {
            throw error(
                "Catalog \"\(resource.name)\" (DB Driver = postgresql) has no DB Name: name the database",
                at: resource.location)
        }
        var settings = PostgreSQLSettings(databaseName: name)
        settings.address = resource.directive("dbaddress")?.value
        settings.user = resource.directive("dbuser")?.value
        settings.password = resource.directive("dbpassword")?.value
        if let port = resource.directive("dbport") {
            guard let number = Int(port.value), (1...65535).contains(number) else {
                throw error(
                    "invalid DB Port \"\(port.value)\": expected a TCP port number (1-65535)", at: port.valueLocation)
            }
            settings.port = number
        }
        return settings
    }

    private func archive(_ resource: Resource) throws(ConfigError) -> ArchiveResource {
        var directory: String?
        var description: String?
        var maximum: UInt64?
        var mode: UInt32 = 0o600
        for directive in resource.directives {
            switch directive.key {
            case "name": break
            case "description": description = directive.value
            case "directory": directory = directive.value
            case "maximumvolumebytes":
                guard let bytes = ConfigValues.size(directive.values.joined(separator: " ")), bytes > 0 else {
                    throw error(
                        "invalid Maximum Volume Bytes \"\(directive.value)\": expected a size such as 4g or 500mb",
                        at: directive.valueLocation)
                }
                maximum = bytes
            case "volumemode":
                guard let value = ConfigValues.octalMode(directive.value) else {
                    throw error(
                        "invalid Volume Mode \"\(directive.value)\": expected an octal mode such as 0600",
                        at: directive.valueLocation)
                }
                mode = value
            default:
                throw error("unknown Archive directive \"\(directive.keyword)\"", at: directive.location)
            }
        }
        guard let directory, !directory.isEmpty else {
            throw error("Archive \"\(resource.name)\" has no Directory", at: resource.location)
        }
        var archive = ArchiveResource(name: resource.name, directory: directory, location: resource.location)
        archive.description = description
        archive.maximumVolumeBytes = maximum
        archive.volumeMode = mode
        return archive
    }

    private func pipeline(_ resource: Resource) throws(ConfigError) -> PipelineResource {
        var stages: [PluginEntry] = []
        var description: String?
        for directive in resource.directives {
            switch directive.key {
            case "name": break
            case "description": description = directive.value
            case "stage": stages.append(PluginEntry(string: directive.value, location: directive.valueLocation))
            default:
                throw error("unknown Pipeline directive \"\(directive.keyword)\"", at: directive.location)
            }
        }
        if stages.isEmpty {
            throw error("Pipeline \"\(resource.name)\" has no Stage", at: resource.location)
        }
        var pipeline = PipelineResource(name: resource.name, stages: stages, location: resource.location)
        pipeline.description = description
        return pipeline
    }

    /// Expands `pipeline:NAME` in place (recursively, refusing cycles).
    static func expand(
        _ plugins: [PluginEntry], pipelines: [String: PipelineResource], parser: ConfigParser? = nil,
        active: [String] = []
    ) throws(ConfigError) -> [PluginEntry] {
        var result: [PluginEntry] = []
        for plugin in plugins {
            guard let name = PluginString.pipelineName(plugin.string) else {
                result.append(plugin)
                continue
            }
            func fail(_ message: String) -> ConfigError {
                parser?.error(message, at: plugin.location) ?? ConfigError(message, at: plugin.location)
            }
            guard let pipeline = pipelines[name] else { throw fail("Pipeline \"\(name)\" is not defined") }
            if active.contains(name) {
                throw fail("Pipeline \"\(name)\" includes itself (\((active + [name]).joined(separator: " -> ")))")
            }
            result += try expand(pipeline.stages, pipelines: pipelines, parser: parser, active: active + [name])
        }
        return result
    }

    // MARK: - FileSets

    /// One warning per Options keyword this build parses but does not act on (first place it is written).
    private mutating func warnNotAppliedOptions() {
        var counts: [String: Int] = [:]
        var first: [(key: String, keyword: String, location: SourceLocation)] = []
        for use in parser.optionKeywordUses where OptionsBlock.notAppliedKeywords[use.key] != nil {
            if counts[use.key] == nil { first.append(use) }
            counts[use.key, default: 0] += 1
        }
        for use in first {
            let count = counts[use.key]!
            let times = count == 1 ? "" : " (\(count) times)"
            warnings.append(
                ConfigWarning(
                    "Options directive \(OptionsBlock.notAppliedKeywords[use.key]!)\(times) is parsed and kept but "
                        + "not applied by this host yet",
                    at: use.location))
        }
    }

    private mutating func checkFileSet(
        _ fileSet: FileSet, pipelines: [String: PipelineResource]
    ) throws(ConfigError) {
        if fileSet.includes.isEmpty {
            warnings.append(ConfigWarning("FileSet \"\(fileSet.name)\" has no Include: it selects nothing", at: fileSet.location))
        }
        for include in fileSet.includes {
            for plugin in include.plugins where !PluginString.isPython(plugin.string) {
                warnings.append(
                    ConfigWarning(
                        "FileSet \"\(fileSet.name)\": Include-level Plugin \"\(PluginString.name(plugin.string))\" is a "
                            + "Bareos command plugin this host does not run (only python3: command plugins run here), "
                            + "so a backup of this FileSet will fail",
                        at: plugin.location))
            }
            for block in include.options {
                _ = try ConfigurationBuilder.expand(block.plugins, pipelines: pipelines, parser: parser)
            }
        }
    }
}
