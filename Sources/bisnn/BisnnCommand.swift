import ArgumentParser
import EventStream

/// The `bisnn` command line: tools around event recordings and models.
@main
struct BisnnCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bisnn",
        abstract: "Event-camera recordings and binary spiking networks.",
        version: BisnnVersion.current,
        subcommands: [InspectCommand.self, ConvertCommand.self, SimulateCommand.self, RenderCommand.self,
                      TrainCommand.self, EvalCommand.self, BenchCommand.self, ReplayCommand.self, ListenCommand.self, SoakCommand.self,
                      KeygenCommand.self]
    )
}
