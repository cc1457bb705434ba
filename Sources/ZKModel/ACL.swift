/// Permission bits (`ZooDefs.Perms`).
public struct Permissions: OptionSet, Hashable, Sendable {
    public let rawValue: Int32
    public init(rawValue: Int32) { self.rawValue = rawValue }

    public static let read = Permissions(rawValue: 1)
    public static let write = Permissions(rawValue: 2)
    public static let create = Permissions(rawValue: 4)
    public static let delete = Permissions(rawValue: 8)
    public static let admin = Permissions(rawValue: 16)
    public static let all: Permissions = [.read, .write, .create, .delete, .admin]
}

/// An authenticated identity or an ACL subject: `scheme:id`.
public struct Id: Hashable, Sendable {
    public var scheme: String
    public var id: String
    public init(scheme: String, id: String) {
        self.scheme = scheme
        self.id = id
    }

    public static let anyone = Id(scheme: "world", id: "anyone")
    public static let authIds = Id(scheme: "auth", id: "")
}

public struct ACL: Hashable, Sendable {
    public var perms: Int32
    public var id: Id
    public init(perms: Int32, id: Id) {
        self.perms = perms
        self.id = id
    }

    public static let openACLUnsafe: [ACL] = [ACL(perms: Permissions.all.rawValue, id: .anyone)]
    public static let readACLUnsafe: [ACL] = [ACL(perms: Permissions.read.rawValue, id: .anyone)]
    public static let creatorAllACL: [ACL] = [ACL(perms: Permissions.all.rawValue, id: .authIds)]
}
