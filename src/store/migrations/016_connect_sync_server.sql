-- Issue 16: one Connect Sync server per migration. Only one Connect Sync server exports; the others
-- are in staging mode (Microsoft: "Staging server"), so every ADSync job is pinned to the agent on
-- the server the migration named, and the relay offers a pinned job to that agent alone.
ALTER TABLE jobs ADD COLUMN pinned_agent text;

-- A Connect Sync job queued before this migration names no server: it could run on any agent that
-- declares ADSync actions, a staging server too. Leased ones stay with the agent that holds them;
-- queued ones fail here with what to do (the sweep hands them to their consumers like any failure).
UPDATE jobs SET pinned_agent = agent_id WHERE kind LIKE 'adsync.%' AND agent_id IS NOT NULL;
UPDATE jobs SET state = 'failed', finished_at = now(), updated_at = now(),
       error = jsonb_build_object(
         'code', 'RELAY.NO_CONNECT_SYNC_SERVER',
         'message', 'This Connect Sync job was queued before SyncShift pinned Connect Sync jobs to one server, so it was not run.',
         'hint', 'Name the Connect Sync server with /server <agent> in the migration''s conversation, then run the step again.')
 WHERE kind LIKE 'adsync.%' AND pinned_agent IS NULL AND state = 'queued';

-- Which agent runs on the migration's (active) Connect Sync server.
CREATE TABLE connect_sync_servers (
  migration_id uuid PRIMARY KEY REFERENCES migrations (id),
  agent        text NOT NULL,
  set_by_id    text NOT NULL,
  set_by_name  text NOT NULL,
  set_at       timestamptz NOT NULL
);

-- What other enrolled agents with ADSync actions report (read-only scheduler and rule reads), and
-- what a person decided about a staging server: decommissioned. A staging server that would export
-- the migrated objects again when promoted blocks step 16.
CREATE TABLE staging_servers (
  migration_id            uuid NOT NULL REFERENCES migrations (id),
  agent                   text NOT NULL,
  read_job_id             uuid,
  read_at                 timestamptz,
  read_error              text,
  staging_mode            boolean,
  rules_found             jsonb,
  decommissioned_by_id    text,
  decommissioned_by_name  text,
  decommissioned_at       timestamptz,
  PRIMARY KEY (migration_id, agent)
);

-- Which job read which staging server, so its result goes to that row.
CREATE TABLE staging_reads (
  job_id       uuid PRIMARY KEY REFERENCES jobs (id),
  migration_id uuid NOT NULL REFERENCES migrations (id),
  agent        text NOT NULL,
  kind         text NOT NULL CHECK (kind IN ('scheduler', 'rules'))
);
