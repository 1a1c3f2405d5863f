/// Orders names the way people count: runs of decimal digits compare as numbers, so `2.bin` comes before
/// `10.bin`; everything else compares byte by byte (UTF-8). Used to order the recordings of a folder.
public enum NaturalOrder {
    /// Whether `a` comes before `b`. Equal numbers written differently (`7`, `007`) put the shorter
    /// spelling first; names that differ only there are otherwise equal, and then plain byte order decides,
    /// so the order is total.
    public static func areInIncreasingOrder(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8), y = Array(b.utf8)
        var i = 0, j = 0
        var spellingTieBreak = 0  // < 0: a's digit runs were shorter at the first difference
        while i < x.count, j < y.count {
            if isDigit(x[i]), isDigit(y[j]) {
                let runA = digitRun(x, from: i), runB = digitRun(y, from: j)
                let numberA = x[runA].drop { $0 == UInt8(ascii: "0") }
                let numberB = y[runB].drop { $0 == UInt8(ascii: "0") }
                if numberA.count != numberB.count { return numberA.count < numberB.count }
                if !numberA.elementsEqual(numberB) { return numberA.lexicographicallyPrecedes(numberB) }
                if spellingTieBreak == 0, runA.count != runB.count { spellingTieBreak = runA.count < runB.count ? -1 : 1 }
                i = runA.upperBound
                j = runB.upperBound
                continue
            }
            if x[i] != y[j] { return x[i] < y[j] }
            i += 1
            j += 1
        }
        let restA = x.count - i, restB = y.count - j
        if restA != restB { return restA < restB }
        if spellingTieBreak != 0 { return spellingTieBreak < 0 }
        return x.lexicographicallyPrecedes(y)
    }

    private static func isDigit(_ b: UInt8) -> Bool { b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9") }

    private static func digitRun(_ bytes: [UInt8], from start: Int) -> Range<Int> {
        var end = start
        while end < bytes.count, isDigit(bytes[end]) { end += 1 }
        return start..<end
    }
}
