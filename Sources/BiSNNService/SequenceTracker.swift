/// Follows one sensor's message sequence numbers (header bytes 16-23) and says what each new one means.
///
/// Senders number their messages +1 each. Given the last number seen, L, a new number s is:
/// - ``Classification/first``: no number seen yet (a new sensor, or after ``reset()``);
/// - ``Classification/inOrder``: s = L + 1 (wrapping at 2^64);
/// - ``Classification/gap(lost:)``: s > L + 1, so s − L − 1 messages were lost;
/// - ``Classification/duplicate``: s = L without START: the same message again (the service rejects it);
/// - ``Classification/restart``: s < L, or s = L with START: the sensor restarted its numbering (the
///   service resets the sensor's state as if START were set).
///
/// Every number but a duplicate's becomes the new L. The tracker keeps running totals for the status
/// message.
public struct SequenceTracker: Sendable, Hashable {
    /// What a sequence number says about the messages before it.
    public enum Classification: Sendable, Hashable {
        /// The sensor's first message (since the tracker started or was reset).
        case first
        /// The next number: nothing was lost.
        case inOrder
        /// `lost` messages are missing before this one.
        case gap(lost: UInt64)
        /// The number went back: the sensor restarted.
        case restart
        /// The same number as the previous message, without START.
        case duplicate
    }

    /// The last sequence number accepted, nil before the first.
    public private(set) var last: UInt64?
    /// Gaps seen (each one or more lost messages).
    public private(set) var gaps = 0
    /// Messages found missing in all gaps (saturating).
    public private(set) var lostMessages: UInt64 = 0
    /// Restarts seen.
    public private(set) var restarts = 0
    /// Duplicates seen.
    public private(set) var duplicates = 0

    /// A tracker that has seen nothing.
    public init() {}

    /// Classifies the sequence number of a newly received message, whose START flag is `start`, and
    /// updates the state and totals.
    public mutating func observe(_ sequence: UInt64, start: Bool = false) -> Classification {
        guard let last else {
            self.last = sequence
            return .first
        }
        if sequence == last &+ 1 {
            self.last = sequence
            return .inOrder
        }
        if sequence == last, !start {
            duplicates += 1
            return .duplicate
        }
        self.last = sequence
        if sequence <= last {
            restarts += 1
            return .restart
        }
        let lost = sequence - last - 1
        gaps += 1
        let (sum, overflow) = lostMessages.addingReportingOverflow(lost)
        lostMessages = overflow ? .max : sum
        return .gap(lost: lost)
    }

    /// Forgets the last number (the next one is ``Classification/first``); keeps the totals.
    public mutating func reset() { last = nil }
}
