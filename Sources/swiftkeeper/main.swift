import ArgumentParser
import Foundation
import Logging
import ZKServer

struct SwiftKeeper: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "swiftkeeper",
        abstract: "A ZooKeeper-compatible coordination service.",
        subcommands: [Server.self, Cleanup.self, Sim.self, CheckHistory.self, Bench.self, TxnLogDump.self, SnapshotDump.self, SnapshotCompare.self],
        defaultSubcommand: Server.self)
}

struct Server: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run a standalone server (the default).")

    @Argument(help: "A ZooKeeper configuration file (zoo.cfg).")
    var configFile: String?

    @Option(help: "Client port (overrides clientPort).")
    var port: Int?

    @Option(name: .customLong("data-dir"), help: "Data directory (overrides dataDir).")
    var dataDir: String?

    @Option(
        name: .customLong("log-level"),
        help: "trace, debug, info (the default), notice, warning, error or critical; overrides SWIFTKEEPER_LOG_LEVEL.")
    var logLevel: String?

    /// The environment's setting, for deployments that cannot change the command line.
    static let logLevelVariable = "SWIFTKEEPER_LOG_LEVEL"

    func validate() throws {
        _ = try Self.level(logLevel ?? ProcessInfo.processInfo.environment[Self.logLevelVariable])
    }

    static func level(_ text: String?) throws -> Logger.Level {
        guard let text else { return .info }
        guard let level = Logger.Level(rawValue: text.lowercased()) else {
            throw ValidationError("unknown log level '\(text)': use trace, debug, info, notice, warning, error or critical")
        }
        return level
    }

    func run() throws {
        let level = try Self.level(logLevel ?? ProcessInfo.processInfo.environment[Self.logLevelVariable])
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "swiftkeeper")
        var configuration = ServerConfiguration()
        do {
            if let configFile {
                let text = try String(contentsOfFile: configFile, encoding: .utf8)
                configuration = try ServerConfiguration.parse(text)
            }
        } catch let error as ConfigurationError {
            FileHandle.standardError.write("swiftkeeper: invalid configuration: \(error)\n".data(using: .utf8)!)
            throw ExitCode(2)
        } catch {
            FileHandle.standardError.write("swiftkeeper: cannot read \(configFile ?? ""): \(error)\n".data(using: .utf8)!)
            throw ExitCode(2)
        }
        if let port { configuration.clientPort = port }
        if let dataDir { configuration.dataDir = dataDir }
        do {
            try StandaloneServer(configuration: configuration, logger: logger).run()
        } catch let error as ConfigurationError {
            FileHandle.standardError.write("swiftkeeper: invalid configuration: \(error)\n".data(using: .utf8)!)
            throw ExitCode(2)
        } catch let error as StartupError {
            FileHandle.standardError.write("swiftkeeper: \(error)\n".data(using: .utf8)!)
            throw ExitCode(1)
        }
    }
}

struct Cleanup: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Delete old snapshots and transaction logs, keeping the newest N snapshots (like zkCleanup.sh).")

    @Argument(help: "The data directory (dataDir), or a zoo.cfg to read dataDir and dataLogDir from.")
    var dataDirOrConfig: String

    @Argument(help: "The transaction log directory (dataLogDir), if different from dataDir.")
    var dataLogDir: String?

    @Option(name: .short, help: "How many snapshots to keep (at least 3).")
    var n: Int = 3

    func validate() throws {
        guard n >= 3 else { throw ValidationError("-n must be at least 3") }
    }

    func run() throws {
        var dataDir = dataDirOrConfig
        var logDir = dataLogDir
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: dataDirOrConfig, isDirectory: &isDirectory), !isDirectory.boolValue {
            let configuration = try ServerConfiguration.parse(String(contentsOfFile: dataDirOrConfig, encoding: .utf8))
            dataDir = configuration.dataDir
            logDir = logDir ?? configuration.dataLogDir
        }
        let deleted = try DataDirectoryPurge.purge(dataDir: dataDir, dataLogDir: logDir, retainCount: n)
        for path in deleted { print("deleted \(path)") }
        print("kept the newest \(n) snapshots and the logs needed to replay them; deleted \(deleted.count) files")
    }
}

SwiftKeeper.main()
