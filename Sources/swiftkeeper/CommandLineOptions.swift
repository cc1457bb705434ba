/// Options read the way Apache Commons CLI's `DefaultParser` (ZooKeeper's tools) reads them:
/// `-x`, bundled `-xyz`, `-zVALUE`, `--long`, `--long=VALUE`, unique prefixes of long names,
/// `--` ending the options; other words are arguments, wherever they stand.
struct CommandLineOptions {
    struct Spec {
        var short: Character
        var long: String
        var takesValue: Bool
    }

    enum ParseError: Error, CustomStringConvertible {
        case unrecognized(String)
        case missingValue(Character)
        case ambiguous(String, [String])

        /// Commons CLI's messages, as the tools print them.
        var description: String {
            switch self {
            case .unrecognized(let word): return "Unrecognized option: \(word)"
            case .missingValue(let short): return "Missing argument for option: \(short)"
            case .ambiguous(let word, let matches):
                return "Ambiguous option: '\(word)'  (could be: \(matches.map { "'\($0)'" }.joined(separator: ", ")))"
            }
        }
    }

    private(set) var values: [Character: String] = [:]
    private(set) var present: Set<Character> = []
    private(set) var arguments: [String] = []

    func has(_ short: Character) -> Bool { present.contains(short) }
    func value(_ short: Character) -> String? { values[short] }

    init(_ words: [String], specs: [Spec]) throws {
        var index = 0
        var optionsEnded = false
        func take(_ spec: Spec, inline: String?) throws {
            present.insert(spec.short)
            guard spec.takesValue else { return }
            if let inline, !inline.isEmpty {
                values[spec.short] = inline
            } else if index + 1 < words.count, !words[index + 1].hasPrefix("-") || words[index + 1] == "-" {
                index += 1
                values[spec.short] = words[index]
            } else {
                throw ParseError.missingValue(spec.short)
            }
        }
        while index < words.count {
            let word = words[index]
            defer { index += 1 }
            if optionsEnded || word == "-" || !word.hasPrefix("-") {
                arguments.append(word)
                continue
            }
            if word == "--" {
                optionsEnded = true
                continue
            }
            if word.hasPrefix("--") {
                let body = word.dropFirst(2)
                let name = body.split(separator: "=", maxSplits: 1).first.map(String.init) ?? ""
                let inline = body.contains("=") ? String(body.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)[1]) : nil
                let exact = specs.filter { $0.long == name }
                let matches = exact.isEmpty ? specs.filter { $0.long.hasPrefix(name) && !name.isEmpty } : exact
                guard !matches.isEmpty else { throw ParseError.unrecognized(word) }
                guard matches.count == 1, let spec = matches.first else {
                    throw ParseError.ambiguous(name, matches.map(\.long))
                }
                try take(spec, inline: inline)
                continue
            }
            // A single dash: one short option (with its value attached or next), or a bundle.
            let letters = Array(word.dropFirst())
            var position = 0
            while position < letters.count {
                guard let spec = specs.first(where: { $0.short == letters[position] }) else {
                    throw ParseError.unrecognized(position == 0 ? word : "-\(letters[position])")
                }
                if spec.takesValue {
                    try take(spec, inline: String(letters[(position + 1)...]))
                    break
                }
                try take(spec, inline: nil)
                position += 1
            }
        }
    }
}

/// Java's `Long.decode`: an optional sign, then `0x`, `0X` or `#` for hex, a leading `0` for
/// octal, or decimal. nil where Java throws `NumberFormatException`.
func javaLongDecode(_ text: String) -> Int64? {
    var rest = Substring(text)
    var negative = false
    if rest.hasPrefix("-") {
        negative = true
        rest = rest.dropFirst()
    } else if rest.hasPrefix("+") {
        rest = rest.dropFirst()
    }
    var radix = 10
    if rest.hasPrefix("0x") || rest.hasPrefix("0X") {
        radix = 16
        rest = rest.dropFirst(2)
    } else if rest.hasPrefix("#") {
        radix = 16
        rest = rest.dropFirst()
    } else if rest.hasPrefix("0") && rest.count > 1 {
        radix = 8
        rest = rest.dropFirst()
    }
    guard !rest.isEmpty, !rest.hasPrefix("-"), !rest.hasPrefix("+"), let magnitude = UInt64(rest, radix: radix) else { return nil }
    if negative {
        guard magnitude <= UInt64(Int64.max) + 1 else { return nil }
        return magnitude == UInt64(Int64.max) + 1 ? Int64.min : -Int64(magnitude)
    }
    guard magnitude <= UInt64(Int64.max) else { return nil }
    return Int64(magnitude)
}
