import ArgumentParser
import Pipeline

#if canImport(Glibc)
import Glibc
#endif

/// A search as the user typed it, turned into the FTS5 queries the catalog runs, best group first.
///
/// Words are matched as words (each is quoted for FTS5, so `e-mail` or `x.y` need no escaping); `"..."` is a
/// phrase; `word*` a prefix; `OR`, `AND`, `NOT` and parentheses are FTS5's operators. A query of plain words gets two
/// groups: the words as one exact phrase first, then all the words anywhere in the file.
struct SearchQuery {
    let text: String
    let groups: [String]

    init(_ text: String) throws {
        self.text = text
        var tokens: [String] = []
        var plainWords: [String] = []
        var onlyWords = true
        var current = ""
        var inPhrase = false
        func flushWord() {
            guard !current.isEmpty else { return }
            defer { current = "" }
            if ["OR", "AND", "NOT"].contains(current) {
                tokens.append(current)
                onlyWords = false
            } else if current.hasSuffix("*") && current.count > 1 {
                tokens.append(SearchQuery.quoted(String(current.dropLast())) + "*")
                onlyWords = false
            } else {
                tokens.append(SearchQuery.quoted(current))
                plainWords.append(current)
            }
        }
        for character in text {
            if inPhrase {
                if character == "\"" {
                    tokens.append(SearchQuery.quoted(current))
                    current = ""
                    inPhrase = false
                } else {
                    current.append(character)
                }
            } else if character == "\"" {
                flushWord()
                inPhrase = true
                onlyWords = false
            } else if character == "(" || character == ")" {
                flushWord()
                tokens.append(String(character))
                onlyWords = false
            } else if character.isWhitespace {
                flushWord()
            } else {
                current.append(character)
            }
        }
        if inPhrase { throw CommandFailure.usage("invalid search query \(text.debugDescription): a phrase has no closing \"") }
        flushWord()
        guard !tokens.isEmpty else { throw CommandFailure.usage("the search query is empty") }
        let all = tokens.joined(separator: " ")
        if onlyWords && plainWords.count > 1 {
            groups = [SearchQuery.quoted(plainWords.joined(separator: " ")), all]
        } else {
            groups = [all]
        }
    }

    /// `text` as an FTS5 string (a phrase of the words the tokenizer finds in it).
    static func quoted(_ text: String) -> String {
        "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    /// The hits of the query in `catalog`; a query FTS5 cannot use is a usage error (exit 2).
    func hits(in catalog: SQLiteCatalog, filter: SearchFilter, limit: Int?) throws -> [SearchHit] {
        for group in groups {
            if let problem = catalog.searchQueryProblem(group) {
                throw CommandFailure.usage(
                    "invalid search query \(text.debugDescription): \(problem) (use words, \"exact phrases\", "
                        + "prefix*, OR, AND, NOT and parentheses)")
            }
        }
        do {
            return try catalog.search(groups, filter: filter, limit: limit)
        } catch {
            throw CommandFailure.failed("search failed: \(error)")
        }
    }
}

extension String {
    /// Foundation's, without Foundation (the command line does not link it).
    func replacingOccurrences(of target: String, with replacement: String) -> String {
        split(separator: target, omittingEmptySubsequences: false).joined(separator: replacement)
    }
}

extension OptionHost {
    /// `optionhost search "QUERY"`: the file versions whose indexed text matches, best first.
    struct Search: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Search the text the index stage stored; print ranked hits with snippet, path, job and time.",
            discussion: """
                QUERY: words (all must occur), "exact phrases", prefix*, OR, AND, NOT and parentheses. For a \
                query of plain words, files holding them as an exact phrase come first, then files holding all of \
                them anywhere; within each group by relevance (bm25). --path takes Bareos wildcards (* crosses /), \
                --mime a type (text/html) or a family (text/*). --export es-bulk writes the whole index (or one \
                job's) as Elasticsearch/OpenSearch _bulk NDJSON on standard output instead.
                """)

