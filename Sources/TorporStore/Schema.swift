import GRDB

/// The store's schema, as an ordered list of migrations. Never edit a released migration; add a new one.
enum Schema {
    /// The first migration's name: its record tells a torpor store (`Store.contents`), whatever later ones changed.
    static let firstMigration = "v1: vms, metrics, samples, sources, events"

    static var migrator: DatabaseMigrator {
        // No foreign-key check of the whole database after each migration (GRDB's default): it read every sample under
        // the write lock, seconds per migration on a big store and minutes on a fleet's, while the executor that
        // migrates restores nothing; and one orphan row a person wrote with sqlite3 refused every stage, wakes too.
        // Every migration here adds tables, columns, indexes or rows it derives itself, or drops an index or a column no
        // key refers to: none can orphan a row.
        var migrator = DatabaseMigrator().disablingDeferredForeignKeyChecks()
        migrator.registerMigration(firstMigration) { db in
            try db.execute(sql: """
                CREATE TABLE vm (
                    id INTEGER PRIMARY KEY,
                    name TEXT NOT NULL UNIQUE,
                    host_uri TEXT,
                    labels TEXT NOT NULL DEFAULT '{}',          -- JSON object of label → value
                    vcpus INTEGER,                              -- allocated vCPUs, latest known
                    memory_bytes INTEGER,                       -- allocated memory, latest known
                    allocation_observed_at INTEGER,             -- time of the sample or inventory that set them
                    created_at INTEGER NOT NULL
                );
                CREATE TABLE metric (
                    id INTEGER PRIMARY KEY,
                    name TEXT NOT NULL UNIQUE,
                    unit TEXT NOT NULL                          -- canonical unit of the stored values
                );
                CREATE TABLE sample (
                    vm_id INTEGER NOT NULL REFERENCES vm(id),
                    metric_id INTEGER NOT NULL REFERENCES metric(id),
                    time INTEGER NOT NULL,                      -- Unix seconds, UTC
                    value REAL NOT NULL,
                    PRIMARY KEY (vm_id, metric_id, time)
                ) WITHOUT ROWID;
                CREATE TABLE source (
                    id INTEGER PRIMARY KEY,
                    kind TEXT NOT NULL,                         -- csv | prometheus | icalendar | libvirt
                    location TEXT NOT NULL,                     -- path or URL
                    content_sha256 TEXT NOT NULL,
                    rows INTEGER NOT NULL,
                    inserted INTEGER NOT NULL,                  -- samples or occurrences newly stored
                    duplicates INTEGER NOT NULL,
                    first_time INTEGER,
                    last_time INTEGER,
                    warnings TEXT NOT NULL DEFAULT '[]',        -- JSON array of strings
                    report TEXT NOT NULL DEFAULT '{}',          -- JSON: the full ingest report
                    ingested_at INTEGER NOT NULL
                );
                CREATE INDEX source_by_hash ON source(kind, content_sha256);
                CREATE INDEX source_by_location ON source(location);
                CREATE TABLE source_vm (
                    source_id INTEGER NOT NULL REFERENCES source(id) ON DELETE CASCADE,
                    vm_id INTEGER NOT NULL REFERENCES vm(id),
                    samples INTEGER NOT NULL,
                    first_time INTEGER NOT NULL,
                    last_time INTEGER NOT NULL,
                    PRIMARY KEY (source_id, vm_id)
                );
                CREATE TABLE event (
                    id INTEGER PRIMARY KEY,
                    source_id INTEGER NOT NULL REFERENCES source(id) ON DELETE CASCADE,
                    uid TEXT NOT NULL,
                    summary TEXT NOT NULL,
                    category TEXT NOT NULL CHECK (category IN ('demand', 'keep-awake', 'freeze', 'holiday')),
                    starts_at INTEGER NOT NULL,
                    ends_at INTEGER NOT NULL CHECK (ends_at >= starts_at),
                    targets TEXT NOT NULL DEFAULT '[]',         -- JSON array of VM names; empty with no selector = whole fleet
                    selector TEXT                               -- label selector such as tier=gold, or NULL
                );
                CREATE INDEX event_by_time ON event(starts_at, ends_at);
                """)
        }
        migrator.registerMigration("v2: libvirt counters between collections") { db in
            try db.execute(sql: """
                CREATE TABLE libvirt_counter (
                    host_uri TEXT NOT NULL,
                    domain TEXT NOT NULL,
                    collected_at INTEGER NOT NULL,          -- Unix seconds of the collection
                    counters TEXT NOT NULL,                 -- JSON object: cpu.time, net.rx.bytes, … as raw cumulative values
                    PRIMARY KEY (host_uri, domain)
                );
                """)
        }
        migrator.registerMigration("v3: state pool manifests and chunks") { db in
            try db.execute(sql: """
                CREATE TABLE state_chunk (
                    pool TEXT NOT NULL,                     -- the pool directory
                    hash BLOB NOT NULL,                     -- SHA-256 of the chunk's bytes
                    size INTEGER NOT NULL,
                    PRIMARY KEY (pool, hash)
                ) WITHOUT ROWID;
                CREATE TABLE state_manifest (
                    id INTEGER PRIMARY KEY,
                    pool TEXT NOT NULL,
                    vm TEXT NOT NULL,
                    created_at INTEGER NOT NULL,
                    image_sha256 TEXT NOT NULL,
                    image_bytes INTEGER NOT NULL,
                    written_bytes INTEGER NOT NULL,         -- bytes of chunks this image added to the pool
                    chunks BLOB NOT NULL,                   -- per chunk: 32-byte SHA-256 + 4-byte little-endian size
                    disk_identity TEXT NOT NULL             -- the VM's disks when the image was taken (JSON)
                );
                CREATE INDEX state_manifest_by_vm ON state_manifest(pool, vm, created_at);
                """)
        }
        migrator.registerMigration("v4: model registry") { db in
            try db.execute(sql: """
                CREATE TABLE model_run (
                    id INTEGER PRIMARY KEY,
                    created_at INTEGER NOT NULL,
                    data_from INTEGER NOT NULL,
                    data_to INTEGER NOT NULL,
                    hyperparameters TEXT NOT NULL,          -- JSON
                    metrics TEXT NOT NULL,                  -- JSON: validation pinball per quantile, model and baselines
                    promoted INTEGER NOT NULL,
                    reason TEXT NOT NULL,
                    seconds REAL NOT NULL,
                    model BLOB                              -- the model file (ModelFile), NULL when none was trained
                );
                CREATE TABLE model_vm (
                    run_id INTEGER NOT NULL REFERENCES model_run(id) ON DELETE CASCADE,
                    vm TEXT NOT NULL,
                    predictable INTEGER NOT NULL,
                    better TEXT NOT NULL,                   -- model, or the baseline that forecasts this VM better
                    reason TEXT NOT NULL,
                    PRIMARY KEY (run_id, vm)
                );
                """)
        }
        migrator.registerMigration("v5: plans, approvals, settings") { db in
            try db.execute(sql: """
                CREATE TABLE plan (
                    id TEXT PRIMARY KEY,                    -- SHA-256 of the plan's content (its inputs and actions)
                    created_at INTEGER NOT NULL,            -- the planning run's --now
                    valid_until INTEGER NOT NULL,           -- hibernations may start until then
                    file_sha256 TEXT NOT NULL,              -- SHA-256 of the plan file's bytes as written
                    body BLOB NOT NULL                      -- the plan file's bytes
                );
                CREATE INDEX plan_by_time ON plan(created_at);
                CREATE TABLE approval (
                    id INTEGER PRIMARY KEY,
                    plan_id TEXT NOT NULL REFERENCES plan(id),
                    approved_by TEXT NOT NULL,
                    approved_at INTEGER NOT NULL,
                    actions TEXT NOT NULL,                  -- JSON array of the approved action ids
                    carried_from TEXT                       -- the plan whose approval a standing approval carried; NULL = a person
                );
                CREATE INDEX approval_by_plan ON approval(plan_id);
                CREATE TABLE setting (
                    key TEXT PRIMARY KEY,
                    value TEXT NOT NULL,
                    set_by TEXT NOT NULL,
                    set_at INTEGER NOT NULL
                );
                """)
        }
        migrator.registerMigration("v6: execution journal, power state, pins") { db in
            try db.execute(sql: """
                CREATE TABLE journal (
                    id INTEGER PRIMARY KEY,                 -- append-only: one row per step of an action
                    action_id TEXT NOT NULL,                -- the plan's action id, or wake:VM:time for an operator's wake
                    plan_id TEXT,                           -- NULL for operator and demand wakes
                    vm TEXT NOT NULL,
                    host TEXT NOT NULL,
                    kind TEXT NOT NULL CHECK (kind IN ('hibernate', 'restore')),
                    step TEXT NOT NULL CHECK (step IN ('intent', 'started', 'done', 'failed', 'skipped')),
                    at INTEGER NOT NULL,                    -- Unix seconds of the step (the run's --now, plus elapsed time)
                    detail TEXT NOT NULL DEFAULT '',
                    seconds REAL,                           -- done: how long the save or restore took
                    bytes INTEGER,                          -- done hibernations: the saved image's size
                    deadline INTEGER,                       -- restores: when the VM had to run
                    late INTEGER                            -- done restores: 1 when finished after the deadline (an SLA violation)
                );
                CREATE INDEX journal_by_action ON journal(action_id, id);
                CREATE INDEX journal_by_vm ON journal(vm, id);
                CREATE TABLE power (
                    vm TEXT PRIMARY KEY,
                    host TEXT NOT NULL,
                    state TEXT NOT NULL CHECK (state IN ('running', 'hibernated')),
                    since INTEGER NOT NULL,
                    action_id TEXT NOT NULL                 -- the action that set it
                );
                CREATE TABLE pin (
                    vm TEXT PRIMARY KEY,
                    until INTEGER,                          -- NULL: until unpinned
                    pinned_by TEXT NOT NULL,
                    pinned_at INTEGER NOT NULL
                );
                """)
        }
        migrator.registerMigration("v7: due hibernations held back") { db in
            try db.execute(sql: """
                CREATE TABLE held (
                    vm TEXT PRIMARY KEY,                    -- a VM whose due hibernation did not start on the last run
                    host TEXT NOT NULL,
                    event TEXT NOT NULL CHECK (event IN ('waiting', 'skipped')),
                    reason TEXT NOT NULL,                   -- why, as last logged
                    since INTEGER NOT NULL                  -- since when, for that reason
                );
                """)
        }
        migrator.registerMigration("v8: the cause of a plan's restore") { db in
            // demand, event, missing, horizon-end, dormant, window or max-sleep (the plan's deadline cause); NULL otherwise.
            try db.execute(sql: "ALTER TABLE journal ADD COLUMN cause TEXT")
        }
        migrator.registerMigration("v9: hours the forecast called for demand in") { db in
            try db.execute(sql: """
                DROP INDEX IF EXISTS journal_done_restores;   -- an unreleased v8 had it; the restores' causes no longer decide anything
                CREATE TABLE demand_call (
                    vm TEXT NOT NULL,
                    hour INTEGER NOT NULL,              -- start of an hour a plan's forecast called for demand in while the VM ran
                    PRIMARY KEY (vm, hour)
                ) WITHOUT ROWID;
                CREATE INDEX demand_call_by_hour ON demand_call(hour);
                """)
        }
        migrator.registerMigration("v10: what each demand call claimed") { db in
            // v9's calls did not say what they claimed, so a trial policy's could count for another; they are given up
            // (a week at most; without them a forecast is trusted, as before any evidence).
            try db.execute(sql: """
                DROP TABLE demand_call;
                CREATE TABLE demand_call (
                    vm TEXT NOT NULL,
                    hour INTEGER NOT NULL,              -- start of an hour a plan's forecast called for demand in while the VM ran
                    quantile REAL NOT NULL,             -- the forecast quantile that called it
                    forecast REAL NOT NULL,             -- its value for that hour (at or over the VM's restore_above then)
                    PRIMARY KEY (vm, hour, quantile)
                ) WITHOUT ROWID;
                CREATE INDEX demand_call_by_hour ON demand_call(hour);
                """)
        }
        migrator.registerMigration("v11: the journal read in bounded steps") { db in
            // The executor's every pass and every plan read the journal, which only grows: the actions a run may have
            // stopped in are kept apart, and each VM's completed steps are found by time.
            try db.execute(sql: """
                CREATE TABLE journal_open (
                    action_id TEXT PRIMARY KEY,         -- an action whose latest step is intent or started
                    id INTEGER NOT NULL                 -- that step's journal row
                ) WITHOUT ROWID;
                INSERT INTO journal_open (action_id, id)
                    SELECT action_id, id FROM journal
                    WHERE id IN (SELECT max(id) FROM journal GROUP BY action_id) AND step IN ('intent', 'started');
                CREATE INDEX journal_done_by_vm ON journal(vm, at) WHERE step = 'done';
                """)
        }
        migrator.registerMigration("v12: the state pool image of each sleep") { db in
            // A restore from the pool takes the image of the VM's current sleep, never an older one (its memory would
            // not match the disks). Sleeps recorded before kept their image under the same time as the power record.
            try db.execute(sql: """
                ALTER TABLE power ADD COLUMN manifest_id INTEGER;   -- hibernated: the state pool image of this sleep
                UPDATE power SET manifest_id =
                    (SELECT max(m.id) FROM state_manifest m WHERE m.vm = power.vm AND m.created_at = power.since)
                    WHERE state = 'hibernated';
                """)
        }
        migrator.registerMigration("v13: how a sleep's pool image is taken") { db in
            // The disks' identity at the save (a copy taken later must not vouch for disks changed since), and why the
            // pool refused the image (not retried: each try reads the whole image).
            try db.execute(sql: """
                ALTER TABLE power ADD COLUMN disk_identity TEXT;   -- hibernated: the disks when the save completed
                ALTER TABLE power ADD COLUMN pool_refused TEXT;    -- hibernated: why the image is not in the pool, if it never will be
                """)
        }
        migrator.registerMigration("v14: the libvirt domain behind each VM name") { db in
            // A VM's name is its key across the fleet: a second domain of the same name on another host (another UUID)
            // must not mix its samples into the first's, nor draw the executor to the wrong one.
            try db.execute(sql: "ALTER TABLE vm ADD COLUMN libvirt_uuid TEXT")   // NULL: not seen on libvirt, or gone from its host
        }
        migrator.registerMigration("v15: a sleep's pool copy tried again after a failure that may pass") { db in
            try db.execute(sql: """
                ALTER TABLE power ADD COLUMN pool_failures INTEGER NOT NULL DEFAULT 0;   -- hibernated: failed copies into the pool
                ALTER TABLE power ADD COLUMN pool_retry_at INTEGER;                      -- hibernated: not tried again before
                """)
        }
        migrator.registerMigration("v16: each VM's samples summed up per hour") { db in
            // The planner and the trainer read each hour's highest sample, and whether the VM was absent in it: from a
            // 5-minute collector, twelve rows an hour per metric read on every plan. Whatever writes or deletes samples
            // keeps the summary (`SampleHours`). A store's older samples are summed up VM by VM afterwards (the nightly
            // prune), not here: one transaction over a large fleet's months would hold every executor's restores as long.
            try db.execute(sql: """
                CREATE TABLE sample_hour (
                    vm_id INTEGER NOT NULL REFERENCES vm(id),
                    metric_id INTEGER NOT NULL REFERENCES metric(id),
                    hour INTEGER NOT NULL,                      -- Unix seconds, on the hour
                    high REAL NOT NULL,                         -- the hour's highest sample
                    low REAL NOT NULL,                          -- and its lowest
                    PRIMARY KEY (vm_id, metric_id, hour)
                ) WITHOUT ROWID;
                ALTER TABLE vm ADD COLUMN hours_complete INTEGER NOT NULL DEFAULT 1;   -- 0: samples from before v16 not yet in sample_hour
                UPDATE vm SET hours_complete = 0 WHERE EXISTS (SELECT 1 FROM sample WHERE sample.vm_id = vm.id);
                """)
        }
        migrator.registerMigration("v17: how many samples each summed-up hour has") { db in
            // An hour with a few of its usual samples (the collector down for most of it) is missing, not measured: its
            // low readings say nothing of the rest of the hour. The hours summed up before have no count (NULL: never
            // judged sparse) and stay read from the summary; the nightly prune sums them up again VM by VM, counts and
            // all (`vm.hours_complete` 2).
            try db.execute(sql: """
                ALTER TABLE sample_hour ADD COLUMN samples INTEGER;   -- NULL: summed up before v17, count unknown
                UPDATE vm SET hours_complete = 2 WHERE hours_complete = 1 AND EXISTS (SELECT 1 FROM sample_hour WHERE sample_hour.vm_id = vm.id);
                """)
        }
        migrator.registerMigration("v18: when each calendar occurrence was first known") { db in
            // A replay of an earlier hour must not see an event recorded after it (an incident entered the next day, a
            // campaign added late): each ingest keeps the first-known time of the occurrences it stores again.
            try db.execute(sql: "ALTER TABLE event ADD COLUMN known_from INTEGER")   // NULL: stored before v18, known since ever
        }
        migrator.registerMigration("v19: a VM libvirt holds saved, as the inventory found it") { db in
            // A VM saved without torpor's record of it (a `virsh managedsave` by hand, a store restored from an older
            // backup) is owed no restore: `check` names it, from what the hourly inventory saw.
            try db.execute(sql: """
                ALTER TABLE vm ADD COLUMN libvirt_saved_since INTEGER;   -- the first inventory that found it shut off with a saved image, in a row
                ALTER TABLE vm ADD COLUMN libvirt_saved_seen INTEGER;    -- the latest such; both NULL once found otherwise
                """)
        }
        migrator.registerMigration("v20: a source's ingests by location and kind, in time") { db in
            // `check` and `metrics` ask each host's latest collection every 5 minutes, and the calendars and the
            // retention ask by location and kind: through `source(location)` each read every ingest of the location
            // (52,000 a year for a host collected every 5 minutes). The new index serves what the old one did.
            try db.execute(sql: """
                CREATE INDEX source_by_location_kind ON source(location, kind, ingested_at);
                DROP INDEX source_by_location;
                """)
        }
        migrator.registerMigration("v21: when each of a VM's vCPUs and memory was observed") { db in
            // One time for both dropped a source's vCPUs older than its memory (sampled hourly beside memory every 5
            // minutes, or rows sorted by metric), and any later source's vCPUs from before that memory.
            try db.execute(sql: """
                ALTER TABLE vm ADD COLUMN vcpus_observed_at INTEGER;
                ALTER TABLE vm ADD COLUMN memory_observed_at INTEGER;
                UPDATE vm SET vcpus_observed_at = CASE WHEN vcpus IS NOT NULL THEN allocation_observed_at END,
                              memory_observed_at = CASE WHEN memory_bytes IS NOT NULL THEN allocation_observed_at END;
                ALTER TABLE vm DROP COLUMN allocation_observed_at;
                """)
        }
        migrator.registerMigration("v22: a VM found running on two hosts at once") { db in
            // Its libvirt domain (one UUID) running on two hosts in one collection: a stale copy started beside it (a host
            // back with an old saved image), both writing its disks. The hosts, when first and last in a row of collections.
            try db.execute(sql: """
                ALTER TABLE vm ADD COLUMN copies_hosts TEXT;
                ALTER TABLE vm ADD COLUMN copies_since INTEGER;
                ALTER TABLE vm ADD COLUMN copies_seen INTEGER;
                """)
        }
        migrator.registerMigration("v23: each stretch of collections that found a domain running on a host") { db in
            // The latest counters of a domain (`libvirt_counter`) forget that it ran once it stops on that host, and a
            // replay of an earlier time cannot see them: a VM asleep on one host, started on another and stopped again,
            // was restored over disks that copy wrote. Each host's latest collection that found one running is the first.
            try db.execute(sql: """
                CREATE TABLE domain_run (
                    host_uri TEXT NOT NULL,
                    domain TEXT NOT NULL,
                    since INTEGER NOT NULL,                 -- the first collection of the stretch that found it running
                    seen INTEGER NOT NULL                   -- the latest
                );
                -- Both by the latest: each collection asks after the stretches seen lately, not a VM's year of sleeps.
                CREATE INDEX domain_run_by_host ON domain_run(host_uri, domain, seen);
                CREATE INDEX domain_run_by_domain ON domain_run(domain, seen);
                INSERT INTO domain_run (host_uri, domain, since, seen)
                    SELECT host_uri, domain, collected_at, collected_at FROM libvirt_counter WHERE counters != '{}';
                """)
        }
        migrator.registerMigration("v24: the host each libvirt URI reached") { db in
            // One host collected under two URIs by separate runs (an inventory by hand under another spelling) had its
            // running VMs taken for copies on two hosts, their hibernations held and their samples dropped.
            try db.execute(sql: """
                CREATE TABLE libvirt_host (
                    host_uri TEXT PRIMARY KEY,
                    identity TEXT NOT NULL,                 -- host name, host UUID and driver scope, as libvirt gives them
                    seen INTEGER NOT NULL                   -- the latest collection or inventory that reached it so
                );
                CREATE INDEX libvirt_host_by_identity ON libvirt_host(identity, seen);
                """)
        }
        return migrator
    }
}
