/// The suffix of sequential nodes: Java's `%010d` of the parent's stored cversion
/// (zero-padded to width 10, the sign counting towards the width).
public enum SequentialName {
    public static func suffix(_ counter: Int32) -> String {
        let digits = String(counter.magnitude)
        if counter < 0 {
            return "-" + String(repeating: "0", count: max(0, 9 - digits.count)) + digits
        }
        return String(repeating: "0", count: max(0, 10 - digits.count)) + digits
    }
}
