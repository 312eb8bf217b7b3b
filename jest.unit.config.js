// `npm test`: the fast default. Only test/unit, which needs neither Samba, PostgreSQL nor a browser,
// so the files can run side by side. `npm run test:all` (jest.config.js) still runs everything, one file at a time.
const base = require('./jest.config');

/** @type {import('jest').Config} */
module.exports = {
  ...base,
  testMatch: ['<rootDir>/test/unit/**/*.test.ts'],
  maxWorkers: '100%',
};
