// Quiet logs in tests unless someone asks for them.
export default async function globalSetup(): Promise<void> {
  process.env.LOG_LEVEL ??= 'silent';
}
