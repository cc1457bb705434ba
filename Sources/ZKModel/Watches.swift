/// `Watcher.Event.EventType`.
public enum EventType: Int32, Sendable, CaseIterable {
    case none = -1
    case nodeCreated = 1
    case nodeDeleted = 2
    case nodeDataChanged = 3
    case nodeChildrenChanged = 4
    case dataWatchRemoved = 5
    case childWatchRemoved = 6
    case persistentWatchRemoved = 7
}

/// `Watcher.Event.KeeperState`; the server only ever sends `syncConnected`.
public enum KeeperState: Int32, Sendable {
    case unknown = -1
    case disconnected = 0
    case noSyncConnected = 1
    case syncConnected = 3
    case authFailed = 4
    case connectedReadOnly = 5
    case saslAuthenticated = 6
    case expired = -112
    case closed = 7
}

/// The `type` of checkWatches/removeWatches requests (`Watcher.WatcherType`).
public enum WatcherType: Int32, Sendable {
    case children = 1
    case data = 2
    case any = 3
    case persistent = 4
    case persistentRecursive = 5
}

/// `AddWatchRequest.mode`.
public enum AddWatchMode: Int32, Sendable {
    case persistent = 0
    case persistentRecursive = 1
}

/// A watch notification as the server sends it.
public struct WatchedEvent: Hashable, Sendable {
    public var type: EventType
    public var state: KeeperState
    public var path: String
    public init(type: EventType, state: KeeperState = .syncConnected, path: String) {
        self.type = type
        self.state = state
        self.path = path
    }
}
