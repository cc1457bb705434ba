/// Request and transaction types, with ZooKeeper's names and numbers (`ZooDefs.OpCode`).
public enum OpCode: Int32, Sendable, CaseIterable {
    case notification = 0
    case create = 1
    case delete = 2
    case exists = 3
    case getData = 4
    case setData = 5
    case getACL = 6
    case setACL = 7
    case getChildren = 8
    case sync = 9
    case ping = 11
    case getChildren2 = 12
    case check = 13
    case multi = 14
    case create2 = 15
    case reconfig = 16
    case checkWatches = 17
    case removeWatches = 18
    case createContainer = 19
    case deleteContainer = 20
    case createTTL = 21
    case multiRead = 22
    case auth = 100
    case setWatches = 101
    case sasl = 102
    case getEphemerals = 103
    case getAllChildrenNumber = 104
    case setWatches2 = 105
    case addWatch = 106
    case whoAmI = 107
    case createSession = -10
    case closeSession = -11
    case error = -1

    /// The abbreviation `cons` prints as a connection's last operation (`ServerCnxn`).
    public var shortName: String {
        switch self {
        case .ping: return "PING"
        case .createSession: return "SESS"
        case .multi: return "MULT"
        case .multiRead: return "MLTR"
        case .create, .create2, .createTTL, .createContainer: return "CREA"
        case .delete, .deleteContainer: return "DELE"
        case .setData: return "SETD"
        case .reconfig: return "RECO"
        case .setACL: return "SETA"
        case .closeSession: return "CLOS"
        case .sync: return "SYNC"
        case .check: return "CHEC"
        case .exists: return "EXIS"
        case .getData: return "GETD"
        case .setWatches: return "SETW"
        case .setWatches2: return "STW2"
        case .addWatch: return "ADDW"
        case .getACL: return "GETA"
        case .getChildren, .getChildren2: return "GETC"
        case .getAllChildrenNumber: return "GETACN"
        case .checkWatches: return "CHKW"
        case .removeWatches: return "REMW"
        case .whoAmI: return "HOMI"
        case .getEphemerals: return "GETE"
        case .auth: return "AUTH"
        case .sasl: return "SASL"
        case .notification, .error: return "UNKN"
        }
    }
}
