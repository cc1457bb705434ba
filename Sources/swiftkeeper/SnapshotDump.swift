import ArgumentParser
import Foundation
import ZKDataTree
import ZKModel
import ZKPersistence

/// `swiftkeeper snapshot-dump`: ZooKeeper 3.8.0's `SnapshotFormatter` (zkSnapShotToolkit.sh).
struct SnapshotDump: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "snapshot-dump",
        abstract: "Print a snapshot's nodes and sessions (like zkSnapShotToolkit.sh).",
        discussion: """
            snapshot-dump [-d|-json] SNAPSHOTFILE   (options before the file, as ZooKeeper's tool)
              -d      print each node's data (base64) instead of its length
              -json   print the tree in ncdu's JSON format
            """)

    @Argument(parsing: .captureForPassthrough, help: "Options and the snapshot file, as for ZooKeeper's tool.")
    var words: [String] = []

    /// The first inode number of the JSON form, which counts up from here (ncdu's "ino").
    static let jsonInodeStart = 1000

    func run() throws {
        var dumpData = false
        var dumpJSON = false
        var file: String?
        var index = 0
        while index < words.count {
            let word = words[index]
            index += 1
            if word == "-d" {
                dumpData = true
            } else if word == "-json" {
                dumpJSON = true
            } else {
                file = word
                break
            }
        }
        guard let file, index == words.count else {
            printError("usage: swiftkeeper snapshot-dump [-d|-json] snapshot_file\n" + Self.configuration.discussion)
            throw ExitCode(TxnLogDump.Exit.invalidInvocation)
        }
        if let problem = Self.fileProblem(file) {
            printError(problem)
            throw ExitCode(TxnLogDump.Exit.invalidInvocation)
        }
        if dumpData && dumpJSON {
            printError("Cannot specify both data dump (-d) and json mode (-json) in same call")
            throw ExitCode(TxnLogDump.Exit.invalidInvocation)
        }
        let snapshot: SnapshotFile
        do {
            snapshot = try SnapshotFile.load(file)
        } catch {
            printError("swiftkeeper: \(error)")
            throw ExitCode(TxnLogDump.Exit.unexpectedError)
        }
        var out = TextOutput()
        if dumpJSON {
            Self.printJSON(snapshot.contents.tree, into: &out)
        } else {
            Self.printDetails(snapshot, dumpData: dumpData, into: &out)
        }
        out.flush()
    }

    /// ZooKeeper's `ZKUtil.validateFileInput`.
    static func fileProblem(_ path: String) -> String? {
        let absolute = URL(fileURLWithPath: path).path
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            return "File '\(absolute)' does not exist."
        }
        guard FileManager.default.isReadableFile(atPath: path) else {
            return "Read permission is denied on the file '\(absolute)'"
        }
        if isDirectory.boolValue { return "'\(absolute)' is a directory. it must be a file." }
        return nil
    }

    static func printDetails(_ snapshot: SnapshotFile, dumpData: Bool, into out: inout TextOutput) {
        let tree = snapshot.contents.tree
        out.line("ZNode Details (count=\(tree.nodeCount)):")
        var lastZxid: Zxid = 0
        var pending = ["/"]
        while let path = pending.popLast() {
            guard let node = tree.node(path) else { continue }
            out.line("----")
            out.line(path)
            out.line("  cZxid = \(javaHex016(node.czxid))")
            out.line("  ctime = \(JavaTimeText.dateToString(milliseconds: node.ctime))")
            out.line("  mZxid = \(javaHex016(node.mzxid))")
            out.line("  mtime = \(JavaTimeText.dateToString(milliseconds: node.mtime))")
            out.line("  pZxid = \(javaHex016(node.pzxid))")
            out.line("  cversion = \(node.cversion)")
            out.line("  dataVersion = \(node.version)")
            out.line("  aclVersion = \(node.aversion)")
            out.line("  ephemeralOwner = \(javaHex016(node.ephemeralOwner))")
            if dumpData {
                out.line("  data = \(Data(node.data ?? []).base64EncodedString())")
            } else {
                out.line("  dataLength = \(node.data?.count ?? 0)")
            }
            lastZxid = max(lastZxid, node.mzxid, node.pzxid)
            pending += tree.childPaths(of: path).reversed()
        }
        out.line("----")
        out.line("Session Details (sid, timeout, ephemeralCount):")
        let sessions = snapshot.contents.sessions
        for id in JavaHashMapOrder.order(snapshot.sessionOrder) {
            guard let timeout = sessions[id] else { continue }
            out.line("\(javaHex016(id)), \(timeout), \(tree.ephemeralPaths(of: id).count)")
        }
        out.line("----")
        out.line("Last zxid: 0x\(TxnText.hex(max(snapshot.nameZxid, lastZxid)))")
    }

    /// ncdu's export format: `[1,0,{header},root]`, a directory as `[{node},children...]`.
    static func printJSON(_ tree: DataTree, into out: inout TextOutput) {
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        out.text("[1,0,{\"progname\":\"SnapshotFormatter.java\",\"progver\":\"0.01\",\"timestamp\":\(now)}")
        var inode = jsonInodeStart
        // (path, opened): a node with children is closed with "]" once they are printed.
        var pending: [(path: String, close: Bool)] = [("/", false)]
        while let (path, close) = pending.popLast() {
            if close {
                out.text("]")
                continue
            }
            guard let node = tree.node(path) else { continue }
            let name = path == "/" ? "/" : String(path[path.index(after: path.lastIndex(of: "/") ?? path.startIndex)...])
            let size = node.data?.count ?? 0
            inode += 1
            let object = "{\"name\":\(JacksonText.quoted(name)),\"asize\":\(size),\"dsize\":\(size),\"dev\":0,\"ino\":\(inode)}"
            out.text(",")
            let children = tree.childPaths(of: path)
            if children.isEmpty {
                out.text(object)
            } else {
                out.text("[" + object)
                pending.append((path, true))
                pending += children.reversed().map { ($0, false) }
            }
        }
        out.text("]")
    }
}

/// Standard output collected in large writes (a snapshot dump has many short lines).
struct TextOutput {
    private var buffer = ""
    static let flushBytes = 1 << 16

    mutating func line(_ text: String) { self.text(text + "\n") }

    mutating func text(_ text: String) {
        buffer += text
        if buffer.utf8.count >= Self.flushBytes { flush() }
    }

    mutating func flush() {
        guard !buffer.isEmpty else { return }
        FileHandle.standardOutput.write(Data(buffer.utf8))
        buffer = ""
    }
}
