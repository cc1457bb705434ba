import Testing
@testable import ZKServer

/// `zoo.cfg` is a Java properties file: `java.util.Properties.load`'s rules, then
/// ZooKeeper's trim of keys and values.
@Suite struct PropertiesFileTests {
    static func pairs(_ text: String) -> [String] { PropertiesFile.parse(text).map { "\($0.0)=\($0.1)" } }

    @Test func separatorsAreEqualsColonOrWhitespace() {
        #expect(Self.pairs("a=1\nb:2\nc 3\nd\t4\ne = 5\nf : 6\ng  =  7\n") == ["a=1", "b=2", "c=3", "d=4", "e=5", "f=6", "g=7"])
        // Only the first separator counts; the value keeps the rest.
        #expect(Self.pairs("a=b=c\nx: y:z\nserver.1=127.0.0.1:2888:3888;2181\n") == ["a=b=c", "x=y:z", "server.1=127.0.0.1:2888:3888;2181"])
        // A key alone has an empty value.
        #expect(Self.pairs("lonely\n") == ["lonely="])
    }

    @Test func commentsOnlyAtTheStartOfALine() {
        #expect(Self.pairs("# comment\n! also\n   # indented\na=1 # not a comment\n") == ["a=1 # not a comment"])
    }

    @Test func blankLinesAndLineEndings() {
        #expect(Self.pairs("a=1\r\nb=2\rc=3\n\n \t \nd=4") == ["a=1", "b=2", "c=3", "d=4"])
    }

    @Test func continuationLinesDropLeadingBlanks() {
        #expect(Self.pairs("a=one,\\\n    two,\\\n\tthree\nb=x") == ["a=one,two,three", "b=x"])
        // An even number of backslashes is an escaped backslash, not a continuation.
        #expect(Self.pairs("a=c:\\\\\nb=2") == ["a=c:\\", "b=2"])
    }

    @Test func escapes() {
        #expect(Self.pairs("key\\ with\\ spaces=v") == ["key with spaces=v"])
        #expect(Self.pairs("a\\=b=c\\:d") == ["a=b=c:d"])
        #expect(Self.pairs("t=1\\t2\\n3") == ["t=1\t2\n3"])
        #expect(Self.pairs("u=\\u0041\\u00e9") == ["u=Aé"])
        #expect(Self.pairs("p=\\q") == ["p=q"])
    }

    /// ZooKeeper trims keys and values after parsing, so trailing blanks do not reach a value.
    @Test func configurationTrimsValues() throws {
        let configuration = try ServerConfiguration.parse("tickTime = 500   \nclientPort\t2190 \nmaxClientCnxns:7\n")
        #expect(configuration.tickTimeMs == 500)
        #expect(configuration.clientPort == 2190)
        #expect(configuration.maxClientCnxns == 7)
    }

    @Test func limitKeysAreRead() throws {
        let configuration = try ServerConfiguration.parse(
            "globalOutstandingLimit=50\nconnectionUnsentBytesPause=65536\nconnectionUnsentBytesClose=8388608\nzookeeper.nio.sessionlessCnxnTimeout=3000\n")
        let replica = configuration.replicaConfiguration(environment: [])
        #expect(replica.globalOutstandingLimit == 50)
        #expect(replica.connectionUnsentBytesPause == 65536)
        #expect(replica.connectionUnsentBytesClose == 8_388_608)
        #expect(replica.sessionlessConnectionTimeoutMs == 3000)
        #expect(throws: ConfigurationError.self) { try ServerConfiguration.parse("connectionUnsentBytesClose=1000\n") }
    }
}
