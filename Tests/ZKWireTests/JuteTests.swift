import NIOCore
import Testing
import ZKModel
import ZKWire

/// Jute's binary encoding (reference §1.2) and the data records (§1.6).
@Suite struct JutePrimitiveTests {
    @Test func integers_bigEndian_roundTrip() throws {
        let encoded = writtenBytes {
            $0.writeByte(0xab)
            $0.writeInt(0x0102_0304)
            $0.writeInt(-2)
            $0.writeLong(0x0102_0304_0506_0708)
            $0.writeLong(Int64.min)
        }
        #expect(hex(encoded) == "ab" + "01020304" + "fffffffe" + "0102030405060708" + "8000000000000000")
        var reader = JuteReader(buffer(encoded))
        #expect(try reader.readByte() == 0xab)
        #expect(try reader.readInt() == 0x0102_0304)
        #expect(try reader.readInt() == -2)
        #expect(try reader.readLong() == 0x0102_0304_0506_0708)
        #expect(try reader.readLong() == Int64.min)
        #expect(reader.isAtEnd)
    }

    @Test func bool_writer_writesZeroOrOne_readerAcceptsAnyNonZero() throws {
        #expect(writtenBytes { $0.writeBool(true); $0.writeBool(false) } == [1, 0])
        var reader = JuteReader(buffer([0, 1, 2, 0xff]))
        #expect(try reader.readBool() == false)
        #expect(try reader.readBool() == true)
        #expect(try reader.readBool() == true)
        #expect(try reader.readBool() == true)
    }

    @Test func buffer_nullEmptyAndContent_stayDistinct() throws {
        let encoded = writtenBytes {
            $0.writeBuffer(nil)
            $0.writeBuffer([])
            $0.writeBuffer([1, 2, 3])
        }
        #expect(hex(encoded) == "ffffffff" + "00000000" + "00000003010203")
        var reader = JuteReader(buffer(encoded))
        #expect(try reader.readBuffer() == nil)
        #expect(try reader.readBuffer() == [])
        #expect(try reader.readBuffer() == [1, 2, 3])
        #expect(reader.isAtEnd)
    }

    @Test func string_nullEmptyAndText_stayDistinct() throws {
        let encoded = writtenBytes {
            $0.writeString(nil)
            $0.writeString("")
            $0.writeString("/a")
        }
        #expect(hex(encoded) == "ffffffff" + "00000000" + "000000022f61")
        var reader = JuteReader(buffer(encoded))
        #expect(try reader.readString() == nil)
        #expect(try reader.readString() == "")
        #expect(try reader.readString() == "/a")
    }

    @Test func string_bmpText_isUTF8WithOneByteNul() throws {
        #expect(hex(writtenBytes { $0.writeString("é") }) == "00000002c3a9")
        #expect(hex(writtenBytes { $0.writeString("\u{0}") }) == "0000000100")
        #expect(hex(writtenBytes { $0.writeString("日") }) == "00000003e697a5")
        var reader = JuteReader(written { $0.writeString("/ü/日本") })
        #expect(try reader.readString() == "/ü/日本")
    }

    @Test func string_nonBMPCharacter_isWrittenAsCESU8SurrogatePair() throws {
        // U+1F600 = surrogates D83D DE00, each as a 3-byte sequence, as Java writes it.
        #expect(hex(writtenBytes { $0.writeString("😀") }) == "00000006" + "eda0bd" + "edb880")
        #expect(hex(writtenBytes { $0.writeString("a😀b") }) == "00000008" + "61" + "eda0bd" + "edb880" + "62")
    }

    @Test func string_malformedUTF8_decodesToReplacementCharacter() throws {
        var reader = JuteReader(buffer(bytes("00000003 61 ff 62")))
        let text = try reader.readString()
        #expect(text == "a\u{FFFD}b")
        var cesu = JuteReader(written { $0.writeString("😀") })
        let decoded = try cesu.readString()
        #expect(decoded?.contains("\u{FFFD}") == true)
        #expect(decoded?.contains("😀") == false)
    }

    @Test func vector_nullEmptyAndElements_stayDistinct() throws {
        let encoded = writtenBytes {
            $0.writeStringVector(nil)
            $0.writeStringVector([])
            $0.writeStringVector(["a", "bc"])
        }
        #expect(hex(encoded) == "ffffffff" + "00000000" + "00000002" + "0000000161" + "000000026263")
        var reader = JuteReader(buffer(encoded))
        #expect(try reader.readStringVector() == nil)
        #expect(try reader.readStringVector() == [])
        #expect(try reader.readStringVector() == ["a", "bc"])
    }

    @Test func readers_emptyInput_throwTruncated() {
        var reader = JuteReader(ByteBuffer())
        #expect(throws: JuteError.truncated) { try reader.readByte() }
        #expect(throws: JuteError.truncated) { try reader.readBool() }
        #expect(throws: JuteError.truncated) { try reader.readInt() }
        #expect(throws: JuteError.truncated) { try reader.readLong() }
        #expect(throws: JuteError.truncated) { try reader.readBuffer() }
        #expect(throws: JuteError.truncated) { try reader.readString() }
        #expect(throws: JuteError.truncated) { try reader.readStringVector() }
    }

