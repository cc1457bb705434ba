import Foundation
import ZKConsensus

/// One `server.N=host:quorumPort:electionPort[:participant|observer][;[clientHost:]clientPort]` line.
public struct QuorumServer: Hashable, Sendable {
    public var id: ServerID
    public var host: String
    public var quorumPort: Int
    public var electionPort: Int
    public var isObserver: Bool
    public var clientHost: String?
    public var clientPort: Int?

    /// ZooKeeper's `QuorumServer.toString`, the line of the config text that election
    /// notifications and NEWLEADER carry.
    public var configLine: String {
        var line = "server.\(id)=\(host):\(quorumPort):\(electionPort):\(isObserver ? "observer" : "participant")"
        if let clientPort { line += ";\(clientHost ?? "0.0.0.0"):\(clientPort)" }
        return line
    }

    static func parse(id: ServerID, _ value: String) throws -> QuorumServer {
        func fail(_ why: String) -> ConfigurationError {
            ConfigurationError(description: "server.\(id): \(why) in '\(value)' (expected host:quorumPort:electionPort[:participant|observer][;[clientHost:]clientPort])")
        }
        let halves = value.split(separator: ";", maxSplits: 1, omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
        let (host, rest) = try splitHost(halves[0], fail)
        let parts = rest.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 2 || parts.count == 3 else { throw fail("wrong number of fields") }
        guard let quorumPort = Int(parts[0]), (1...65535).contains(quorumPort) else { throw fail("bad quorum port") }
        guard let electionPort = Int(parts[1]), (1...65535).contains(electionPort) else { throw fail("bad election port") }
        guard quorumPort != electionPort else { throw fail("quorum and election ports must differ") }
        var server = QuorumServer(id: id, host: host, quorumPort: quorumPort, electionPort: electionPort, isObserver: false)
        if parts.count == 3 {
            switch parts[2].lowercased() {
            case "participant": break
            case "observer": server.isObserver = true
            default: throw fail("unknown role '\(parts[2])'")
            }
        }
        if halves.count == 2 {
            let client = halves[1]
            if let colon = client.lastIndex(of: ":") {
                server.clientHost = String(client[..<colon])
                server.clientPort = Int(client[client.index(after: colon)...])
            } else {
                server.clientPort = Int(client)
            }
            guard let port = server.clientPort, (0...65535).contains(port) else { throw fail("bad client port") }
        }
        return server
    }

    /// `host:rest` with an IPv6 host in brackets.
    private static func splitHost(_ text: String, _ fail: (String) -> ConfigurationError) throws -> (String, String) {
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]"), text[text.index(after: close)...].hasPrefix(":") else { throw fail("bad IPv6 host") }
            return (String(text[text.index(after: text.startIndex)..<close]), String(text[text.index(close, offsetBy: 2)...]))
        }
        guard let colon = text.firstIndex(of: ":"), colon != text.startIndex else { throw fail("no host") }
        return (String(text[..<colon]), String(text[text.index(after: colon)...]))
    }
}

/// The ensemble part of `zoo.cfg` (and of `dynamicConfigFile`).
public struct EnsembleConfiguration: Sendable {
    public var servers: [ServerID: QuorumServer] = [:]
    public var initLimit: Int64 = 10
    public var syncLimit: Int64 = 5
    public var standaloneEnabled = true
    /// `peerType=observer` makes this server an observer (its line must say so too).
    public var peerTypeObserver = false
    public var quorumListenOnAllIPs = false
    /// Connect timeout of election connections (`cnxTimeout`, ms).
    public var connectTimeoutMs: Int64 = 5000
    /// Times to retry binding the election port; 0 retries for ever (ZooKeeper's default
    /// gives up at once and exits).
    public var electionPortBindRetry = 3
    public var leaderServes = true
    public var syncEnabled = true
    public var readOnlyModeEnabled = false
    public var commitLogCount = 500
    public var snapshotSizeFactor = 0.33
    public var dynamicConfigFile: String?
    public var localSessionsEnabled = false
    public var localSessionsUpgradingEnabled = false
    /// The config version (`version=` of a dynamic file); 0 for a static configuration.
    public var configVersion: Int64 = 0

    public init() {}

    /// Participants vote; observers only follow.
    public var voters: Set<ServerID> { Set(servers.values.filter { !$0.isObserver }.map(\.id)) }
    public var observers: Set<ServerID> { Set(servers.values.filter(\.isObserver).map(\.id)) }

    /// ZooKeeper's rule: no server lines, or one participant with `standaloneEnabled`, runs standalone.
    public var isStandalone: Bool { servers.isEmpty || (voters.count == 1 && observers.isEmpty && standaloneEnabled) }

    /// The text election notifications and NEWLEADER carry: one line per server in id
    /// order, then `version=<hex>` with no newline after it.
    public var configText: String {
        (servers.keys.sorted().map { servers[$0]!.configLine } + ["version=\(String(configVersion, radix: 16))"]).joined(separator: "\n")
    }

