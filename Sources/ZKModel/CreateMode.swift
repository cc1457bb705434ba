/// The `flags` of a create request (`CreateMode`).
public enum CreateMode: Int32, Sendable, CaseIterable {
    case persistent = 0
    case ephemeral = 1
    case persistentSequential = 2
    case ephemeralSequential = 3
    case container = 4
    case persistentWithTTL = 5
    case persistentSequentialWithTTL = 6

    public var isEphemeral: Bool { self == .ephemeral || self == .ephemeralSequential }
    public var isSequential: Bool {
        self == .persistentSequential || self == .ephemeralSequential || self == .persistentSequentialWithTTL
    }
    public var isContainer: Bool { self == .container }
    public var isTTL: Bool { self == .persistentWithTTL || self == .persistentSequentialWithTTL }
}

/// How the stored `ephemeralOwner` of a node encodes containers and TTL nodes (`EphemeralType`).
public enum EphemeralOwner {
    /// Containers store `Long.MIN_VALUE`.
    public static let container: Int64 = Int64.min
    /// TTL nodes store `0xFF << 56 | ttl`; the TTL takes the low 40 bits.
    public static let ttlMax: Int64 = 0x0000_00ff_ffff_ffff

    public static func ttl(_ ttl: Int64) -> Int64 { Int64(bitPattern: 0xff00_0000_0000_0000) | ttl }

    public static func isContainer(_ owner: Int64) -> Bool { owner == container }

    /// The TTL in ms if `owner` marks a TTL node.
    public static func ttlValue(_ owner: Int64) -> Int64? {
        let high = UInt64(bitPattern: owner) >> 56
        guard high == 0xff else { return nil }
        // Bits 55-40 are a feature field; 0 means TTL.
        guard (UInt64(bitPattern: owner) >> 40) & 0xffff == 0 else { return nil }
        return owner & ttlMax
    }

    /// The session owning an ephemeral node, or nil for persistent, container and TTL nodes.
    public static func session(_ owner: Int64) -> SessionID? {
        if owner == 0 || isContainer(owner) || ttlValue(owner) != nil { return nil }
        return owner
    }

    /// What `Stat.ephemeralOwner` shows clients: 0 for containers and TTL nodes.
    public static func visible(_ owner: Int64) -> Int64 { session(owner) ?? 0 }
}