        enum ExportFormat: String, ExpressibleByArgument, CaseIterable {
            case esBulk = "es-bulk"
        }

        @Argument(help: "The search query (with --export: the CONFIG).")
        var query: String?

        @Argument(help: "A config file or directory (to find the catalog).")
        var config: String?

        @OptionGroup var catalogOptions: CatalogOptions

        @Option(help: "Only file versions stored by this job.")
        var jobid: Int64?

        @Option(help: "Only paths matching this Bareos wildcard (* crosses /); repeatable.")
        var path: [String] = []

        @Option(help: "Only this MIME type (text/html) or family (text/*).")
        var mime: String?

        @Option(help: "At most N hits.")
        var limit = 20

        @Flag(help: "Print JSON Lines.")
        var json = false

        @Option(help: "Write the index in this format to standard output instead of searching (es-bulk).")
        var export: ExportFormat?

        @Option(name: .customLong("es-index"), help: "With --export es-bulk: the index name in the action lines.")
        var esIndex = "optionhost"

        func validate() throws {
            if limit < 1 { throw ValidationError("--limit must be at least 1") }
            if export != nil {
                if config != nil { throw ValidationError("--export takes no QUERY: optionhost search --export es-bulk [CONFIG]") }
            } else if query == nil {
                throw ValidationError("search needs a QUERY")
            }
        }

        func run() throws {
            do {
                let configPath = export != nil ? query : config
                let selection = try JobSelection.parse(
                    (configPath.map { [$0] } ?? []) + (catalogOptions.catalog.map { ["--catalog", $0] } ?? []))
                let (catalog, _) = try selection.openCatalog(selection.configuration())
                defer { try? catalog.close() }
                if let jobid, (try? catalog.job(JobID(rawValue: jobid))) == nil {
                    throw CommandFailure.usage("no job with JobId \(jobid) in the catalog")
                }
                if export != nil { return try exportBulk(catalog) }
                try search(catalog)
            } catch let failure as CommandFailure {
                throw CommandSupport.report(failure, json: json)
            } catch let error as CatalogError {
                throw CommandSupport.report(.failed("\(error)"), json: json)
            }
        }

        private func search(_ catalog: SQLiteCatalog) throws {
            let parsed = try SearchQuery(query ?? "")
            let filter = SearchFilter(
                jobID: jobid.map { JobID(rawValue: $0) }, mimeType: mime,
                paths: path.map { Wildcard(Array($0.utf8)) })
            let hits = try parsed.hits(in: catalog, filter: filter, limit: limit)
            let out = ByteWriter.standardOutput
            for (offset, hit) in hits.enumerated() {
                let file = hit.file
                if json {
                    out.write(Self.hitJSON(hit, rank: offset + 1, exactPhrase: parsed.groups.count > 1 && hit.group == 0))
                } else {
                    var text = Array("\(offset + 1). ".utf8) + TerminalText.escape(file.path) + [UInt8(ascii: "\n")]
                    var details = "   JobId \(file.jobID.rawValue) (\(file.jobName)), \(EntryFormatter.time(file.jobStart.seconds))"
                    details += ", \(file.mimeType)"
                    if let mtime = file.mtime { details += ", modified \(EntryFormatter.time(mtime.seconds))" }
                    if let size = file.size { details += ", \(size) bytes" }
                    text += Array((details + "\n   " + TerminalText.escape(Self.oneLine(hit.snippet)) + "\n").utf8)
                    out.write(text)
                }
            }
            if json {
                var summary = JSONLine()
                summary.add("type", "summary")
                summary.add("query", parsed.text)
                summary.add("hits", hits.count)
                summary.add("limit", limit)
                out.write(summary.line)
            } else {
                out.line(hits.isEmpty ? "no hits for \(parsed.text.debugDescription)" : "\(hits.count) hit\(hits.count == 1 ? "" : "s")")
            }
            out.flush()
        }

