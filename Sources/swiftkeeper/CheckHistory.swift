import ArgumentParser
import Foundation
import ZKSimulation

/// `swiftkeeper check-history FILE`: the simulator's linearizability checker on a history
/// recorded against real processes (one JSON object per line).
struct CheckHistory: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check-history",
        abstract: "Check that a recorded client history is linearizable (per znode).",
        discussion: """
            One JSON object per line: {"path": "/x", "kind": "create"|"set"|"delete"|"read", \
            "value": N (create, set), "outcome": "ok"|"nodeExists"|"noNode"|"value"|"failed"|"unknown", \
            "result": N (read returning a value), "call": T, "return": T or null}. Times in any \
            monotonic unit. Exit status 0: linearizable; 1: not (the path is printed); 2: bad input.
            """)

    @Argument(help: "The history file.")
    var file: String

    func run() throws {
        let text = try String(contentsOfFile: file, encoding: .utf8)
        var history: [HistoryOperation] = []
        for (number, line) in text.split(whereSeparator: \.isNewline).enumerated() {
            guard let operation = Self.operation(String(line)) else {
                FileHandle.standardError.write("swiftkeeper: \(file):\(number + 1): not a history operation\n".data(using: .utf8)!)
                throw ExitCode(2)
            }
            history.append(operation)
        }
        if let violation = LinearizabilityChecker.firstViolation(history) {
            print("NOT linearizable: \(violation)")
            throw ExitCode(1)
        }
        let paths = Set(history.map(\.path)).count
        print("linearizable: \(history.count) operations on \(paths) paths")
    }

    static func operation(_ line: String) -> HistoryOperation? {
        guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
            let path = object["path"] as? String, let kindName = object["kind"] as? String,
            let outcomeName = object["outcome"] as? String, let call = (object["call"] as? NSNumber)?.int64Value
        else { return nil }
        let value = (object["value"] as? NSNumber)?.intValue
        let kind: HistoryOperation.Kind
        switch kindName {
        case "create": guard let value else { return nil }; kind = .create(value: value)
        case "set": guard let value else { return nil }; kind = .setData(value: value)
        case "delete": kind = .delete
        case "read": kind = .read
        default: return nil
        }
        let outcome: HistoryOperation.Outcome
        switch outcomeName {
        case "ok": outcome = .ok
        case "nodeExists": outcome = .nodeExists
        case "noNode": outcome = .noNode
        case "failed": outcome = .failed
        case "unknown": outcome = .unknown
        case "value": guard let result = (object["result"] as? NSNumber)?.intValue else { return nil }; outcome = .value(result)
        default: return nil
        }
        let returned = (object["return"] as? NSNumber)?.int64Value
        return HistoryOperation(path: path, kind: kind, outcome: outcome, callTime: call, returnTime: outcome == .unknown ? nil : returned)
    }
}
