import ArgumentParser
import Foundation
import NIOCore
import ZKModel
import ZKPersistence

/// `swiftkeeper txnlog-dump`: ZooKeeper 3.8.0's `TxnLogToolkit` (zkTxnLogToolkit.sh), with its
/// options, output lines and exit codes.
struct TxnLogDump: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "txnlog-dump",
        abstract: "Print, repair or chop a transaction log file (like zkTxnLogToolkit.sh).",
        discussion: """
            txnlog-dump [-dhrvy] [-c -z ZXID] LOGFILE
              -d, --dump      print every entry with its data (the default; kept for compatibility)
              -r, --recover   recompute the checksum of damaged entries, writing LOGFILE.fixed
              -y, --yes       with -r: repair every damaged entry without asking
              -v, --verbose   with -r: print every entry, not only the damaged ones
              -c, --chop      with -z: copy the entries up to ZXID into LOGFILE.chopped<ZXID>
              -z, --zxid      the last zxid to keep when chopping (decimal, 0x hex or 0 octal)
              -h, --help      print this help
            """)

    @Argument(parsing: .captureForPassthrough, help: "Options and the log file, as for ZooKeeper's tool.")
    var words: [String] = []

    static let specs: [CommandLineOptions.Spec] = [
        .init(short: "h", long: "help", takesValue: false),
        .init(short: "r", long: "recover", takesValue: false),
        .init(short: "v", long: "verbose", takesValue: false),
        .init(short: "d", long: "dump", takesValue: false),
        .init(short: "y", long: "yes", takesValue: false),
        .init(short: "c", long: "chop", takesValue: false),
        .init(short: "z", long: "zxid", takesValue: true),
    ]

    /// ZooKeeper's `ExitCode` values.
    enum Exit {
        static let finished: Int32 = 0
        static let unexpectedError: Int32 = 1
        static let invalidInvocation: Int32 = 2
    }

    func run() throws {
        let options: CommandLineOptions
        do {
            options = try CommandLineOptions(words, specs: Self.specs)
        } catch {
            printError("\(error)\n\n")
            print(Self.helpMessage())
            throw ExitCode(Exit.unexpectedError)
        }
        if options.has("h") {
            print(Self.helpMessage())
            throw ExitCode(Exit.finished)
        }
        guard let path = options.arguments.first else {
            print(Self.helpMessage())
            throw ExitCode(Exit.unexpectedError)
        }
        guard FileManager.default.isReadableFile(atPath: path) else {
            printError("File doesn't exist or not readable: \(path)")
            throw ExitCode(Exit.unexpectedError)
        }
        if options.has("c"), let zxidText = options.value("z") {
            guard let zxid = javaLongDecode(zxidText) else {
                printError("swiftkeeper: not a zxid: \(zxidText)")
                throw ExitCode(Exit.unexpectedError)
            }
            guard zxid >= 0 else {
                printError("swiftkeeper: a negative zxid (\(zxidText)) cannot be chopped to")
                throw ExitCode(Exit.unexpectedError)
            }
            try TxnLogChop(path: path, zxid: zxid).run()
            return
        }
        var dump = TxnLogDumper(path: path, recover: options.has("r"), verbose: options.has("v"), force: options.has("y"))
        try dump.run()
    }

    static func helpMessage() -> String {
        "usage: swiftkeeper txnlog-dump [-dhrvy] [-c -z <zxid>] <txn_log_file_name>\n" + configuration.discussion
    }
}

/// Reads a whole file; nil if it cannot be read.
func readWholeFile(_ path: String) -> [UInt8]? {
    guard let data = FileManager.default.contents(atPath: path) else { return nil }
    return [UInt8](data)
}

/// Writes `bytes` to a new file at `path`, then grows it with zeros to `size` if that is larger.
func writeFile(_ path: String, _ bytes: [UInt8], size: Int = 0) throws {
    guard FileManager.default.createFile(atPath: path, contents: Data(bytes)) else {
        throw ToolError("cannot write \(path)")
    }
    if size > bytes.count {
        guard let handle = FileHandle(forWritingAtPath: path) else { throw ToolError("cannot open \(path)") }
        defer { try? handle.close() }
        try handle.truncate(atOffset: UInt64(size))
    }
}

struct ToolError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// The size a txn's header takes in its payload: a closeSession no longer than this has no record.
let txnHeaderBytes = 32

/// One log entry's line, or why its payload cannot be shown.
func txnLine(_ payload: [UInt8]) throws -> String {
    let txn: Txn
    do {
        (txn, _) = try TxnCodec.decode(ByteBuffer(bytes: payload), lengthMax: Int32(TxnLogEntryStream.payloadBytesMax))
    } catch {
        throw ToolError("cannot decode the txn: \(error)")
    }
    return TxnText.line(
        txn, timeText: JavaTimeText.shortDateLongTime(milliseconds: txn.header.time),
        recordPresent: payload.count > txnHeaderBytes)
}

