import ArgumentParser

// Placeholder until the command lands.
struct SimulateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "simulate")
    func run() throws { throw ValidationError("not implemented yet") }
}
