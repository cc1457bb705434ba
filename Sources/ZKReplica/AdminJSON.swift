import ZKModel

/// A JSON value with its object keys in a fixed order: an AdminServer command's answer.
/// `rendered` prints it as ZooKeeper's AdminServer does (Jackson's default pretty printer:
/// two-space indents, `"key" : value`, arrays on one line, `{ }` and `[ ]` when empty), so
/// scripts that grep the text see the same layout.
public indirect enum AdminJSON: Sendable {
    case null
    case bool(Bool)
    case int(Int64)
    case double(Double)
    case string(String)
    case array([AdminJSON])
    case object([(String, AdminJSON)])

    public static func int(_ value: Int) -> AdminJSON { .int(Int64(value)) }

    /// A text figure from a four-letter word report, typed as ZooKeeper's metric is.
    public static func figure(_ text: String) -> AdminJSON {
        if let value = Int64(text) { return .int(value) }
        if let value = Double(text), text.contains(".") { return .double(value) }
        return .string(text)
    }

    public var rendered: String {
        var text = ""
        render(into: &text, level: 0)
        return text
    }

    private func render(into text: inout String, level: Int) {
        switch self {
        case .null: text += "null"
        case .bool(let value): text += value ? "true" : "false"
        case .int(let value): text += "\(value)"
        case .double(let value): text += MetricsText.javaDouble(value)
        case .string(let value): text += JacksonText.quoted(value)
        case .array(let elements):
            guard !elements.isEmpty else { return text += "[ ]" }
            text += "[ "
            for (index, element) in elements.enumerated() {
                if index > 0 { text += ", " }
                element.render(into: &text, level: level)
            }
            text += " ]"
        case .object(let fields):
            guard !fields.isEmpty else { return text += "{ }" }
            text += "{\n"
            let indent = String(repeating: "  ", count: level + 1)
            for (index, (key, value)) in fields.enumerated() {
                text += indent + JacksonText.quoted(key) + " : "
                value.render(into: &text, level: level + 1)
                text += index == fields.count - 1 ? "\n" : ",\n"
            }
            text += String(repeating: "  ", count: level) + "}"
        }
    }
}
