import ZKModel

/// A write as a client asked for it, before validation (the input of `prepare`).
public indirect enum WriteOp: Hashable, Sendable {
    case create(opCode: OpCode, path: String, data: [UInt8]?, acl: [ACL]?, flags: Int32, ttl: Int64)
    case delete(path: String, version: Int32)
    case setData(path: String, data: [UInt8]?, version: Int32)
    case setACL(path: String, acl: [ACL]?, version: Int32)
    case check(path: String, version: Int32)
    case deleteContainer(path: String)
    case multi([WriteOp])
    case createSession(timeoutMs: Int32)
    case closeSession
}

/// Who is asking and what the server allows, for `prepare`.
public struct PrepareContext: Sendable {
    public var sessionId: SessionID
    /// The connection's authenticated ids (`ip:…`, `digest:…`, `super:`).
    public var ids: [Id]
    public var extendedTypesEnabled: Bool
    public var skipACL: Bool

    public init(sessionId: SessionID, ids: [Id], extendedTypesEnabled: Bool, skipACL: Bool = false) {
        self.sessionId = sessionId
        self.ids = ids
        self.extendedTypesEnabled = extendedTypesEnabled
        self.skipACL = skipACL
    }
}
