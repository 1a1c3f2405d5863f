/// Counts, ranges and checksums of a recording, with the meaning of `../shared/data/formats/reference.json`.
///
/// Sums wrap on 64-bit overflow (as the reference decode's do for microsecond Unix timestamps).
public struct EventSummary: Sendable, Hashable, Codable {
    public var events: Int = 0
    public var xMin = 0, xMax = 0, yMin = 0, yMax = 0
    public var on = 0, off = 0
    public var tFirst: Int64 = 0, tLast: Int64 = 0, tMin: Int64 = 0, tMax: Int64 = 0
    public var sumX: Int64 = 0, sumY: Int64 = 0, sumT: Int64 = 0

    public init(_ buffer: EventBuffer) {
        guard buffer.count > 0 else { return }
        events = buffer.count
        buffer.withColumns { t, x, y, p in
            var xmin = UInt16.max, xmax = UInt16.min, ymin = UInt16.max, ymax = UInt16.min
            var tmin = Int64.max, tmax = Int64.min
            var sx: Int64 = 0, sy: Int64 = 0, st: Int64 = 0, onCount = 0
            for i in 0..<t.count {
                xmin = min(xmin, x[i]); xmax = max(xmax, x[i])
                ymin = min(ymin, y[i]); ymax = max(ymax, y[i])
                tmin = min(tmin, t[i]); tmax = max(tmax, t[i])
                sx &+= Int64(x[i]); sy &+= Int64(y[i]); st &+= t[i]
                onCount &+= Int(p[i] & 1)
            }
            xMin = Int(xmin); xMax = Int(xmax); yMin = Int(ymin); yMax = Int(ymax)
            tMin = tmin; tMax = tmax; tFirst = t[0]; tLast = t[t.count - 1]
            sumX = sx; sumY = sy; sumT = st
            on = onCount; off = t.count - onCount
        }
    }

    /// Time from first to last event, in microseconds.
    public var durationMicroseconds: Int64 { events > 0 ? tMax - tMin : 0 }

    /// Events per second over the duration (0 for fewer than two distinct timestamps).
    public var eventRate: Double {
        durationMicroseconds > 0 ? Double(events) / (Double(durationMicroseconds) / 1e6) : 0
    }

    enum CodingKeys: String, CodingKey {
        case events, on, off
        case xMin = "x_min", xMax = "x_max", yMin = "y_min", yMax = "y_max"
        case tFirst = "t_first", tLast = "t_last", tMin = "t_min", tMax = "t_max"
        case sumX = "sum_x", sumY = "sum_y", sumT = "sum_t"
    }
}
