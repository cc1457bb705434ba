/// The text forms of figures: `mntr`'s decimals and the Prometheus exposition format as
/// ZooKeeper's `PrometheusMetricsProvider` (Prometheus simpleclient 0.9) writes it.
public enum MetricsText {
    /// `mntr`'s average: rounded to 4 decimals, at least one (`6.1667`, `0.0`).
    public static func decimal4(_ value: Double) -> String {
        let scaled = (value * 10000).rounded() / 10000
        var text = "\(scaled)"
        if !text.contains(".") { text += ".0" }
        return text
    }

    /// Java's `Double.toString`: `5.0`, `0.25`, `8.64E7`, `1.0E-4`, `NaN`.
    public static func javaDouble(_ value: Double) -> String {
        if value.isNaN { return "NaN" }
        if value.isInfinite { return value > 0 ? "+Inf" : "-Inf" }
        if value == 0 { return value.sign == .minus ? "-0.0" : "0.0" }
        let magnitude = Swift.abs(value)
        let (digits, exponent) = shortestDigits(magnitude)
        let sign = value < 0 ? "-" : ""
        if magnitude >= 1e-3 && magnitude < 1e7 {
            // Plain notation: `exponent` is the power of ten of the first digit.
            if exponent >= 0 {
                let whole = digits.count > exponent + 1
                    ? String(digits.prefix(exponent + 1))
                    : digits + String(repeating: "0", count: exponent + 1 - digits.count)
                let fraction = digits.count > exponent + 1 ? String(digits.dropFirst(exponent + 1)) : "0"
                return sign + whole + "." + fraction
            }
            return sign + "0." + String(repeating: "0", count: -exponent - 1) + digits
        }
        let fraction = digits.count > 1 ? String(digits.dropFirst()) : "0"
        return sign + String(digits.prefix(1)) + "." + fraction + "E\(exponent)"
    }

    /// The shortest decimal digits that read back as `value` (> 0), and the power of ten
    /// of the first one, from Swift's own shortest round-trip description.
    static func shortestDigits(_ value: Double) -> (String, Int) {
        let text = "\(value)"
        var mantissa = text
        var exponent = 0
        if let e = text.firstIndex(where: { $0 == "e" || $0 == "E" }) {
            mantissa = String(text[..<e])
            exponent = Int(text[text.index(after: e)...]) ?? 0
        }
        let parts = mantissa.split(separator: ".", omittingEmptySubsequences: false)
        let whole = String(parts[0])
        let fraction = parts.count > 1 ? String(parts[1]) : ""
        var digits = whole + fraction
        var firstPower = whole.count - 1 + exponent
        while digits.hasPrefix("0") && digits.count > 1 {
            digits.removeFirst()
            firstPower -= 1
        }
        while digits.hasSuffix("0") && digits.count > 1 { digits.removeLast() }
        return (digits, firstPower)
    }

    /// One metric family in the exposition format; HELP is the name, as ZooKeeper's.
    /// Every label is followed by a comma, as simpleclient 0.9 writes them.
    public static func render(_ family: MetricFamily) -> String {
        var text = "# HELP \(family.name) \(family.name)\n# TYPE \(family.name) \(family.type)\n"
        for sample in family.samples {
            let labels = sample.labels.isEmpty ? "" : "{" + sample.labels.map { "\($0.0)=\"\($0.1)\"," }.joined() + "}"
            text += family.name + sample.suffix + labels + " " + javaDouble(sample.value) + "\n"
        }
        return text
    }

    /// A family of one unlabelled sample.
    public static func family(_ name: String, type: String, value: Double) -> String {
        render(MetricFamily(name: name, type: type, samples: [("", [], value)]))
    }
}
