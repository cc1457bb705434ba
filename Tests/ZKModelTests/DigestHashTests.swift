import Testing
import ZKModel

private func hex(_ bytes: [UInt8]) -> String {
    bytes.map { String($0, radix: 16).count == 1 ? "0" + String($0, radix: 16) : String($0, radix: 16) }.joined()
}

/// SHA-1 and base64 for digest ACL ids (reference §2.9).
@Suite struct DigestHashTests {
    /// FIPS 180 vectors plus lengths around the 55/56/64-byte padding boundaries.
    @Test(arguments: [
        ("", "da39a3ee5e6b4b0d3255bfef95601890afd80709"),
        ("abc", "a9993e364706816aba3e25717850c26c9cd0d89d"),
        ("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", "84983e441c3bd26ebaae4aa1f95129e5e54670f1"),
        (String(repeating: "a", count: 55), "c1c8bbdc22796e28c0e15163d20899b65621d65a"),
        (String(repeating: "a", count: 56), "c2db330f6083854c99d4b5bfb6e8f29f201be699"),
        (String(repeating: "a", count: 63), "03f09f5b158a7a8cdad920bddc29b81c18a551f5"),
        (String(repeating: "a", count: 64), "0098ba824b5c16427bd7a1122a5a442a25ec644d"),
        (String(repeating: "a", count: 65), "11655326c708d70319be2610e8a57d9a5b959d3b"),
        (String(repeating: "a", count: 1000), "291e9a6c66994949b57ba5e650361e98fc36b1ba"),
    ])
    func sha1_knownVector_matches(message: String, digest: String) {
        #expect(hex(DigestHash.sha1(Array(message.utf8))) == digest)
    }

    @Test func sha1_millionAs_matchesFIPSVector() {
        #expect(hex(DigestHash.sha1([UInt8](repeating: 0x61, count: 1_000_000))) == "34aa973cd4c4daa4f61eeb2bdbad27316534016f")
    }

    /// RFC 4648 §10.
    @Test(arguments: [
        ("", ""), ("f", "Zg=="), ("fo", "Zm8="), ("foo", "Zm9v"), ("foob", "Zm9vYg=="), ("fooba", "Zm9vYmE="),
        ("foobar", "Zm9vYmFy"),
    ])
    func base64_rfc4648Vector_matches(input: String, output: String) {
        #expect(DigestHash.base64(Array(input.utf8)) == output)
    }

    @Test func base64_allByteValues_useFullAlphabet() {
        #expect(DigestHash.base64([0xfb, 0xff, 0xbf]) == "+/+/")
        #expect(DigestHash.base64([0x00, 0x00, 0x00]) == "AAAA")
    }

    @Test func digestId_userPass_matchesZooKeeper() {
        #expect(DigestHash.digestId(forCredentials: "user:pass") == "user:smGaoVKd/cQkjm7b88GyorAUz20=")
        #expect(DigestHash.digestId(forCredentials: "super:test") == "super:D/InIHSb7yEEbrWz8b9l71RjZJU=")
    }

    @Test func digestId_passwordWithColons_hashesWholeCredentials() {
        // Only the first colon splits off the user; the hash covers the whole text.
        let id = DigestHash.digestId(forCredentials: "u:p:q")
        #expect(id == "u:" + DigestHash.base64(DigestHash.sha1(Array("u:p:q".utf8))))
    }

    @Test func digestId_noColon_userIsWholeText() {
        #expect(DigestHash.digestId(forCredentials: "abc") == "abc:" + DigestHash.base64(DigestHash.sha1(Array("abc".utf8))))
    }
}