    @Test func readInt_threeBytes_throwsTruncated() {
        var reader = JuteReader(buffer([0, 0, 1]))
        #expect(throws: JuteError.truncated) { try reader.readInt() }
        var longReader = JuteReader(buffer([0, 0, 0, 0, 0, 0, 1]))
        #expect(throws: JuteError.truncated) { try longReader.readLong() }
    }

    @Test func readBuffer_lengthBeyondData_throwsTruncated() {
        var reader = JuteReader(buffer(bytes("00000005 0102")))
        #expect(throws: JuteError.truncated) { try reader.readBuffer() }
        var stringReader = JuteReader(buffer(bytes("00000005 6162")))
        #expect(throws: JuteError.truncated) { try stringReader.readString() }
    }

    @Test(arguments: [-2, Int32.min, 1025, Int32.max] as [Int32])
    func readBuffer_unreasonableLength_throws(length: Int32) {
        var reader = JuteReader(written { $0.writeInt(length) }, lengthMax: 1024)
        #expect(throws: JuteError.unreasonableLength(length)) { try reader.readBuffer() }
        var stringReader = JuteReader(written { $0.writeInt(length) }, lengthMax: 1024)
        #expect(throws: JuteError.unreasonableLength(length)) { try stringReader.readString() }
        if length > 0 {
            var vectorReader = JuteReader(written { $0.writeInt(length) }, lengthMax: 1024)
            #expect(throws: JuteError.unreasonableLength(length)) { try vectorReader.readStringVector() }
        }
    }

    /// Java's jute reads a vector count below −1 as an empty vector (its loop never runs),
    /// and −1 as null.
    @Test(arguments: [-2, -5, Int32.min] as [Int32])
    func readVector_negativeCount_isEmpty(count: Int32) throws {
        var reader = JuteReader(written { $0.writeInt(count) }, lengthMax: 1024)
        #expect(try reader.readStringVector() == [])
        var null = JuteReader(written { $0.writeInt(-1) }, lengthMax: 1024)
        #expect(try null.readStringVector() == nil)
    }

    @Test func readBuffer_lengthAtMaximum_isAccepted() throws {
        var reader = JuteReader(written { $0.writeBuffer([UInt8](repeating: 7, count: 16)) }, lengthMax: 16)
        #expect(try reader.readBuffer()?.count == 16)
    }

    @Test func readVector_hugeCountWithFewBytes_throwsWithoutAllocating() {
        var reader = JuteReader(buffer(bytes("00100000 00000001 61")))
        #expect(throws: JuteError.truncated) { try reader.readStringVector() }
    }

    @Test func readPath_null_throws() {
        var reader = JuteReader(buffer(bytes("ffffffff")))
        #expect(throws: JuteError.self) { try reader.readPath() }
    }
}

@Suite struct JuteRecordTests {
    @Test func id_roundTrip_isTwoStrings() throws {
        let encoded = writtenBytes { $0.writeId(Id(scheme: "world", id: "anyone")) }
        #expect(hex(encoded) == "00000005" + hex(Array("world".utf8)) + "00000006" + hex(Array("anyone".utf8)))
        var reader = JuteReader(buffer(encoded))
        #expect(try reader.readId() == Id(scheme: "world", id: "anyone"))
    }

    @Test func acl_openACLUnsafe_isByteExact() throws {
        let encoded = writtenBytes { $0.writeACLs(ACL.openACLUnsafe) }
        #expect(hex(encoded) == "00000001" + "0000001f" + "00000005776f726c64" + "00000006616e796f6e65")
        var reader = JuteReader(buffer(encoded))
        #expect(try reader.readACLs() == ACL.openACLUnsafe)
    }

    @Test func acls_nullEmptyAndMany_roundTrip() throws {
        let many = ACL.openACLUnsafe + digestACL + [ACL(perms: 1, id: Id(scheme: "ip", id: "10.0.0.0/8"))]
        var reader = JuteReader(written {
            $0.writeACLs(nil)
            $0.writeACLs([])
            $0.writeACLs(many)
        })
        #expect(try reader.readACLs() == nil)
        #expect(try reader.readACLs() == [])
        #expect(try reader.readACLs() == many)
        #expect(reader.isAtEnd)
    }

    @Test func stat_roundTrip_is68BytesInDeclarationOrder() throws {
        let encoded = writtenBytes { $0.writeStat(sampleStat) }
        #expect(encoded.count == 68)
        #expect(
            hex(encoded)
                == "0000000100000002" + "0000000100000003" + "0000018bcfe5687b" + "0000018bcfe569c8" + "00000007"
                + "fffffffd" + "00000002" + "0100000a425f0000" + "00000005" + "00000004" + "7fffffffffffffff")
        var reader = JuteReader(buffer(encoded))
        #expect(try reader.readStat() == sampleStat)
        #expect(reader.isAtEnd)
    }

    @Test func stat_truncatedAtEveryLength_throws() {
        let encoded = writtenBytes { $0.writeStat(sampleStat) }
        for length in 0..<encoded.count {
            var reader = JuteReader(buffer(Array(encoded[0..<length])))
            #expect(throws: JuteError.truncated) { try reader.readStat() }
        }
    }
}
