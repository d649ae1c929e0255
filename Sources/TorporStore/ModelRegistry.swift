import Foundation
import GRDB
import TorporCore

/// One training run as the registry keeps it.
public struct ModelRun: Codable, Equatable, Sendable {
    public struct VMVerdict: Codable, Equatable, Sendable {
        public var vm: String
        /// False when the VM has too little history or no skill: the planner will not hibernate it.
        public var predictable: Bool
        /// `model` or the name of the baseline that forecasts it better.
        public var better: String
        public var reason: String

        public init(vm: String, predictable: Bool, better: String, reason: String) {
            self.vm = vm; self.predictable = predictable; self.better = better; self.reason = reason
        }
    }

    public var id: Int64
    public var createdAt: EpochSeconds
    public var dataFrom: EpochSeconds
    public var dataTo: EpochSeconds
    public var hyperparameters: [String: String]
    public var metrics: [String: Double]
    public var promoted: Bool
    public var reason: String
    public var seconds: Double
    public var vms: [VMVerdict]

    public init(id: Int64 = 0, createdAt: EpochSeconds, dataFrom: EpochSeconds, dataTo: EpochSeconds, hyperparameters: [String: String],
                metrics: [String: Double], promoted: Bool, reason: String, seconds: Double, vms: [VMVerdict]) {
        self.id = id; self.createdAt = createdAt; self.dataFrom = dataFrom; self.dataTo = dataTo; self.hyperparameters = hyperparameters
        self.metrics = metrics; self.promoted = promoted; self.reason = reason; self.seconds = seconds; self.vms = vms
    }
}

/// Reads and writes the `model_run` and `model_vm` tables.
public enum ModelRegistry {
    public static func insert(_ run: ModelRun, model: Data?, in db: Database) throws -> Int64 {
        let encoder = JSONEncoder.sorted
        try db.execute(sql: """
            INSERT INTO model_run (created_at, data_from, data_to, hyperparameters, metrics, promoted, reason, seconds, model)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
            """, arguments: [run.createdAt, run.dataFrom, run.dataTo, String(decoding: try encoder.encode(run.hyperparameters), as: UTF8.self),
                             String(decoding: try encoder.encode(run.metrics), as: UTF8.self), run.promoted, run.reason, run.seconds, model])
        let id = db.lastInsertedRowID
        for v in run.vms {
            try db.execute(sql: "INSERT INTO model_vm (run_id, vm, predictable, better, reason) VALUES (?, ?, ?, ?, ?)",
                           arguments: [id, v.vm, v.predictable, v.better, v.reason])
        }
        return id
    }

    /// The runs' rows without their model blobs (what `run` reads).
    private static let runsWithoutModels = "SELECT id, created_at, data_from, data_to, hyperparameters, metrics, promoted, reason, seconds FROM model_run"

    /// Every run, newest first (without the model blobs).
    public static func runs(in db: Database) throws -> [ModelRun] {
        try Row.fetchAll(db, sql: "\(runsWithoutModels) ORDER BY id DESC")
            .map { try run($0, in: db) }
    }

    /// The runs whose data ends in [from, to), newest first (without their model blobs).
    public static func runs(dataEndingFrom from: EpochSeconds, to: EpochSeconds, in db: Database) throws -> [ModelRun] {
        try Row.fetchAll(db, sql: """
            \(runsWithoutModels) WHERE data_to >= ? AND data_to < ? ORDER BY id DESC
            """, arguments: [from, to]).map { try run($0, in: db) }
    }

    /// The newest run (without its model blob), if any: the one whose data ends latest, by `trainedBefore` (a replay at
    /// an earlier `--now` never uses a model trained on data after it), the latest recorded among equals.
    public static func newest(trainedBefore: EpochSeconds = .max, in db: Database) throws -> ModelRun? {
        try Row.fetchOne(db, sql: """
            \(runsWithoutModels) WHERE data_to <= ? ORDER BY data_to DESC, id DESC LIMIT 1
            """, arguments: [trainedBefore])
            .map { try run($0, in: db) }
    }

    /// What `demote` did.
    public enum Demotion: Equatable, Sendable { case demoted, notPromoted, unknownRun }

    /// Takes run `id`'s promotion back (a person's call: a model that planned badly), its reason extended with who, when
    /// and why; the planner serves the newest promoted run before it, if any, else the profile.
    public static func demote(id: Int64, by who: String, why: String, at time: EpochSeconds, in db: Database) throws -> Demotion {
        guard let promoted = try Bool.fetchOne(db, sql: "SELECT promoted FROM model_run WHERE id = ?", arguments: [id]) else { return .unknownRun }
        guard promoted else { return .notPromoted }
        try db.execute(sql: "UPDATE model_run SET promoted = 0, reason = reason || ? WHERE id = ?",
                       arguments: ["; demoted by \(who) at \(UTC.format(time)): \(why)", id])
        return .demoted
    }

    /// The newest promoted run and its model file, if any, as `newest` chooses.
    public static func promoted(trainedBefore: EpochSeconds = .max, in db: Database) throws -> (run: ModelRun, model: Data)? {
        guard let row = try Row.fetchOne(db, sql: "SELECT * FROM model_run WHERE promoted = 1 AND model IS NOT NULL AND data_to <= ? ORDER BY data_to DESC, id DESC LIMIT 1",
                                         arguments: [trainedBefore]) else { return nil }
        return (try run(row, in: db), row["model"])
    }

    private static func run(_ row: Row, in db: Database) throws -> ModelRun {
        let id: Int64 = row["id"]
        let hyper: String = row["hyperparameters"], metrics: String = row["metrics"]
        let vms = try Row.fetchAll(db, sql: "SELECT * FROM model_vm WHERE run_id = ? ORDER BY vm", arguments: [id]).map {
            ModelRun.VMVerdict(vm: $0["vm"], predictable: $0["predictable"], better: $0["better"], reason: $0["reason"])
        }
        return ModelRun(id: id, createdAt: row["created_at"], dataFrom: row["data_from"], dataTo: row["data_to"],
                        hyperparameters: (try? JSONDecoder().decode([String: String].self, from: Data(hyper.utf8))) ?? [:],
                        metrics: (try? JSONDecoder().decode([String: Double].self, from: Data(metrics.utf8))) ?? [:],
                        promoted: row["promoted"], reason: row["reason"], seconds: row["seconds"], vms: vms)
    }
}
