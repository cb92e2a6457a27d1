/** Jest runs in native ESM mode: Nest 12 packages are ES modules only. */
export default {
  testEnvironment: 'node',
  roots: ['<rootDir>/src', '<rootDir>/test', '<rootDir>/clients/js/test'],
  testRegex: '.*\\.(spec|e2e-spec)\\.ts$',
  extensionsToTreatAsEsm: ['.ts'],
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  transform: {
    '^.+\\.ts$': ['ts-jest', { useESM: true, tsconfig: 'tsconfig.json' }],
  },
  testTimeout: 20000,
  // Two workers on two cores: most files wait on sockets, timers and child processes, so two
  // overlap well. More workers finish sooner on an idle machine (four: 258 to 315 s against
  // about 450, for the same 440 to 484 CPU-seconds), but on a loaded one they made tests with
  // short real deadlines miss them (the Sentinel failover's recovery; a 2 s request deadline
  // in http-limits). --runInBand still works for one file. A worker is replaced once its heap
  // passes the limit: Jest keeps every finished file's modules, and in one process the heap
  // grew past 700 MB, making each later file's garbage collection slower.
  maxWorkers: 2,
  workerIdleMemoryLimit: '400MB',
  // Longest files first, from estimates when Jest has no timings of its own (a fresh clone).
  testSequencer: '<rootDir>/test/support/sequencer.cjs',
};