/// Dump and recovery mode: every entry printed (or, when recovering, the damaged ones and a
/// repaired copy written to `<file>.fixed`).
struct TxnLogDumper {
    let path: String
    let recover: Bool
    let verbose: Bool
    let force: Bool
    /// ZooKeeper's default preallocation block (`zookeeper.preAllocSize`, 64 MiB), which the
    /// repaired file is padded with as a server pads its logs.
    static let preallocationBytes = 64 * 1024 * 1024

    var recoveryPath: String { path + ".fixed" }
    private var recovered: [UInt8] = []
    private var recoveredSize = 0
    private var fixedCount = 0
    private var answers = AnswerReader()

    init(path: String, recover: Bool, verbose: Bool, force: Bool) {
        self.path = path
        self.recover = recover
        self.verbose = verbose
        self.force = force
    }

    enum Stop: Error {
        case exit(Int32, String?)
    }

    mutating func run() throws {
        if recover {
            guard !FileManager.default.fileExists(atPath: recoveryPath),
                FileManager.default.createFile(atPath: recoveryPath, contents: nil)
            else {
                printError("Recovery file \(recoveryPath) already exists or not writable")
                throw ExitCode(TxnLogDump.Exit.unexpectedError)
            }
        }
        var outcome: Stop?
        do {
            try dump()
        } catch let stop as Stop {
            outcome = stop
        } catch {
            outcome = .exit(TxnLogDump.Exit.unexpectedError, "swiftkeeper: \(path): \(error)")
        }
        if recover {
            do {
                try writeFile(recoveryPath, recovered, size: recoveredSize)
            } catch {
                printError("swiftkeeper: \(error)")
                throw ExitCode(TxnLogDump.Exit.unexpectedError)
            }
        }
        if case .exit(let code, let message)? = outcome {
            if let message { printError(message) }
            throw ExitCode(code)
        }
        if recover {
            print("Recovery file \(recoveryPath) has been written with \(fixedCount) fixed CRC error(s)")
        }
    }

    private mutating func dump() throws {
        guard let bytes = readWholeFile(path) else { throw Stop.exit(TxnLogDump.Exit.unexpectedError, "File doesn't exist or not readable: \(path)") }
        var stream = TxnLogEntryStream(bytes)
        guard let header = stream.header() else {
            throw Stop.exit(TxnLogDump.Exit.unexpectedError, "swiftkeeper: \(path) is shorter than a log file header")
        }
        guard header.magic == TxnLogFormat.magic else {
            throw Stop.exit(TxnLogDump.Exit.invalidInvocation, "Invalid magic number for \((path as NSString).lastPathComponent)")
        }
        print("ZooKeeper Transactional Log File with dbid \(header.dbid) txnlog format version \(header.version)")
        if recover {
            recovered = header.bytes
            recoveredSize = recovered.count
        }
        var count = 0
        while true {
            var checksum: Int64
            let computed: Int64
            let payload: [UInt8]
            switch stream.next() {
            case .end:
                print("EOF reached after \(count) txns.")
                return
            case .failure(let reason):
                throw Stop.exit(TxnLogDump.Exit.unexpectedError, "swiftkeeper: \(path): \(reason)")
            case .entry(let stored, let sum, let bytes):
                checksum = stored
                computed = sum
                payload = bytes
            }
            if checksum != computed {
                if !recover {
                    print("CRC ERROR - " + (try txnLine(payload)), terminator: "")
                } else if force {
                    checksum = computed
                    print("CRC FIXED - " + (try txnLine(payload)), terminator: "")
                    fixedCount += 1
                } else {
                    print("CRC ERROR - " + (try txnLine(payload)), terminator: "")
                    if try askForFix() {
                        checksum = computed
                        fixedCount += 1
                    }
                }
            }
            if !recover || verbose {
                print(try txnLine(payload), terminator: "")
            }
            guard let marker = stream.endOfRecord() else {
                throw Stop.exit(TxnLogDump.Exit.unexpectedError, "swiftkeeper: \(path): the file ends before the last entry's end-of-record byte")
            }
            guard marker == TxnLogFormat.endOfRecord else {
                throw Stop.exit(TxnLogDump.Exit.unexpectedError, "Last transaction was partial.")
            }
            if recover {
                if let size = LogPreallocation.sizeNeeded(
                    position: recovered.count, appendBytes: 0, currentSize: recoveredSize, blockBytes: Self.preallocationBytes)
                {
                    recoveredSize = size
                }
                recovered += TxnLogEntryStream.framed(checksum: checksum, payload: payload)
            }
            count += 1
        }
    }