    mutating func apply(key: String, value: String) throws -> Bool {
        switch key {
        case "initLimit": initLimit = Int64(try ServerConfiguration.integer(key, value, minimum: 1))
        case "syncLimit": syncLimit = Int64(try ServerConfiguration.integer(key, value, minimum: 1))
        case "standaloneEnabled": standaloneEnabled = try ServerConfiguration.boolean(key, value)
        case "peerType":
            switch value.lowercased() {
            case "observer": peerTypeObserver = true
            case "participant": peerTypeObserver = false
            default: throw ConfigurationError(description: "peerType: invalid value '\(value)' (expected observer or participant)")
            }
        case "quorumListenOnAllIPs": quorumListenOnAllIPs = try ServerConfiguration.boolean(key, value)
        case "cnxTimeout": connectTimeoutMs = Int64(try ServerConfiguration.integer(key, value, minimum: 1))
        case "electionPortBindRetry": electionPortBindRetry = try ServerConfiguration.integer(key, value, minimum: 0)
        case "leaderServes": leaderServes = value.lowercased() != "no" && value.lowercased() != "false"
        case "syncEnabled": syncEnabled = try ServerConfiguration.boolean(key, value)
        case "readonlymode.enabled": readOnlyModeEnabled = try ServerConfiguration.boolean(key, value)
        case "commitLogCount": commitLogCount = try ServerConfiguration.integer(key, value, minimum: 1)
        case "snapshotSizeFactor":
            guard let factor = Double(value) else { throw ConfigurationError(description: "snapshotSizeFactor: invalid value '\(value)'") }
            snapshotSizeFactor = factor
        case "dynamicConfigFile": dynamicConfigFile = value
        case "localSessionsEnabled": localSessionsEnabled = try ServerConfiguration.boolean(key, value)
        case "localSessionsUpgradingEnabled": localSessionsUpgradingEnabled = try ServerConfiguration.boolean(key, value)
        case "electionAlg":
            guard value == "3" else { throw ConfigurationError(description: "electionAlg: only 3 (fast leader election) exists since ZooKeeper 3.6; got '\(value)'") }
        default:
            if key.hasPrefix("server."), let id = ServerID(key.dropFirst("server.".count)) {
                guard id >= 0 else { throw ConfigurationError(description: "\(key): server ids are not negative") }
                guard servers[id] == nil else { throw ConfigurationError(description: "\(key): defined twice") }
                servers[id] = try QuorumServer.parse(id: id, value)
                return true
            }
            if key.hasPrefix("server.") { throw ConfigurationError(description: "\(key): the server id must be a number") }
            if key.hasPrefix("group.") || key.hasPrefix("weight.") {
                throw ConfigurationError(description: "\(key): hierarchical quorums are not supported; use a majority of server.N participants")
            }
            return false
        }
        return true
    }

    /// The dynamic file's `server.N` lines replace the static ones; `version=` is its config version.
    mutating func loadDynamicFile(_ text: String) throws {
        servers = [:]
        for (key, value) in PropertiesFile.parse(text) {
            let key = key.trimmingCharacters(in: .whitespaces), value = value.trimmingCharacters(in: .whitespaces)
            if key == "version" {
                guard let version = Int64(value, radix: 16) else { throw ConfigurationError(description: "\(dynamicConfigFile ?? ""): bad version '\(value)'") }
                configVersion = version
            } else if !(try apply(key: key, value: value)) {
                throw ConfigurationError(description: "\(dynamicConfigFile ?? ""): only server.N lines and version belong in a dynamic config file, not '\(key)'")
            }
        }
    }

    func validate() throws {
        if !servers.isEmpty && voters.isEmpty { throw ConfigurationError(description: "server.N: observers need at least one participant") }
        var seen: [String: ServerID] = [:]
        for id in servers.keys.sorted() {
            let server = servers[id]!
            for port in [server.quorumPort, server.electionPort] {
                if let other = seen["\(server.host):\(port)"] {
                    throw ConfigurationError(description: "server.\(id): \(server.host):\(port) is already used by server.\(other)")
                }
                seen["\(server.host):\(port)"] = id
            }
        }
    }

    /// Reads `<dataDir>/myid` (the first line, a decimal id) and checks the id is a server.
    public func myId(dataDir: String) throws -> ServerID {
        let path = (dataDir as NSString).appendingPathComponent("myid")
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw ConfigurationError(description: "\(path) is missing or unreadable: in an ensemble every server needs its id there")
        }
        let line = text.split(whereSeparator: \.isNewline).first.map { $0.trimmingCharacters(in: .whitespaces) } ?? ""
        guard let id = ServerID(line) else { throw ConfigurationError(description: "\(path): '\(line)' is not a server id") }
        guard let server = servers[id] else {
            throw ConfigurationError(description: "\(path): server id \(id) is not among the servers (\(servers.keys.sorted().map { "server.\($0)" }.joined(separator: ", ")))")
        }
        if peerTypeObserver && !server.isObserver {
            throw ConfigurationError(description: "peerType=observer but server.\(id) is a participant")
        }
        return id
    }
}
