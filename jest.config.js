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
  // Three workers on two cores: most files wait on sockets, timers and child processes, so
  // more workers than cores keep the CPU busy (measured: two workers about 450 s, four 258 to
  // 315 s for the same 440 to 484 CPU-seconds; four once left the Sentinel failover test's
  // recovery past its 40 s). --runInBand still works for one file. A worker is replaced once
  // its heap passes the limit: Jest keeps every finished file's modules, and in one process
  // the heap grew past 700 MB, making each later file's garbage collection slower.
  maxWorkers: 3,
  workerIdleMemoryLimit: '400MB',
  // Longest files first, from estimates when Jest has no timings of its own (a fresh clone).
  testSequencer: '<rootDir>/test/support/sequencer.cjs',
};
