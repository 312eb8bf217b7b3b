/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  transform: { '^.+\\.ts$': 'ts-jest' },
  testMatch: ['<rootDir>/test/**/*.test.ts'],
  // Samba, PostgreSQL and the browser are shared machine resources; one file at a time keeps them predictable.
  maxWorkers: 1,
  testTimeout: 60000,
  globalSetup: '<rootDir>/test/helpers/global-setup.ts',
};
