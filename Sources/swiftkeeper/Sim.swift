import ArgumentParser
import Dispatch
import ZKConsensus
import ZKSimulation

struct Sim: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the ensemble simulator: every member's real replica and consensus code, clients speaking the client protocol, a seeded faulty network and disk.")

    @Option(help: "The seed to run (the same seed always gives the same run).")
    var seed: UInt64?

    @Option(help: "Run every seed FIRST-LAST and print seeds and simulated hours per minute of wall time.")
    var seeds: String?

    @Option(help: "Length of the fault phase in ticks of 200 ms (a healed phase of 30 s follows).")
    var ticks: Int64 = 150

    @Option(help: "Voters in the ensemble (3 or 5); drawn from the seed when absent.")
    var nodes: Int?

    @Flag(help: "Print the event trace of --seed N before the result.")
    var trace = false

    @Flag(name: .customLong("standalone-scenario"), help: "Print every action of a scripted standalone-replica scenario (two processes must print the same bytes).")
    var standaloneScenario = false

    @Option(name: .customLong("inject-bug"), help: "A deliberate bug the checkers must catch: \(InjectedBug.allCases.map(\.rawValue).joined(separator: ", ")).")
    var injectBug: String?

    func validate() throws {
        if seed == nil && seeds == nil && !standaloneScenario { throw ValidationError("give --seed N, --seeds FIRST-LAST or --standalone-scenario") }
        if let nodes, nodes != 3 && nodes != 5 { throw ValidationError("--nodes must be 3 or 5") }
        if let injectBug, InjectedBug(rawValue: injectBug) == nil { throw ValidationError("unknown bug \(injectBug)") }
        if ticks < 1 { throw ValidationError("--ticks must be positive") }
    }

    func setup(_ seed: UInt64) -> SimulationSetup {
        SimulationSetup(seed: seed, nodes: nodes, safetyMs: ticks * 200, injectedBug: injectBug.flatMap(InjectedBug.init))
    }

    func run() throws {
        if standaloneScenario {
            for line in StandaloneScenario.run() { print(line) }
            return
        }
        if let seed {
            var setup = setup(seed)
            setup.keepsTrace = trace
            print(setup)
            var simulation = Simulation(setup)
            let result = simulation.run()
            for line in result.trace ?? [] { print(line) }
            report(result)
            if result.violation != nil { throw ExitCode(1) }
            return
        }
        let parts = (seeds ?? "").split(separator: "-").compactMap { UInt64($0) }
        guard parts.count == 2, parts[0] <= parts[1] else { throw ValidationError("--seeds must be FIRST-LAST") }
        let started = DispatchTime.now().uptimeNanoseconds
        var simulatedMs: Int64 = 0
        var failures: [UInt64] = []
        for seed in parts[0]...parts[1] {
            var simulation = Simulation(setup(seed))
            let result = simulation.run()
            simulatedMs += result.simulatedMs
            if result.violation != nil {
                failures.append(seed)
                print(result.setup)
                report(result)
            }
        }
        let minutes = Double(DispatchTime.now().uptimeNanoseconds - started) / 60e9
        let count = parts[1] - parts[0] + 1
        print(String(
            format: "%llu seeds, %llu failed; %.1f seeds and %.1f simulated hours per minute of wall time",
            count, UInt64(failures.count), Double(count) / minutes, Double(simulatedMs) / 3_600_000 / minutes))
        if !failures.isEmpty {
            print("failed seeds: \(failures.map(String.init).joined(separator: " "))")
            throw ExitCode(1)
        }
    }

    func report(_ result: SimulationResult) {
        if let violation = result.violation {
            print("VIOLATION: \(violation)")
        } else {
            print(
                "ok: \(result.committedTxns) txns committed, \(result.clientAnswers) of \(result.clientOperations) client operations answered "
                    + "and linearizable, \(result.expiredSessions) sessions expired, \(result.tornTails) torn log tails cut at restart, \(result.diffsFromLog) learners synced from a leader's log, \(result.logFailures) members left on a failed fsync, \(result.events) events, \(result.simulatedMs / 1000) s simulated")
        }
        for line in result.nodeStatus { print("  \(line)") }
        print(String(format: "trace hash %016llx", result.traceHash))
        if result.violation != nil { print("replay: \(result.replayCommand)" + (nodes.map { " --nodes \($0)" } ?? "") + " --ticks \(ticks)") }
    }
}
