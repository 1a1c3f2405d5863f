/// Why a recording could not be replayed: the file it concerns (when there is one) and what went wrong.
public struct ReplayError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The recording, folder or `labels.csv` concerned, as given.
    public var file: String?
    /// What went wrong, in a sentence that does not repeat the file.
    public var message: String

    /// An error about `file` (nil when it concerns no file).
    public init(_ message: String, file: String? = nil) {
        self.message = message
        self.file = file
    }

    /// `file: message`, or the message alone.
    public var description: String { file.map { "\($0): \(message)" } ?? message }
}
