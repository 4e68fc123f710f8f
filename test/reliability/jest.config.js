// `npm run test:reliability` runs jest with this: the shared dev server and
// workflow bundle of the normal run, but the reliability scenarios as tests
// (never matched by `npm test`, whose testMatch is *.test.ts).
/* global require, module */
// eslint-disable-next-line @typescript-eslint/no-require-imports -- jest reads CommonJS configs
const base = require('../../jest.config.js');

module.exports = {
  ...base,
  rootDir: '../..',
  roots: ['<rootDir>/test/reliability'],
  testMatch: ['**/*.scenario.ts', '**/subset.test.ts'],
  // Each scenario bounds its own runs; this is the backstop for the whole file.
  testTimeout: 40 * 60_000,
};
