// Preloaded with `node --import` (NODE_OPTIONS) by test/tracing-off.e2e-spec.ts: writes every
// module the process loads to LOADED_MODULES_FILE, one a line: ES modules as they resolve
// (a resolve hook), CommonJS files from require.cache when the process exits.
import { appendFileSync, writeFileSync } from 'node:fs';
import { createRequire, register } from 'node:module';

const file = process.env.LOADED_MODULES_FILE;
if (file) {
  writeFileSync(file, '');
  const hooks = `
    import { appendFileSync } from 'node:fs';
    export async function resolve(specifier, context, next) {
      const resolved = await next(specifier, context);
      appendFileSync(${JSON.stringify(file)}, 'esm ' + resolved.url + '\\n');
      return resolved;
    }`;
  register(`data:text/javascript,${encodeURIComponent(hooks)}`);
  const require = createRequire(import.meta.url);
  process.on('exit', () => appendFileSync(file, Object.keys(require.cache).map((path) => `cjs ${path}\n`).join('')));
}
