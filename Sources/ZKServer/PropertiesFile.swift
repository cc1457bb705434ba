/// Java `.properties` parsing, by the rules of `java.util.Properties.load`, which `zoo.cfg`
/// follows (ZooKeeper then trims keys and values):
/// * lines end at `\n`, `\r` or `\r\n`; blank lines and lines whose first non-blank character
///   is `#` or `!` are skipped (only at the start of a line: `a=b # c` has the value `b # c`);
/// * a line ending in an odd number of backslashes continues on the next line, whose
///   leading blanks are dropped;
/// * the key runs to the first unescaped `=`, `:` or blank (space, tab, form feed); blanks
///   around one `=` or `:` separator are skipped, and a blank alone separates too (`key value`);
/// * escapes: `\t` `\n` `\r` `\f`, `\uXXXX`, and a backslash before any other character
///   stands for that character (`\=`, `\:`, `\ `, `\\`).
/// Pairs come back in file order, so a later duplicate wins when applied in turn.
enum PropertiesFile {
    static func parse(_ text: String) -> [(String, String)] {
        var result: [(String, String)] = []
        for line in logicalLines(text) {
            let (key, value) = split(line)
            result.append((unescape(key), unescape(value)))
        }
        return result
    }

    static func isBlank(_ c: Character) -> Bool { c == " " || c == "\t" || c == "\u{0C}" }

    /// Natural lines joined at continuations, without comments and blank lines; escapes are
    /// still in place.
    static func logicalLines(_ text: String) -> [[Character]] {
        var lines: [[Character]] = []
        var current: [Character] = []
        var continuing = false
        // "\r\n" is one Character in Swift, so splitting on newlines covers all three endings.
        for natural in text.split(omittingEmptySubsequences: false, whereSeparator: { $0.isNewline }) {
            var chars = Array(natural.drop(while: isBlank))
            if !continuing {
                if chars.isEmpty || chars[0] == "#" || chars[0] == "!" { continue }
            }
            let trailingBackslashes = chars.reversed().prefix(while: { $0 == "\\" }).count
            let continues = trailingBackslashes % 2 == 1
            if continues { chars.removeLast() }
            current += chars
            continuing = continues
            if !continues {
                lines.append(current)
                current = []
            }
        }
        if continuing { lines.append(current) }
        return lines
    }

    /// Splits at the first unescaped separator: `=`, `:` or blanks (with one `=`/`:` among them).
    static func split(_ line: [Character]) -> (key: String, value: String) {
        var index = 0
        var escaped = false
        while index < line.count {
            let c = line[index]
            if escaped {
                escaped = false
            } else if c == "\\" {
                escaped = true
            } else if c == "=" || c == ":" || isBlank(c) {
                break
            }
            index += 1
        }
        let key = String(line[..<index])
        var rest = index
        while rest < line.count, isBlank(line[rest]) { rest += 1 }
        if rest < line.count, line[rest] == "=" || line[rest] == ":" {
            rest += 1
            while rest < line.count, isBlank(line[rest]) { rest += 1 }
        }
        return (key, String(line[rest...]))
    }

    static func unescape(_ text: String) -> String {
        guard text.contains("\\") else { return text }
        var result = ""
        var chars = text.makeIterator()
        while let c = chars.next() {
            guard c == "\\" else {
                result.append(c)
                continue
            }
            guard let next = chars.next() else { break }
            switch next {
            case "t": result.append("\t")
            case "n": result.append("\n")
            case "r": result.append("\r")
            case "f": result.append("\u{0C}")
            case "u":
                var hex = ""
                for _ in 0..<4 { if let digit = chars.next() { hex.append(digit) } }
                if let value = UInt32(hex, radix: 16), let scalar = Unicode.Scalar(value) {
                    result.unicodeScalars.append(scalar)
                } else {
                    // Java rejects a malformed \u escape; here it stays as written.
                    result += "\\u" + hex
                }
            default: result.append(next)
            }
        }
        return result
    }
}
