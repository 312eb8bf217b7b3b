// The README's folder table as rules: which folder of src/ may import which, and which folder alone
// speaks to each SDK. `npm run lint` runs it (depcruise src). Type-only imports count: a type tie
// is still a tie between two folders.
const ONLY = (folders) => `^src/(?!(${folders.join('|')})/)`;

module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'Files that import each other cannot be understood, tested or moved one at a time.',
      from: {},
      to: { circular: true },
    },

    // ── The folders, lowest first: each may import only those listed. ──
    {
      name: 'shared-stands-alone',
      severity: 'error',
      comment: 'src/shared (errors, logger) is under everything, so it imports nothing of the project.',
      from: { path: '^src/shared/' },
      to: { path: '^src/', pathNot: '^src/shared/' },
    },
    {
      name: 'runbook-is-pure',
      severity: 'error',
      comment: 'The core imports only itself and shared: no store, relay, directory, cloud or config.',
      from: { path: '^src/runbook/' },
      to: { path: ONLY(['runbook', 'shared']) },
    },
    {
      name: 'runbook-has-no-io-and-no-sdk',
      severity: 'error',
      comment: 'The core is tested alone and outlives any SDK: of npm it uses zod and luxon, of node only hashing.',
      from: { path: '^src/runbook/' },
      to: {
        dependencyTypes: ['npm', 'npm-dev', 'npm-optional', 'npm-peer', 'npm-no-pkg', 'npm-unknown', 'core'],
        pathNot: ['^node_modules/(zod|luxon)/', '^(node:)?crypto$'],
      },
    },
    {
      name: 'directory-reads-ad-only',
      severity: 'error',
      comment:
        'The directory (LDAP, simulated) is what the agent reads: it knows the core and shared, nothing of the bot or the sandbox.',
      from: { path: '^src/directory/' },
      to: { path: ONLY(['directory', 'runbook', 'shared']) },
    },
    {
      name: 'cloud-is-graph-only',
      severity: 'error',
      comment: 'Graph access, configured from the bot configuration; no store, relay, services or cards.',
      from: { path: '^src/cloud/' },
      to: { path: ONLY(['cloud', 'runbook', 'shared']), pathNot: '^src/config\\.ts$' },
    },
    {
      name: 'store-below-cloud',
      severity: 'error',
      comment:
        'The store keeps what the services hand it; the shapes it keeps come from the core, not from the Graph client.',
      from: { path: '^src/store/' },
      to: { path: ONLY(['store', 'runbook', 'shared']) },
    },
    {
      name: 'cards-render-what-they-are-given',
      severity: 'error',
      comment: 'A card renders a view of the core types; it never reaches into the store.',
      from: { path: '^src/cards/' },
      to: { path: ONLY(['cards', 'runbook', 'shared']) },
    },
    {
      name: 'config-is-a-leaf',
      severity: 'error',
      comment: 'The bot configuration reads the environment; everything else reads it.',
      from: { path: '^src/config\\.ts$' },
      to: { path: ONLY(['runbook', 'shared']) },
    },
    {
      name: 'agent-stands-apart',
      severity: 'error',
      comment:
        'The agent is its own bin on another machine: it shares the wire protocol, the directory, the core and shared with the bot, nothing else (no bot, services, store, cloud, sandbox or bot config).',
      from: { path: '^src/agent/' },
      to: { path: ONLY(['agent', 'directory', 'runbook', 'shared']), pathNot: '^src/relay/protocol\\.ts$' },
    },
    {
      name: 'jobs-below-the-relay',
      severity: 'error',
      comment:
        'The job queue, leases and result applier: what a job is and what becomes of it. They know the store, the core (where the job shapes the wire carries live: src/runbook/job-shapes.ts) and shared; the relay, the services and the bot call them, never the other way round, not even for the protocol.',
      from: { path: '^src/jobs/' },
      to: { path: ONLY(['jobs', 'store', 'runbook', 'shared']) },
    },
    {
      name: 'relay-is-below-the-bot',
      severity: 'error',
      comment: 'The relay serves the agents for the bot; it never reaches up into the bot or across into the agent.',
      from: { path: '^src/relay/' },
      to: { path: '^src/(bot|agent|sandbox)/|^src/main\\.ts$' },
    },
    {
      name: 'services-below-the-relay-server',
      severity: 'error',
      comment: 'Use cases are called by the bot and the relay server, never the other way round.',
      from: { path: '^src/services/' },
      to: { path: '^src/relay/relay-server\\.ts$' },
    },
    {
      name: 'services-never-call-up',
      severity: 'error',
      comment: 'Use cases never import the bot, the agent or the sandbox.',
      from: { path: '^src/services/' },
      to: { path: '^src/(bot|agent|sandbox)/|^src/main\\.ts$' },
    },
    {
      name: 'bot-is-not-the-agent',
      severity: 'error',
      comment: 'The bot and the agent are separate processes that meet only through the relay protocol.',
      from: { path: '^src/(bot/|main\\.ts$)' },
      to: { path: '^src/agent/' },
    },
    {
      name: 'production-never-loads-the-sandbox',
      severity: 'error',
      comment: 'The sandbox (Graph simulator, simulated Cloud Sync, demo) is test and demo only.',
      from: { path: '^src/', pathNot: '^src/sandbox/' },
      to: { path: '^src/sandbox/' },
    },

    // ── Each SDK in the one folder named for it in the README. ──
    {
      name: 'teams-sdk-only-in-bot',
      severity: 'error',
      comment: 'botbuilder and teams-ai stay in src/bot, so moving to another Teams SDK touches one folder.',
      from: { path: '^src/', pathNot: '^src/bot/' },
      to: { path: '^node_modules/(botbuilder[^/]*|botframework-[^/]*|@microsoft/teams-ai)/' },
    },
    {
      name: 'ldap-only-in-directory',
      severity: 'error',
      from: { path: '^src/', pathNot: '^src/directory/' },
      to: { path: '^node_modules/ldapts/' },
    },
    {
      name: 'graph-only-in-cloud',
      severity: 'error',
      from: { path: '^src/', pathNot: '^src/cloud/' },
      to: { path: '^node_modules/(@microsoft/microsoft-graph-client|@azure/identity)/' },
    },
    {
      name: 'sql-only-in-store',
      severity: 'error',
      from: { path: '^src/', pathNot: '^src/store/' },
      to: { path: '^node_modules/(pg|@electric-sql/pglite)/' },
    },
    {
      name: 'card-templating-only-in-cards',
      severity: 'error',
      from: { path: '^src/', pathNot: '^src/cards/' },
      to: { path: '^node_modules/adaptivecards-templating/' },
    },
  ],
  options: {
    exclude: { path: '^src/.*\\.(json|sql)$' },
    doNotFollow: { path: 'node_modules' },
    // Type-only imports are ties too: both cycles the issue names were type cycles.
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    moduleSystems: ['cjs', 'es6'],
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
      extensions: ['.ts', '.js', '.json'],
    },
    reporterOptions: { text: { highlightFocused: true } },
  },
};
