import ArgumentParser

// Placeholder until the command lands.
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "bench")
    func run() throws { throw ValidationError("not implemented yet") }
}