    /// Yes, No or Abort, by the first letter of the next word on standard input.
    private mutating func askForFix() throws -> Bool {
        while true {
            print("Would you like to fix it (Yes/No/Abort) ? ", terminator: "")
            fflush(nil)
            guard let word = answers.next(), let first = word.uppercased().first else {
                throw Stop.exit(TxnLogDump.Exit.unexpectedError, "swiftkeeper: no answer on standard input (use -y to repair without asking)")
            }
            switch first {
            case "Y": return true
            case "N": return false
            case "A": throw Stop.exit(TxnLogDump.Exit.finished, "Recovery aborted.")
            default: continue
            }
        }
    }
}

/// Whitespace-separated words from standard input.
struct AnswerReader {
    private var pending: [String] = []

    mutating func next() -> String? {
        while pending.isEmpty {
            guard let line = readLine() else { return nil }
            pending = line.split(whereSeparator: { $0.isWhitespace }).map(String.init).reversed()
        }
        return pending.popLast()
    }
}

/// Chop mode (ZooKeeper's `LogChopper`): the header and every entry up to and including
/// `zxid` copied to `<file>.chopped<zxid>`. Like ZooKeeper's tool it reports problems on
/// standard output as "Got exception: ..." and exits 0.
struct TxnLogChop {
    let path: String
    let zxid: Zxid

    var targetPath: String { path + ".chopped\(zxid)" }

    func run() throws {
        var output: [UInt8] = []
        let message: String?
        do {
            message = try chop(into: &output) ? nil : "Failed to chop \((path as NSString).lastPathComponent)"
        } catch {
            message = "\(error)"
        }
        do {
            try writeFile(targetPath, output)
        } catch {
            printError("swiftkeeper: \(error)")
            throw ExitCode(TxnLogDump.Exit.unexpectedError)
        }
        if let message { print("Got exception: \(message)") }
    }

    /// true if the log was chopped.
    private func chop(into output: inout [UInt8]) throws -> Bool {
        guard let bytes = readWholeFile(path) else { throw ToolError("cannot read \(path)") }
        var stream = TxnLogEntryStream(bytes)
        guard let header = stream.header() else { throw ToolError("\(path) is shorter than a log file header") }
        guard header.magic == TxnLogFormat.magic else {
            printError("Invalid magic number in txn log file")
            return false
        }
        print("ZooKeeper Transactional Log File with dbid \(header.dbid) txnlog format version \(header.version)")
        output = header.bytes
        var count = 0
        var found = false
        var previous: Zxid = -1
        while true {
            let checksum: Int64
            let payload: [UInt8]
            switch stream.next() {
            case .end:
                print("EOF reached after \(count) txns.")
                return false
            case .failure(let reason):
                throw ToolError(reason)
            case .entry(let stored, let computed, let bytes):
                guard stored == computed else { throw ToolError("CRC doesn't match \(stored) vs \(computed)") }
                checksum = stored
                payload = bytes
            }
            let txn: Txn
            do {
                (txn, _) = try TxnCodec.decode(ByteBuffer(bytes: payload), lengthMax: Int32(TxnLogEntryStream.payloadBytesMax))
            } catch {
                throw ToolError("cannot decode the txn: \(error)")
            }
            guard let marker = stream.endOfRecord() else { throw ToolError("the file ends before the last entry's end-of-record byte") }
            guard marker == TxnLogFormat.endOfRecord else {
                print("Last transaction was partial.")
                throw ToolError("Last transaction was partial.")
            }
            let current = txn.header.zxid
            if current == zxid { found = true }
            if previous != -1 && current != previous &+ 1 {
                if Self.epoch(current) == Self.epoch(previous) {
                    print("There is intra-epoch gap between \(TxnText.hex(previous)) and \(TxnText.hex(current))")
                } else if Self.counter(current) != 1 {
                    print("There is inter-epoch gap between \(TxnText.hex(previous)) and \(TxnText.hex(current))")
                }
            }
            previous = current
            if current > zxid {
                if count == 0 || !found {
                    print("This log does not contain zxid \(TxnText.hex(zxid))")
                    return false
                }
                print("Chopping at \(TxnText.hex(zxid)) new log has \(count) records")
                return true
            }
            output += TxnLogEntryStream.framed(checksum: checksum, payload: payload)
            count += 1
        }
    }

    static let counterBits: Int64 = 32
    static func epoch(_ zxid: Zxid) -> Int64 { zxid >> counterBits }
    static func counter(_ zxid: Zxid) -> Int64 { zxid & 0xffff_ffff }
}
