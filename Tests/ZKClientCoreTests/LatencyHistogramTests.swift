import Testing
@testable import ZKBench

@Suite struct LatencyHistogramTests {
    @Test func bucketsAreContiguousAndWithinAThousandth() {
        var value: UInt64 = 0
        var previous = -1
        while value < 1 << 40 {
            let index = LatencyHistogram.index(of: value)
            #expect(index >= previous, "index went back at \(value)")
            previous = index
            let highest = LatencyHistogram.highestValue(at: index)
            #expect(highest >= value && Double(highest - value) <= Double(value) / 1000 + 1, "\(value) → \(highest)")
            value = value < 4096 ? value + 1 : value + value / 997
        }
    }

    @Test func quantilesOfAKnownSpread() {
        var histogram = LatencyHistogram()
        for ns in 1...100_000 { histogram.record(UInt64(ns) * 1000) }  // 1 µs ... 100 ms
        func near(_ q: Double, _ expected: Double) -> Bool {
            let got = Double(histogram.valueNs(atQuantile: q))
            return abs(got - expected) <= expected / 500
        }
        #expect(near(0.5, 50e6) && near(0.99, 99e6) && near(0.999, 99.9e6))
        #expect(histogram.valueNs(atQuantile: 1) == 100_000_000 && histogram.maxNs == 100_000_000)
        var other = LatencyHistogram()
        other.record(5)
        histogram.merge(other)
        #expect(histogram.count == 100_001 && histogram.minNs == 5 && histogram.valueNs(atQuantile: 0) == 5)
    }
}