        /// A snippet on one line: runs of blanks and line breaks become one space.
        static func oneLine(_ snippet: String) -> String {
            snippet.split(whereSeparator: \.isWhitespace).joined(separator: " ")
        }

        static func hitJSON(_ hit: SearchHit, rank: Int, exactPhrase: Bool) -> [UInt8] {
            var line = JSONLine()
            line.add("type", "hit")
            line.add("rank", rank)
            let file = hit.file
            line.addPath(file.path)
            line.add("job_id", file.jobID.rawValue)
            line.add("job", file.jobName)
            line.add("job_start", file.jobStart.seconds)
            line.add("file_index", file.fileIndex)
            line.add("mime", file.mimeType)
            if let encoding = file.encoding { line.add("encoding", encoding) }
            if let digest = file.sourceSHA256 { line.add("sha256", Hex.encode(digest)) }
            if let size = file.size { line.add("size", size) }
            if let mtime = file.mtime { line.add("mtime", mtime.seconds) }
            line.add("exact_phrase", exactPhrase)
            line.add("score", hit.score)
            line.add("snippet", oneLine(hit.snippet))
            return line.line
        }

        /// The index as `_bulk` NDJSON: an action line and a document line per indexed file version.
        private func exportBulk(_ catalog: SQLiteCatalog) throws {
            let out = ByteWriter.standardOutput
            var count = 0
            try catalog.forEachSearchRecord(job: jobid.map { JobID(rawValue: $0) }) { exported in
                let record = exported.file
                let client = record.clientName ?? "localhost"
                var action = JSONLine()
                action.add("_index", esIndex)
                action.add("_id", "\(client)-\(record.jobID.rawValue)-\(record.fileIndex)")
                var document = JSONLine()
                document.addPath(record.path)
                document.add("client", client)
                document.add("job_id", record.jobID.rawValue)
                document.add("job", record.jobName)
                document.add("job_start", Self.isoTime(record.jobStart))
                document.add("file_index", record.fileIndex)
                if let digest = record.sourceSHA256 { document.add("sha256", Hex.encode(digest)) }
                document.add("mime", record.mimeType)
                if let encoding = record.encoding { document.add("encoding", encoding) }
                if let size = record.size { document.add("size", size) }
                if let mtime = record.mtime { document.add("mtime", Self.isoTime(mtime)) }
                if let ctime = exported.ctime { document.add("ctime", Self.isoTime(ctime)) }
                if let user = exported.userName { document.add("owner", user) }
                if let group = exported.groupName { document.add("group", group) }
                if let uid = exported.uid { document.add("uid", uid) }
                if let gid = exported.gid { document.add("gid", gid) }
                if let text = exported.text {
                    document.add("text", text)
                    document.add("text_truncated", exported.textTruncated)
                }
                out.write(Array("{\"index\":".utf8) + action.line.dropLast() + Array("}\n".utf8))
                out.write(document.line)
                count += 1
            }
            out.flush()
            ByteWriter.standardError.line("exported \(count) documents")
            ByteWriter.standardError.flush()
        }

        /// `2026-12-06T08:30:00.123456789Z`: UTC, as Elasticsearch's `date` type reads it.
        static func isoTime(_ time: FileStat.Timestamp) -> String {
            var value = time_t(time.seconds)
            var parts = tm()
            gmtime_r(&value, &parts)
            var buffer = [CChar](repeating: 0, count: 32)
            let count = strftime(&buffer, buffer.count, "%Y-%m-%dT%H:%M:%S", &parts)
            let base = String(decoding: buffer[0..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
            guard time.nanoseconds > 0 else { return base + "Z" }
            let fraction = String(time.nanoseconds)
            return base + "." + String(repeating: "0", count: 9 - fraction.count) + fraction + "Z"
        }
    }
}
