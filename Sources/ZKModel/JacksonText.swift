/// Strings as ZooKeeper's JSON (Jackson's `quoteAsString`) writes them: `"` and `\`
/// escaped, control characters as `\b \t \n \f \r` or `\u00XX` (upper-case hex), everything
/// else as is. The AdminServer's answers and `snapshot-dump -json` both use it.
public enum JacksonText {
    static let hexDigits = Array("0123456789ABCDEF")

    /// `text` between double quotes.
    public static func quoted(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\u{08}": out += "\\b"
            case "\t": out += "\\t"
            case "\u{0C}": out += "\\f"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            default:
                if scalar.value < 0x20 {
                    out += "\\u00" + String(hexDigits[Int(scalar.value >> 4)]) + String(hexDigits[Int(scalar.value & 0xf)])
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }
}
