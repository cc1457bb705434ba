/// A ZooKeeper transaction id: `epoch << 32 | counter`. Standalone servers use epoch 0.
public typealias Zxid = Int64

/// A client session id. Bits 63-56 hold the server id, 55-16 the server's clock at start-up.
public typealias SessionID = Int64

/// A client-chosen request id, echoed in the reply.
public typealias Xid = Int32

public enum ZxidLayout {
    public static func epoch(of zxid: Zxid) -> Int64 { zxid >> 32 }
    public static func counter(of zxid: Zxid) -> Int64 { zxid & 0xffff_ffff }
    public static func make(epoch: Int64, counter: Int64) -> Zxid { (epoch << 32) | (counter & 0xffff_ffff) }
}

/// The xids ZooKeeper clients reserve for traffic that is not a numbered request.
public enum ReservedXid {
    public static let notification: Xid = -1
    public static let ping: Xid = -2
    public static let auth: Xid = -4
    public static let setWatches: Xid = -8
}
