import ArgumentParser

// Placeholder until the command lands.
struct ConvertCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "convert")
    func run() throws { throw ValidationError("not implemented yet") }
}
