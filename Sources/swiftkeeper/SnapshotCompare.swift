import ArgumentParser
import Foundation
import ZKDataTree
import ZKModel

/// `swiftkeeper snapshot-compare`: ZooKeeper 3.8.0's `SnapshotComparer` (zkSnapshotComparer.sh),
/// non-interactive. Compares two snapshots depth by depth: nodes only in one of them, and
/// nodes in both whose subtree data size or descendant count differ by more than a threshold.
struct SnapshotCompare: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "snapshot-compare",
        abstract: "Compare two snapshots depth by depth (like zkSnapshotComparer.sh).",
        discussion: """
            snapshot-compare -l LEFT -r RIGHT -b BYTES -n NODES [-d]
              -l, --left          the left snapshot file
              -r, --right         the right snapshot file
              -b, --bytes         show a node whose subtree data size differs by more than this
              -n, --nodes         show a node whose descendant count differs by more than this
              -d, --debug         also show every comparison and the nodes filtered out
              -i, --interactive   not supported (ZooKeeper's tool reads commands from the terminal)
            """)

    @Argument(parsing: .captureForPassthrough, help: "Options as for ZooKeeper's tool.")
    var words: [String] = []

    static let specs: [CommandLineOptions.Spec] = [
        .init(short: "l", long: "left", takesValue: true),
        .init(short: "r", long: "right", takesValue: true),
        .init(short: "b", long: "bytes", takesValue: true),
        .init(short: "n", long: "nodes", takesValue: true),
        .init(short: "d", long: "debug", takesValue: false),
        .init(short: "i", long: "interactive", takesValue: false),
    ]
    static let required: [Character] = ["l", "r", "b", "n"]

    func run() throws {
        let options: CommandLineOptions
        do {
            options = try CommandLineOptions(words, specs: Self.specs)
            let missing = Self.required.filter { !options.has($0) }
            if !missing.isEmpty {
                let names = missing.map(String.init).joined(separator: ", ")
                throw ToolError(missing.count == 1 ? "Missing required option: \(names)" : "Missing required options: \(names)")
            }
        } catch {
            printError("\(error)")
            print("usage: swiftkeeper snapshot-compare\n" + Self.configuration.discussion)
            throw ExitCode(TxnLogDump.Exit.invalidInvocation)
        }
        if options.has("i") {
            printError("swiftkeeper: interactive mode (-i) is not supported; run without -i for the whole comparison")
            throw ExitCode(TxnLogDump.Exit.invalidInvocation)
        }
        guard let left = options.value("l"), let right = options.value("r"),
            let byteText = options.value("b"), let nodeText = options.value("n")
        else { throw ExitCode(TxnLogDump.Exit.invalidInvocation) }
        guard let byteThreshold = Int32(byteText), let nodeThreshold = Int32(nodeText) else {
            printError("swiftkeeper: the thresholds must be 32-bit integers: -b \(byteText) -n \(nodeText)")
            throw ExitCode(TxnLogDump.Exit.unexpectedError)
        }
        var out = TextOutput()
        out.line("Successfully parsed options!")
        let leftTree: SubtreeSizes
        let rightTree: SubtreeSizes
        do {
            leftTree = try SubtreeSizes.load(left, into: &out)
            rightTree = try SubtreeSizes.load(right, into: &out)
        } catch {
            out.flush()
            printError("swiftkeeper: \(error)")
            throw ExitCode(TxnLogDump.Exit.unexpectedError)
        }
        out.line(leftTree.summary)
        out.line(rightTree.summary)
        var comparison = Comparison(
            byteThreshold: Int64(byteThreshold), nodeThreshold: Int64(nodeThreshold), debug: options.has("d"))
        out.line("Printing analysis for nodes difference larger than \(byteThreshold) bytes or node count difference larger than \(nodeThreshold).")
        for depth in 0..<max(leftTree.levels.count, rightTree.levels.count) {
            out.line("Analysis for depth \(depth)")
            comparison.compare(leftTree.level(depth), rightTree.level(depth), into: &out)
        }
        out.line("All layers compared.")
        out.flush()
    }
}

/// Every node of a snapshot with its subtree's data size and descendant count, by depth.
struct SubtreeSizes {
    struct Node {
        /// The path, "" for the root (as ZooKeeper's tool labels it).
        var label: String
        var descendantSize: Int64
        var descendantCount: Int64
    }

    /// levels[d]: the nodes at depth d, sorted by label as Java compares strings.
    var levels: [[Node]]
    var count: Int { levels.reduce(0) { $0 + $1.count } }
    var totalSize: Int64

    func level(_ depth: Int) -> [Node] { depth < levels.count ? levels[depth] : [] }

