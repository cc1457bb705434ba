import Foundation
import NIOCore
import ZKDataTree
import ZKModel
import ZKPersistence

/// The files of `dataDir` and `dataLogDir`: listing, recovery, snapshots, torn-tail repair
/// and purge. The formats and decisions live in ZKPersistence; this type only does the I/O.
struct DataDirectory: Sendable {
    /// `<dataDir>/version-2`: snapshots.
    let snapshotDirectory: String
    /// `<dataLogDir>/version-2`: transaction logs.
    let logDirectory: String

    static let temporarySnapshotPrefix = "tmp."

    init(dataDir: String, dataLogDir: String?) {
        snapshotDirectory = (dataDir as NSString).appendingPathComponent(DataFileName.directoryName)
        logDirectory = ((dataLogDir ?? dataDir) as NSString).appendingPathComponent(DataFileName.directoryName)
    }

    /// Creates the directories and removes snapshots a crash left half-written.
    func prepare() throws {
        for directory in Set([snapshotDirectory, logDirectory]) {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        }
        for name in try FileManager.default.contentsOfDirectory(atPath: snapshotDirectory)
        where name.hasPrefix(Self.temporarySnapshotPrefix) {
            try? FileManager.default.removeItem(atPath: (snapshotDirectory as NSString).appendingPathComponent(name))
        }
    }

    func path(of file: DataFileName) -> String {
        let directory = file.kind == .log ? logDirectory : snapshotDirectory
        return (directory as NSString).appendingPathComponent(file.name)
    }

    func list(_ kind: DataFileKind) -> [DataFileName] {
        let directory = kind == .log ? logDirectory : snapshotDirectory
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        return names.compactMap(DataFileName.init).filter { $0.kind == kind }.sorted()
    }

    func recover(options: RecoveryOptions) throws -> RecoveredState {
        try Recovery.recover(files(), options: options)
    }

    /// Cuts a torn final entry off, so the file ends where its last whole txn ends.
    func truncate(_ file: DataFileName, at offset: Int) throws {
        let handle = try PosixFile.open(path(of: file), flags: O_RDWR)
        defer { handle.close() }
        try handle.truncate(to: offset)
        try handle.sync()
    }

    /// Writes `snapshot.<zxid>` atomically: a temporary file, fsync, rename, fsync of the directory.
    @discardableResult
    func writeSnapshot(tree: DataTree, sessions: [SessionID: Int32], zxid: Zxid) throws -> String {
        try writeSnapshot(bytes: SnapshotFormat.encode(tree: tree, sessions: sessions), zxid: zxid)
    }

    /// Moves every snapshot and log into `version-2/<folder>` (a restore replaces the whole
    /// history: recovery must not replay the old one over the restored snapshot). Returns
    /// what moved, so a failed restore can put it back.
    func moveAside(into folder: String) throws -> [(from: String, to: String)] {
        var moved: [(from: String, to: String)] = []
        for directory in Set([snapshotDirectory, logDirectory]) {
            let target = (directory as NSString).appendingPathComponent(folder)
            try FileManager.default.createDirectory(atPath: target, withIntermediateDirectories: true)
            let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
            for name in names where DataFileName(name) != nil {
                let from = (directory as NSString).appendingPathComponent(name)
                let to = (target as NSString).appendingPathComponent(name)
                try PosixFile.rename(from, to: to)
                moved.append((from, to))
            }
            try PosixFile.syncDirectory(directory)
        }
        return moved
    }

    /// Writes snapshot bytes already encoded (the AdminServer's `snapshot` also sends them).
    func writeSnapshot(bytes: ByteBuffer, zxid: Zxid) throws -> String {
        let name = DataFileName(kind: .snapshot, zxid: zxid).name
        let temporary = (snapshotDirectory as NSString).appendingPathComponent(Self.temporarySnapshotPrefix + name)
        let final = (snapshotDirectory as NSString).appendingPathComponent(name)
        do {
            let file = try PosixFile.open(temporary, flags: O_WRONLY | O_CREAT | O_TRUNC)
            defer { file.close() }
            try bytes.withUnsafeReadableBytes { try file.write($0, at: 0) }
            try file.sync()
        } catch {
            try? FileManager.default.removeItem(atPath: temporary)
            throw error
        }
        try PosixFile.rename(temporary, to: final)
        try PosixFile.syncDirectory(snapshotDirectory)
        return final
    }

    /// Bytes in the snapshot and log directories (apparent sizes, as ZooKeeper's `dirs` sums them).
    func sizes() -> (snapshotBytes: Int64, logBytes: Int64) {
        func size(_ directory: String) -> Int64 {
            let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
            return names.reduce(Int64(0)) { total, name in
                let attributes = try? FileManager.default.attributesOfItem(atPath: (directory as NSString).appendingPathComponent(name))
                return total + ((attributes?[.size] as? NSNumber)?.int64Value ?? 0)
            }
        }
        return (size(snapshotDirectory), size(logDirectory))
    }

    /// Snapshots that pass ZooKeeper's quick validity test (it reads only the last bytes).
    func validSnapshots() -> [DataFileName] {
        list(.snapshot).filter { file in
            guard let handle = FileHandle(forReadingAtPath: path(of: file)) else { return false }
            defer { try? handle.close() }
            let tailBytes = UInt64(SnapshotFormat.sealTail.count)
            guard let size = try? handle.seekToEnd(), size >= UInt64(SnapshotFormat.fileBytesMin) else { return false }
            try? handle.seek(toOffset: size - tailBytes)
            guard let tail = try? handle.read(upToCount: Int(tailBytes)) else { return false }
            return Array(tail) == SnapshotFormat.sealTail
        }
    }

    /// Deletes what `PurgePlan` says is no longer needed; returns the paths deleted.
    func purge(retainCount: Int) throws -> [String] {
        let doomed = PurgePlan.filesToDelete(
            validSnapshots: validSnapshots(), allFiles: list(.snapshot) + list(.log), retainCount: retainCount)
        var deleted: [String] = []
        for file in doomed {
            let path = path(of: file)
            try FileManager.default.removeItem(atPath: path)
            deleted.append(path)
        }
        return deleted
    }
}

/// `swiftkeeper cleanup`: the purge, callable without a running server.
public enum DataDirectoryPurge {
    public static func purge(dataDir: String, dataLogDir: String?, retainCount: Int) throws -> [String] {
        try DataDirectory(dataDir: dataDir, dataLogDir: dataLogDir).purge(retainCount: retainCount)
    }
}
