import ArgumentParser
import Foundation
import Logging
import ZKServer

struct SwiftKeeper: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "swiftkeeper",
        abstract: "A ZooKeeper-compatible coordination service.",
        subcommands: [Server.self],
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

    func run() throws {
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = .info
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
        try StandaloneServer(configuration: configuration, logger: logger).run()
    }
}

SwiftKeeper.main()
