import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface Asset {
  body: Buffer;
  contentType: string;
}

/** The repository root: this file sits two levels down, in src/inbox or dist/inbox. */
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const PAGE_DIR = join(ROOT, 'src/inbox/public');
export const SDK_DIR = join(ROOT, 'clients/js/dist');

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.svg': 'image/svg+xml',
};

/**
 * Every file the page may load, read once: the page's own files and the SDK's compiled
 * modules. Requests name a file of this map or get 404, so no path reaches the disk.
 */
export function loadAssets(dir: string): Map<string, Asset> {
  const assets = new Map<string, Asset>();
  for (const name of readdirSync(dir)) {
    const type = CONTENT_TYPES[name.slice(name.lastIndexOf('.'))];
    if (type) assets.set(name, { body: readFileSync(join(dir, name)), contentType: type });
  }
  return assets;
}
