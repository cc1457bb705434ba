import Testing
import ZKModel

/// `PathUtils.validatePath` (reference §2.15).
@Suite struct PathRulesTests {
    @Test(arguments: [
        "/", "/a", "/a/b", "/a/b/c", "/zookeeper", "/a.b", "/...", "/a..", "/..a", "/.a", "/a.",
        "/a/.../b", "/a b", "/ü", "/日本", "/a-b_c:d", "/0000000001",
    ])
    func validatePath_wellFormedPath_isValid(path: String) {
        #expect(PathRules.isValid(path), "\(path) should be valid")
        #expect(PathRules.invalidReason(path) == nil)
    }

    @Test(arguments: [
        "",  // empty
        "a", "abc", "a/b",  // no leading slash
        "/a/", "/a/b/",  // trailing slash
        "//", "/a//b", "//a",  // empty segment
        "/.", "/..", "/a/.", "/a/..", "/./a", "/../a", "/a/./b", "/a/../b",  // relative segments
        "/a\u{0}b", "/\u{0}",  // NUL
    ])
    func validatePath_malformedPath_isInvalid(path: String) {
        #expect(!PathRules.isValid(path), "\(path.debugDescription) should be invalid")
        #expect(PathRules.invalidReason(path) != nil)
    }

    /// Forbidden UTF-16 code units: U+0001–U+001F, U+007F–U+009F, U+D800–U+F8FF, U+FFF0–U+FFFF.
    @Test(arguments: [
        0x01, 0x09, 0x0a, 0x1f, 0x7f, 0x80, 0x9f, 0xe000, 0xf000, 0xf8ff, 0xfff0, 0xfffd, 0xfffe, 0xffff,
    ] as [UInt32])
    func validatePath_forbiddenCharacter_isInvalid(scalar: UInt32) {
        let character = String(Character(Unicode.Scalar(scalar)!))
        #expect(!PathRules.isValid("/" + character))
        #expect(!PathRules.isValid("/a" + character + "b"))
        #expect(!PathRules.isValid("/a/" + character))
    }

    /// The code units just outside each forbidden range are fine.
    @Test(arguments: [0x20, 0x7e, 0xa0, 0xd7ff, 0xf900, 0xffef] as [UInt32])
    func validatePath_characterNextToForbiddenRange_isValid(scalar: UInt32) {
        let character = String(Character(Unicode.Scalar(scalar)!))
        #expect(PathRules.isValid("/" + character))
        #expect(PathRules.isValid("/a" + character + "b"))
    }

    @Test func validatePath_nonBMPCharacter_isInvalidBecauseOfSurrogates() {
        #expect(!PathRules.isValid("/😀"))
        #expect(!PathRules.isValid("/a/𝄞"))
    }

    @Test func validatePath_reasons_nameTheRule() {
        #expect(PathRules.invalidReason("") == "Path length must be > 0")
        #expect(PathRules.invalidReason("a") == "Path must start with / character")
        #expect(PathRules.invalidReason("/a/") == "Path must not end with / character")
        #expect(PathRules.invalidReason("/a//b")?.hasPrefix("empty node name") == true)
        #expect(PathRules.invalidReason("/a/..")?.hasPrefix("relative paths") == true)
        #expect(PathRules.invalidReason("/a\u{0}")?.hasPrefix("null character") == true)
        #expect(PathRules.invalidReason("/a\u{1}")?.hasPrefix("invalid character") == true)
    }

    @Test func parent_ofPaths_isTextBeforeLastSlash() {
        #expect(PathRules.parent(of: "/a") == "/")
        #expect(PathRules.parent(of: "/a/b") == "/a")
        #expect(PathRules.parent(of: "/a/b/c") == "/a/b")
        #expect(PathRules.parent(of: "/a//b") == "/a/")
        #expect(PathRules.parent(of: "/a/") == "/a")
        #expect(PathRules.parent(of: "/") == "/")
        #expect(PathRules.parent(of: "abc") == nil)
        #expect(PathRules.parent(of: "") == nil)
    }

    @Test func name_ofPaths_isTextAfterLastSlash() {
        #expect(PathRules.name(of: "/a") == "a")
        #expect(PathRules.name(of: "/a/bc") == "bc")
        #expect(PathRules.name(of: "/a/") == "")
        #expect(PathRules.name(of: "/日本/語") == "語")
    }

    @Test func join_rootAndOthers_buildsChildPath() {
        #expect(PathRules.join("/", "a") == "/a")
        #expect(PathRules.join("/a", "b") == "/a/b")
    }

    @Test func ancestors_ofNestedPath_areNearestFirstUpToRoot() {
        #expect(PathRules.ancestors(of: "/a/b/c") == ["/a/b", "/a", "/"])
        #expect(PathRules.ancestors(of: "/a") == ["/"])
        #expect(PathRules.ancestors(of: "/") == [])
    }
}
