import NIOCore
import NIOPosix

extension ClientBootstrap {
    /// Connections to other members leave from this member's own address when its server
    /// line names an IP address (members on 127.0.0.2, 127.0.0.3, … of one machine then
    /// look like different hosts, which is what lets tests cut links between them).
    func bindingOutgoing(to address: SocketAddress?) -> ClientBootstrap {
        guard let address else { return self }
        return bind(to: address)
    }
}

extension QuorumServer {
    /// `host` with port 0 when it is an IP literal; nil for a host name.
    var outgoingAddress: SocketAddress? {
        try? SocketAddress(ipAddress: host, port: 0)
    }
}