    static func load(_ path: String, into out: inout TextOutput) throws -> SubtreeSizes {
        let start = DispatchTime.now().uptimeNanoseconds
        let snapshot = try SnapshotFile.load(path)
        out.line("Deserialized snapshot in \((path as NSString).lastPathComponent) in \(seconds(since: start)) seconds")
        let processing = DispatchTime.now().uptimeNanoseconds
        let sizes = SubtreeSizes(snapshot.contents.tree)
        out.line("Processed data tree in \(seconds(since: processing)) seconds")
        return sizes
    }

    /// Java's `%f`: six decimals.
    static func seconds(since start: UInt64) -> String {
        String(format: "%.6f", Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
    }

    init(_ tree: DataTree) {
        // Pre-order with parent links, then sums from the leaves up.
        var labels: [String] = []
        var parents: [Int] = []
        var depths: [Int] = []
        var sizes: [Int64] = []
        var pending: [(path: String, parent: Int, depth: Int)] = [("/", -1, 0)]
        while let (path, parent, depth) = pending.popLast() {
            guard let node = tree.node(path) else { continue }
            let index = labels.count
            labels.append(path == "/" ? "" : path)
            parents.append(parent)
            depths.append(depth)
            sizes.append(Int64(node.data?.count ?? 0))
            pending += tree.childPaths(of: path).map { ($0, index, depth + 1) }
        }
        var descendantSize = sizes
        var descendantCount = [Int64](repeating: 0, count: labels.count)
        for index in labels.indices.reversed() where parents[index] >= 0 {
            descendantSize[parents[index]] += descendantSize[index]
            descendantCount[parents[index]] += descendantCount[index] + 1
        }
        var levels: [[Node]] = []
        for index in labels.indices {
            while levels.count <= depths[index] { levels.append([]) }
            levels[depths[index]].append(Node(label: labels[index], descendantSize: descendantSize[index], descendantCount: descendantCount[index]))
        }
        self.levels = levels.map { $0.sorted { javaLess($0.label, $1.label) } }
        totalSize = descendantSize.first ?? 0
    }

    /// The summary block; it ends with an empty line, as ZooKeeper's `toString` does.
    var summary: String {
        var text = "Node count: \(count)\nTotal size: \(totalSize)\nMax depth: \(levels.count)\n"
        for (depth, nodes) in levels.enumerated() { text += "Count of nodes at depth \(depth): \(nodes.count)\n" }
        return text
    }
}

/// Java's `String.compareTo`: UTF-16 code units in order.
func javaLess(_ a: String, _ b: String) -> Bool { a.utf16.lexicographicallyPrecedes(b.utf16) }

/// One depth's merge of the left and right nodes, printing what passes the thresholds.
struct Comparison {
    let byteThreshold: Int64
    let nodeThreshold: Int64
    let debug: Bool

    mutating func compare(_ left: [SubtreeSizes.Node], _ right: [SubtreeSizes.Node], into out: inout TextOutput) {
        var l = 0
        var r = 0
        while l < left.count || r < right.count {
            if l < left.count && r < right.count {
                let a = left[l]
                let b = right[r]
                if debug { out.line("Comparing \(a.label) to \(b.label)") }
                if javaLess(a.label, b.label) {
                    if debug { out.line("left is less") }
                    only(a, side: "left", into: &out)
                    l += 1
                } else if javaLess(b.label, a.label) {
                    if debug { out.line("right is less") }
                    only(b, side: "right", into: &out)
                    r += 1
                } else {
                    if debug { out.line("same") }
                    both(a, b, into: &out)
                    l += 1
                    r += 1
                }
            } else if l < left.count {
                only(left[l], side: "left", into: &out)
                l += 1
            } else {
                only(right[r], side: "right", into: &out)
                r += 1
            }
        }
    }

    private func only(_ node: SubtreeSizes.Node, side: String, into out: inout TextOutput) {
        if node.descendantSize > byteThreshold || node.descendantCount > nodeThreshold {
            out.line("Node \(node.label) found only in \(side) tree. Descendant size: \(node.descendantSize). Descendant count: \(node.descendantCount)")
        } else if debug {
            out.line("Filtered \(side) node \(node.label) of size \(node.descendantSize)")
        }
    }

    private func both(_ a: SubtreeSizes.Node, _ b: SubtreeSizes.Node, into out: inout TextOutput) {
        let sizeDelta = b.descendantSize - a.descendantSize
        let countDelta = b.descendantCount - a.descendantCount
        if abs(sizeDelta) > byteThreshold || abs(countDelta) > nodeThreshold {
            out.line("Node \(a.label) found in both trees. Delta: \(sizeDelta) bytes, \(countDelta) descendants")
        } else if debug {
            out.line("Filtered node \(a.label) of left size \(a.descendantSize), right size \(b.descendantSize)")
        }
    }
}
