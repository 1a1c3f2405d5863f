import ArgumentParser

// Placeholder until the command lands.
struct RenderCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "render")
    func run() throws { throw ValidationError("not implemented yet") }
}
