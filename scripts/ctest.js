'use strict';
// `npm run test:native`: the C++ unit tests of native/core under AddressSanitizer and
// UndefinedBehaviorSanitizer. Configures native/ with plain cmake (no Node headers involved) into
// native/build-test, builds with two jobs, and runs ctest there, exiting with ctest's status.
// Arguments are passed on to ctest: `npm run test:native -- -R log` runs the log tests only.
// Environment: SLUICE_CTEST_JOBS (default 2) sets both the build and the test parallelism;
// SLUICE_TEST_SEED replays the random tests of a failed run (each test prints its seed).

const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const source = path.join(root, 'native');
const build = path.join(source, 'build-test');
// Two cores on the development and CI machines, shared: never more than two jobs by default.
const jobs = String(Math.max(1, Number(process.env.SLUICE_CTEST_JOBS) || 2));

function run(cmd, args, cwd) {
  console.log(`$ ${[cmd, ...args].join(' ')}`);
  const r = spawnSync(cmd, args, { cwd, stdio: 'inherit' });
  if (r.error) {
    const hint = r.error.code === 'ENOENT' ? ` (is ${cmd} installed? .ci/run installs it)` : '';
    console.error(`ctest.js: cannot run ${cmd}: ${r.error.message}${hint}`);
    process.exit(1);
  }
  if (r.signal) {
    console.error(`ctest.js: ${cmd} was killed by ${r.signal}`);
    return 1;
  }
  return r.status;
}

function main() {
  // The build directory ignores itself (as meson's do), so no build output is ever committed.
  fs.mkdirSync(build, { recursive: true });
  fs.writeFileSync(path.join(build, '.gitignore'), '*\n');
  const configure = run('cmake', [
    '-S', source,
    '-B', build,
    '-DCMAKE_BUILD_TYPE=RelWithDebInfo',
    '-DSLUICE_BUILD_TESTS=ON',
    '-DSLUICE_SANITIZE=ON',
    '-DSLUICE_ADDON=OFF',
  ], root);
  if (configure !== 0) return configure;
  const compile = run('cmake', ['--build', build, '-j', jobs], root);
  if (compile !== 0) return compile;
  return run('ctest', ['--output-on-failure', '-j', jobs, ...process.argv.slice(2)], build);
}

process.exit(main());
