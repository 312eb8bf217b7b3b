-- The cloud copy (a migration's synced users, kept current with the users delta query) in
-- generations. A full read writes its pages into the next generation as they arrive, so the bot never
-- holds the tenant's users in memory, and one transaction at the end makes that generation the copy:
-- a read that fails half-way leaves the previous copy as it was. Readers read the snapshot's generation.
ALTER TABLE cloud_snapshots ADD COLUMN generation integer NOT NULL DEFAULT 0;
ALTER TABLE cloud_users ADD COLUMN generation integer NOT NULL DEFAULT 0;
ALTER TABLE cloud_users DROP CONSTRAINT cloud_users_pkey;
ALTER TABLE cloud_users ADD PRIMARY KEY (migration_id, generation, id);
CREATE SEQUENCE cloud_copy_generations;
