-- The cloud copies of groups and contacts (issue 17), kept current like the users copy (migration 004)
-- but each with its own delta query and deltaLink: /groups/delta and /contacts/delta. One row per
-- migration and object type holds the link; the objects hold what a verify matches on (`match_key`:
-- the group's onPremisesSecurityIdentifier, the contact's mail). A full read replaces a type's rows in
-- one transaction, so there are no generations: tenants have far fewer groups and contacts than users.
CREATE TABLE cloud_object_copies (
  migration_id uuid NOT NULL REFERENCES migrations (id),
  object_type  text NOT NULL CHECK (object_type IN ('group', 'contact')),
  delta_link   text NOT NULL,
  full_reads   integer NOT NULL DEFAULT 1,
  delta_reads  integer NOT NULL DEFAULT 0,
  refreshed_at timestamptz NOT NULL,
  PRIMARY KEY (migration_id, object_type)
);

CREATE TABLE cloud_objects (
  migration_id uuid NOT NULL,
  object_type  text NOT NULL,
  id           text NOT NULL,
  display_name text,
  match_key    text,
  synced       boolean NOT NULL,
  PRIMARY KEY (migration_id, object_type, id),
  FOREIGN KEY (migration_id, object_type) REFERENCES cloud_object_copies (migration_id, object_type) ON DELETE CASCADE
);
