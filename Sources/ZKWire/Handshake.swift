import NIOCore
import ZKModel

public struct ConnectRequest: Hashable, Sendable {
    public var protocolVersion: Int32
    public var lastZxidSeen: Zxid
    public var timeOut: Int32
    public var sessionId: SessionID
    public var passwd: [UInt8]
    /// nil when a pre-3.4 client omitted the byte; the reply then omits it too.
    public var readOnly: Bool?

    public init(protocolVersion: Int32 = 0, lastZxidSeen: Zxid, timeOut: Int32, sessionId: SessionID, passwd: [UInt8], readOnly: Bool?) {
        self.protocolVersion = protocolVersion
        self.lastZxidSeen = lastZxidSeen
        self.timeOut = timeOut
        self.sessionId = sessionId
        self.passwd = passwd
        self.readOnly = readOnly
    }

    public static func decode(from reader: inout JuteReader) throws -> ConnectRequest {
        let version = try reader.readInt()
        let zxid = try reader.readLong()
        let timeout = try reader.readInt()
        let session = try reader.readLong()
        let passwd = try reader.readBuffer() ?? []
        let readOnly: Bool? = reader.isAtEnd ? nil : try reader.readBool()
        return ConnectRequest(protocolVersion: version, lastZxidSeen: zxid, timeOut: timeout, sessionId: session, passwd: passwd, readOnly: readOnly)
    }

    public func encode(into writer: inout JuteWriter) {
        writer.writeInt(protocolVersion)
        writer.writeLong(lastZxidSeen)
        writer.writeInt(timeOut)
        writer.writeLong(sessionId)
        writer.writeBuffer(passwd)
        if let readOnly { writer.writeBool(readOnly) }
    }
}

public struct ConnectResponse: Hashable, Sendable {
    public var protocolVersion: Int32
    public var timeOut: Int32
    public var sessionId: SessionID
    public var passwd: [UInt8]
    /// nil for old clients that did not send the byte.
    public var readOnly: Bool?

    public init(protocolVersion: Int32 = 0, timeOut: Int32, sessionId: SessionID, passwd: [UInt8], readOnly: Bool?) {
        self.protocolVersion = protocolVersion
        self.timeOut = timeOut
        self.sessionId = sessionId
        self.passwd = passwd
        self.readOnly = readOnly
    }

    /// What an expired, unknown or wrongly authenticated session gets before the close.
    public static func invalid(readOnly: Bool?) -> ConnectResponse {
        ConnectResponse(timeOut: 0, sessionId: 0, passwd: [UInt8](repeating: 0, count: 16), readOnly: readOnly == nil ? nil : false)
    }

    public func encode(into writer: inout JuteWriter) {
        writer.writeInt(protocolVersion)
        writer.writeInt(timeOut)
        writer.writeLong(sessionId)
        writer.writeBuffer(passwd)
        if let readOnly { writer.writeBool(readOnly) }
    }

    public static func decode(from reader: inout JuteReader) throws -> ConnectResponse {
        let version = try reader.readInt()
        let timeout = try reader.readInt()
        let session = try reader.readLong()
        let passwd = try reader.readBuffer() ?? []
        let readOnly: Bool? = reader.isAtEnd ? nil : try reader.readBool()
        return ConnectResponse(protocolVersion: version, timeOut: timeout, sessionId: session, passwd: passwd, readOnly: readOnly)
    }
}
