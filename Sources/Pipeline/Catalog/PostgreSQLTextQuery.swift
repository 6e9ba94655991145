/// A full-text query in FTS5's syntax (what `optionhost search` builds and users type: `"a phrase"`, words,
/// `AND`, `OR`, `NOT`, parentheses, `word*` prefixes) rewritten as a PostgreSQL `tsquery` (`'a' <-> 'phrase'`,
/// `&`, `|`, `& !`, `:*`), so `search` takes the same queries on both drivers.
enum PostgreSQLTextQuery {
    /// The `tsquery` text for `to_tsquery('simple', …)`, or why `expression` is not a valid query (FTS5's rules:
    /// balanced quotes and parentheses, an operand on both sides of every operator).
    static func translate(_ expression: String) -> Result<String, Problem> {
        var output: [String] = []
        // What the previous token was: nothing, an operand, or a binary operator / opening parenthesis.
        var expectsOperand = true
        var depth = 0
        var characters = Substring(expression)
        func operand(_ text: String) {
            if !expectsOperand { output.append("&") }
            output.append(text)
            expectsOperand = false
        }
        while let first = characters.first {
            if first.isWhitespace {
                characters.removeFirst()
            } else if first == "\"" {
                characters.removeFirst()
                var phrase = ""
                var closed = false
                while let next = characters.popFirst() {
                    if next == "\"" {
                        if characters.first == "\"" {
                            characters.removeFirst()
                            phrase.append("\"")
                        } else {
                            closed = true
                            break
                        }
                    } else {
                        phrase.append(next)
                    }
                }
                guard closed else { return .failure(Problem("unterminated string")) }
                let prefix = characters.first == "*"
                if prefix { characters.removeFirst() }
                let words = Self.words(phrase)
                guard !words.isEmpty else { return .failure(Problem("empty phrase \"\(phrase)\"")) }
                var terms = words.map(Self.quoted)
                if prefix { terms[terms.count - 1] += ":*" }
                operand(terms.count == 1 ? terms[0] : "(" + terms.joined(separator: " <-> ") + ")")
            } else if first == "(" {
                characters.removeFirst()
                if !expectsOperand { output.append("&") }
                output.append("(")
                depth += 1
                expectsOperand = true
            } else if first == ")" {
                characters.removeFirst()
                guard depth > 0 else { return .failure(Problem("syntax error near \")\"")) }
                guard !expectsOperand else { return .failure(Problem("syntax error near \")\"")) }
                output.append(")")
                depth -= 1
            } else {
                var word = ""
                while let next = characters.first, !next.isWhitespace, next != "\"", next != "(", next != ")" {
                    word.append(next)
                    characters.removeFirst()
                }
                if let symbol = ["AND": "&", "OR": "|", "NOT": "& !"][word] {
                    guard !expectsOperand else { return .failure(Problem("syntax error near \"\(word)\"")) }
                    output.append(symbol)
                    expectsOperand = true
                    continue
                }
                let prefix = word.hasSuffix("*")
                let words = Self.words(prefix ? String(word.dropLast()) : word)
                guard words.count == 1 else { return .failure(Problem("syntax error near \"\(word)\"")) }
                operand(Self.quoted(words[0]) + (prefix ? ":*" : ""))
            }
        }
        guard depth == 0 else { return .failure(Problem("unbalanced parentheses")) }
        guard !expectsOperand || output.isEmpty else { return .failure(Problem("syntax error at the end")) }
        guard !output.isEmpty else { return .failure(Problem("empty query")) }
        return .success(output.joined(separator: " "))
    }

    struct Problem: Error, Equatable {
        var message: String
        init(_ message: String) { self.message = message }
    }

    /// Letters and digits, as FTS5's unicode61 tokenizer splits them.
    private static func words(_ text: String) -> [String] {
        text.split { !($0.isLetter || $0.isNumber) }.map { String($0).lowercased() }
    }

    private static func quoted(_ word: String) -> String {
        "'" + word.replacing("'", with: "''") + "'"
    }
}
