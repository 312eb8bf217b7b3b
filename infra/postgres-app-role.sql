-- The login the bot connects as (DATABASE_URL in Key Vault): it may connect to the syncshift database
-- and create and use its own tables there, and nothing else. No CREATEDB, CREATEROLE or membership in
-- azure_pg_admin. Run once after the first provision, as the server administrator and connected to the
-- syncshift database (docs/deploy.md, "Deploy to Azure"), with psql:
--   psql "host=<POSTGRES_SERVER_FQDN> dbname=syncshift user=syncshiftadmin sslmode=require" \
--     -v app_password='<SECRET_POSTGRES_APP_PASSWORD>' -f infra/postgres-app-role.sql
-- Running it again sets the password again (after a rotation) and changes nothing else.
-- The name must match the Bicep parameter postgresAppLogin.
\set ON_ERROR_STOP on
-- Into a session setting, because psql does not fill :'variables' inside the DO block's $$ quotes;
-- \g /dev/null keeps the password off the screen.
SELECT set_config('syncshift.app_password', :'app_password', false) \g /dev/null

DO $$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'syncshift_app') THEN
    EXECUTE format('CREATE ROLE syncshift_app LOGIN PASSWORD %L', current_setting('syncshift.app_password'));
  ELSE
    EXECUTE format('ALTER ROLE syncshift_app LOGIN PASSWORD %L', current_setting('syncshift.app_password'));
  END IF;
END
$$;
SELECT set_config('syncshift.app_password', '', false) \g /dev/null

-- Only the bot (and the administrator) may connect to this database.
REVOKE ALL ON DATABASE syncshift FROM PUBLIC;
GRANT CONNECT, TEMPORARY ON DATABASE syncshift TO syncshift_app;
-- The migrations create the tables in public; the bot owns what it creates.
GRANT USAGE, CREATE ON SCHEMA public TO syncshift_app;
