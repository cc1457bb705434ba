import Foundation

/// Java's `String.format("%#016x", value)`: `0x` and at least 14 hex digits.
func javaHex016(_ value: Int64) -> String {
    let digits = String(UInt64(bitPattern: value), radix: 16)
    let width = 14
    return "0x" + String(repeating: "0", count: max(0, width - digits.count)) + digits
}

/// Writes text to standard error.
func printError(_ text: String) {
    var line = text
    if !line.hasSuffix("\n") { line += "\n" }
    fflush(nil)
    FileHandle.standardError.write(Data(line.utf8))
}
