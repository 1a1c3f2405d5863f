import ArgumentParser

// Placeholder until the command lands.
struct InspectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "inspect")
    func run() throws { throw ValidationError("not implemented yet") }
}
