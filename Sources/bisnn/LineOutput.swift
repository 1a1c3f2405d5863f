import Foundation

/// Whole lines to standard output and standard error, written at once (unbuffered), so that a program
/// reading `bisnn listen` through a pipe sees each line as soon as it is printed.
enum LineOutput {
    /// Writes `line` and a newline to standard output.
    static func standardOutput(_ line: String) {
        FileHandle.standardOutput.write(Data((line + "\n").utf8))
    }

    /// Writes `line` and a newline to standard error.
    static func standardError(_ line: String) {
        FileHandle.standardError.write(Data((line + "\n").utf8))
    }
}
